//! `#[edgepg(...)]` attributes and the path of the edgepg crate to use.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Attribute, LitStr, Result};

/// Attributes on the struct or enum itself.
#[derive(Default)]
pub struct Container {
    /// `crate = "edgepg_wasm"`: the crate the generated code refers to.
    pub krate: Option<syn::Path>,
    /// `name = "mood"`: the PostgreSQL type name to accept (any enum/composite otherwise).
    pub name: Option<String>,
    /// `rename_all = "snake_case"`: how variant names become enum labels.
    pub rename_all: Option<String>,
}

/// Attributes on a field or variant.
#[derive(Default)]
pub struct Member {
    /// `rename = "col"`: the column, field or label name.
    pub rename: Option<String>,
    /// `flatten`: the field is itself a `FromRow` built from the same row.
    pub flatten: bool,
}

fn edgepg_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("edgepg"))
}

pub fn container(attrs: &[Attribute]) -> Result<Container> {
    let mut c = Container::default();
    for attr in edgepg_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                c.krate = Some(meta.value()?.parse::<LitStr>()?.parse()?);
            } else if meta.path.is_ident("name") {
                c.name = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("rename_all") {
                let lit = meta.value()?.parse::<LitStr>()?;
                let v = lit.value();
                if !RENAME_RULES.contains(&v.as_str()) {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!("unknown rename_all rule; expected one of {}", RENAME_RULES.join(", ")),
                    ));
                }
                c.rename_all = Some(v);
            } else {
                return Err(meta.error("unknown edgepg attribute; expected `crate`, `name` or `rename_all`"));
            }
            Ok(())
        })?;
    }
    Ok(c)
}

pub fn member(attrs: &[Attribute]) -> Result<Member> {
    let mut m = Member::default();
    for attr in edgepg_attrs(attrs) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                m.rename = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("flatten") {
                m.flatten = true;
            } else {
                return Err(meta.error("unknown edgepg attribute; expected `rename` or `flatten`"));
            }
            Ok(())
        })?;
    }
    Ok(m)
}

const RENAME_RULES: &[&str] = &["lowercase", "UPPERCASE", "snake_case", "SCREAMING_SNAKE_CASE", "kebab-case"];

/// Applies a `rename_all` rule to a Rust variant name (`CamelCase`).
pub fn rename(name: &str, rule: Option<&str>) -> String {
    let words = || {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        }
        out
    };
    match rule {
        Some("lowercase") => name.to_lowercase(),
        Some("UPPERCASE") => name.to_uppercase(),
        Some("snake_case") => words(),
        Some("SCREAMING_SNAKE_CASE") => words().to_uppercase(),
        Some("kebab-case") => words().replace('_', "-"),
        _ => name.to_owned(),
    }
}

/// The path of the items generated code uses: `<crate>::types::__derive`.
///
/// The crate is `crate = "..."` when given; otherwise `edgepg_wasm` when the
/// deriving package depends on `edgepg-wasm` and not on `edgepg`, else `edgepg`.
pub fn support(c: &Container) -> TokenStream {
    let krate = match &c.krate {
        Some(p) => quote!(#p),
        None if depends_on_wasm_only() => quote!(::edgepg_wasm),
        None => quote!(::edgepg),
    };
    quote!(#krate::types::__derive)
}

fn depends_on_wasm_only() -> bool {
    let Ok(dir) = std::env::var("CARGO_MANIFEST_DIR") else { return false };
    let Ok(manifest) = std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.toml")) else { return false };
    let mut native = false;
    let mut wasm = false;
    for line in manifest.lines().map(str::trim) {
        let key = line.trim_start_matches('[').split(['=', ']', ' ']).next().unwrap_or("");
        let key = key.rsplit('.').next().unwrap_or(key);
        match key {
            "edgepg" => native = true,
            "edgepg-wasm" | "edgepg_wasm" => wasm = true,
            _ => {}
        }
    }
    wasm && !native
}
