//! [`Bounded<T>`]: a date or timestamp that may be `infinity` or `-infinity`.

use bytes::{BufMut, BytesMut};

use super::codec::exact;
use super::{FromSql, ToSql, Type};
use crate::protocol::{Format, IsNull};
use crate::{to_sql_checked, Result};

/// A `date`, `timestamp` or `timestamptz` value that may be infinite.
///
/// Rust date/time types (chrono, time, `SystemTime`) have no infinity, so
/// decoding `infinity` into them is an error. Wrap them in `Bounded` to accept
/// it: `Bounded<chrono::NaiveDate>`, `Bounded<SystemTime>`, ...
///
/// ```
/// use std::time::SystemTime;
/// use edgepg_core::types::{Bounded, FromSql, Type};
///
/// let v = Bounded::<SystemTime>::from_sql(Type::TIMESTAMPTZ, &i64::MAX.to_be_bytes()).unwrap();
/// assert_eq!(v, Bounded::PosInfinity);
/// let v = Bounded::<SystemTime>::from_sql(Type::TIMESTAMPTZ, &0i64.to_be_bytes()).unwrap();
/// assert!(matches!(v, Bounded::Value(_)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bounded<T> {
    /// `-infinity`.
    NegInfinity,
    /// A finite value.
    Value(T),
    /// `infinity`.
    PosInfinity,
}

impl<T> Bounded<T> {
    /// The finite value, if any.
    pub fn value(self) -> Option<T> {
        match self {
            Bounded::Value(v) => Some(v),
            _ => None,
        }
    }
}

fn infinity_kind(ty: Type, raw: &[u8]) -> Result<Option<bool>> {
    Ok(match ty {
        Type::DATE => match i32::from_be_bytes(exact(raw, "date")?) {
            i32::MAX => Some(true),
            i32::MIN => Some(false),
            _ => None,
        },
        _ => match i64::from_be_bytes(exact(raw, "timestamp")?) {
            i64::MAX => Some(true),
            i64::MIN => Some(false),
            _ => None,
        },
    })
}

fn is_bounded_type(ty: Type) -> bool {
    matches!(ty, Type::DATE | Type::TIMESTAMP | Type::TIMESTAMPTZ)
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Bounded<T> {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Self> {
        if is_bounded_type(ty) {
            match infinity_kind(ty, raw)? {
                Some(true) => return Ok(Bounded::PosInfinity),
                Some(false) => return Ok(Bounded::NegInfinity),
                None => {}
            }
        }
        T::from_sql(ty, raw).map(Bounded::Value)
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        match raw {
            b"infinity" => Ok(Bounded::PosInfinity),
            b"-infinity" => Ok(Bounded::NegInfinity),
            _ => T::from_sql_text(ty, raw).map(Bounded::Value),
        }
    }
    fn accepts(ty: Type) -> bool {
        is_bounded_type(ty) && T::accepts(ty)
    }
}

impl<T: ToSql> ToSql for Bounded<T> {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        let positive = match self {
            Bounded::Value(v) => return v.to_sql(ty, out),
            Bounded::PosInfinity => true,
            Bounded::NegInfinity => false,
        };
        match (ty, positive) {
            (Type::DATE, true) => out.put_i32(i32::MAX),
            (Type::DATE, false) => out.put_i32(i32::MIN),
            (_, true) => out.put_i64(i64::MAX),
            (_, false) => out.put_i64(i64::MIN),
        }
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        is_bounded_type(ty) && T::accepts(ty)
    }
    fn encode_format(&self, ty: Type) -> Format {
        match self {
            Bounded::Value(v) => v.encode_format(ty),
            _ => Format::Binary,
        }
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Date;
    use std::time::SystemTime;

    #[test]
    fn infinities() {
        let mut b = BytesMut::new();
        Bounded::<Date>::NegInfinity.to_sql_checked(Type::DATE, &mut b).unwrap();
        assert_eq!(&b[..], &[0x80, 0, 0, 0]);
        assert_eq!(Bounded::<Date>::from_sql(Type::DATE, &b).unwrap(), Bounded::NegInfinity);
        b.clear();
        Bounded::<SystemTime>::PosInfinity.to_sql_checked(Type::TIMESTAMPTZ, &mut b).unwrap();
        assert_eq!(&b[..], &i64::MAX.to_be_bytes());
        assert!(Bounded::<SystemTime>::PosInfinity.to_sql_checked(Type::DATE, &mut b).is_err());
        assert_eq!(
            Bounded::<Date>::from_sql(Type::DATE, &[0, 0, 0, 0]).unwrap(),
            Bounded::Value(Date::from_pg_days(0))
        );
        assert!(Bounded::<Date>::from_sql(Type::DATE, &[0, 0]).is_err());
        assert_eq!(
            Bounded::<SystemTime>::from_sql_text(Type::TIMESTAMPTZ, b"-infinity").unwrap(),
            Bounded::NegInfinity
        );
    }
}
