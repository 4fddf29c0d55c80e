//! `bool`, the integers (`int2`/`int4`/`int8`, `"char"`, `oid`) and the floats.
//!
//! Decoding widens but never narrows: an `int4` column reads into `i32` or
//! `i64`, an `int8` column into `i64` only. Encoding writes the parameter's
//! own width when the Rust type fits in it (an `i16` can be sent to `int8`).

use bytes::{BufMut, BytesMut};

use super::codec::{exact, text};
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

impl<'a> FromSql<'a> for bool {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<bool> {
        check::<bool>(ty)?;
        Ok(exact::<1>(raw, "bool")?[0] != 0)
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<bool> {
        check::<bool>(ty)?;
        match raw {
            b"t" | b"true" => Ok(true),
            b"f" | b"false" => Ok(false),
            _ => Err(Error::conversion("invalid text bool value: expected \"t\" or \"f\"")),
        }
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::BOOL
    }
}

impl ToSql for bool {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        out.put_u8(u8::from(*self));
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::BOOL
    }
    to_sql_checked!();
}

/// Errors with a helpful hint unless `T` accepts `ty`.
fn check<'a, T: FromSql<'a>>(ty: Type) -> Result<()> {
    if T::accepts(ty) {
        Ok(())
    } else {
        Err(cannot_decode::<T>(ty, int_hint(ty)))
    }
}

/// What to use instead when an integer/float type does not accept `ty`.
fn int_hint(ty: Type) -> &'static str {
    match ty {
        Type::INT8 => "use i64",
        Type::INT4 => "use i32 or i64",
        Type::INT2 => "use i16, i32 or i64",
        Type::FLOAT8 => "use f64",
        Type::FLOAT4 => "use f32 or f64",
        Type::NUMERIC => "use rust_decimal::Decimal, edgepg::types::Numeric or String",
        Type::OID => "use u32",
        Type::CHAR => "use i8",
        Type::BOOL => "use bool",
        _ => "",
    }
}

/// Decodes any integer type that fits in `i64` by its width.
fn decode_int(ty: Type, raw: &[u8]) -> Result<i64> {
    Ok(match ty {
        Type::INT2 => i16::from_be_bytes(exact(raw, "int2")?).into(),
        Type::INT4 => i32::from_be_bytes(exact(raw, "int4")?).into(),
        Type::INT8 => i64::from_be_bytes(exact(raw, "int8")?),
        Type::CHAR => i8::from_be_bytes(exact(raw, "\"char\"")?).into(),
        Type::OID => u32::from_be_bytes(exact(raw, "oid")?).into(),
        _ => return Err(Error::conversion(format!("{ty} is not an integer type"))),
    })
}

/// Writes `v` in the width of integer type `ty`, erroring when it does not fit.
fn encode_int<T: ?Sized>(v: i64, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
    let out_of_range = || {
        Error::conversion(format!(
            "value {v} of {} is out of range for PostgreSQL type {ty}",
            std::any::type_name::<T>()
        ))
    };
    match ty {
        Type::INT2 => out.put_i16(i16::try_from(v).map_err(|_| out_of_range())?),
        Type::INT4 => out.put_i32(i32::try_from(v).map_err(|_| out_of_range())?),
        Type::INT8 => out.put_i64(v),
        Type::CHAR => out.put_i8(i8::try_from(v).map_err(|_| out_of_range())?),
        Type::OID => out.put_u32(u32::try_from(v).map_err(|_| out_of_range())?),
        _ => return Err(super::to_sql::cannot_encode::<T>(ty)),
    }
    Ok(IsNull::No)
}

