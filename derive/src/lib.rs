//! Derives for [edgepg](https://docs.rs/edgepg), re-exported by `edgepg` and
//! `edgepg-wasm` with their `derive` feature.
//!
//! * `#[derive(FromRow)]` on a struct with named fields: each field is read
//!   from the column of the same name (`#[edgepg(rename = "col")]` for
//!   another), `Option<T>` for nullable columns, `#[edgepg(flatten)]` for a
//!   field that is itself `FromRow` from the same row. A missing or mistyped
//!   column is a conversion error naming the struct, field and column.
//! * `#[derive(FromSql, ToSql)]` on
//!   * an enum of unit variants: a PostgreSQL enum (labels are the variant
//!     names, or `#[edgepg(rename = "...")]`, or a container
//!     `#[edgepg(rename_all = "snake_case")]`); an unknown label is an error;
//!   * a struct with named fields: a composite type, field by field (by name);
//!   * a newtype struct `struct Id(i64)`: a domain, or any type the inner type takes.
//!
//!   `#[edgepg(name = "mood")]` restricts the accepted PostgreSQL type by name.
//!
//! Generated code refers to `::edgepg` (or `::edgepg_wasm` for packages that
//! depend only on it); `#[edgepg(crate = "path")]` sets another path.
//!
//! ```ignore
//! #[derive(edgepg::FromRow)]
//! struct User { id: i64, #[edgepg(rename = "full_name")] name: String, email: Option<String> }
//!
//! #[derive(Debug, edgepg::types::FromSql, edgepg::types::ToSql)]
//! #[edgepg(rename_all = "lowercase")]
//! enum Mood { Sad, Ok, Happy }
//! ```

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

mod attrs;
mod from_row;
mod sql;

/// Builds a struct from a row by column names. See the crate docs.
#[proc_macro_derive(FromRow, attributes(edgepg))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    from_row::expand(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Decodes a PostgreSQL enum, composite or domain. See the crate docs.
#[proc_macro_derive(FromSql, attributes(edgepg))]
pub fn derive_from_sql(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    sql::expand_from_sql(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Encodes a PostgreSQL enum, composite or domain. See the crate docs.
#[proc_macro_derive(ToSql, attributes(edgepg))]
pub fn derive_to_sql(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    sql::expand_to_sql(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}
