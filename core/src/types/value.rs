//! [`Value`]: a dynamically typed PostgreSQL value that can decode any column
//! and encode into any parameter (used by the JavaScript bridge).

use std::fmt;

use bytes::{BufMut, BytesMut};

use super::array::{check_dims, RawArray};
use super::codec::{exact, utf8};
use super::custom::decode_with;
use super::datetime::{decode_date, decode_interval, decode_time, decode_timetz, decode_ts_micros};
use super::net::decode_inet;
use super::numeric::{encode_numeric_str, numeric_to_string};
use super::range::{encode_multirange, encode_range, multirange_range, parse_multirange, range_subtype};
use super::record::is_composite;
use super::text::{parse_bytea_text, strip_jsonb_version, write_bytea_hex, JSONB_VERSION};
use super::text_decode;
use super::type_info::current_codec;
use super::uuid::Uuid16;
use super::{
    Date, FromSql, Inet, Interval, Range, Record, Time, TimeTz, Timestamp, TimestampTz, ToSql, Type, TypeKind,
};
use crate::protocol::{Format, IsNull};
use crate::{to_sql_checked, Error, Result};

/// Any PostgreSQL value.
///
/// Decoding (`FromSql`) maps each built-in type with a binary codec to its
/// variant; `"char"` becomes `Text` (as PostgreSQL prints it); text-format
/// values of types without a cheap parser (enums, extension types, geometric
/// types, text-format arrays, ...) become [`Value::Unknown`] with the server's
/// text.
///
/// Encoding (`ToSql`) coerces the way a JavaScript caller needs:
/// * `Null` is NULL for any type;
/// * `Text` and `Unknown` go in **text format** into any parameter type (the
///   server parses them);
/// * integers go to any integer type when in range, to `numeric`, and to
///   `float4`/`float8` when exactly representable;
/// * floats go to `float4`/`float8`, to integer types when integral and in
///   range (else a Conversion error), and to `numeric` via the shortest
///   round-trip decimal text;
/// * `Numeric` text goes to `numeric` losslessly;
/// * `Json` goes to json/jsonb; `Array` to array types, element by element;
/// * any other combination is sent as the value's [`Display`](fmt::Display)
///   text in text format, which the server parses (or rejects with a clear
///   error).
///
/// ```
/// use bytes::BytesMut;
/// use edgepg_core::protocol::Format;
/// use edgepg_core::types::{FromSql, ToSql, Type, Value};
///
/// assert_eq!(Value::from_sql(Type::INT4, &[0, 0, 0, 7]).unwrap(), Value::Int4(7));
/// assert_eq!(Value::from_sql_text(Type::from_oid(90000), b"happy").unwrap().to_string(), "happy");
///
/// let mut buf = BytesMut::new();
/// Value::Float8(3.0).to_sql_checked(Type::INT8, &mut buf).unwrap();
/// assert_eq!(&buf[..], &3i64.to_be_bytes());
/// assert!(Value::Float8(3.5).to_sql_checked(Type::INT8, &mut buf).is_err());
/// assert_eq!(Value::Text("2024-01-01".into()).encode_format(Type::DATE), Format::Text);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int2`.
    Int2(i16),
    /// `int4`.
    Int4(i32),
    /// `int8`.
    Int8(i64),
    /// `oid`.
    Oid(u32),
    /// `float4`.
    Float4(f32),
    /// `float8`.
    Float8(f64),
    /// `numeric` as lossless decimal text, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    Numeric(String),
    /// `text`, `varchar`, `bpchar`, `name`, `"char"`, `unknown`.
    Text(String),
    /// `bytea`.
    Bytea(Vec<u8>),
    /// `json`/`jsonb` as raw JSON text (not parsed here).
    Json(String),
    /// `uuid`.
    Uuid([u8; 16]),
    /// `date`.
    Date(Date),
    /// `time`.
    Time(Time),
    /// `timetz`.
    TimeTz(TimeTz),
    /// `timestamp`.
    Timestamp(Timestamp),
    /// `timestamptz`.
    TimestampTz(TimestampTz),
    /// `interval`.
    Interval(Interval),
    /// `inet`/`cidr`.
    Inet(Inet),
    /// An array of any dimension.
    Array(ArrayValue),
    /// A range (built-in range types and user ranges); bounds are never `Null`.
    Range(Box<Range<Value>>),
    /// A multirange: its ranges in order.
    Multirange(Vec<Range<Value>>),
    /// A composite value or anonymous record.
    Record(Record),
    /// A value of a type without a decoder here, as the server's text output.
    Unknown {
        /// The column's type OID.
        type_oid: u32,
        /// The server's text form of the value.
        text: String,
    },
}

/// An array [`Value`]: `dims` are `(length, lower_bound)` per dimension,
/// `elements` are in row-major order (their count is the product of the
/// lengths; an empty array has no dims). Elements are scalars, never arrays.
///
/// When encoding, `element_type` is informational: the parameter's element
/// type decides.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayValue {
    /// The element type (from the server when decoded).
    pub element_type: Type,
    /// `(length, lower_bound)` per dimension, outermost first.
    pub dims: Vec<(i32, i32)>,
    /// Elements in row-major order.
    pub elements: Vec<Value>,
}

