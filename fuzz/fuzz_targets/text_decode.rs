//! Feeds arbitrary bytes to the text-format decoders (what simple queries
//! and the one-flight first query of a lazily started connection return):
//! date/time/timestamp/interval, inet/cidr, numeric, bytea, uuid, arrays of
//! them, and the scalar `FromSql` text parsers, through the public
//! `FromSql::from_sql_text` entry points.
//!
//! Properties, beyond "no panic": a value that decodes prints (Display, the
//! PostgreSQL input syntax) to text that decodes to the same value, and its
//! binary encoding decodes to the same value too.
#![no_main]

use bytes::BytesMut;
use edgepg_core::types::{FromSql, Inet, Interval, Numeric, ToSql, Type, Value};
use libfuzzer_sys::fuzz_target;

/// The types whose text form core parses (plus a few passed through as text).
const TYPES: &[Type] = &[
    Type::DATE,
    Type::TIME,
    Type::TIMETZ,
    Type::TIMESTAMP,
    Type::TIMESTAMPTZ,
    Type::INTERVAL,
    Type::INET,
    Type::CIDR,
    Type::NUMERIC,
    Type::BYTEA,
    Type::UUID,
    Type::BOOL,
    Type::INT2,
    Type::INT4,
    Type::INT8,
    Type::OID,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::CHAR,
    Type::TEXT,
    Type::JSONB,
    Type::DATE_ARRAY,
    Type::TIMESTAMPTZ_ARRAY,
    Type::INTERVAL_ARRAY,
    Type::INET_ARRAY,
    Type::INT4_ARRAY,
    Type::INT8_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::NUMERIC_ARRAY,
    Type::TEXT_ARRAY,
    Type::BYTEA_ARRAY,
    Type::UUID_ARRAY,
    Type::BOOL_ARRAY,
    Type::TIMETZ_ARRAY,
];

/// Equality that treats NaN as equal to itself (floats round-trip bit for bit otherwise).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float4(x), Value::Float4(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::Float8(x), Value::Float8(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::Array(x), Value::Array(y)) => {
            x.dims == y.dims
                && x.elements.len() == y.elements.len()
                && x.elements.iter().zip(&y.elements).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, raw)) = data.split_first() else { return };
    let ty = TYPES[usize::from(pick) % TYPES.len()];

    // The typed decoders: only a panic matters.
    let _ = <i64 as FromSql>::from_sql_text(Type::INT8, raw);
    let _ = <i16 as FromSql>::from_sql_text(Type::INT2, raw);
    let _ = <f64 as FromSql>::from_sql_text(Type::FLOAT8, raw);
    let _ = <bool as FromSql>::from_sql_text(Type::BOOL, raw);
    let _ = <Numeric as FromSql>::from_sql_text(Type::NUMERIC, raw);
    let _ = <Interval as FromSql>::from_sql_text(Type::INTERVAL, raw);
    let _ = <Inet as FromSql>::from_sql_text(Type::INET, raw);
    let _ = <Vec<Option<i32>> as FromSql>::from_sql_text(Type::INT4_ARRAY, raw);
    let _ = <Vec<Option<String>> as FromSql>::from_sql_text(Type::TEXT_ARRAY, raw);
    let _ = <chrono::NaiveDateTime as FromSql>::from_sql_text(Type::TIMESTAMP, raw);
    let _ = <chrono::DateTime<chrono::Utc> as FromSql>::from_sql_text(Type::TIMESTAMPTZ, raw);
    let _ = <chrono::NaiveDate as FromSql>::from_sql_text(Type::DATE, raw);
    let _ = <time::PrimitiveDateTime as FromSql>::from_sql_text(Type::TIMESTAMP, raw);
    let _ = <time::Time as FromSql>::from_sql_text(Type::TIME, raw);
    // Binary decoders of the same bytes.
    let _ = <Value as FromSql>::from_sql(ty, raw);

    let Ok(value) = <Value as FromSql>::from_sql_text(ty, raw) else { return };
    let printed = value.to_string();

    // Display is the input syntax: it must decode to the same value. Only for
    // the types whose text decoder is exact (numeric/text/json are passed
    // through as given; bytea prints hex but also reads escapes).
    let reparse = matches!(
        ty,
        Type::DATE
            | Type::TIME
            | Type::TIMETZ
            | Type::TIMESTAMP
            | Type::TIMESTAMPTZ
            | Type::INTERVAL
            | Type::INET
            | Type::CIDR
            | Type::BYTEA
            | Type::UUID
            | Type::BOOL
            | Type::INT2
            | Type::INT4
            | Type::INT8
            | Type::OID
            | Type::FLOAT4
            | Type::FLOAT8
    );
    if reparse {
        let again = <Value as FromSql>::from_sql_text(ty, printed.as_bytes())
            .unwrap_or_else(|e| panic!("{ty}: {value:?} printed as {printed:?}, which does not parse: {e}"));
        assert!(same(&value, &again), "{ty}: {value:?} printed as {printed:?} parses back as {again:?}");
    }

    // Binary round trip through the parameter encoder and the binary decoder.
    let mut buf = BytesMut::new();
    if value.encode_format(ty) == edgepg_core::protocol::Format::Binary {
        if let Ok(edgepg_core::protocol::IsNull::No) = value.to_sql_checked(ty, &mut buf) {
            let back = <Value as FromSql>::from_sql(ty, &buf)
                .unwrap_or_else(|e| panic!("{ty}: {value:?} encodes to {buf:?}, which does not decode: {e}"));
            if ty != Type::NUMERIC && ty != Type::NUMERIC_ARRAY {
                assert!(same(&value, &back), "{ty}: {value:?} encodes to binary that decodes as {back:?}");
            }
        }
    }
});
