//! `#[derive(FromSql)]` and `#[derive(ToSql)]`: enums, composites, newtypes.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Error, Fields, Ident, LitByteStr, Result, Type};

use crate::attrs::{self, Container};

/// What the derive input maps to.
enum Shape<'a> {
    /// Unit variants and their labels.
    Enum(Vec<(&'a Ident, String)>),
    /// Named fields: (Rust field, PostgreSQL field name, type).
    Composite(Vec<(&'a Ident, String, &'a Type)>),
    /// `struct Id(Inner)`.
    Newtype(&'a Type),
}

fn shape<'a>(input: &'a DeriveInput, c: &Container) -> Result<Shape<'a>> {
    if !input.generics.params.is_empty() {
        return Err(Error::new_spanned(&input.generics, "FromSql/ToSql cannot be derived for generic types"));
    }
    match &input.data {
        Data::Enum(e) => {
            let mut variants = Vec::new();
            for v in &e.variants {
                if !matches!(v.fields, Fields::Unit) {
                    return Err(Error::new_spanned(v, "a PostgreSQL enum maps to unit variants only"));
                }
                let m = attrs::member(&v.attrs)?;
                if m.flatten {
                    return Err(Error::new_spanned(v, "`flatten` applies to FromRow fields only"));
                }
                let label = m.rename.unwrap_or_else(|| attrs::rename(&v.ident.to_string(), c.rename_all.as_deref()));
                variants.push((&v.ident, label));
            }
            if variants.is_empty() {
                return Err(Error::new_spanned(&input.ident, "an enum without variants cannot hold a value"));
            }
            Ok(Shape::Enum(variants))
        }
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => {
                let mut fields = Vec::new();
                for f in &named.named {
                    let m = attrs::member(&f.attrs)?;
                    let ident = f.ident.as_ref().expect("named field");
                    if m.flatten {
                        return Err(Error::new_spanned(ident, "`flatten` applies to FromRow fields only"));
                    }
                    let name = m.rename.unwrap_or_else(|| ident.to_string().trim_start_matches("r#").to_owned());
                    fields.push((ident, name, &f.ty));
                }
                Ok(Shape::Composite(fields))
            }
            Fields::Unnamed(u) if u.unnamed.len() == 1 => Ok(Shape::Newtype(&u.unnamed[0].ty)),
            _ => Err(Error::new_spanned(
                &input.ident,
                "FromSql/ToSql need an enum of unit variants, a struct with named fields or a newtype struct",
            )),
        },
        Data::Union(_) => Err(Error::new_spanned(&input.ident, "unions are not supported")),
    }
}

