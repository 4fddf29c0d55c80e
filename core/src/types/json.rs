//! `json`/`jsonb` as raw JSON text ([`RawJson`]); core has no JSON parser by
//! default (the `with-serde-json` feature adds `serde_json` types).
//! Plain `&str`/`String` also read and write json/jsonb.

use bytes::BytesMut;

use super::codec::utf8;
use super::from_sql::cannot_decode;
use super::text::{encode_str, strip_jsonb_version};
use super::{FromSql, ToSql, Type};
use crate::protocol::{Format, IsNull};
use crate::{to_sql_checked, Result};

/// The text of a `json` or `jsonb` value, unparsed. The server validates it
/// when it is sent as a parameter.
///
/// ```
/// use bytes::BytesMut;
/// use edgepg_core::types::{FromSql, RawJson, ToSql, Type};
///
/// let mut buf = BytesMut::new();
/// RawJson(r#"{"a":[1,2]}"#.into()).to_sql_checked(Type::JSONB, &mut buf).unwrap();
/// assert_eq!(buf[0], 1); // jsonb binary format version
/// assert_eq!(RawJson::from_sql(Type::JSONB, &buf).unwrap().0, r#"{"a":[1,2]}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RawJson(pub String);

pub(crate) fn is_json(ty: Type) -> bool {
    matches!(ty, Type::JSON | Type::JSONB)
}

/// The JSON text of a binary json/jsonb value.
pub(crate) fn decode_json(ty: Type, raw: &[u8]) -> Result<&str> {
    match ty {
        Type::JSONB => utf8(strip_jsonb_version(raw)?),
        _ => utf8(raw),
    }
}

impl<'a> FromSql<'a> for RawJson {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<RawJson> {
        if !is_json(ty) {
            return Err(cannot_decode::<RawJson>(ty, "only json and jsonb decode into it"));
        }
        decode_json(ty, raw).map(|s| RawJson(s.to_owned()))
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<RawJson> {
        if !is_json(ty) {
            return Err(cannot_decode::<RawJson>(ty, "only json and jsonb decode into it"));
        }
        utf8(raw).map(|s| RawJson(s.to_owned()))
    }
    fn accepts(ty: Type) -> bool {
        is_json(ty)
    }
}

impl ToSql for RawJson {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_str(&self.0, ty, Format::Binary, out)
    }
    fn accepts(ty: Type) -> bool {
        is_json(ty)
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_jsonb() {
        let mut b = BytesMut::new();
        RawJson("[1, \"é\"]".into()).to_sql_checked(Type::JSON, &mut b).unwrap();
        assert_eq!(&b[..], "[1, \"é\"]".as_bytes());
        assert_eq!(RawJson::from_sql(Type::JSON, &b).unwrap().0, "[1, \"é\"]");
        assert!(RawJson::from_sql(Type::JSONB, &b).is_err(), "jsonb without version byte");
        assert!(RawJson::from_sql(Type::JSONB, b"\x01\xff").is_err());
        assert!(RawJson::from_sql(Type::TEXT, b"1").is_err());
        assert!(RawJson("1".into()).to_sql_checked(Type::TEXT, &mut b).is_err());
    }
}
