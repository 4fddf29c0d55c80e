//! `uuid` as [`Uuid16`], a dependency-free 16-byte value (the `with-uuid`
//! feature adds `uuid::Uuid`).

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::codec::{exact, utf8};
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

/// A PostgreSQL `uuid`: 16 bytes, shown in the hyphenated lowercase form.
///
/// ```
/// use edgepg_core::types::Uuid16;
/// let u: Uuid16 = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".parse().unwrap();
/// assert_eq!(u.0[0], 0xa0);
/// assert_eq!(u.to_string(), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
/// assert!("not-a-uuid".parse::<Uuid16>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid16(pub [u8; 16]);

impl fmt::Display for Uuid16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Uuid16 {
    type Err = Error;
    /// Accepts what PostgreSQL's uuid input accepts: 32 hex digits, optionally
    /// in braces, with a hyphen allowed after any group of four digits.
    fn from_str(s: &str) -> Result<Uuid16> {
        let bad =
            || Error::conversion("invalid uuid text: expected 32 hex digits like a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
        let inner = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')).unwrap_or(s);
        let mut out = [0u8; 16];
        let mut n = 0usize;
        let mut hi: Option<u8> = None;
        for c in inner.bytes() {
            if c == b'-' {
                // Hyphens only between groups of 4 hex digits, never at the start.
                if hi.is_some() || n == 0 || n % 2 != 0 || n >= 16 {
                    return Err(bad());
                }
                continue;
            }
            let v = (c as char).to_digit(16).ok_or_else(bad)? as u8;
            match hi.take() {
                None => hi = Some(v),
                Some(h) => {
                    *out.get_mut(n).ok_or_else(bad)? = (h << 4) | v;
                    n += 1;
                }
            }
        }
        if n != 16 || hi.is_some() || inner.ends_with('-') {
            return Err(bad());
        }
        Ok(Uuid16(out))
    }
}

impl<'a> FromSql<'a> for Uuid16 {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Uuid16> {
        if ty != Type::UUID {
            return Err(cannot_decode::<Uuid16>(ty, "only uuid decodes into it"));
        }
        Ok(Uuid16(exact(raw, "uuid")?))
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Uuid16> {
        if ty != Type::UUID {
            return Err(cannot_decode::<Uuid16>(ty, "only uuid decodes into it"));
        }
        utf8(raw)?.parse()
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::UUID
    }
}

impl ToSql for Uuid16 {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        out.put_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::UUID
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_parse() {
        let bytes: [u8; 16] = core::array::from_fn(|i| i as u8 * 17);
        let u = Uuid16::from_sql(Type::UUID, &bytes).unwrap();
        let mut b = BytesMut::new();
        u.to_sql_checked(Type::UUID, &mut b).unwrap();
        assert_eq!(&b[..], &bytes);
        assert_eq!(u.to_string(), "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(u.to_string().parse::<Uuid16>().unwrap(), u);
        assert_eq!("{00112233445566778899AABBCCDDEEFF}".parse::<Uuid16>().unwrap(), u);
        for bad in [
            "",
            "-00112233445566778899aabbccddeeff",
            "00112233445566778899aabbccddeef",
            "0011223344556677889-9aabbccddeeff",
            "00112233445566778899aabbccddeeff00",
            "00112233445566778899aabbccddeeff-",
            "g0112233445566778899aabbccddeeff",
        ] {
            assert!(bad.parse::<Uuid16>().is_err(), "{bad}");
        }
        assert!(Uuid16::from_sql(Type::UUID, &bytes[..15]).is_err());
        assert!(Uuid16::from_sql(Type::TEXT, &bytes).is_err());
    }
}