impl ArrayValue {
    /// Builds an array from nested values, as JavaScript passes them:
    /// elements that are themselves `Value::Array` become an inner dimension
    /// (all siblings must then be arrays of the same shape). Lower bounds are 1.
    ///
    /// ```
    /// use edgepg_core::types::{ArrayValue, Type, Value};
    /// let row = |a, b| Value::Array(ArrayValue::from_nested(Type::UNKNOWN, vec![Value::Int4(a), Value::Int4(b)]).unwrap());
    /// let m = ArrayValue::from_nested(Type::UNKNOWN, vec![row(1, 2), row(3, 4)]).unwrap();
    /// assert_eq!(m.dims, vec![(2, 1), (2, 1)]);
    /// assert_eq!(Value::Array(m).to_string(), r#"{{"1","2"},{"3","4"}}"#);
    /// ```
    pub fn from_nested(element_type: Type, values: Vec<Value>) -> Result<ArrayValue> {
        if values.is_empty() {
            return Ok(ArrayValue { element_type, dims: Vec::new(), elements: Vec::new() });
        }
        let outer = i32::try_from(values.len()).map_err(|_| Error::conversion("array is too large"))?;
        if !values.iter().any(|v| matches!(v, Value::Array(_))) {
            return Ok(ArrayValue { element_type, dims: vec![(outer, 1)], elements: values });
        }
        let mut inner_dims: Option<Vec<(i32, i32)>> = None;
        let mut elements = Vec::new();
        for v in values {
            let Value::Array(a) = v else {
                return Err(Error::conversion("multidimensional arrays must have sub-arrays with matching dimensions"));
            };
            let dims: Vec<(i32, i32)> = a.dims.iter().map(|&(l, _)| (l, 1)).collect();
            match &inner_dims {
                None => inner_dims = Some(dims),
                Some(d) if *d == dims => {}
                Some(_) => {
                    return Err(Error::conversion(
                        "multidimensional arrays must have sub-arrays with matching dimensions",
                    ))
                }
            }
            elements.extend(a.elements);
        }
        let mut dims = vec![(outer, 1)];
        dims.extend(inner_dims.unwrap_or_default());
        if dims.len() > super::array::MAX_DIMENSIONS {
            return Err(Error::conversion("array has more than 6 dimensions"));
        }
        check_dims(&dims, elements.len())?;
        Ok(ArrayValue { element_type, dims, elements })
    }
}

// ---------------------------------------------------------------- decoding

/// PostgreSQL's text output of a `"char"` byte.
fn char_text(b: u8) -> String {
    match b {
        0 => String::new(),
        1..=0x7f => char::from(b).to_string(),
        _ => format!("\\{b:03o}"),
    }
}