macro_rules! int_impl {
    ($t:ty, decode: [$($d:ident),*], encode: [$($e:ident),*]) => {
        impl<'a> FromSql<'a> for $t {
            fn from_sql(ty: Type, raw: &'a [u8]) -> Result<$t> {
                check::<$t>(ty)?;
                // `accepts` only admits types no wider than `$t`.
                <$t>::try_from(decode_int(ty, raw)?).map_err(|_| cannot_decode::<$t>(ty, int_hint(ty)))
            }
            fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<$t> {
                check::<$t>(ty)?;
                let s = text(raw)?;
                s.parse::<$t>().map_err(|_| {
                    Error::conversion(format!("invalid text {ty} value {s:?} for {}", stringify!($t)))
                })
            }
            fn accepts(ty: Type) -> bool {
                matches!(ty, $(Type::$d)|*)
            }
        }

        impl ToSql for $t {
            fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
                encode_int::<$t>(i64::from(*self), ty, out)
            }
            fn accepts(ty: Type) -> bool {
                matches!(ty, $(Type::$e)|*)
            }
            to_sql_checked!();
        }
    };
}

int_impl!(i8, decode: [CHAR], encode: [CHAR]);
int_impl!(i16, decode: [INT2], encode: [INT2, INT4, INT8]);
int_impl!(i32, decode: [INT2, INT4], encode: [INT4, INT8]);
int_impl!(i64, decode: [INT2, INT4, INT8], encode: [INT8]);
int_impl!(u32, decode: [OID], encode: [OID]);

impl<'a> FromSql<'a> for f32 {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<f32> {
        check::<f32>(ty)?;
        Ok(f32::from_be_bytes(exact(raw, "float4")?))
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<f32> {
        check::<f32>(ty)?;
        parse_float(raw, ty)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::FLOAT4
    }
}

impl<'a> FromSql<'a> for f64 {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<f64> {
        check::<f64>(ty)?;
        match ty {
            Type::FLOAT4 => Ok(f32::from_be_bytes(exact(raw, "float4")?).into()),
            _ => Ok(f64::from_be_bytes(exact(raw, "float8")?)),
        }
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<f64> {
        check::<f64>(ty)?;
        parse_float(raw, ty)
    }
    fn accepts(ty: Type) -> bool {
        matches!(ty, Type::FLOAT4 | Type::FLOAT8)
    }
}

/// Parses PostgreSQL's float text (`1.5`, `NaN`, `Infinity`, `-Infinity`).
fn parse_float<T: std::str::FromStr>(raw: &[u8], ty: Type) -> Result<T> {
    let s = text(raw)?;
    // Rust's parser accepts "NaN", "Infinity" and "-Infinity" case-insensitively.
    s.parse::<T>().map_err(|_| Error::conversion(format!("invalid text {ty} value {s:?}")))
}

impl ToSql for f32 {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        match ty {
            Type::FLOAT8 => out.put_f64(f64::from(*self)),
            _ => out.put_f32(*self),
        }
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        matches!(ty, Type::FLOAT4 | Type::FLOAT8)
    }
    to_sql_checked!();
}

impl ToSql for f64 {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        out.put_f64(*self);
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::FLOAT8
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn enc<T: ToSql>(v: T, ty: Type) -> Vec<u8> {
        let mut b = BytesMut::new();
        assert_eq!(v.to_sql_checked(ty, &mut b).unwrap(), IsNull::No);
        b.to_vec()
    }

    #[test]
    fn ints_exact_bytes_and_edges() {
        assert_eq!(enc(1i32, Type::INT4), [0, 0, 0, 1]);
        assert_eq!(enc(-1i16, Type::INT2), [0xff, 0xff]);
        assert_eq!(enc(i64::MIN, Type::INT8), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc(5i16, Type::INT8), [0, 0, 0, 0, 0, 0, 0, 5]);
        for v in [i64::MIN, -1, 0, 1, i64::MAX] {
            assert_eq!(i64::from_sql(Type::INT8, &enc(v, Type::INT8)).unwrap(), v);
        }
        for v in [i32::MIN, 0, i32::MAX] {
            assert_eq!(i32::from_sql(Type::INT4, &enc(v, Type::INT4)).unwrap(), v);
            assert_eq!(i64::from_sql(Type::INT4, &enc(v, Type::INT4)).unwrap(), i64::from(v));
        }
        assert_eq!(i16::from_sql(Type::INT2, &[0x80, 0]).unwrap(), i16::MIN);
        assert_eq!(u32::from_sql(Type::OID, &[0xff; 4]).unwrap(), u32::MAX);
        assert_eq!(i8::from_sql(Type::CHAR, b"a").unwrap(), b'a' as i8);
        assert_eq!(enc(u32::MAX, Type::OID), [0xff; 4]);
    }

