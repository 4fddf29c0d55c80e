//! JSON through serde (feature `with-serde-json`): `serde_json::Value` and
//! [`Json<T>`] ↔ `json`/`jsonb`.

use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::{Deserialize, Serialize};

use super::from_sql::cannot_decode;
use super::json::{decode_json, is_json};
use super::text::JSONB_VERSION;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

/// A value serialized to / deserialized from `json` or `jsonb` with serde.
///
/// ```
/// use bytes::BytesMut;
/// use edgepg_core::types::{FromSql, Json, ToSql, Type};
///
/// let mut buf = BytesMut::new();
/// Json(vec![1, 2]).to_sql_checked(Type::JSONB, &mut buf).unwrap();
/// assert_eq!(&buf[..], b"\x01[1,2]");
/// let Json(v) = Json::<Vec<i32>>::from_sql(Type::JSONB, &buf).unwrap();
/// assert_eq!(v, [1, 2]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Json<T>(pub T);

fn encode<T: Serialize + ?Sized>(v: &T, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
    if ty == Type::JSONB {
        out.put_u8(JSONB_VERSION);
    }
    serde_json::to_writer((&mut *out).writer(), v)
        .map_err(|e| Error::conversion(format!("cannot serialize value to JSON: {e}")))?;
    Ok(IsNull::No)
}

fn decode<'a, T: Deserialize<'a>>(ty: Type, raw: &'a [u8]) -> Result<T> {
    if !is_json(ty) {
        return Err(cannot_decode::<T>(ty, "only json and jsonb decode into it"));
    }
    let text = decode_json(ty, raw)?;
    serde_json::from_str(text)
        .map_err(|e| Error::conversion(format!("cannot deserialize JSON into {}: {e}", std::any::type_name::<T>())))
}

impl<'a, T: Deserialize<'a>> FromSql<'a> for Json<T> {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Json<T>> {
        decode(ty, raw).map(Json)
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Json<T>> {
        // json text output is the JSON itself (no version byte).
        decode(if ty == Type::JSONB { Type::JSON } else { ty }, raw).map(Json)
    }
    fn accepts(ty: Type) -> bool {
        is_json(ty)
    }
}

impl<T: Serialize + fmt::Debug + Sync> ToSql for Json<T> {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode(&self.0, ty, out)
    }
    fn accepts(ty: Type) -> bool {
        is_json(ty)
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for serde_json::Value {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<serde_json::Value> {
        decode(ty, raw)
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<serde_json::Value> {
        decode(if ty == Type::JSONB { Type::JSON } else { ty }, raw)
    }
    fn accepts(ty: Type) -> bool {
        is_json(ty)
    }
}

impl ToSql for serde_json::Value {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode(self, ty, out)
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
    fn values() {
        let v = serde_json::json!({"a": [1, "ü", null]});
        let mut b = BytesMut::new();
        v.to_sql_checked(Type::JSON, &mut b).unwrap();
        assert_eq!(serde_json::Value::from_sql(Type::JSON, &b).unwrap(), v);
        assert!(serde_json::Value::from_sql(Type::JSON, b"{").is_err());
        assert!(serde_json::Value::from_sql(Type::JSONB, b"\x02{}").is_err());
        assert!(serde_json::Value::from_sql(Type::TEXT, b"{}").is_err());
        assert_eq!(serde_json::Value::from_sql_text(Type::JSONB, b"[1]").unwrap(), serde_json::json!([1]));
        let borrowed = Json::<&str>::from_sql(Type::JSON, br#""abc""#).unwrap();
        assert_eq!(borrowed.0, "abc");
    }
}
