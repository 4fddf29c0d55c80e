//! PostgreSQL values ⇄ JavaScript values, following the BRIEF's mapping
//! (node-postgres/Neon conventions, lossless by default):
//!
//! | PostgreSQL | JavaScript |
//! |---|---|
//! | int2, int4, oid, float4, float8 | `number` |
//! | int8 | `bigint` (options: `"number"`, `"string"`) |
//! | numeric | `string` (lossless) |
//! | bool | `boolean` |
//! | text, varchar, name, char, enums, unknown types | `string` |
//! | bytea | `Uint8Array` |
//! | json, jsonb | parsed with the host's `JSON.parse` (no JSON parser in wasm) |
//! | date, timestamp, timestamptz | `Date` (UTC; option `"string"`); ±infinity → `±Infinity` |
//! | time, timetz, interval, uuid, inet, cidr | `string` (PostgreSQL's text form) |
//! | arrays | nested arrays |
//! | NULL | `null` |
//!
//! Parameters go the other way with the core's coercions ([`Value`]'s
//! `ToSql`): `null`/`undefined` → NULL, `boolean`, `number` (integral →
//! int8, else float8; the server's parameter type decides), `bigint`
//! (→ int8, or numeric text beyond 64 bits), `string` (text format: the
//! server parses it as the parameter's type), `Uint8Array`/`ArrayBuffer`,
//! `Date` (timestamptz), arrays (nested = multidimensional), and any other
//! object as JSON (`JSON.stringify`).

use edgepg_core::client::Row;
use edgepg_core::protocol::Format;
use std::ops::Bound;
use std::sync::Arc;

use edgepg_core::types::{
    with_type_map, write_numeric_text, ArrayValue, Date as PgDate, FromSql, Range, Record, Timestamp, TimestampTz,
    Type, TypeKind, TypeMap, Value,
};
use edgepg_core::{Error, Result};
use js_sys::{Array, BigInt, Date, Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_DAYS: f64 = 10_957.0;
const MS_PER_DAY: f64 = 86_400_000.0;

/// How results are turned into JS values; bits of the `flags` argument
/// the JS glue passes with every call.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Decode {
    int8: Int8Mode,
    dates_as_strings: bool,
    /// Every value through [`Value`] (no typed fast path): the reference
    /// the exactness test compares the fast paths with.
    pub(crate) reference: bool,
}

/// The bits of the `flags` argument, exported to the glue (`DecodeFlag` in
/// the wasm-bindgen module) so that Rust is their one definition.
#[wasm_bindgen]
#[derive(Debug, Clone, Copy)]
pub enum DecodeFlag {
    /// int8 as a JS number (bits 0-1 = 1).
    Int8Number = 1,
    /// int8 as a decimal string (bits 0-1 = 2).
    Int8String = 2,
    /// date, timestamp and timestamptz as PostgreSQL's text.
    DatesAsStrings = 4,
    /// Decode every value through the general path (tests only).
    Reference = 8,
    /// `pgQuery` (edgepg/pg) only: its `rawText` argument is given (see `wasm/src/js/pg.rs`).
    RawTextGiven = 0x100,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Int8Mode {
    #[default]
    BigInt,
    Number,
    String,
}

impl Decode {
    /// Bits 0-1: int8 (0 bigint, 1 number, 2 string); then [`DecodeFlag`]'s.
    pub(crate) fn from_flags(flags: u32) -> Decode {
        let int8 = match flags & 3 {
            x if x == DecodeFlag::Int8Number as u32 => Int8Mode::Number,
            x if x == DecodeFlag::Int8String as u32 => Int8Mode::String,
            _ => Int8Mode::BigInt,
        };
        Decode {
            int8,
            dates_as_strings: flags & DecodeFlag::DatesAsStrings as u32 != 0,
            reference: flags & DecodeFlag::Reference as u32 != 0,
        }
    }

    /// One value as JS. Fails only for composite fields that do not decode.
    pub(crate) fn value(&self, v: Value) -> Result<JsValue> {
        Ok(match v {
            Value::Null => JsValue::NULL,
            Value::Bool(b) => JsValue::from_bool(b),
            Value::Int2(i) => JsValue::from(i),
            Value::Int4(i) => JsValue::from(i),
            Value::Oid(i) => JsValue::from(i),
            Value::Int8(i) => match self.int8 {
                Int8Mode::BigInt => BigInt::from(i).into(),
                Int8Mode::Number => JsValue::from_f64(i as f64),
                Int8Mode::String => JsValue::from_str(&i.to_string()),
            },
            Value::Float4(f) => JsValue::from_f64(f64::from(f)),
            Value::Float8(f) => JsValue::from_f64(f),
            Value::Numeric(s) | Value::Text(s) => JsValue::from_str(&s),
            Value::Unknown { text, .. } => JsValue::from_str(&text),
            Value::Bytea(b) => Uint8Array::from(&b[..]).into(),
            // The server only sends valid JSON; keep the text if a proxy mangled it.
            Value::Json(s) => JSON::parse(&s).unwrap_or_else(|_| JsValue::from_str(&s)),
            v @ (Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_)) if !self.dates_as_strings => {
                let ms = date_ms(&v);
                match ms.is_finite() {
                    true => Date::new(&JsValue::from_f64(ms)).into(),
                    false => JsValue::from_f64(ms), // ±Infinity
                }
            }
            Value::Array(a) => self.array(a)?,
            Value::Range(r) => self.range(*r)?,
            Value::Multirange(rs) => rs.into_iter().map(|r| self.range(r)).collect::<Result<Array>>()?.into(),
            Value::Record(r) => self.record(&r)?,
            other => JsValue::from_str(&other.to_string()),
        })
    }