impl Value {
    /// Decodes a binary value of any type with a binary codec.
    fn decode_binary(ty: Type, raw: &[u8]) -> Result<Value> {
        if let Some(codec) = current_codec(ty.oid()).filter(|c| c.format() == Format::Binary) {
            return decode_with(&*codec, ty, raw);
        }
        Ok(match ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Value::Int2(i16::from_sql(ty, raw)?),
            Type::INT4 => Value::Int4(i32::from_sql(ty, raw)?),
            Type::INT8 => Value::Int8(i64::from_sql(ty, raw)?),
            Type::OID => Value::Oid(u32::from_sql(ty, raw)?),
            Type::CHAR => Value::Text(char_text(exact::<1>(raw, "\"char\"")?[0])),
            Type::FLOAT4 => Value::Float4(f32::from_sql(ty, raw)?),
            Type::FLOAT8 => Value::Float8(f64::from_sql(ty, raw)?),
            Type::NUMERIC => Value::Numeric(numeric_to_string(raw)?),
            Type::BYTEA => Value::Bytea(raw.to_vec()),
            Type::JSON => Value::Json(utf8(raw)?.to_owned()),
            Type::JSONB => Value::Json(utf8(strip_jsonb_version(raw)?)?.to_owned()),
            Type::UUID => Value::Uuid(exact(raw, "uuid")?),
            Type::DATE => Value::Date(decode_date(raw)?),
            Type::TIME => Value::Time(decode_time(raw)?),
            Type::TIMETZ => Value::TimeTz(decode_timetz(raw)?),
            Type::TIMESTAMP => Value::Timestamp(Timestamp::from_pg_micros(decode_ts_micros(raw, "timestamp")?)),
            Type::TIMESTAMPTZ => Value::TimestampTz(TimestampTz::from_pg_micros(decode_ts_micros(raw, "timestamptz")?)),
            Type::INTERVAL => Value::Interval(decode_interval(raw)?),
            Type::INET | Type::CIDR => Value::Inet(decode_inet(raw)?),
            t if t.is_text_like() => Value::Text(utf8(raw)?.to_owned()),
            t if t.element().is_some() => {
                let a = RawArray::parse(t, raw)?;
                let element_type = a.element_type;
                let dims = a.dims.clone();
                let elements = a.decode_all(|ety, e| match e {
                    Some(e) => Value::decode_binary(ety, e),
                    None => Ok(Value::Null),
                })?;
                Value::Array(ArrayValue { element_type, dims, elements })
            }
            t => match t.kind() {
                TypeKind::Range(_) => Value::Range(Box::new(Range::<Value>::from_sql(t, raw)?)),
                TypeKind::Multirange(r) => Value::Multirange(
                    parse_multirange(raw)?
                        .into_iter()
                        .map(|b| Range::<Value>::from_sql(r, b))
                        .collect::<Result<_>>()?,
                ),
                TypeKind::Composite(_) | TypeKind::Record => Value::Record(Record::from_sql(t, raw)?),
                TypeKind::Domain(_) => Value::decode_binary(t.base(), raw)?,
                // An enum's binary form is its label.
                TypeKind::Enum => Value::Text(utf8(raw)?.to_owned()),
                // The client asks for binary only for types it can decode; these
                // arrive so only as fields of an anonymous record (`ROW(...)`), whose
                // field types the client cannot know in advance.
                _ => {
                    return Err(Error::conversion(format!(
                        "no binary decoder for PostgreSQL type {} (a field of an anonymous record?): \
                         cast it to text in the query",
                        t.display_name()
                    )))
                }
            },
        })
    }

    /// Decodes a text-format value of any type.
    fn decode_text(ty: Type, raw: &[u8]) -> Result<Value> {
        if let Some(codec) = current_codec(ty.oid()).filter(|c| c.format() == Format::Text) {
            return decode_with(&*codec, ty, raw);
        }
        Ok(match ty {
            Type::BOOL => Value::Bool(bool::from_sql_text(ty, raw)?),
            Type::INT2 => Value::Int2(i16::from_sql_text(ty, raw)?),
            Type::INT4 => Value::Int4(i32::from_sql_text(ty, raw)?),
            Type::INT8 => Value::Int8(i64::from_sql_text(ty, raw)?),
            Type::OID => Value::Oid(u32::from_sql_text(ty, raw)?),
            // PostgreSQL's numeric output is already canonical decimal text.
            Type::NUMERIC => Value::Numeric(utf8(raw)?.to_owned()),
            Type::JSON | Type::JSONB => Value::Json(utf8(raw)?.to_owned()),
            t if t.is_text_like() || t == Type::CHAR => Value::Text(utf8(raw)?.to_owned()),
            t => Value::decode_text_parsed(t, raw)?,
        })
    }

    /// The text-format types that need a parser of their own (floats, dates
    /// and times, intervals, addresses, bytea, arrays, ranges, records...).
    /// Kept out of [`Self::decode_text`] so that those parsers are not
    /// inlined into it: on wasm a function is compiled on its first call,
    /// and the first query of a new isolate (integers or text, often) then
    /// compiles a few hundred bytes instead of ~16 KB.
    #[inline(never)]
    fn decode_text_parsed(ty: Type, raw: &[u8]) -> Result<Value> {
        Ok(match ty {
            Type::FLOAT4 => Value::Float4(f32::from_sql_text(ty, raw)?),
            Type::FLOAT8 => Value::Float8(f64::from_sql_text(ty, raw)?),
            Type::BYTEA => Value::Bytea(parse_bytea_text(raw)?),
            Type::UUID => Value::Uuid(utf8(raw)?.parse::<Uuid16>()?.0),
            Type::DATE => Value::Date(text_decode::parse_date(utf8(raw)?)?),
            Type::TIME => Value::Time(text_decode::parse_time(utf8(raw)?)?),
            Type::TIMETZ => Value::TimeTz(text_decode::parse_timetz(utf8(raw)?)?),
            Type::TIMESTAMP => {
                Value::Timestamp(Timestamp::from_pg_micros(text_decode::parse_timestamp(utf8(raw)?, false)?))
            }
            Type::TIMESTAMPTZ => {
                Value::TimestampTz(TimestampTz::from_pg_micros(text_decode::parse_timestamp(utf8(raw)?, true)?))
            }
            Type::INTERVAL => Value::Interval(text_decode::parse_interval(utf8(raw)?)?),
            Type::INET | Type::CIDR => Value::Inet(text_decode::parse_inet(utf8(raw)?)?),
            // Arrays of the types above (comma-delimited, which excludes box[]).
            t if t.element().is_some_and(|e| e.has_binary_codec() && e != Type::BOX) => {
                let element_type = t.element().unwrap_or(Type::UNKNOWN);
                let a = text_decode::parse_array(utf8(raw)?, t)?;
                let elements = a
                    .elements
                    .iter()
                    .map(|e| match e {
                        Some(e) => Value::decode_text(element_type, e.as_bytes()),
                        None => Ok(Value::Null),
                    })
                    .collect::<Result<Vec<Value>>>()?;
                Value::Array(ArrayValue { element_type, dims: a.dims, elements })
            }
            t => match t.kind() {
                TypeKind::Range(_) => Value::Range(Box::new(Range::<Value>::from_sql_text(t, raw)?)),
                TypeKind::Composite(_) | TypeKind::Record => Value::Record(Record::from_sql_text(t, raw)?),
                TypeKind::Domain(_) => Value::decode_text(t.base(), raw)?,
                TypeKind::Enum => Value::Text(utf8(raw)?.to_owned()),
                _ => Value::Unknown { type_oid: t.oid(), text: utf8(raw)?.to_owned() },
            },
        })
    }
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Value> {
        Value::decode_binary(ty, raw)
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Value> {
        Value::decode_text(ty, raw)
    }
    fn from_sql_null(_ty: Type) -> Result<Value> {
        Ok(Value::Null)
    }
    fn accepts(_ty: Type) -> bool {
        true
    }
}

// ---------------------------------------------------------------- encoding

