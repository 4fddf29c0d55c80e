//! COPY binary encoding of arbitrary `Value`s, round-tripped through the
//! binary decoders.
//!
//! `copy_records_to_table` writes each field of a binary COPY as the value's
//! binary parameter encoding (`ToSql::to_sql_checked`) behind a 32-bit
//! length, or, for values that encode as text (`Value::Text`/`Unknown`), the
//! text bytes for text-like columns. This target builds values of every
//! `Value` variant from the input bytes, encodes each for its own column type
//! (and for a second, fuzz-chosen type, where coercions apply), frames them
//! as a COPY binary stream, parses the stream back and decodes every field
//! with `Value::from_sql`. A value encoded for its own type must decode to
//! itself.
#![no_main]

use bytes::{Buf, BufMut, BytesMut};
use edgepg_core::protocol::{Format, IsNull};
use edgepg_core::types::{
    ArrayValue, Date, FromSql, Inet, Interval, Time, TimeTz, Timestamp, TimestampTz, ToSql, Type, Value,
};
use libfuzzer_sys::fuzz_target;

/// Reads values out of the fuzz input; runs dry as zeros.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        out
    }
    fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
    fn slice(&mut self) -> &[u8] {
        let n = usize::from(self.u8() % 48).min(self.0.len());
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    fn string(&mut self) -> String {
        String::from_utf8_lossy(self.slice()).into_owned()
    }
}

/// A scalar value and its own column type.
fn scalar(inp: &mut Input) -> (Value, Type) {
    match inp.u8() % 22 {
        0 => (Value::Null, Type::INT4),
        1 => (Value::Bool(inp.u8() & 1 == 1), Type::BOOL),
        2 => (Value::Int2(inp.u32() as i16), Type::INT2),
        3 => (Value::Int4(inp.u32() as i32), Type::INT4),
        4 => (Value::Int8(inp.u64() as i64), Type::INT8),
        5 => (Value::Oid(inp.u32()), Type::OID),
        6 => (Value::Float4(f32::from_bits(inp.u32())), Type::FLOAT4),
        7 => (Value::Float8(f64::from_bits(inp.u64())), Type::FLOAT8),
        8 => (Value::Numeric(inp.string()), Type::NUMERIC),
        9 => (Value::Text(inp.string()), Type::TEXT),
        10 => (Value::Bytea(inp.slice().to_vec()), Type::BYTEA),
        11 => (Value::Json(inp.string()), Type::JSONB),
        12 => (Value::Uuid(inp.bytes()), Type::UUID),
        13 => (Value::Date(Date::from_pg_days(inp.u32() as i32)), Type::DATE),
        14 => match Time::from_micros(inp.u64() as i64 % 90_000_000_000) {
            Some(t) => (Value::Time(t), Type::TIME),
            None => (Value::Null, Type::TIME),
        },
        15 => {
            let time = Time::from_micros((inp.u64() % 86_400_000_001) as i64).unwrap_or(Time::MIDNIGHT);
            (Value::TimeTz(TimeTz { time, offset_seconds: inp.u32() as i32 }), Type::TIMETZ)
        }
        16 => (Value::Timestamp(Timestamp::from_pg_micros(inp.u64() as i64)), Type::TIMESTAMP),
        17 => (Value::TimestampTz(TimestampTz::from_pg_micros(inp.u64() as i64)), Type::TIMESTAMPTZ),
        18 => {
            let (months, days, microseconds) = (inp.u32() as i32, inp.u32() as i32, inp.u64() as i64);
            (Value::Interval(Interval { months, days, microseconds }), Type::INTERVAL)
        }
        19 => {
            let v6 = inp.u8() & 1 == 1;
            let addr =
                if v6 { std::net::IpAddr::from(inp.bytes::<16>()) } else { std::net::IpAddr::from(inp.bytes::<4>()) };
            match Inet::new(addr, inp.u8()) {
                Some(i) => (Value::Inet(i), if inp.u8() & 1 == 1 { Type::CIDR } else { Type::INET }),
                None => (Value::Inet(Inet::host(addr)), Type::INET),
            }
        }
        20 => (Value::Unknown { type_oid: inp.u32(), text: inp.string() }, Type::VARCHAR),
        _ => (Value::Text(inp.string()), Type::from_oid(inp.u32() % 6000)),
    }
}

/// A value (sometimes an array of same-typed scalars) and its column type.
fn value(inp: &mut Input) -> (Value, Type) {
    let (first, ty) = scalar(inp);
    let Some(array_ty) = ty.array_type().filter(|_| inp.u8() % 4 == 0) else { return (first, ty) };
    let n = usize::from(inp.u8() % 5);
    let mut elements = vec![first];
    while elements.len() < n + 1 {
        let (v, t) = scalar(inp);
        elements.push(if t == ty { v } else { Value::Null });
    }
    let len = elements.len() as i32;
    let dims = if inp.u8() % 8 == 0 { vec![(len, inp.u32() as i32)] } else { vec![(len, 1)] };
    (Value::Array(ArrayValue { element_type: ty, dims, elements }), array_ty)
}