    fn array(&self, a: ArrayValue) -> Result<JsValue> {
        let mut elements = a.elements.into_iter();
        if a.dims.is_empty() {
            return Ok(Array::new().into());
        }
        let lens: Vec<usize> = a.dims.iter().map(|&(len, _)| usize::try_from(len).unwrap_or(0)).collect();
        Ok(self.nest(&lens, &mut elements)?.into())
    }

    /// Builds one dimension level, consuming elements in row-major order.
    fn nest(&self, lens: &[usize], elements: &mut impl Iterator<Item = Value>) -> Result<Array> {
        let out = Array::new();
        let Some((&len, rest)) = lens.split_first() else { return Ok(out) };
        for _ in 0..len {
            if rest.is_empty() {
                out.push(&self.value(elements.next().unwrap_or(Value::Null))?);
            } else {
                out.push(&self.nest(rest, elements)?.into());
            }
        }
        Ok(out)
    }

    /// `{ lower, upper, lowerInclusive, upperInclusive, empty }`; an
    /// unbounded (infinite) bound is `null` and not inclusive.
    fn range(&self, r: Range<Value>) -> Result<JsValue> {
        let o = Object::new();
        set(&o, "empty", &JsValue::from_bool(r.is_empty()));
        let (lower, upper) = match r {
            Range::Empty => (Bound::Unbounded, Bound::Unbounded),
            Range::Bounds { lower, upper } => (lower, upper),
        };
        for (key, inc_key, b) in [("lower", "lowerInclusive", lower), ("upper", "upperInclusive", upper)] {
            let (v, inc) = match b {
                Bound::Included(v) => (self.value(v)?, true),
                Bound::Excluded(v) => (self.value(v)?, false),
                Bound::Unbounded => (JsValue::NULL, false),
            };
            set(&o, key, &v);
            set(&o, inc_key, &JsValue::from_bool(inc));
        }
        Ok(o.into())
    }

    /// A composite as an object keyed by field name (`f1`, `f2`, ... for
    /// anonymous records, as PostgreSQL names their columns).
    fn record(&self, r: &Record) -> Result<JsValue> {
        let o = Object::new();
        for (i, v) in r.values()?.into_iter().enumerate() {
            let key = r.name(i).map_or_else(|| format!("f{}", i + 1), str::to_owned);
            set(&o, &key, &self.value(v)?);
        }
        Ok(o.into())
    }

    /// How a column of type `ty` travels to JS.
    fn kind(&self, ty: Type) -> Kind {
        match ty {
            Type::INT2 | Type::INT4 | Type::OID | Type::FLOAT4 | Type::FLOAT8 => Kind::Number,
            Type::INT8 => match self.int8 {
                Int8Mode::BigInt => Kind::BigInt,
                Int8Mode::Number => Kind::Number,
                Int8Mode::String => Kind::Text,
            },
            Type::BOOL => Kind::Bool,
            Type::DATE | Type::TIMESTAMP | Type::TIMESTAMPTZ if !self.dates_as_strings => Kind::Date,
            Type::JSON | Type::JSONB => Kind::Json,
            Type::BYTEA => Kind::Bytes,
            _ if ty.element().is_some() => Kind::Values,
            // Ranges, multiranges and composites become objects (see `range`, `record`).
            _ if matches!(
                ty.kind(),
                TypeKind::Range(_) | TypeKind::Multirange(_) | TypeKind::Composite(_) | TypeKind::Record
            ) =>
            {
                Kind::Values
            }
            _ => Kind::Text,
        }
    }
}

/// `o[key] = v` as an own property, also for the key `__proto__` (a field
/// name must not replace the object's prototype).
fn set(o: &Object, key: &str, v: &JsValue) {
    let key = JsValue::from_str(key);
    if key == "__proto__" {
        let d = Object::new();
        let _ = Reflect::set(&d, &JsValue::from_str("value"), v);
        for flag in ["enumerable", "writable", "configurable"] {
            let _ = Reflect::set(&d, &JsValue::from_str(flag), &JsValue::TRUE);
        }
        let _ = Reflect::define_property(o, &key, &d);
    } else {
        let _ = Reflect::set(o, &key, v);
    }
}

