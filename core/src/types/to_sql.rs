//! [`ToSql`]: encoding Rust values as query parameters.

use bytes::BytesMut;

use super::Type;
use crate::protocol::{Format, IsNull};
use crate::{Error, Result};

/// A Rust value that can be sent as a parameter of PostgreSQL type `ty`.
///
/// Implementations write the value's bytes (without the length prefix) into
/// `out`, in the format [`ToSql::encode_format`] returns for `ty` (binary by
/// default), or return [`IsNull::Yes`] and write nothing for SQL NULL.
///
/// The client calls [`ToSql::to_sql_checked`] through `&dyn ToSql`;
/// implement it with the [`to_sql_checked!`](crate::to_sql_checked) macro:
///
/// ```
/// use bytes::{BufMut, BytesMut};
/// use edgepg_core::protocol::IsNull;
/// use edgepg_core::types::{ToSql, Type};
///
/// /// A user id sent as int8.
/// #[derive(Debug)]
/// struct UserId(i64);
///
/// impl ToSql for UserId {
///     fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> edgepg_core::Result<IsNull> {
///         out.put_i64(self.0);
///         Ok(IsNull::No)
///     }
///     fn accepts(ty: Type) -> bool {
///         ty == Type::INT8
///     }
///     edgepg_core::to_sql_checked!();
/// }
///
/// let mut buf = BytesMut::new();
/// UserId(7).to_sql_checked(Type::INT8, &mut buf).unwrap();
/// assert_eq!(&buf[..], &[0, 0, 0, 0, 0, 0, 0, 7]);
/// let err = UserId(7).to_sql_checked(Type::TEXT, &mut buf).unwrap_err();
/// assert!(err.message().contains("cannot encode"));
/// ```
pub trait ToSql: std::fmt::Debug + Sync {
    /// Encodes `self` as a value of PG type `ty`, in the format
    /// `self.encode_format(ty)` returns. Errors have kind `Conversion`.
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull>;

    /// Whether values of this Rust type can be encoded as `ty`.
    fn accepts(ty: Type) -> bool
    where
        Self: Sized;

    /// Object-safe entry point: checks [`ToSql::accepts`] and then calls
    /// [`ToSql::to_sql`]. Implement it with [`to_sql_checked!`](crate::to_sql_checked).
    fn to_sql_checked(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull>;

    /// The wire format of this value for parameter type `ty`. Binary by
    /// default; strings sent to types without a binary codec (user enums,
    /// `citext`, extension types) use text so the server parses them.
    fn encode_format(&self, ty: Type) -> Format {
        let _ = ty;
        Format::Binary
    }

    /// Encodes `self` in **text format without knowing the parameter's
    /// type**, for values whose text the server parses into whatever type it
    /// infers — the same outcome as the typed path. `None` (the default) when
    /// the encoding depends on the type; the client then asks the server for
    /// the parameter types first (one more round trip).
    ///
    /// Used for the first query of a lazily started connection, which goes
    /// out with the startup, before any statement could be described.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use edgepg_core::types::{ToSql, Value};
    ///
    /// let mut buf = BytesMut::new();
    /// assert!(Value::Int4(7).to_sql_untyped(&mut buf).is_some());
    /// assert_eq!(&buf[..], b"7");
    /// assert!(7i32.to_sql_untyped(&mut buf).is_none());
    /// ```
    fn to_sql_untyped(&self, out: &mut BytesMut) -> Option<Result<IsNull>> {
        let _ = out;
        None
    }
}

/// Implements [`ToSql::to_sql_checked`] inside an `impl ToSql for ...` block
/// by checking `Self::accepts(ty)` first.
#[macro_export]
macro_rules! to_sql_checked {
    () => {
        fn to_sql_checked(
            &self,
            ty: $crate::types::Type,
            out: &mut $crate::types::__private::BytesMut,
        ) -> $crate::Result<$crate::protocol::IsNull> {
            $crate::types::__private::to_sql_checked(self, ty, out)
        }
    };
}

/// The body of [`to_sql_checked!`]; public only for the macro.
#[doc(hidden)]
pub fn to_sql_checked<T: ToSql>(value: &T, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
    if !T::accepts(ty) {
        return Err(cannot_encode::<T>(ty));
    }
    value.to_sql(ty, out)
}

/// "cannot encode <rust type> as <pg type>".
pub(crate) fn cannot_encode<T: ?Sized>(ty: Type) -> Error {
    Error::conversion(format!("cannot encode {} as PostgreSQL type {ty}", std::any::type_name::<T>()))
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        match self {
            Some(v) => v.to_sql(ty, out),
            None => Ok(IsNull::Yes),
        }
    }
    fn accepts(ty: Type) -> bool {
        T::accepts(ty)
    }
    fn encode_format(&self, ty: Type) -> Format {
        match self {
            Some(v) => v.encode_format(ty),
            None => Format::Binary,
        }
    }
    fn to_sql_untyped(&self, out: &mut BytesMut) -> Option<Result<IsNull>> {
        // A typed NULL is checked against the parameter type on the typed
        // path; without the type it is not the same thing.
        self.as_ref()?.to_sql_untyped(out)
    }
    to_sql_checked!();
}

impl<T: ToSql> ToSql for &T {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        (**self).to_sql(ty, out)
    }
    fn accepts(ty: Type) -> bool {
        T::accepts(ty)
    }
    fn to_sql_checked(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        (**self).to_sql_checked(ty, out)
    }
    fn encode_format(&self, ty: Type) -> Format {
        (**self).encode_format(ty)
    }
    fn to_sql_untyped(&self, out: &mut BytesMut) -> Option<Result<IsNull>> {
        (**self).to_sql_untyped(out)
    }
}

impl<T: ToSql> ToSql for Box<T> {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        (**self).to_sql(ty, out)
    }
    fn accepts(ty: Type) -> bool {
        T::accepts(ty)
    }
    fn to_sql_checked(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        (**self).to_sql_checked(ty, out)
    }
    fn encode_format(&self, ty: Type) -> Format {
        (**self).encode_format(ty)
    }
    fn to_sql_untyped(&self, out: &mut BytesMut) -> Option<Result<IsNull>> {
        (**self).to_sql_untyped(out)
    }
}