fn is_int(ty: Type) -> bool {
    matches!(ty, Type::INT2 | Type::INT4 | Type::INT8 | Type::OID)
}
fn is_float(ty: Type) -> bool {
    matches!(ty, Type::FLOAT4 | Type::FLOAT8)
}

impl Value {
    /// Whether this value can be written in binary as `ty` (possibly failing
    /// a range check); otherwise it is sent as text.
    fn binary_for(&self, ty: Type) -> bool {
        match self {
            Value::Null => true,
            Value::Text(_) | Value::Unknown { .. } => false,
            Value::Bool(_) => ty == Type::BOOL,
            Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) => {
                is_int(ty) || is_float(ty) || ty == Type::NUMERIC
            }
            Value::Float4(_) | Value::Float8(_) => is_int(ty) || is_float(ty) || ty == Type::NUMERIC,
            Value::Numeric(_) => ty == Type::NUMERIC,
            Value::Bytea(_) => ty == Type::BYTEA,
            Value::Json(_) => matches!(ty, Type::JSON | Type::JSONB),
            Value::Uuid(_) => ty == Type::UUID,
            Value::Date(_) => ty == Type::DATE,
            Value::Time(_) => ty == Type::TIME,
            Value::TimeTz(_) => ty == Type::TIMETZ,
            Value::Timestamp(_) => ty == Type::TIMESTAMP,
            Value::TimestampTz(_) => ty == Type::TIMESTAMPTZ,
            Value::Interval(_) => ty == Type::INTERVAL,
            Value::Inet(_) => matches!(ty, Type::INET | Type::CIDR),
            Value::Array(a) => match ty.element() {
                // Text elements can be binary only when the element type is text-like.
                Some(e) => a.elements.iter().all(|v| match v {
                    Value::Text(_) => e.is_text_like(),
                    Value::Array(_) => false,
                    v => v.binary_for(e),
                }),
                None => false,
            },
            Value::Range(r) => match range_subtype(ty) {
                Some(sub) => range_binary_for(r, sub),
                None => false,
            },
            Value::Multirange(rs) => match multirange_range(ty).and_then(range_subtype) {
                Some(sub) => rs.iter().all(|r| range_binary_for(r, sub)),
                None => false,
            },
            Value::Record(r) => r.format() == Format::Binary && is_composite(ty),
        }
    }

    fn encode_binary(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        let cannot = || Error::conversion(format!("cannot encode {} as PostgreSQL type {ty}", self.kind_name()));
        match self {
            Value::Null => return Ok(IsNull::Yes),
            Value::Bool(b) => out.put_u8(u8::from(*b)),
            Value::Int2(v) => return encode_i64(i64::from(*v), ty, out),
            Value::Int4(v) => return encode_i64(i64::from(*v), ty, out),
            Value::Int8(v) => return encode_i64(*v, ty, out),
            Value::Oid(v) => return encode_i64(i64::from(*v), ty, out),
            Value::Float4(v) => return encode_f64(f64::from(*v), &v.to_string(), ty, out),
            Value::Float8(v) => return encode_f64(*v, &v.to_string(), ty, out),
            Value::Numeric(s) => encode_numeric_str(s, out)?,
            Value::Bytea(b) => out.put_slice(b),
            Value::Json(s) => {
                if ty == Type::JSONB {
                    out.put_u8(JSONB_VERSION);
                }
                out.put_slice(s.as_bytes());
            }
            Value::Uuid(u) => out.put_slice(u),
            Value::Date(v) => return v.to_sql(ty, out),
            Value::Time(v) => return v.to_sql(ty, out),
            Value::TimeTz(v) => return v.to_sql(ty, out),
            Value::Timestamp(v) => return v.to_sql(ty, out),
            Value::TimestampTz(v) => return v.to_sql(ty, out),
            Value::Interval(v) => return v.to_sql(ty, out),
            Value::Inet(v) => return v.to_sql(ty, out),
            Value::Array(a) => return super::array::encode_array(ty, &a.dims, a.elements.iter(), out),
            // Only text-like element types reach here (see binary_for).
            Value::Text(s) if ty.is_text_like() => out.put_slice(s.as_bytes()),
            Value::Text(_) | Value::Unknown { .. } => return Err(cannot()),
            Value::Range(r) => {
                let sub = range_subtype(ty).ok_or_else(cannot)?;
                return encode_range(r, out, |v, out| v.encode_binary(sub, out));
            }
            Value::Multirange(rs) => {
                let sub = multirange_range(ty).and_then(range_subtype).ok_or_else(cannot)?;
                return encode_multirange(rs.iter(), out, |r, out| {
                    encode_range(r, out, |v, out| v.encode_binary(sub, out))
                });
            }
            Value::Record(r) => return r.to_sql(ty, out),
        }
        Ok(IsNull::No)
    }

    /// A short name of the variant for messages.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) => "an integer",
            Value::Float4(_) | Value::Float8(_) => "a float",
            Value::Numeric(_) => "a numeric",
            Value::Text(_) | Value::Unknown { .. } => "a string",
            Value::Bytea(_) => "bytes",
            Value::Json(_) => "JSON",
            Value::Uuid(_) => "a uuid",
            Value::Date(_) => "a date",
            Value::Time(_) => "a time",
            Value::TimeTz(_) => "a timetz",
            Value::Timestamp(_) => "a timestamp",
            Value::TimestampTz(_) => "a timestamptz",
            Value::Interval(_) => "an interval",
            Value::Inet(_) => "an inet",
            Value::Array(_) => "an array",
            Value::Range(_) => "a range",
            Value::Multirange(_) => "a multirange",
            Value::Record(_) => "a record",
        }
    }
}

