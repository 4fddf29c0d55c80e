//! Strings (`text`, `varchar`, `bpchar`, `name`, `unknown`, and the text form
//! of any type without a binary codec) and `bytea`.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::utf8;
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type, TypeKind};
use crate::protocol::{Format, IsNull};
use crate::{to_sql_checked, Error, Result};

/// The jsonb binary format version this crate reads and writes.
pub(crate) const JSONB_VERSION: u8 = 1;

/// Whether a string can be decoded from / encoded as `ty`: the string types,
/// json/jsonb, and any type without a binary codec (enums, citext, xml...),
/// which the client exchanges in text format.
pub(crate) fn string_accepts(ty: Type) -> bool {
    ty.is_text_like() || matches!(ty, Type::JSON | Type::JSONB) || !ty.has_binary_codec()
}

/// Binary string value of `ty`, borrowed: strips the jsonb version byte.
pub(crate) fn decode_str(ty: Type, raw: &[u8]) -> Result<&str> {
    if ty == Type::JSONB {
        return utf8(strip_jsonb_version(raw)?);
    }
    utf8(raw)
}

/// The JSON text of a binary jsonb value.
pub(crate) fn strip_jsonb_version(raw: &[u8]) -> Result<&[u8]> {
    match raw.split_first() {
        Some((&JSONB_VERSION, rest)) => Ok(rest),
        Some((v, _)) => Err(Error::conversion(format!("unsupported jsonb binary format version {v} (expected 1)"))),
        None => Err(Error::conversion("invalid binary jsonb value: empty")),
    }
}

/// Writes a string as a value of `ty` in `format`. Strings sent to `numeric`
/// are parsed and encoded in binary, losslessly.
pub(crate) fn encode_str(s: &str, ty: Type, format: Format, out: &mut BytesMut) -> Result<IsNull> {
    if ty == Type::NUMERIC && format == Format::Binary {
        super::numeric::encode_numeric_str(s, out)?;
        return Ok(IsNull::No);
    }
    if ty == Type::JSONB && format == Format::Binary {
        out.put_u8(JSONB_VERSION);
    }
    out.put_slice(s.as_bytes());
    Ok(IsNull::No)
}

/// Strings go as text when the type has no binary codec (the server parses them).
pub(crate) fn str_format(ty: Type) -> Format {
    if ty.has_binary_codec() {
        Format::Binary
    } else {
        Format::Text
    }
}

fn check_str<T: ?Sized>(ty: Type) -> Result<()> {
    if string_accepts(ty) {
        Ok(())
    } else {
        Err(cannot_decode::<T>(
            ty,
            "strings decode only from text-like, json and non-builtin types; use the matching Rust type or Value",
        ))
    }
}

/// Types whose binary form is structured (user arrays, ranges, records) or
/// belongs to a custom codec: an owned string gets their text form from
/// [`Value`](super::Value)'s `Display`; a borrowed one cannot.
fn binary_is_structured(ty: Type) -> bool {
    if ty.name().is_none() && super::type_info::current_codec(ty.oid()).is_some() {
        return true;
    }
    matches!(
        ty.kind(),
        TypeKind::Range(_) | TypeKind::Multirange(_) | TypeKind::Composite(_) | TypeKind::Record | TypeKind::Array(_)
    ) && !ty.has_binary_codec()
}

impl<'a> FromSql<'a> for &'a str {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<&'a str> {
        check_str::<&str>(ty)?;
        if binary_is_structured(ty) {
            return Err(cannot_decode::<&str>(ty, "its binary form is not text; decode it into String or Value"));
        }
        decode_str(ty, raw)
    }
    /// Any type's text output.
    fn from_sql_text(_ty: Type, raw: &'a [u8]) -> Result<&'a str> {
        utf8(raw)
    }
    fn accepts(ty: Type) -> bool {
        string_accepts(ty)
    }
}

/// Owned strings also decode `numeric`, losslessly, as its decimal text.
fn owned_string_accepts(ty: Type) -> bool {
    string_accepts(ty) || ty == Type::NUMERIC
}

