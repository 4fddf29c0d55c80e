//! `uuid::Uuid` ↔ `uuid` (feature `with-uuid`).

use bytes::{BufMut, BytesMut};

use super::codec::exact;
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Result};

impl<'a> FromSql<'a> for ::uuid::Uuid {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<::uuid::Uuid> {
        if ty != Type::UUID {
            return Err(cannot_decode::<::uuid::Uuid>(ty, "only uuid decodes into it"));
        }
        Ok(::uuid::Uuid::from_bytes(exact(raw, "uuid")?))
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::UUID
    }
}

impl ToSql for ::uuid::Uuid {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        out.put_slice(self.as_bytes());
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
    fn roundtrip() {
        let u = ::uuid::Uuid::from_bytes([9; 16]);
        let mut b = BytesMut::new();
        u.to_sql_checked(Type::UUID, &mut b).unwrap();
        assert_eq!(&b[..], &[9; 16]);
        assert_eq!(::uuid::Uuid::from_sql(Type::UUID, &b).unwrap(), u);
        assert!(::uuid::Uuid::from_sql(Type::UUID, &b[..15]).is_err());
    }
}