/// Whether every bound of `r` has a binary encoding as `sub`.
fn range_binary_for(r: &Range<Value>, sub: Type) -> bool {
    [r.lower(), r.upper()].into_iter().flatten().all(|b| match b {
        std::ops::Bound::Included(v) | std::ops::Bound::Excluded(v) => match v {
            Value::Null => false,
            Value::Text(_) => sub.is_text_like(),
            v => v.binary_for(sub),
        },
        std::ops::Bound::Unbounded => true,
    })
}

fn encode_i64(v: i64, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
    let range = || Error::conversion(format!("integer {v} is out of range for PostgreSQL type {ty}"));
    match ty {
        Type::INT2 => out.put_i16(i16::try_from(v).map_err(|_| range())?),
        Type::INT4 => out.put_i32(i32::try_from(v).map_err(|_| range())?),
        Type::INT8 => out.put_i64(v),
        Type::OID => out.put_u32(u32::try_from(v).map_err(|_| range())?),
        Type::FLOAT8 => {
            let f = v as f64;
            // Exact only if converting back gives the same integer (|v| ≤ 2^53 or a power of two).
            if f as i64 != v || f >= 9.223_372_036_854_776e18 {
                return Err(Error::conversion(format!("integer {v} cannot be represented exactly as float8")));
            }
            out.put_f64(f);
        }
        Type::FLOAT4 => {
            let f = v as f32;
            if f as i64 != v || f >= 9.223_372e18 {
                return Err(Error::conversion(format!("integer {v} cannot be represented exactly as float4")));
            }
            out.put_f32(f);
        }
        Type::NUMERIC => encode_numeric_str(&v.to_string(), out)?,
        _ => return Err(Error::conversion(format!("cannot encode an integer as PostgreSQL type {ty}"))),
    }
    Ok(IsNull::No)
}

/// `shortest` is the shortest round-trip decimal text of the original float
/// (f32 or f64), used for numeric.
fn encode_f64(v: f64, shortest: &str, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
    match ty {
        Type::FLOAT8 => out.put_f64(v),
        // Narrowing rounds, as the server would when parsing the text; like
        // the server (float4in), a finite value that overflows to infinity or
        // a non-zero one that underflows to zero is an error, not a silent change.
        Type::FLOAT4 => {
            let f = v as f32;
            if (f.is_infinite() && v.is_finite()) || (f == 0.0 && v != 0.0) {
                return Err(Error::conversion(format!("float {v} is out of range for PostgreSQL type float4")));
            }
            out.put_f32(f);
        }
        Type::NUMERIC => {
            let text = if v.is_nan() {
                "NaN"
            } else if v == f64::INFINITY {
                "Infinity"
            } else if v == f64::NEG_INFINITY {
                "-Infinity"
            } else {
                shortest
            };
            encode_numeric_str(text, out)?;
        }
        t if is_int(t) => {
            // 2^63 as f64; every integral f64 below it converts exactly.
            const LIMIT: f64 = 9_223_372_036_854_775_808.0;
            if !v.is_finite() || v.fract() != 0.0 || !(-LIMIT..LIMIT).contains(&v) {
                return Err(Error::conversion(format!(
                    "cannot send {v} to a {t} parameter: it is not an integer in range"
                )));
            }
            return encode_i64(v as i64, t, out);
        }
        t => return Err(Error::conversion(format!("cannot encode a float as PostgreSQL type {t}"))),
    }
    Ok(IsNull::No)
}

impl ToSql for Value {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        if let Some(codec) = current_codec(ty.oid()) {
            if *self == Value::Null {
                return Ok(IsNull::Yes);
            }
            codec
                .encode(ty, self, out)
                .map_err(|e| e.context(format_args!("custom codec of type {}", ty.display_name())))?;
            return Ok(IsNull::No);
        }
        match self.encode_format(ty) {
            Format::Binary => self.encode_binary(ty, out),
            Format::Text => {
                use std::fmt::Write;
                // The server parses the text (errors come back from it).
                let mut s = String::new();
                let _ = write!(s, "{self}");
                out.put_slice(s.as_bytes());
                Ok(IsNull::No)
            }
        }
    }
    fn accepts(_ty: Type) -> bool {
        true
    }
    fn encode_format(&self, ty: Type) -> Format {
        if let Some(codec) = current_codec(ty.oid()) {
            return codec.format();
        }
        if self.binary_for(ty) {
            Format::Binary
        } else {
            Format::Text
        }
    }
    /// Every value has a type-independent text form (its [`Display`](fmt::Display)):
    /// what the typed path sends anyway for combinations without a binary
    /// coercion. The server parses it as the type it infers; range or syntax
    /// problems then come back as server errors instead of client-side
    /// conversion errors.
    fn to_sql_untyped(&self, out: &mut BytesMut) -> Option<Result<IsNull>> {
        if *self == Value::Null {
            return Some(Ok(IsNull::Yes));
        }
        use std::fmt::Write;
        let mut s = String::new();
        let _ = write!(s, "{self}");
        out.put_slice(s.as_bytes());
        Some(Ok(IsNull::No))
    }
    to_sql_checked!();
}