/// The column names of a row description, as a JS array of strings.
pub(crate) fn column_names(columns: &[edgepg_core::client::Column]) -> Array {
    array(columns.iter().map(|c| JsValue::from_str(c.name())))
}

/// The type OIDs of columns, as a JS array of numbers.
pub(crate) fn column_types(columns: &[edgepg_core::client::Column]) -> Array {
    array(columns.iter().map(|c| JsValue::from(c.type_().oid())))
}

/// The JS arrays of column names [`shared_column_names`] made, newest
/// last, each with its key: the names, each followed by a NUL (a name from
/// the server is a C string, so it holds none).
struct NameArrays(Vec<(Box<str>, Array)>);

/// How many shapes [`shared_column_names`] remembers (a first-in,
/// first-out list: an application's hot queries are few).
const NAME_ARRAYS: usize = 16;

thread_local! {
    static NAMES: std::cell::RefCell<NameArrays> = const { std::cell::RefCell::new(NameArrays(Vec::new())) };
}

/// The column names as a JS array of strings, the SAME array for the same
/// names while they are remembered: a repeated query's names cost a
/// comparison in wasm instead of one JS string each. The glue must not
/// modify the array (it only reads names from it).
pub(crate) fn shared_column_names(columns: &[edgepg_core::client::Column]) -> Array {
    NAMES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, names)) = cache.0.iter().rev().find(|(key, _)| names_are(key, columns)) {
            return names.clone();
        }
        let names = column_names(columns);
        let mut key = String::new();
        for c in columns {
            key.push_str(c.name());
            key.push('\0');
        }
        if cache.0.len() == NAME_ARRAYS {
            cache.0.remove(0);
        }
        cache.0.push((key.into(), names.clone()));
        names
    })
}

/// True when `key` (see [`NameArrays`]) holds exactly the names of `columns`.
fn names_are(key: &str, columns: &[edgepg_core::client::Column]) -> bool {
    let mut rest = key.as_bytes();
    for c in columns {
        let name = c.name().as_bytes();
        match rest.get(name.len()) {
            Some(0) if rest.starts_with(name) => rest = &rest[name.len() + 1..],
            _ => return false,
        }
    }
    rest.is_empty()
}

/// How one result column travels to JS: packed into one typed array (or
/// one string) per column, so a batch of rows crosses the wasm/JS boundary
/// in a handful of calls instead of one or more per value. Exported to the
/// glue as `ColumnKind` (js/src/api.js and pg.js read the codes from it).
#[wasm_bindgen(js_name = ColumnKind)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A JS array of values (arrays, which nest).
    Values = 0,
    /// `Float64Array` (int2, int4, oid, float4, float8; int8 as "number").
    Number = 1,
    /// `BigInt64Array` (int8 as "bigint").
    BigInt = 2,
    /// `Uint8Array` of 0/1.
    Bool = 3,
    /// One string of all values and a `Uint32Array` of their end offsets in
    /// UTF-16 code units, so the glue cuts it with `String.prototype.slice`
    /// after a single UTF-8 decode.
    Text = 4,
    /// As `Text`; each value is parsed with `JSON.parse`.
    Json = 5,
    /// `Float64Array` of Unix milliseconds; ±infinity as ±Infinity.
    Date = 6,
    /// One `Uint8Array` of all values and a `Uint32Array` of byte end offsets.
    Bytes = 7,
}

/// The typed fast path of one column's binary values (see
/// [`Packed::push_binary_scalar`]): the pairs of [`Kind`] and built-in type
/// whose values need no [`Value`] and no type map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fast {
    /// The general path (text format, raw text, other types, the reference decode).
    No,
    Int8BigInt,
    Int8Number,
    Int8Text,
    Int2,
    Int4,
    Oid,
    Float4,
    Float8,
    Bool,
    Timestamp,
    TimestampTz,
    Date,
    /// text, varchar, bpchar, name, json (their binary form is UTF-8 text).
    Utf8,
    Jsonb,
    Bytea,
    Numeric,
}

impl Fast {
    fn of(decode: &Decode, kind: Kind, ty: Type, format: Format, raw_text: bool) -> Fast {
        if decode.reference || raw_text || format != Format::Binary {
            return Fast::No;
        }
        match (kind, ty) {
            (Kind::BigInt, Type::INT8) => Fast::Int8BigInt,
            (Kind::Number, Type::FLOAT8) => Fast::Float8,
            (Kind::Number, Type::INT4) => Fast::Int4,
            (Kind::Number, Type::INT2) => Fast::Int2,
            (Kind::Number, Type::INT8) => Fast::Int8Number,
            (Kind::Number, Type::FLOAT4) => Fast::Float4,
            (Kind::Number, Type::OID) => Fast::Oid,
            (Kind::Bool, Type::BOOL) => Fast::Bool,
            (Kind::Date, Type::TIMESTAMPTZ) => Fast::TimestampTz,
            (Kind::Date, Type::TIMESTAMP) => Fast::Timestamp,
            (Kind::Date, Type::DATE) => Fast::Date,
            (Kind::Text, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME) | (Kind::Json, Type::JSON) => {
                Fast::Utf8
            }
            (Kind::Json, Type::JSONB) => Fast::Jsonb,
            (Kind::Bytes, Type::BYTEA) => Fast::Bytea,
            (Kind::Text, Type::INT8) => Fast::Int8Text,
            (Kind::Text, Type::NUMERIC) => Fast::Numeric,
            _ => Fast::No,
        }
    }
}

