//! [`FromSql`]: decoding column values into Rust types.

use super::Type;
use crate::{Error, Result};

/// A Rust type a PostgreSQL value can be decoded into.
///
/// [`FromSql::from_sql`] decodes the binary format; [`FromSql::from_sql_text`]
/// decodes the text format (simple-query results and columns whose type has
/// no binary codec, see [`Type::has_binary_codec`]). `'a` is the lifetime of
/// the row buffer, so `&'a str` and `&'a [u8]` borrow without copying.
///
/// ```
/// use edgepg_core::types::{FromSql, Type};
///
/// assert_eq!(i64::from_sql(Type::INT8, &[0, 0, 0, 0, 0, 0, 1, 0]).unwrap(), 256);
/// assert_eq!(i64::from_sql_text(Type::INT8, b"-42").unwrap(), -42);
/// let s: &str = FromSql::from_sql(Type::TEXT, "héllo".as_bytes()).unwrap();
/// assert_eq!(s, "héllo");
/// assert!(i32::from_sql(Type::INT8, &[0; 8]).is_err()); // no silent narrowing
/// assert_eq!(Option::<i32>::from_sql_null(Type::INT4).unwrap(), None);
/// ```
pub trait FromSql<'a>: Sized {
    /// Decodes a non-NULL value of type `ty` in binary format.
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Self>;

    /// Decodes a non-NULL value of type `ty` in text format. The default is an
    /// error: only types with a cheap text parser implement it.
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        let _ = raw;
        Err(Error::conversion(format!(
            "no text-format decoder from PostgreSQL type {ty} into {}: fetch it as String or Value",
            std::any::type_name::<Self>()
        )))
    }

    /// The value for SQL NULL: an error unless `Self` is an `Option`.
    fn from_sql_null(ty: Type) -> Result<Self> {
        Err(Error::conversion(format!(
            "unexpected NULL for a value of PostgreSQL type {ty} decoded into {}: use Option<{}>",
            std::any::type_name::<Self>(),
            std::any::type_name::<Self>()
        )))
    }

    /// Decodes `raw`, which is `None` for SQL NULL, in binary format.
    fn from_sql_nullable(ty: Type, raw: Option<&'a [u8]>) -> Result<Self> {
        match raw {
            Some(raw) => Self::from_sql(ty, raw),
            None => Self::from_sql_null(ty),
        }
    }

    /// Whether values of `ty` can be decoded into this Rust type.
    fn accepts(ty: Type) -> bool;
}

/// A [`FromSql`] type that borrows nothing from the row (e.g. `String`, `i64`).
pub trait FromSqlOwned: for<'a> FromSql<'a> {}

impl<T> FromSqlOwned for T where T: for<'a> FromSql<'a> {}

impl<'a, T: FromSql<'a>> FromSql<'a> for Option<T> {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Self> {
        T::from_sql(ty, raw).map(Some)
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        T::from_sql_text(ty, raw).map(Some)
    }
    fn from_sql_null(_ty: Type) -> Result<Self> {
        Ok(None)
    }
    fn accepts(ty: Type) -> bool {
        T::accepts(ty)
    }
}

/// "cannot decode <pg type> into <rust type>" with a hint.
pub(crate) fn cannot_decode<T: ?Sized>(ty: Type, hint: &str) -> Error {
    let mut msg = format!("cannot decode PostgreSQL type {ty} into {}", std::any::type_name::<T>());
    if !hint.is_empty() {
        msg.push_str(": ");
        msg.push_str(hint);
    }
    Error::conversion(msg)
}