    #[test]
    fn no_silent_narrowing() {
        let e = i32::from_sql(Type::INT8, &[0; 8]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(e.message().contains("use i64"), "{}", e.message());
        assert!(i16::from_sql(Type::INT4, &[0; 4]).is_err());
        assert!(f32::from_sql(Type::FLOAT8, &[0; 8]).is_err());
        let mut b = BytesMut::new();
        assert!(5i64.to_sql_checked(Type::INT4, &mut b).is_err());
        assert!(1.5f64.to_sql_checked(Type::FLOAT4, &mut b).is_err());
        assert!(5i32.to_sql_checked(Type::TEXT, &mut b).unwrap_err().message().contains("cannot encode i32"));
    }

    #[test]
    fn floats() {
        assert_eq!(enc(1.0f64, Type::FLOAT8), 1.0f64.to_be_bytes());
        assert!(f64::from_sql(Type::FLOAT8, &f64::NAN.to_be_bytes()).unwrap().is_nan());
        assert_eq!(f64::from_sql(Type::FLOAT8, &enc(f64::INFINITY, Type::FLOAT8)).unwrap(), f64::INFINITY);
        assert_eq!(f32::from_sql(Type::FLOAT4, &enc(f32::NEG_INFINITY, Type::FLOAT4)).unwrap(), f32::NEG_INFINITY);
        assert_eq!(f64::from_sql(Type::FLOAT4, &1.5f32.to_be_bytes()).unwrap(), 1.5);
        assert_eq!(enc(1.5f32, Type::FLOAT8), 1.5f64.to_be_bytes());
        assert_eq!(f64::from_sql_text(Type::FLOAT8, b"-Infinity").unwrap(), f64::NEG_INFINITY);
        assert!(f64::from_sql_text(Type::FLOAT8, b"NaN").unwrap().is_nan());
        assert_eq!(f32::from_sql_text(Type::FLOAT4, b"1.25").unwrap(), 1.25);
    }

    #[test]
    fn bools_and_text() {
        assert_eq!(enc(true, Type::BOOL), [1]);
        assert!(!bool::from_sql(Type::BOOL, &[0]).unwrap());
        assert!(bool::from_sql_text(Type::BOOL, b"t").unwrap());
        assert!(bool::from_sql_text(Type::BOOL, b"x").is_err());
        assert_eq!(i64::from_sql_text(Type::INT8, b"-9223372036854775808").unwrap(), i64::MIN);
        assert!(i32::from_sql_text(Type::INT4, b"99999999999").is_err());
        assert!(i32::from_sql_text(Type::INT4, &[0xff]).is_err());
    }

    #[test]
    fn hostile_lengths() {
        for raw in [&[][..], &[1][..], &[1, 2, 3][..], &[0; 9][..]] {
            assert!(i64::from_sql(Type::INT8, raw).is_err());
            assert!(i32::from_sql(Type::INT4, raw).is_err());
            assert!(i16::from_sql(Type::INT2, raw).is_err() || raw.len() == 2);
            assert!(f64::from_sql(Type::FLOAT8, raw).is_err());
            assert!(f32::from_sql(Type::FLOAT4, raw).is_err());
            assert!(bool::from_sql(Type::BOOL, raw).is_err() || raw.len() == 1);
        }
    }
}