// ---------------------------------------------------------------- Display

/// PostgreSQL input syntax for the value: what is sent in text format.
/// `Null` shows as `NULL`; arrays use the `{...}` literal syntax with every
/// element quoted.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
            Value::Int2(v) => write!(f, "{v}"),
            Value::Int4(v) => write!(f, "{v}"),
            Value::Int8(v) => write!(f, "{v}"),
            Value::Oid(v) => write!(f, "{v}"),
            Value::Float4(v) => write_float(f, f64::from(*v), &v.to_string()),
            Value::Float8(v) => write_float(f, *v, &v.to_string()),
            Value::Numeric(s) | Value::Text(s) | Value::Json(s) => f.write_str(s),
            Value::Unknown { text, .. } => f.write_str(text),
            Value::Bytea(b) => write_bytea_hex(b, f),
            Value::Uuid(u) => write!(f, "{}", Uuid16(*u)),
            Value::Date(v) => write!(f, "{v}"),
            Value::Time(v) => write!(f, "{v}"),
            Value::TimeTz(v) => write!(f, "{v}"),
            Value::Timestamp(v) => write!(f, "{v}"),
            Value::TimestampTz(v) => write!(f, "{v}"),
            Value::Interval(v) => write!(f, "{v}"),
            Value::Inet(v) => write!(f, "{v}"),
            Value::Array(a) => write_array(f, a),
            Value::Range(r) => write!(f, "{r}"),
            Value::Multirange(rs) => {
                f.write_str("{")?;
                for (i, r) in rs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{r}")?;
                }
                f.write_str("}")
            }
            Value::Record(r) => write!(f, "{r}"),
        }
    }
}

fn write_float(f: &mut fmt::Formatter<'_>, v: f64, shortest: &str) -> fmt::Result {
    if v.is_nan() {
        f.write_str("NaN")
    } else if v.is_infinite() {
        f.write_str(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        f.write_str(shortest)
    }
}

/// The server's output text of a value where it differs from
/// [`Display`](fmt::Display) (the input syntax used when sending): booleans
/// print as `t`/`f`, arrays quote only what needs it.
pub(crate) fn pg_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => (if *b { "t" } else { "f" }).to_owned(),
        Value::Array(a) => pg_array_text(a),
        v => v.to_string(),
    }
}

/// array_out's text of `a`: elements quoted only when they need it, as
/// PostgreSQL prints arrays (what a `String` read of a binary array returns).
pub(crate) fn pg_array_text(a: &ArrayValue) -> String {
    struct Pg<'a>(&'a ArrayValue);
    impl fmt::Display for Pg<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_array_styled(f, self.0, false)
        }
    }
    Pg(a).to_string()
}

fn write_array(f: &mut fmt::Formatter<'_>, a: &ArrayValue) -> fmt::Result {
    write_array_styled(f, a, true)
}

fn write_array_styled(f: &mut fmt::Formatter<'_>, a: &ArrayValue, quote_all: bool) -> fmt::Result {
    if a.dims.is_empty() || a.dims.iter().any(|&(len, _)| len <= 0) {
        return f.write_str("{}");
    }
    if a.dims.iter().any(|&(_, lower)| lower != 1) {
        for &(len, lower) in &a.dims {
            write!(f, "[{lower}:{}]", i64::from(lower) + i64::from(len) - 1)?;
        }
        f.write_str("=")?;
    }
    let mut elements = a.elements.iter();
    write_level(f, &a.dims, &mut elements, quote_all)
}