/// One column of a batch being packed.
struct Packed<'c> {
    kind: Kind,
    /// The column's typed fast path ([`Fast::No`] for [`DecodeFlag::Reference`]).
    fast: Fast,
    ty: Type,
    format: Format,
    /// For error messages only: borrowed, so a column costs no `String`.
    name: &'c str,
    numbers: Vec<f64>,
    ints: Vec<i64>,
    bytes: Vec<u8>,
    text: String,
    /// UTF-16 length of `text` so far.
    text_units: usize,
    ends: Vec<u32>,
    values: Option<Array>,
    nulls: Option<Vec<u8>>,
    rows: usize,
    /// A text-format column delivered as PostgreSQL sent it (for a JS text
    /// parser of the caller's), not decoded.
    raw_text: bool,
    /// The connection's user types, for columns that need them to decode.
    types: Option<Arc<TypeMap>>,
}

impl<'c> Packed<'c> {
    fn new(decode: &Decode, column: &'c edgepg_core::client::Column, rows: usize, raw_text: bool) -> Packed<'c> {
        let raw_text = raw_text && column.format() == Format::Text;
        let types = column.type_map().cloned();
        let kind = match &types {
            _ if raw_text => Kind::Text,
            // A custom codec decides the value (hstore's is a JSON object).
            Some(map) if map.codec(column.type_().oid()).is_some() => Kind::Values,
            _ => column.with_types(|| decode.kind(column.type_())),
        };
        let mut p = Packed {
            kind,
            fast: Fast::of(decode, kind, column.type_(), column.format(), raw_text),
            ty: column.type_(),
            format: column.format(),
            name: column.name(),
            numbers: Vec::new(),
            ints: Vec::new(),
            bytes: Vec::new(),
            text: String::new(),
            text_units: 0,
            ends: Vec::new(),
            values: None,
            nulls: None,
            rows,
            raw_text,
            types,
        };
        match kind {
            Kind::Number | Kind::Date => p.numbers.reserve_exact(rows),
            Kind::BigInt => p.ints.reserve_exact(rows),
            Kind::Bool => p.bytes.reserve_exact(rows),
            Kind::Text | Kind::Json | Kind::Bytes => p.ends.reserve_exact(rows),
            Kind::Values => p.values = Some(Array::new_with_length(rows as u32)),
        }
        p
    }

    /// Appends row `i`'s value.
    fn push(&mut self, decode: &Decode, i: usize, raw: Option<&[u8]>) -> Result<()> {
        let Some(raw) = raw else {
            let rows = self.rows;
            let nulls = self.nulls.get_or_insert_with(|| {
                let mut n = Vec::with_capacity(rows);
                n.resize(i, 0);
                n
            });
            nulls.push(1);
            return self.push_placeholder();
        };
        if let Some(nulls) = &mut self.nulls {
            nulls.push(0);
        }
        // Built-in scalars and strings in binary need no type map.
        if self.fast != Fast::No {
            if let Some(done) = self.push_binary_scalar(raw) {
                return done.map_err(|e| e.context(format_args!("column \"{}\"", self.name)));
            }
        }
        let result = match self.types.clone() {
            Some(map) => with_type_map(&map, || self.push_value(decode, i, raw)),
            None => self.push_value(decode, i, raw),
        };
        result.map_err(|e| e.context(format_args!("column \"{}\"", self.name)))
    }

    fn push_value(&mut self, decode: &Decode, i: usize, raw: &[u8]) -> Result<()> {
        if self.raw_text {
            let s = std::str::from_utf8(raw).map_err(|_| Error::conversion("a text value is not valid UTF-8"))?;
            return self.push_text(s);
        }
        // Text-like and JSON values need no decoding: their bytes are the
        // string (jsonb's version byte stripped); no String per value.
        if matches!(self.kind, Kind::Text | Kind::Json) && <&str as FromSql>::accepts(self.ty) {
            let s: &str = match self.format {
                Format::Binary => FromSql::from_sql(self.ty, raw)?,
                Format::Text => FromSql::from_sql_text(self.ty, raw)?,
            };
            return self.push_text(s);
        }
        if self.kind == Kind::Bytes && self.format == Format::Binary {
            // Binary bytea is the bytes themselves.
            self.bytes.extend_from_slice(raw);
            self.ends.push(offset(self.bytes.len())?);
            return Ok(());
        }
        if self.kind == Kind::Text && self.ty == Type::INT8 && self.format == Format::Binary {
            return self.push_int8_text(FromSql::from_sql(self.ty, raw)?);
        }
        if self.kind == Kind::Text && self.ty == Type::NUMERIC && self.format == Format::Binary {
            // Printed straight into the column's text: no String per value.
            let before = self.text.len();
            write_numeric_text(raw, &mut self.text)?;
            self.text_units += self.text.len() - before; // ASCII digits
            self.ends.push(offset(self.text_units)?);
            return Ok(());
        }
        let value: Value = match self.format {
            Format::Binary => FromSql::from_sql(self.ty, raw)?,
            Format::Text => FromSql::from_sql_text(self.ty, raw)?,
        };
        match (self.kind, value) {
            (Kind::Number, v) => self.numbers.push(number(v)),
            (Kind::BigInt, Value::Int8(n)) => self.ints.push(n),
            (Kind::Bool, Value::Bool(b)) => self.bytes.push(u8::from(b)),
            (Kind::Date, v) => self.numbers.push(date_ms(&v)),
            (Kind::Bytes, Value::Bytea(b)) => {
                self.bytes.extend_from_slice(&b);
                self.ends.push(offset(self.bytes.len())?);
            }
            (Kind::Values, v) => {
                if let Some(values) = &self.values {
                    values.set(i as u32, decode.value(v)?);
                }
            }
            (Kind::Text | Kind::Json, Value::Numeric(s) | Value::Text(s) | Value::Json(s)) => self.push_text(&s)?,
            (Kind::Text | Kind::Json, Value::Unknown { text, .. }) => self.push_text(&text)?,
            (Kind::Text | Kind::Json, other) => self.push_text(&other.to_string())?,
            // `kind` follows the type, and the type decides the Value.
            _ => return Err(Error::conversion("unexpected value for the column's type")),
        }
        Ok(())
    }

    /// Binary numbers, booleans, dates and strings decoded straight into
    /// their typed column, without a [`Value`] (and its type-map lookups)
    /// per value; the same conversions as [`number`] and [`date_ms`]. The
    /// path was chosen once per column ([`Fast::of`]), so a value costs one
    /// branch on it and a fixed-width read. `None`: no fast path for this
    /// value (a wrong width, invalid UTF-8, another jsonb version): the
    /// general path decodes it, or reports the error it always reported.
    #[inline(always)]
    fn push_binary_scalar(&mut self, raw: &[u8]) -> Option<Result<()>> {
        match self.fast {
            Fast::No => return None,
            Fast::Int8BigInt => self.ints.push(i64::from_be_bytes(raw.try_into().ok()?)),
            Fast::Float8 => self.numbers.push(f64::from_be_bytes(raw.try_into().ok()?)),
            Fast::Int4 => self.numbers.push(f64::from(i32::from_be_bytes(raw.try_into().ok()?))),
            Fast::Int2 => self.numbers.push(f64::from(i16::from_be_bytes(raw.try_into().ok()?))),
            Fast::Int8Number => self.numbers.push(i64::from_be_bytes(raw.try_into().ok()?) as f64),
            Fast::Float4 => self.numbers.push(f64::from(f32::from_be_bytes(raw.try_into().ok()?))),
            Fast::Oid => self.numbers.push(f64::from(u32::from_be_bytes(raw.try_into().ok()?))),
            Fast::Bool => self.bytes.push(u8::from(<[u8; 1]>::try_from(raw).ok()?[0] != 0)),
            Fast::TimestampTz => {
                let t = TimestampTz::from_pg_micros(i64::from_be_bytes(raw.try_into().ok()?));
                self.numbers.push(date_ms(&Value::TimestampTz(t)))
            }
            Fast::Timestamp => {
                let t = Timestamp::from_pg_micros(i64::from_be_bytes(raw.try_into().ok()?));
                self.numbers.push(date_ms(&Value::Timestamp(t)))
            }
            Fast::Date => {
                let d = PgDate::from_pg_days(i32::from_be_bytes(raw.try_into().ok()?));
                self.numbers.push(date_ms(&Value::Date(d)))
            }
            // A built-in string type's binary form is its UTF-8 text.
            Fast::Utf8 => return std::str::from_utf8(raw).ok().map(|s| self.push_text(s)),
            // jsonb: a version byte (1), then the text.
            Fast::Jsonb => {
                return match raw.split_first().map(|(v, s)| (v, std::str::from_utf8(s))) {
                    Some((1, Ok(s))) => Some(self.push_text(s)),
                    _ => None,
                }
            }
            // Binary bytea is the bytes themselves.
            Fast::Bytea => {
                self.bytes.extend_from_slice(raw);
                return Some(offset(self.bytes.len()).map(|end| self.ends.push(end)));
            }
            // int8 as a decimal string (node-postgres's mapping).
            Fast::Int8Text => return Some(self.push_int8_text(i64::from_be_bytes(raw.try_into().ok()?))),
            Fast::Numeric => {
                let before = self.text.len();
                return Some(write_numeric_text(raw, &mut self.text).and_then(|()| {
                    self.text_units += self.text.len() - before; // ASCII digits
                    self.ends.push(offset(self.text_units)?);
                    Ok(())
                }));
            }
        }
        Some(Ok(()))
    }

    /// Keeps the columns aligned for a NULL (the glue reads `nulls` first).
    fn push_placeholder(&mut self) -> Result<()> {
        match self.kind {
            Kind::Number | Kind::Date => self.numbers.push(0.0),
            Kind::BigInt => self.ints.push(0),
            Kind::Bool => self.bytes.push(0),
            Kind::Text | Kind::Json => self.ends.push(offset(self.text_units)?),
            Kind::Bytes => self.ends.push(offset(self.bytes.len())?),
            Kind::Values => {} // the array already holds `undefined`; the glue writes null
        }
        Ok(())
    }

    /// int8 as a string (node-postgres's mapping): printed straight into
    /// the column's text, no String per value. The digits are written right
    /// to left into a buffer: a fraction of `core::fmt`'s cost per value,
    /// which showed in edgepg/pg's decode_200k profile.
    fn push_int8_text(&mut self, n: i64) -> Result<()> {
        let mut digits = [0u8; 20]; // u64::MAX has 20 digits
        let mut at = digits.len();
        let mut rest = n.unsigned_abs();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if n < 0 {
            self.text.push('-');
        }
        self.text.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default()); // always ASCII
        self.text_units += digits.len() - at + usize::from(n < 0);
        self.ends.push(offset(self.text_units)?);
        Ok(())
    }