macro_rules! owned_str_from_sql {
    ($t:ty) => {
        impl<'a> FromSql<'a> for $t {
            fn from_sql(ty: Type, raw: &'a [u8]) -> Result<$t> {
                if ty == Type::NUMERIC {
                    return super::numeric::numeric_to_string(raw).map(Into::into);
                }
                if binary_is_structured(ty) {
                    return Ok(match <super::Value as FromSql>::from_sql(ty, raw)? {
                        super::Value::Array(a) => super::value::pg_array_text(&a),
                        v => v.to_string(),
                    }
                    .into());
                }
                <&str>::from_sql(ty, raw).map(Into::into)
            }
            fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<$t> {
                <&str>::from_sql_text(ty, raw).map(Into::into)
            }
            fn accepts(ty: Type) -> bool {
                owned_string_accepts(ty)
            }
        }
    };
}
owned_str_from_sql!(String);
owned_str_from_sql!(Box<str>);
owned_str_from_sql!(Cow<'a, str>);

macro_rules! str_to_sql {
    ($t:ty) => {
        impl ToSql for $t {
            fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
                encode_str(self, ty, str_format(ty), out)
            }
            fn accepts(ty: Type) -> bool {
                owned_string_accepts(ty)
            }
            fn encode_format(&self, ty: Type) -> Format {
                str_format(ty)
            }
            to_sql_checked!();
        }
    };
}
str_to_sql!(&str);
str_to_sql!(String);
str_to_sql!(Box<str>);
str_to_sql!(Cow<'_, str>);

// ---------------------------------------------------------------- bytea

/// Parses bytea text output: hex (`\x0a0b`, the default) or the legacy escape format.
pub(crate) fn parse_bytea_text(raw: &[u8]) -> Result<Vec<u8>> {
    let bad = || Error::conversion("invalid text bytea value");
    if let Some(hex) = raw.strip_prefix(b"\\x") {
        if hex.len() % 2 != 0 {
            return Err(bad());
        }
        return hex
            .chunks_exact(2)
            .map(|p| Ok((hex_val(p[0]).ok_or_else(bad)? << 4) | hex_val(p[1]).ok_or_else(bad)?))
            .collect();
    }
    // Escape format: `\\` is a backslash, `\ooo` an octal byte, anything else literal.
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
        } else if raw.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let oct = raw.get(i + 1..i + 4).ok_or_else(bad)?;
            let mut v: u32 = 0;
            for &d in oct {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(bad());
                }
                v = v * 8 + u32::from(d - b'0');
            }
            out.push(u8::try_from(v).map_err(|_| bad())?);
            i += 4;
        }
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Writes bytea text input (`\x` + lowercase hex).
pub(crate) fn write_bytea_hex(bytes: &[u8], f: &mut impl std::fmt::Write) -> std::fmt::Result {
    f.write_str("\\x")?;
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

fn check_bytea<T: ?Sized>(ty: Type) -> Result<()> {
    if ty == Type::BYTEA {
        Ok(())
    } else {
        Err(cannot_decode::<T>(ty, "byte slices decode only from bytea"))
    }
}

impl<'a> FromSql<'a> for &'a [u8] {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<&'a [u8]> {
        check_bytea::<&[u8]>(ty)?;
        Ok(raw)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::BYTEA
    }
}

macro_rules! owned_bytes_from_sql {
    ($t:ty) => {
        impl<'a> FromSql<'a> for $t {
            fn from_sql(ty: Type, raw: &'a [u8]) -> Result<$t> {
                check_bytea::<$t>(ty)?;
                Ok(<$t>::from(raw))
            }
            fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<$t> {
                check_bytea::<$t>(ty)?;
                Ok(<$t>::from(parse_bytea_text(raw)?))
            }
            fn accepts(ty: Type) -> bool {
                ty == Type::BYTEA
            }
        }
    };
}
owned_bytes_from_sql!(Vec<u8>);
owned_bytes_from_sql!(Box<[u8]>);