fn write_level<'v>(
    f: &mut fmt::Formatter<'_>,
    dims: &[(i32, i32)],
    elements: &mut impl Iterator<Item = &'v Value>,
    quote_all: bool,
) -> fmt::Result {
    let Some((&(len, _), inner)) = dims.split_first() else {
        return Ok(());
    };
    f.write_str("{")?;
    for i in 0..len {
        if i > 0 {
            f.write_str(",")?;
        }
        if inner.is_empty() {
            match elements.next() {
                None | Some(Value::Null) => f.write_str("NULL")?,
                Some(v) => {
                    // Quote everything when sending: valid for every element type, and
                    // safe for strings that look like NULL or contain delimiters.
                    let text = if quote_all { v.to_string() } else { pg_text(v) };
                    let bare = !quote_all
                        && !text.is_empty()
                        && !text.eq_ignore_ascii_case("NULL")
                        && !text.chars().any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
                    if bare {
                        f.write_str(&text)?;
                        continue;
                    }
                    f.write_str("\"")?;
                    for c in text.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        } else {
            write_level(f, inner, elements, quote_all)?;
        }
    }
    f.write_str("}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn enc(v: &Value, ty: Type) -> (Format, Vec<u8>) {
        let mut b = BytesMut::new();
        let is_null = v.to_sql_checked(ty, &mut b).unwrap();
        assert_eq!(is_null == IsNull::Yes, *v == Value::Null);
        (v.encode_format(ty), b.to_vec())
    }

    fn bin<T: ToSql>(v: T, ty: Type) -> Vec<u8> {
        let mut b = BytesMut::new();
        v.to_sql_checked(ty, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn decodes_every_binary_type() {
        let cases: Vec<(Type, Vec<u8>, Value)> = vec![
            (Type::BOOL, vec![1], Value::Bool(true)),
            (Type::INT2, bin(-2i16, Type::INT2), Value::Int2(-2)),
            (Type::INT4, bin(i32::MAX, Type::INT4), Value::Int4(i32::MAX)),
            (Type::INT8, bin(i64::MIN, Type::INT8), Value::Int8(i64::MIN)),
            (Type::OID, bin(7u32, Type::OID), Value::Oid(7)),
            (Type::CHAR, vec![b'x'], Value::Text("x".into())),
            (Type::CHAR, vec![0x81], Value::Text("\\201".into())),
            (Type::FLOAT4, bin(1.5f32, Type::FLOAT4), Value::Float4(1.5)),
            (Type::FLOAT8, bin(f64::NEG_INFINITY, Type::FLOAT8), Value::Float8(f64::NEG_INFINITY)),
            (Type::NUMERIC, bin("-1.50", Type::NUMERIC), Value::Numeric("-1.50".into())),
            (Type::TEXT, "ü".as_bytes().to_vec(), Value::Text("ü".into())),
            (Type::BYTEA, vec![0, 255], Value::Bytea(vec![0, 255])),
            (Type::JSONB, b"\x01{}".to_vec(), Value::Json("{}".into())),
            (Type::UUID, vec![7; 16], Value::Uuid([7; 16])),
            (Type::DATE, bin(Date::INFINITY, Type::DATE), Value::Date(Date::INFINITY)),
            (Type::TIMESTAMPTZ, i64::MIN.to_be_bytes().to_vec(), Value::TimestampTz(TimestampTz::NEG_INFINITY)),
            (
                Type::INTERVAL,
                bin(Interval { months: 1, days: 2, microseconds: 3 }, Type::INTERVAL),
                Value::Interval(Interval { months: 1, days: 2, microseconds: 3 }),
            ),
            (Type::INET, vec![2, 32, 0, 4, 1, 2, 3, 4], Value::Inet(Inet::host([1, 2, 3, 4].into()))),
        ];
        for (ty, raw, expected) in cases {
            assert_eq!(Value::from_sql(ty, &raw).unwrap(), expected, "{ty}");
            // Round trip back into the same type in binary.
            let (format, bytes) = enc(&expected, ty);
            if ty != Type::CHAR && ty != Type::TEXT {
                assert_eq!(format, Format::Binary, "{ty}");
                assert_eq!(bytes, raw, "{ty}");
            }
        }
        assert_eq!(Value::from_sql_null(Type::INT4).unwrap(), Value::Null);
    }

    #[test]
    fn arrays() {
        let raw = bin(vec![Some("a"), None, Some("b\"c")], Type::TEXT_ARRAY);
        let v = Value::from_sql(Type::TEXT_ARRAY, &raw).unwrap();
        let Value::Array(a) = &v else { panic!("{v:?}") };
        assert_eq!(a.element_type, Type::TEXT);
        assert_eq!(a.dims, vec![(3, 1)]);
        assert_eq!(v.to_string(), r#"{"a",NULL,"b\"c"}"#);
        // Text elements into text[] stay binary and byte-identical.
        assert_eq!(enc(&v, Type::TEXT_ARRAY), (Format::Binary, raw));
        // Text elements into int4[] force text format.
        let ints =
            Value::Array(ArrayValue::from_nested(Type::UNKNOWN, vec![Value::Text("1".into()), Value::Null]).unwrap());
        assert_eq!(enc(&ints, Type::INT4_ARRAY), (Format::Text, br#"{"1",NULL}"#.to_vec()));
        // Floats coerced per element into int8[].
        let floats = Value::Array(
            ArrayValue::from_nested(Type::UNKNOWN, vec![Value::Float8(1.0), Value::Float8(-2.0)]).unwrap(),
        );
        assert_eq!(enc(&floats, Type::INT8_ARRAY), (Format::Binary, bin(vec![1i64, -2], Type::INT8_ARRAY)));
        let empty = Value::Array(ArrayValue::from_nested(Type::UNKNOWN, vec![]).unwrap());
        assert_eq!(enc(&empty, Type::INT4_ARRAY).1, bin(Vec::<i32>::new(), Type::INT4_ARRAY));
        // 2-D with NULLs and custom lower bounds.
        let a2 = crate::types::Array::new(vec![(2, 0), (1, 5)], vec![Some(1i32), None]).unwrap();
        let v2 = Value::from_sql(Type::INT4_ARRAY, &bin(&a2, Type::INT4_ARRAY)).unwrap();
        assert_eq!(v2.to_string(), r#"[0:1][5:5]={{"1"},{NULL}}"#);
        assert!(ArrayValue::from_nested(Type::UNKNOWN, vec![ints.clone(), Value::Int4(1)]).is_err());
    }

    #[test]
    fn text_decoding() {
        assert_eq!(Value::from_sql_text(Type::INT8, b"-5").unwrap(), Value::Int8(-5));
        assert_eq!(Value::from_sql_text(Type::BOOL, b"f").unwrap(), Value::Bool(false));
        assert_eq!(Value::from_sql_text(Type::NUMERIC, b"1.50").unwrap(), Value::Numeric("1.50".into()));
        assert_eq!(Value::from_sql_text(Type::BYTEA, b"\\x00ff").unwrap(), Value::Bytea(vec![0, 255]));
        assert_eq!(
            Value::from_sql_text(Type::POINT, b"(1,2)").unwrap(),
            Value::Unknown { type_oid: 600, text: "(1,2)".into() }
        );
        assert_eq!(Value::from_sql_text(Type::from_oid(77777), b"happy").unwrap().to_string(), "happy");
        assert!(Value::from_sql_text(Type::INT4, b"x").is_err());
        assert!(Value::from_sql_text(Type::TEXT, &[0xff]).is_err());
    }

    #[test]
    fn coercions() {
        assert_eq!(enc(&Value::Null, Type::INT4).1, Vec::<u8>::new());
        assert_eq!(enc(&Value::Text("42".into()), Type::INT4), (Format::Text, b"42".to_vec()));
        assert_eq!(enc(&Value::Text("x".into()), Type::TEXT), (Format::Text, b"x".to_vec()));
        assert_eq!(enc(&Value::Float8(5.0), Type::INT2), (Format::Binary, vec![0, 5]));
        // Narrowing to float4 rounds; subnormals, zero and the specials pass.
        assert_eq!(enc(&Value::Float8(0.1), Type::FLOAT4).1, 0.1f32.to_be_bytes());
        assert_eq!(enc(&Value::Float8(1e-40), Type::FLOAT4).1, (1e-40f64 as f32).to_be_bytes());
        assert_eq!(enc(&Value::Float8(-0.0), Type::FLOAT4).1, (-0.0f32).to_be_bytes());
        assert_eq!(enc(&Value::Float8(f64::NEG_INFINITY), Type::FLOAT4).1, f32::NEG_INFINITY.to_be_bytes());
        assert!(f32::from_be_bytes(enc(&Value::Float8(f64::NAN), Type::FLOAT4).1.try_into().unwrap()).is_nan());
        assert_eq!(enc(&Value::Float8(0.1), Type::NUMERIC), (Format::Binary, bin("0.1", Type::NUMERIC)));
        assert_eq!(enc(&Value::Float8(f64::NAN), Type::NUMERIC).1, bin("NaN", Type::NUMERIC));
        assert_eq!(enc(&Value::Float8(1e21), Type::NUMERIC).1, bin("1e21", Type::NUMERIC));
        assert_eq!(enc(&Value::Int8(1 << 53), Type::FLOAT8).1, ((1u64 << 53) as f64).to_be_bytes());
        assert_eq!(enc(&Value::Int4(7), Type::NUMERIC).1, bin("7", Type::NUMERIC));
        assert_eq!(enc(&Value::Int4(7), Type::TEXT), (Format::Text, b"7".to_vec()));
        assert_eq!(enc(&Value::Numeric("1e40".into()), Type::NUMERIC).1, bin("1e40", Type::NUMERIC));
        assert_eq!(enc(&Value::Json("[1]".into()), Type::JSONB).1, b"\x01[1]");
        assert_eq!(enc(&Value::Bool(true), Type::TEXT), (Format::Text, b"true".to_vec()));
        assert_eq!(enc(&Value::Bytea(vec![1]), Type::TEXT), (Format::Text, b"\\x01".to_vec()));
        let mut b = BytesMut::new();
        for (v, ty) in [
            (Value::Float8(1.5), Type::INT4),
            (Value::Float8(f64::INFINITY), Type::INT8),
            (Value::Float8(3e9), Type::INT4),
            (Value::Float8(9.3e18), Type::INT8),
            (Value::Int8(i64::MAX), Type::FLOAT8),
            (Value::Int8(1 << 40), Type::INT4),
            (Value::Float8(1e300), Type::FLOAT4),
            (Value::Float8(-f64::MAX), Type::FLOAT4),
            (Value::Float8(1e-50), Type::FLOAT4),
            (Value::Int4(-1), Type::OID),
            (Value::Numeric("abc".into()), Type::NUMERIC),
        ] {
            assert_eq!(v.to_sql_checked(ty, &mut b).unwrap_err().kind(), ErrorKind::Conversion, "{v:?} {ty}");
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        let garbage: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0xff; 3],
            vec![0xff; 9],
            vec![0x80; 17],
            vec![0; 40],
            [0i32.to_be_bytes(), 0i32.to_be_bytes()].concat(),
            [1i32, 0, 23, i32::MAX, 1].iter().flat_map(|v| v.to_be_bytes()).collect(),
        ];
        let types = [
            Type::BOOL,
            Type::INT2,
            Type::INT4,
            Type::INT8,
            Type::OID,
            Type::CHAR,
            Type::FLOAT4,
            Type::FLOAT8,
            Type::NUMERIC,
            Type::TEXT,
            Type::BYTEA,
            Type::JSON,
            Type::JSONB,
            Type::UUID,
            Type::DATE,
            Type::TIME,
            Type::TIMETZ,
            Type::TIMESTAMP,
            Type::TIMESTAMPTZ,
            Type::INTERVAL,
            Type::INET,
            Type::CIDR,
            Type::INT4_ARRAY,
            Type::NUMERIC_ARRAY,
            Type::TEXT_ARRAY,
            Type::JSONB_ARRAY,
            Type::from_oid(99999),
        ];
        for ty in types {
            for raw in &garbage {
                let _ = Value::from_sql(ty, raw);
                let _ = Value::from_sql_text(ty, raw);
            }
        }
    }
}