    fn push_text(&mut self, s: &str) -> Result<()> {
        self.text.push_str(s);
        self.text_units += if s.is_ascii() { s.len() } else { s.chars().map(char::len_utf16).sum() };
        self.ends.push(offset(self.text_units)?);
        Ok(())
    }

    /// The value of a one-row column as the glue would make it from
    /// [`Packed::finish`]'s arrays (`fillColumn` in api.js): the same
    /// conversions, without the arrays.
    fn single(self) -> JsValue {
        if self.nulls.as_ref().is_some_and(|n| n.first().is_some_and(|&x| x != 0)) {
            return JsValue::NULL;
        }
        match self.kind {
            Kind::Number => self.numbers.first().map_or(JsValue::NULL, |&n| JsValue::from_f64(n)),
            Kind::BigInt => self.ints.first().map_or(JsValue::NULL, |&n| BigInt::from(n).into()),
            Kind::Bool => self.bytes.first().map_or(JsValue::NULL, |&b| JsValue::from_bool(b != 0)),
            Kind::Text => JsValue::from_str(&self.text),
            // api.js `parseJson`: the text itself if it does not parse.
            Kind::Json => JSON::parse(&self.text).unwrap_or_else(|_| JsValue::from_str(&self.text)),
            // api.js `toDate`: ±Infinity stay numbers.
            Kind::Date => match self.numbers.first() {
                Some(&ms) if ms.is_finite() => Date::new(&JsValue::from_f64(ms)).into(),
                Some(&ms) => JsValue::from_f64(ms),
                None => JsValue::NULL,
            },
            Kind::Bytes => Uint8Array::from(&self.bytes[..]).into(),
            Kind::Values => self.values.map_or(JsValue::NULL, |v| v.get(0)),
        }
    }

