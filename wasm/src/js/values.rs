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
use edgepg_core::types::{ArrayValue, TimestampTz, Type, Value};
use edgepg_core::{Error, Result};
use js_sys::{Array, BigInt, Date, Uint8Array, JSON};
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
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Int8Mode {
    #[default]
    BigInt,
    Number,
    String,
}

impl Decode {
    /// Bits 0-1: int8 (0 bigint, 1 number, 2 string); bit 2: dates as strings.
    pub(crate) fn from_flags(flags: u32) -> Decode {
        let int8 = match flags & 3 {
            1 => Int8Mode::Number,
            2 => Int8Mode::String,
            _ => Int8Mode::BigInt,
        };
        Decode { int8, dates_as_strings: flags & 4 != 0 }
    }

    /// One value as JS.
    pub(crate) fn value(&self, v: Value) -> JsValue {
        match v {
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
            Value::Date(d) if !self.dates_as_strings => match d.is_infinite() {
                true => infinity(d.pg_days() > 0),
                false => date_from_ms((f64::from(d.pg_days()) + PG_EPOCH_DAYS) * MS_PER_DAY),
            },
            Value::Timestamp(t) if !self.dates_as_strings => micros_to_date(t.to_unix_micros(), t.pg_micros() > 0),
            Value::TimestampTz(t) if !self.dates_as_strings => micros_to_date(t.to_unix_micros(), t.pg_micros() > 0),
            Value::Array(a) => self.array(a),
            other => JsValue::from_str(&other.to_string()),
        }
    }

    fn array(&self, a: ArrayValue) -> JsValue {
        let mut elements = a.elements.into_iter();
        if a.dims.is_empty() {
            return Array::new().into();
        }
        let lens: Vec<usize> = a.dims.iter().map(|&(len, _)| usize::try_from(len).unwrap_or(0)).collect();
        self.nest(&lens, &mut elements).into()
    }

    /// Builds one dimension level, consuming elements in row-major order.
    fn nest(&self, lens: &[usize], elements: &mut impl Iterator<Item = Value>) -> Array {
        let out = Array::new();
        let Some((&len, rest)) = lens.split_first() else { return out };
        for _ in 0..len {
            if rest.is_empty() {
                out.push(&self.value(elements.next().unwrap_or(Value::Null)));
            } else {
                out.push(&self.nest(rest, elements));
            }
        }
        out
    }

    /// A row as a JS array of its values, in column order.
    pub(crate) fn row(&self, row: &Row) -> Result<Array> {
        let out = Array::new_with_length(row.len() as u32);
        for i in 0..row.len() {
            let v: Value = row.get(i)?;
            out.set(i as u32, self.value(v));
        }
        Ok(out)
    }
}

fn infinity(positive: bool) -> JsValue {
    JsValue::from_f64(if positive { f64::INFINITY } else { f64::NEG_INFINITY })
}

fn date_from_ms(ms: f64) -> JsValue {
    Date::new(&JsValue::from_f64(ms)).into()
}

fn micros_to_date(unix_micros: Option<i64>, positive: bool) -> JsValue {
    match unix_micros {
        // JS dates have millisecond precision.
        Some(us) => date_from_ms((us.div_euclid(1000)) as f64),
        None => infinity(positive),
    }
}

/// The column names of a row description, as a JS array of strings.
pub(crate) fn column_names(columns: &[edgepg_core::client::Column]) -> Array {
    columns.iter().map(|c| JsValue::from_str(c.name())).collect()
}

/// The type OIDs of columns, as a JS array of numbers.
pub(crate) fn column_types(columns: &[edgepg_core::client::Column]) -> Array {
    columns.iter().map(|c| JsValue::from(c.type_().oid())).collect()
}

/// Rows → `[names, oids, rows]` where each row is an array of values; the JS
/// glue turns them into objects (or keeps arrays with `arrayMode`).
pub(crate) fn result(decode: Decode, columns: Option<&[edgepg_core::client::Column]>, rows: &[Row]) -> Result<JsValue> {
    let columns = columns.or_else(|| rows.first().map(|r| r.columns())).unwrap_or(&[]);
    let out = Array::new();
    out.push(&column_names(columns));
    out.push(&column_types(columns));
    let js_rows = Array::new_with_length(rows.len() as u32);
    for (i, row) in rows.iter().enumerate() {
        js_rows.set(i as u32, decode.row(row)?.into());
    }
    out.push(&js_rows);
    Ok(out.into())
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
