//! PostgreSQL types: OIDs, binary/text codecs, ToSql/FromSql and the dynamic Value.
//!
//! * [`Type`] names a PostgreSQL type by OID.
//! * [`ToSql`] encodes a Rust value as a parameter; [`FromSql`] decodes a
//!   column value (binary format, or text format for types without a binary
//!   codec and for simple-query results).
//! * [`Value`] decodes any column and encodes into any parameter (JS bridge).
//!
//! Rust mappings (binary codecs both ways unless noted):
//!
//! | PostgreSQL | Rust |
//! |---|---|
//! | `bool` | `bool` |
//! | `int2` / `int4` / `int8` | `i16` / `i32` / `i64` (decoding widens, never narrows) |
//! | `"char"` / `oid` | `i8` / `u32` |
//! | `float4` / `float8` | `f32` / `f64` (NaN, ±Infinity) |
//! | `numeric` | [`Numeric`] (lossless), `String`, `rust_decimal::Decimal` (range-checked) |
//! | `text`, `varchar`, `bpchar`, `name`, `unknown` | `&str` (zero-copy), `String`, `Box<str>`, `Cow<str>` |
//! | enums, `citext`, other types without a binary codec | `&str`/`String` (text format), [`Value::Unknown`] |
//! | `bytea` | `&[u8]` (zero-copy), `Vec<u8>`, `Box<[u8]>`, `bytes::Bytes` |
//! | `json` / `jsonb` | [`RawJson`], `&str`, `String`; `serde_json::Value`, `Json<T>` with `with-serde-json` |
//! | `uuid` | [`Uuid16`]; `uuid::Uuid` with `with-uuid` |
//! | `date`, `time`, `timetz`, `timestamp`, `timestamptz`, `interval` | [`Date`], [`Time`], [`TimeTz`], [`Timestamp`], [`TimestampTz`], [`Interval`] (±infinity kept); `SystemTime` (timestamp[tz]); chrono / time types with `with-chrono` / `with-time`, wrapped in [`Bounded`] to allow ±infinity |
//! | `inet` / `cidr` | [`Inet`], `std::net::IpAddr` (host addresses) |
//! | arrays | `Vec<T>`, `&[T]` (1-D), [`Array<T>`] (N-D, lower bounds), `Option<T>` elements for NULLs |
//! | NULL | `Option<T>` |
//!
//! Text-format decoders (`from_sql_text`) exist for `bool`, the integers and
//! floats, `numeric`, strings, `bytea`, `uuid`, json and `Value`, so
//! simple-query results decode too.

mod array;
mod bounded;
mod codec;
mod custom;
mod datetime;
mod from_sql;
mod json;
mod net;
mod numeric;
mod primitives;
mod range;
mod record;
mod text;
mod text_decode;
mod to_sql;
mod ty;
mod type_info;
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

/// The wire format of a value (what a [`TypeCodec`] reads and writes).
pub use crate::protocol::Format;
pub use array::{Array, MAX_DIMENSIONS};
pub use bounded::Bounded;
pub use custom::{codec_fn, HstoreCodec, TypeCodec};
pub use datetime::{Date, Interval, Time, TimeTz, Timestamp, TimestampTz};
pub use from_sql::{FromSql, FromSqlOwned};
pub use json::RawJson;
pub use net::Inet;
pub use numeric::{encode_numeric_str, numeric_to_string, write_numeric_text, Numeric};
pub use range::Range;
pub use record::{encode_composite, Composite, FieldIndex, Record};
pub use to_sql::ToSql;
pub use ty::Type;
pub use type_info::{current_type_map, with_type_map, Field, TypeInfo, TypeKind, TypeMap};
pub use uuid::Uuid16;
pub use value::{ArrayValue, Value};
#[cfg(feature = "with-serde-json")]
pub use with_serde_json::Json;

/// Items used by the exported [`to_sql_checked!`](crate::to_sql_checked) macro.
#[doc(hidden)]
pub mod __private {
    pub use super::to_sql::to_sql_checked;
    pub use bytes::BytesMut;
}