fn type_name(c: &Container) -> TokenStream {
    match &c.name {
        Some(n) => quote!(::core::option::Option::Some(#n)),
        None => quote!(::core::option::Option::None),
    }
}

pub fn expand_from_sql(input: &DeriveInput) -> Result<TokenStream> {
    let c = attrs::container(&input.attrs)?;
    let s = attrs::support(&c);
    let ident = &input.ident;
    let target = ident.to_string();
    let name = type_name(&c);
    let body = match shape(input, &c)? {
        Shape::Enum(variants) => {
            let arms = variants.iter().map(|(v, label)| {
                let bytes = LitByteStr::new(label.as_bytes(), v.span());
                quote!(#bytes => ::core::result::Result::Ok(#ident::#v))
            });
            quote! {
                fn from_sql(ty: #s::Type, raw: &'a [u8]) -> #s::Result<Self> {
                    match raw {
                        #(#arms,)*
                        _ => ::core::result::Result::Err(#s::unknown_label(ty, raw, #target)),
                    }
                }
                fn from_sql_text(ty: #s::Type, raw: &'a [u8]) -> #s::Result<Self> {
                    <Self as #s::FromSql<'a>>::from_sql(ty, raw)
                }
                fn accepts(ty: #s::Type) -> bool {
                    #s::enum_accepts(ty, #name)
                }
            }
        }
        Shape::Composite(fields) => {
            let inits: Vec<TokenStream> = fields
                .iter()
                .map(|(f, pg, ty)| {
                    let field = f.to_string();
                    quote!(#f: #s::record_field::<#ty>(&record, #pg, #field, #target)?)
                })
                .collect();
            quote! {
                fn from_sql(ty: #s::Type, raw: &'a [u8]) -> #s::Result<Self> {
                    let record = <#s::Record as #s::FromSql<'a>>::from_sql(ty, raw)?;
                    ::core::result::Result::Ok(#ident { #(#inits,)* })
                }
                fn from_sql_text(ty: #s::Type, raw: &'a [u8]) -> #s::Result<Self> {
                    let record = <#s::Record as #s::FromSql<'a>>::from_sql_text(ty, raw)?;
                    ::core::result::Result::Ok(#ident { #(#inits,)* })
                }
                fn accepts(ty: #s::Type) -> bool {
                    #s::composite_accepts(ty, #name)
                }
            }
        }
        Shape::Newtype(inner) => quote! {
            fn from_sql(ty: #s::Type, raw: &'a [u8]) -> #s::Result<Self> {
                <#inner as #s::FromSql<'a>>::from_sql(ty.base(), raw).map(#ident)
            }
            fn from_sql_text(ty: #s::Type, raw: &'a [u8]) -> #s::Result<Self> {
                <#inner as #s::FromSql<'a>>::from_sql_text(ty.base(), raw).map(#ident)
            }
            fn from_sql_null(ty: #s::Type) -> #s::Result<Self> {
                <#inner as #s::FromSql<'a>>::from_sql_null(ty.base()).map(#ident)
            }
            fn accepts(ty: #s::Type) -> bool {
                <#inner as #s::FromSql<'a>>::accepts(ty.base())
            }
        },
    };
    Ok(quote! {
        impl<'a> #s::FromSql<'a> for #ident {
            #body
        }
    })
}

pub fn expand_to_sql(input: &DeriveInput) -> Result<TokenStream> {
    let c = attrs::container(&input.attrs)?;
    let s = attrs::support(&c);
    let ident = &input.ident;
    let name = type_name(&c);
    let body = match shape(input, &c)? {
        Shape::Enum(variants) => {
            let arms = variants.iter().map(|(v, label)| quote!(#ident::#v => #label));
            quote! {
                fn to_sql(&self, _ty: #s::Type, out: &mut #s::BytesMut) -> #s::Result<#s::IsNull> {
                    // An enum's binary form is its label.
                    let label: &str = match self { #(#arms,)* };
                    out.extend_from_slice(label.as_bytes());
                    ::core::result::Result::Ok(#s::IsNull::No)
                }
                fn accepts(ty: #s::Type) -> bool {
                    #s::enum_accepts(ty, #name)
                }
            }
        }
        Shape::Composite(fields) => {
            let values = fields.iter().map(|(f, pg, _)| quote!((#pg, &self.#f as &dyn #s::ToSql)));
            quote! {
                fn to_sql(&self, ty: #s::Type, out: &mut #s::BytesMut) -> #s::Result<#s::IsNull> {
                    #s::encode_composite(ty, &[#(#values),*], out)
                }
                fn accepts(ty: #s::Type) -> bool {
                    #s::composite_accepts(ty, #name)
                }
            }
        }
        Shape::Newtype(inner) => quote! {
            fn to_sql(&self, ty: #s::Type, out: &mut #s::BytesMut) -> #s::Result<#s::IsNull> {
                <#inner as #s::ToSql>::to_sql(&self.0, ty.base(), out)
            }
            fn accepts(ty: #s::Type) -> bool {
                <#inner as #s::ToSql>::accepts(ty.base())
            }
            fn encode_format(&self, ty: #s::Type) -> #s::Format {
                <#inner as #s::ToSql>::encode_format(&self.0, ty.base())
            }
        },
    };
    Ok(quote! {
        impl #s::ToSql for #ident {
            #body
            fn to_sql_checked(&self, ty: #s::Type, out: &mut #s::BytesMut) -> #s::Result<#s::IsNull> {
                #s::to_sql_checked(self, ty, out)
            }
        }
    })
}