/// Equality with NaN equal to itself.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        // Any NaN is NaN (PostgreSQL does not keep payloads either).
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

/// Whether `v` encoded for its own column type `ty` must decode to itself:
/// not for numeric text (canonicalised), unknown-type text, text values given
/// a random column type (they decode as that type's variant), or a timetz
/// offset of i32::MIN.
fn exact(v: &Value, ty: Type) -> bool {
    match v {
        Value::Numeric(_) | Value::Unknown { .. } => false,
        Value::Text(_) => ty == Type::TEXT,
        // No negation on the wire (west-positive): the encoder saturates, the
        // server rejects it either way (beyond ±16 hours).
        Value::TimeTz(t) => t.offset_seconds != i32::MIN,
        Value::Array(a) => a.elements.iter().all(|e| exact(e, ty.element().unwrap_or(Type::UNKNOWN))),
        _ => true,
    }
}

/// One field as binary COPY writes it: the binary encoding, or for a value
/// that chose text, its text bytes (only valid for text-like columns).
fn encode_field(v: &Value, ty: Type, out: &mut BytesMut) -> edgepg_core::Result<IsNull> {
    if v.encode_format(ty) == Format::Binary {
        return v.to_sql_checked(ty, out);
    }
    let mut text = BytesMut::new();
    let is_null = v.to_sql_checked(ty, &mut text)?;
    if is_null == IsNull::No {
        if ty == Type::JSONB {
            out.put_u8(1);
        } else if !(ty.is_text_like() || ty == Type::JSON) {
            return Err(edgepg_core::Error::conversion("text value for a binary-only column"));
        }
        out.put_slice(&text);
    }
    Ok(is_null)
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let columns = usize::from(inp.u8() % 6) + 1;
    let mut row: Vec<(Value, Type, Type)> = Vec::new();
    for _ in 0..columns {
        let (v, own) = value(&mut inp);
        // A second column type for the same value: coercions (int → float8, ...).
        let other = [Type::INT2, Type::INT4, Type::INT8, Type::FLOAT4, Type::FLOAT8, Type::NUMERIC, Type::TEXT]
            [usize::from(inp.u8() % 7)];
        row.push((v, own, other));
    }

    // Encode: header, one record with two fields per value, trailer.
    let mut copy = BytesMut::new();
    copy.put_slice(b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0");
    copy.put_i16((row.len() * 2) as i16);
    let mut encoded: Vec<(Type, bool)> = Vec::new();
    for (v, own, other) in &row {
        for ty in [*own, *other] {
            let len_at = copy.len();
            copy.put_i32(0);
            match encode_field(v, ty, &mut copy) {
                Ok(IsNull::No) => {
                    let len = i32::try_from(copy.len() - len_at - 4).unwrap();
                    copy[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
                    encoded.push((ty, true));
                }
                Ok(IsNull::Yes) | Err(_) => {
                    copy.truncate(len_at);
                    copy.put_i32(-1);
                    encoded.push((ty, false));
                }
            }
        }
    }
    copy.put_i16(-1);

    // Parse the stream back and decode every field.
    let mut buf = &copy[19..];
    assert_eq!(buf.get_i16() as usize, encoded.len());
    for (i, &(ty, present)) in encoded.iter().enumerate() {
        let len = buf.get_i32();
        if !present {
            assert_eq!(len, -1);
            continue;
        }
        let raw = &buf[..len as usize];
        let decoded = <Value as FromSql>::from_sql(ty, raw);
        let (original, own, _) = &row[i / 2];
        if ty == *own && exact(original, ty) {
            let decoded = decoded.unwrap_or_else(|e| panic!("{original:?} as {ty} does not decode: {e}"));
            assert!(same(original, &decoded), "{original:?} as {ty} decodes as {decoded:?}");
        } else if let (Value::Numeric(_), Ok(Value::Numeric(n))) = (original, &decoded) {
            // Numeric is canonicalised once; then it must be stable.
            let mut again = BytesMut::new();
            Value::Numeric(n.clone()).to_sql_checked(Type::NUMERIC, &mut again).unwrap();
            let twice = <Value as FromSql>::from_sql(Type::NUMERIC, &again).unwrap();
            assert_eq!(twice, Value::Numeric(n.clone()), "numeric {n:?} is not stable");
        }
        buf.advance(len as usize);
    }
    assert_eq!(buf.get_i16(), -1);
    assert!(buf.is_empty());
});
