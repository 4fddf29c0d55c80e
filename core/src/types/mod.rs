//! PostgreSQL types: OIDs, binary/text codecs, ToSql/FromSql and the dynamic Value.
//!
//! * [`Type`] names a PostgreSQL type by OID.
//! * [`ToSql`] encodes a Rust value as a parameter; [`FromSql`] decodes a
//!   column value (binary format, or text format for types without a binary
//!   codec and for simple-query results).
//! * Rust mappings: `bool`; `i16`/`i32`/`i64` (`int2`/`int4`/`int8`); `i8`
//!   (`"char"`); `u32` (`oid`); `f32`/`f64`; strings (`text`, `varchar`,
//!   `bpchar`, `name`, and the text form of any other type); byte slices
//!   (`bytea`); `Option<T>` for NULL.

mod array;
mod bounded;
mod codec;
mod datetime;
mod from_sql;
mod json;
mod net;
mod numeric;
mod primitives;
mod text;
mod to_sql;
mod ty;
mod uuid;
mod value;
#[cfg(feature = "with-chrono")]
mod with_chrono;
#[cfg(feature = "with-serde-json")]
mod with_serde_json;
#[cfg(feature = "with-time")]
mod with_time;
#[cfg(feature = "with-uuid")]
mod with_uuid;

pub use array::{Array, MAX_DIMENSIONS};
pub use bounded::Bounded;
pub use datetime::{Date, Interval, Time, TimeTz, Timestamp, TimestampTz};
pub use json::RawJson;
pub use net::Inet;
pub use uuid::Uuid16;
pub use value::{ArrayValue, Value};
#[cfg(feature = "with-serde-json")]
pub use with_serde_json::Json;
pub use from_sql::{FromSql, FromSqlOwned};
pub use numeric::{encode_numeric_str, numeric_to_string, Numeric};
pub use to_sql::ToSql;
pub use ty::Type;

/// Items used by the exported [`to_sql_checked!`](crate::to_sql_checked) macro.
#[doc(hidden)]
pub mod __private {
    pub use super::to_sql::to_sql_checked;
    pub use bytes::BytesMut;
}