    /// `[kind, data, ends, nulls]` for the glue.
    fn finish(self) -> JsValue {
        let data: JsValue = match self.kind {
            Kind::Number | Kind::Date => js_sys::Float64Array::from(&self.numbers[..]).into(),
            Kind::BigInt => js_sys::BigInt64Array::from(&self.ints[..]).into(),
            Kind::Bool | Kind::Bytes => Uint8Array::from(&self.bytes[..]).into(),
            Kind::Text | Kind::Json => JsValue::from_str(&self.text),
            Kind::Values => self.values.map(JsValue::from).unwrap_or(JsValue::UNDEFINED),
        };
        let ends: JsValue = match self.kind {
            Kind::Text | Kind::Json | Kind::Bytes => js_sys::Uint32Array::from(&self.ends[..]).into(),
            _ => JsValue::UNDEFINED,
        };
        let nulls: JsValue = self.nulls.map(|n| Uint8Array::from(&n[..]).into()).unwrap_or(JsValue::UNDEFINED);
        array([JsValue::from(self.kind as u32), data, ends, nulls]).into()
    }
}

/// A number column's value as a JS number.
fn number(v: Value) -> f64 {
    match v {
        Value::Int2(i) => f64::from(i),
        Value::Int4(i) => f64::from(i),
        Value::Oid(i) => f64::from(i),
        Value::Int8(i) => i as f64,
        Value::Float4(f) => f64::from(f),
        Value::Float8(f) => f,
        _ => f64::NAN,
    }
}

