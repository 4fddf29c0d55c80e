//! [`FromRow`]: a row as a Rust struct (usually `#[derive(FromRow)]` from
//! `edgepg-derive`), and the helpers the derive's code calls.

use super::row::{Column, Row};
use crate::types::FromSql;
use crate::{Error, Result};

/// A type built from one result row: `conn.fetch_as::<T>(...)`.
///
/// ```
/// use edgepg_core::client::{FromRow, Row};
///
/// struct Pair { id: i64, name: String }
///
/// impl FromRow for Pair {
///     fn from_row(row: &Row) -> edgepg_core::Result<Pair> {
///         Ok(Pair { id: row.get("id")?, name: row.get("name")? })
///     }
/// }
/// ```
pub trait FromRow: Sized {
    /// Builds `Self` from `row`; a missing or mistyped column is a
    /// [`Conversion`](crate::ErrorKind::Conversion) error naming it.
    fn from_row(row: &Row) -> Result<Self>;
}

/// Every row is a row.
impl FromRow for Row {
    fn from_row(row: &Row) -> Result<Row> {
        Ok(row.clone())
    }
}

/// Tuples take the columns by position: `fetch_as::<(i64, String)>`.
macro_rules! tuple_from_row {
    ($($i:tt $t:ident),+) => {
        impl<$($t: for<'a> FromSql<'a>),+> FromRow for ($($t,)+) {
            fn from_row(row: &Row) -> Result<Self> {
                Ok(($(row.get::<$t, usize>($i)?,)+))
            }
        }
    };
}
tuple_from_row!(0 A);
tuple_from_row!(0 A, 1 B);
tuple_from_row!(0 A, 1 B, 2 C);
tuple_from_row!(0 A, 1 B, 2 C, 3 D);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E);
tuple_from_row!(0 A, 1 B, 2 C, 3 D, 4 E, 5 F);

/// Decodes column `column` into field `field` of struct `target` (derive helper):
/// a missing column and a type mismatch are conversion errors naming both.
#[doc(hidden)]
pub fn field<'a, T: FromSql<'a>>(row: &'a Row, column: &str, field: &str, target: &str) -> Result<T> {
    if !row.columns().iter().any(|c: &Column| c.name() == column) {
        return Err(Error::conversion(format!(
            "{target}.{field}: the result has no column \"{column}\" (columns: {})",
            row.columns().iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
        )));
    }
    row.get::<T, &str>(column).map_err(|e| e.context(format_args!("{target}.{field}")))
}