impl<'a> FromSql<'a> for Bytes {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Bytes> {
        check_bytea::<Bytes>(ty)?;
        Ok(Bytes::copy_from_slice(raw))
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Bytes> {
        check_bytea::<Bytes>(ty)?;
        Ok(Bytes::from(parse_bytea_text(raw)?))
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::BYTEA
    }
}

macro_rules! bytes_to_sql {
    ($t:ty) => {
        impl ToSql for $t {
            fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
                out.put_slice(self);
                Ok(IsNull::No)
            }
            fn accepts(ty: Type) -> bool {
                ty == Type::BYTEA
            }
            to_sql_checked!();
        }
    };
}
bytes_to_sql!(&[u8]);
bytes_to_sql!(Vec<u8>);
bytes_to_sql!(Box<[u8]>);
bytes_to_sql!(Bytes);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn strings_borrow_and_roundtrip() {
        let raw = "grüße, 世界 🎉".as_bytes();
        let s: &str = FromSql::from_sql(Type::TEXT, raw).unwrap();
        assert_eq!(s.as_ptr(), raw.as_ptr(), "must borrow, not copy");
        let mut b = BytesMut::new();
        "grüße, 世界 🎉".to_sql_checked(Type::VARCHAR, &mut b).unwrap();
        assert_eq!(&b[..], raw);
        assert_eq!(String::from_sql(Type::NAME, raw).unwrap(), "grüße, 世界 🎉");
        let c: Cow<str> = FromSql::from_sql(Type::BPCHAR, b"ab ").unwrap();
        assert_eq!(c, "ab ");
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let e = String::from_sql(Type::TEXT, &[0x61, 0xff, 0xfe]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(String::from_sql_text(Type::from_oid(99999), &[0xc3]).is_err());
    }

    #[test]
    fn text_fallback_for_unknown_types() {
        let enum_ty = Type::from_oid(91234);
        assert!(<String as FromSql>::accepts(enum_ty));
        assert_eq!(String::from_sql_text(enum_ty, b"happy").unwrap(), "happy");
        // Any builtin can be read as text in text format.
        assert_eq!(String::from_sql_text(Type::INT4, b"42").unwrap(), "42");
        assert!(!<String as FromSql>::accepts(Type::INT4));
        assert!(String::from_sql(Type::INT4, &[0, 0, 0, 1]).is_err());
        assert_eq!("happy".encode_format(enum_ty), Format::Text);
        assert_eq!("x".encode_format(Type::TEXT), Format::Binary);
        let mut b = BytesMut::new();
        "happy".to_sql_checked(enum_ty, &mut b).unwrap();
        assert_eq!(&b[..], b"happy");
        assert!("1".to_sql_checked(Type::INT4, &mut b).is_err());
    }

    #[test]
    fn strings_and_numeric() {
        let mut b = BytesMut::new();
        "12345.678".to_sql_checked(Type::NUMERIC, &mut b).unwrap();
        assert_eq!(&b[..], &[0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
        assert_eq!(String::from_sql(Type::NUMERIC, &b).unwrap(), "12345.678");
        assert!(<&str as FromSql>::from_sql(Type::NUMERIC, &b).is_err());
        assert!("x".to_sql_checked(Type::NUMERIC, &mut b).is_err());
    }

    #[test]
    fn jsonb_version_byte() {
        let mut b = BytesMut::new();
        r#"{"a":1}"#.to_sql_checked(Type::JSONB, &mut b).unwrap();
        assert_eq!(&b[..], b"\x01{\"a\":1}");
        assert_eq!(<&str>::from_sql(Type::JSONB, &b).unwrap(), r#"{"a":1}"#);
        assert!(<&str>::from_sql(Type::JSONB, b"\x02{}").is_err());
        assert!(<&str>::from_sql(Type::JSONB, b"").is_err());
        assert_eq!(<&str>::from_sql(Type::JSON, b"[1]").unwrap(), "[1]");
    }

    #[test]
    fn bytea() {
        let raw = [0u8, 1, 0xff];
        let v: &[u8] = FromSql::from_sql(Type::BYTEA, &raw).unwrap();
        assert_eq!(v.as_ptr(), raw.as_ptr());
        assert_eq!(Vec::<u8>::from_sql(Type::BYTEA, &raw).unwrap(), raw);
        assert_eq!(Bytes::from_sql(Type::BYTEA, &raw).unwrap(), &raw[..]);
        let mut b = BytesMut::new();
        raw.to_vec().to_sql_checked(Type::BYTEA, &mut b).unwrap();
        (&raw[..]).to_sql_checked(Type::BYTEA, &mut b).unwrap();
        assert_eq!(&b[..], &[0, 1, 0xff, 0, 1, 0xff]);
        assert!(Vec::<u8>::from_sql(Type::TEXT, &raw).is_err());
        assert_eq!(Vec::<u8>::from_sql_text(Type::BYTEA, b"\\x0001fF").unwrap(), raw);
        assert_eq!(parse_bytea_text(b"a\\\\b\\001").unwrap(), b"a\\b\x01");
        for bad in [&b"\\x0"[..], b"\\xzz", b"\\9", b"\\", b"\\777"] {
            assert!(parse_bytea_text(bad).is_err(), "{bad:?}");
        }
        let mut s = String::new();
        write_bytea_hex(&raw, &mut s).unwrap();
        assert_eq!(s, "\\x0001ff");
    }
}