/// A date/timestamp column's value as Unix milliseconds (±Infinity for ±infinity).
#[inline(always)] // once per value of every date column (`Packed::push_binary_scalar`)
fn date_ms(v: &Value) -> f64 {
    let infinite = |positive: bool| if positive { f64::INFINITY } else { f64::NEG_INFINITY };
    match v {
        Value::Date(d) if d.is_infinite() => infinite(d.pg_days() > 0),
        Value::Date(d) => (f64::from(d.pg_days()) + PG_EPOCH_DAYS) * MS_PER_DAY,
        Value::Timestamp(t) => t.to_unix_micros().map_or_else(|| infinite(t.pg_micros() > 0), micros_to_ms),
        Value::TimestampTz(t) => t.to_unix_micros().map_or_else(|| infinite(t.pg_micros() > 0), micros_to_ms),
        _ => f64::NAN,
    }
}

/// JS dates have millisecond precision.
fn micros_to_ms(us: i64) -> f64 {
    us.div_euclid(1000) as f64
}

fn offset(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::conversion("a result column holds more than 4 GiB of data"))
}

/// Rows → `[names, oids, count, columns]`, each column packed as
/// [`Kind`] says; the glue (`toRows` in `js/src/api.js`) builds the row
/// objects (or arrays with `arrayMode`) from them.
pub(crate) fn result(decode: Decode, columns: Option<&[edgepg_core::client::Column]>, rows: &[Row]) -> Result<JsValue> {
    result_with_raw_text(decode, columns, rows, &|_| false)
}

/// `fetchval`'s answer: the first column of the first row as JS, or null
/// (no row, or no column) — what api.js `firstValue` makes of [`result`]'s
/// batch, without building the batch.
pub(crate) fn first_value(decode: Decode, row: Option<&Row>) -> Result<JsValue> {
    let Some(row) = row else { return Ok(JsValue::NULL) };
    let Some(column) = row.columns().first() else { return Ok(JsValue::NULL) };
    Ok(single(&decode, column, row.raw_values().next().flatten())?.0)
}

/// One value of a one-row result as JS, made as the glue makes a packed
/// column's value (see [`Packed::single`]), and its column's [`Kind`].
/// Not inlined: its three callers would each get a copy of the packing code.
#[inline(never)]
fn single(decode: &Decode, column: &edgepg_core::client::Column, raw: Option<&[u8]>) -> Result<(JsValue, Kind)> {
    let mut packed = Packed::new(decode, column, 1, false);
    packed.push(decode, 0, raw)?;
    let kind = packed.kind;
    Ok((packed.single(), kind))
}

/// `fetchrow`'s answer: null without a row, else the row's values (one JS
/// value per column, as [`first_value`] makes its one: for one row, packed
/// columns cost more than the values) followed by ONE more element, the
/// column names ([`shared_column_names`]). The glue (`oneRow` in
/// js/src/api.js) pops the names and keys the values by them; one array
/// instead of `[names, values]` saves the boundary calls of a second one.
pub(crate) fn first_row(decode: Decode, row: Option<&Row>) -> Result<JsValue> {
    let Some(row) = row else { return Ok(JsValue::NULL) };
    let columns = row.columns();
    let out = Array::new_with_length(columns.len() as u32 + 1);
    for (i, (column, raw)) in columns.iter().zip(row.raw_values()).enumerate() {
        out.set(i as u32, single(&decode, column, raw)?.0);
    }
    out.set(columns.len() as u32, shared_column_names(columns).into());
    Ok(out.into())
}

/// One row's values, one JS value per column made as [`first_value`]
/// makes its one (no packed arrays: for a one-row result they cost more
/// than the values), and the indexes of the columns whose value is a `Date`
/// or a `Uint8Array` (`Kind::Date`, `Kind::Bytes`): the glue of edgepg/pg
/// turns those into local-time dates and `Buffer`s as it does for packed
/// columns of those kinds.
pub(crate) fn row_values(decode: Decode, row: &Row) -> Result<(Array, Vec<u32>)> {
    let columns = row.columns();
    let out = Array::new_with_length(columns.len() as u32);
    let mut fix = Vec::new();
    for (i, (column, raw)) in columns.iter().zip(row.raw_values()).enumerate() {
        let (value, kind) = single(&decode, column, raw)?;
        if matches!(kind, Kind::Date | Kind::Bytes) {
            fix.push(i as u32);
        }
        out.set(i as u32, value);
    }
    Ok((out, fix))
}

/// [`result`], with the text-format columns `raw_text` picks passed on as
/// the server's text (a kind `Text` column), not decoded.
pub(crate) fn result_with_raw_text(
    decode: Decode,
    columns: Option<&[edgepg_core::client::Column]>,
    rows: &[Row],
    raw_text: &dyn Fn(&edgepg_core::client::Column) -> bool,
) -> Result<JsValue> {
    let columns = columns.or_else(|| rows.first().map(|r| r.columns())).unwrap_or(&[]);
    let packed = packed_columns(decode, columns, rows, raw_text)?;
    let names = column_names(columns).into();
    Ok(array([names, column_types(columns).into(), JsValue::from(rows.len() as u32), packed.into()]).into())
}

