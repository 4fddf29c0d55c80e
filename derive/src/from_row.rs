//! `#[derive(FromRow)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Error, Fields, Result};

use crate::attrs;

pub fn expand(input: &DeriveInput) -> Result<TokenStream> {
    let c = attrs::container(&input.attrs)?;
    let support = attrs::support(&c);
    let fields = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(f) => &f.named,
            _ => return Err(Error::new_spanned(&input.ident, "FromRow needs a struct with named fields")),
        },
        _ => return Err(Error::new_spanned(&input.ident, "FromRow can only be derived for structs")),
    };
    let ident = &input.ident;
    let target = ident.to_string();
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut inits = Vec::new();
    for f in fields {
        let m = attrs::member(&f.attrs)?;
        let name = f.ident.as_ref().expect("named field");
        let ty = &f.ty;
        if m.flatten {
            if m.rename.is_some() {
                return Err(Error::new_spanned(name, "`flatten` and `rename` cannot be combined"));
            }
            inits.push(quote!(#name: <#ty as #support::FromRow>::from_row(row)?));
        } else {
            let field = name.to_string();
            let column = m.rename.unwrap_or_else(|| field.trim_start_matches("r#").to_owned());
            inits.push(quote!(#name: #support::field::<#ty>(row, #column, #field, #target)?));
        }
    }
    Ok(quote! {
        impl #impl_generics #support::FromRow for #ident #ty_generics #where_clause {
            fn from_row(row: &#support::Row) -> #support::Result<Self> {
                ::core::result::Result::Ok(#ident { #(#inits,)* })
            }
        }
    })
}