/// The `columns` part of a [`result`] batch: one `[kind, data, ends, nulls]`
/// per column.
pub(crate) fn packed_columns(
    decode: Decode,
    columns: &[edgepg_core::client::Column],
    rows: &[Row],
    raw_text: &dyn Fn(&edgepg_core::client::Column) -> bool,
) -> Result<Array> {
    let mut packed: Vec<Packed> = columns.iter().map(|c| Packed::new(&decode, c, rows.len(), raw_text(c))).collect();
    for (i, row) in rows.iter().enumerate() {
        for (column, raw) in packed.iter_mut().zip(row.raw_values()) {
            column.push(&decode, i, raw)?;
        }
    }
    Ok(array(packed.into_iter().map(Packed::finish)))
}

/// A JS array of `items`: `new Array(n)` and one store per item. (`Array.of`
/// and `push` are slow paths in V8: `Array.of` alone took ~2 µs of a
/// one-row result's ~6 µs in a profile.)
pub(crate) fn array<I>(items: I) -> Array
where
    I: IntoIterator<Item = JsValue>,
    I::IntoIter: ExactSizeIterator,
{
    let items = items.into_iter();
    let out = Array::new_with_length(items.len() as u32);
    for (i, item) in items.enumerate() {
        out.set(i as u32, item);
    }
    out
}

/// Hands one batch of rows, packed (see [`result`]), to the JS callback
/// `on_batch` (a streamed fetch: `fetchBatches`, `pgQuery`); its exception
/// stops the query, as the error's cause.
pub(crate) fn deliver_batch(decode: Decode, on_batch: &js_sys::Function, rows: &[Row]) -> Result<()> {
    let batch = result(decode, None, rows)?;
    on_batch.call1(&JsValue::NULL, &batch).map(drop).map_err(|e| {
        let cause = crate::js_cause::JsCause::new(e);
        let message = format!("building result rows failed: {}", cause.message());
        Error::new(edgepg_core::ErrorKind::Interface, message).with_source(cause)
    })
}

// ---------------------------------------------------------------- parameters

/// A JS argument list (an array, or undefined/null for none) → values.
pub(crate) fn params(args: &JsValue) -> Result<Vec<Value>> {
    if args.is_undefined() || args.is_null() {
        return Ok(Vec::new());
    }
    let Some(array) = args.dyn_ref::<Array>() else {
        return Err(Error::interface("query arguments must be an array"));
    };
    array
        .iter()
        .enumerate()
        .map(|(i, v)| param(&v).map_err(|e| e.context(format_args!("argument ${}", i + 1))))
        .collect()
}

/// One JS value → a [`Value`].
pub(crate) fn param(v: &JsValue) -> Result<Value> {
    if v.is_null() || v.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(f) = v.as_f64() {
        // Integral and exactly representable: send as an integer, so it
        // fits int2/int4/int8 parameters as well as float and numeric ones.
        if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_991.0 {
            return Ok(Value::Int8(f as i64));
        }
        return Ok(Value::Float8(f));
    }
    if let Some(s) = v.as_string() {
        return Ok(Value::Text(s));
    }
    if v.is_bigint() {
        let text =
            String::from(v.unchecked_ref::<BigInt>().to_string(10).map_err(|_| Error::conversion("bad bigint"))?);
        return Ok(match text.parse::<i64>() {
            Ok(i) => Value::Int8(i),
            Err(_) => Value::Numeric(text),
        });
    }
    if let Some(bytes) = v.dyn_ref::<Uint8Array>() {
        return Ok(Value::Bytea(bytes.to_vec()));
    }
    if let Some(buffer) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Value::Bytea(Uint8Array::new(buffer).to_vec()));
    }
    if let Some(date) = v.dyn_ref::<Date>() {
        let ms = date.get_time();
        if !ms.is_finite() {
            return Err(Error::conversion("an Invalid Date cannot be sent"));
        }
        let micros = (ms * 1000.0) as i64;
        return TimestampTz::from_unix_micros(micros)
            .map(Value::TimestampTz)
            .ok_or_else(|| Error::conversion("date out of range"));
    }
    if let Some(array) = v.dyn_ref::<Array>() {
        let elements = array.iter().map(|e| param(&e)).collect::<Result<Vec<_>>>()?;
        return Ok(Value::Array(ArrayValue::from_nested(Type::UNKNOWN, elements)?));
    }
    // Any other object (or symbol/function) is JSON.
    match JSON::stringify(v) {
        Ok(s) if s.is_string() => Ok(Value::Json(String::from(s))),
        _ => Err(Error::conversion("this argument cannot be converted to a PostgreSQL value")),
    }
}

/// Rows of arguments for `executemany`: an array of arrays.
pub(crate) fn param_rows(rows: &JsValue) -> Result<Vec<Vec<Value>>> {
    let Some(array) = rows.dyn_ref::<Array>() else {
        return Err(Error::interface("executemany expects an array of argument arrays"));
    };
    array.iter().map(|r| params(&r)).collect()
}
