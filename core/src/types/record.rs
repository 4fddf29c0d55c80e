//! Composite types and anonymous records: [`Record`] (decode, by position or
//! by field name) and [`Composite`] / [`encode_composite`] (parameters).
//!
//! Binary layout (record_send): field count (`i32`), then per field its type
//! OID (`u32`), its length (`i32`, −1 for NULL) and the field's binary value.
//! Text layout (record_out): `(1,"a b",,"say ""hi""")` — an empty field is
//! NULL, `""` the empty string.

use std::fmt;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};

use super::codec::{utf8, Reader};
use super::from_sql::cannot_decode;
use super::range::write_quoted;
use super::type_info::{current_type_map, with_type_map, Field};
use super::{FromSql, ToSql, Type, TypeKind, TypeMap, Value};
use crate::protocol::{Format, IsNull};
use crate::{to_sql_checked, Error, Result};

/// A composite value (`ROW(...)`, a table row type, `CREATE TYPE t AS (...)`).
///
/// Fields are decoded on access, like a row's columns: by position or, for
/// named composite types, by field name. Anonymous records have no names.
///
/// ```no_run
/// # async fn demo(conn: &edgepg_core::client::Connection) -> edgepg_core::Result<()> {
/// use edgepg_core::types::Record;
/// conn.execute("CREATE TYPE pair AS (k text, v int4)", &[]).await?;
/// let r: Record = conn.fetchval("SELECT ROW('a', 1)::pair", &[]).await?;
/// assert_eq!(r.get::<&str, _>("k")?, "a");
/// assert_eq!(r.get::<i32, _>(1)?, 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Record {
    type_: Type,
    names: Option<Arc<[Field]>>,
    fields: Vec<(Type, Option<(usize, usize)>)>,
    data: Vec<u8>,
    format: Format,
    /// The catalog facts current when decoded, for nested user types.
    types: Option<Arc<TypeMap>>,
}

/// A field of a [`Record`]: its position (`usize`) or name (`&str`).
pub trait FieldIndex: fmt::Display {
    /// The position in `record`, if any.
    fn position(&self, record: &Record) -> Option<usize>;
}

impl FieldIndex for usize {
    fn position(&self, record: &Record) -> Option<usize> {
        (*self < record.len()).then_some(*self)
    }
}

impl FieldIndex for &str {
    fn position(&self, record: &Record) -> Option<usize> {
        record.names.as_ref()?.iter().position(|f| f.name == *self)
    }
}

impl Record {
    /// The composite type (or `record` for anonymous ones).
    pub fn type_(&self) -> Type {
        self.type_
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True for a record of no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The field names of a named composite type (`None` for anonymous records).
    pub fn names(&self) -> Option<Vec<&str>> {
        self.names.as_ref().map(|n| n.iter().map(|f| f.name.as_str()).collect())
    }

    /// The name of field `i`, if the type is named.
    pub fn name(&self, i: usize) -> Option<&str> {
        self.names.as_ref()?.get(i).map(|f| f.name.as_str())
    }

    /// The type of field `i`.
    pub fn field_type(&self, i: usize) -> Option<Type> {
        self.fields.get(i).map(|f| f.0)
    }

    /// The wire format the fields are in (text for simple-query results).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The raw bytes of a field (`None` for NULL).
    pub fn raw<I: FieldIndex>(&self, idx: I) -> Result<Option<&[u8]>> {
        let i = self.position(&idx)?;
        Ok(self.raw_at(i))
    }

    fn raw_at(&self, i: usize) -> Option<&[u8]> {
        let (_, span) = self.fields.get(i)?;
        span.and_then(|(a, b)| self.data.get(a..b))
    }

    fn position<I: FieldIndex + ?Sized>(&self, idx: &I) -> Result<usize> {
        idx.position(self).ok_or_else(|| {
            Error::conversion(format!(
                "no field {idx} in a value of type {} ({})",
                self.type_.display_name(),
                match self.names() {
                    Some(n) => n.join(", "),
                    None => format!("{} anonymous fields", self.len()),
                }
            ))
        })
    }

    fn describe(&self, i: usize) -> String {
        match self.name(i) {
            Some(n) => format!("field \"{n}\" of type {}", self.type_.display_name()),
            None => format!("field {i} of type {}", self.type_.display_name()),
        }
    }

    /// Decodes a field. Errors name the field and the composite type.
    pub fn get<'a, T: FromSql<'a>, I: FieldIndex>(&'a self, idx: I) -> Result<T> {
        let i = self.position(&idx)?;
        let ty = self.fields[i].0;
        let decode = || {
            let base = ty.base();
            if !T::accepts(base) {
                return Err(Error::conversion(format!(
                    "cannot decode {} ({}) into {}",
                    self.describe(i),
                    base.display_name(),
                    std::any::type_name::<T>()
                )));
            }
            let r = match self.raw_at(i) {
                None => T::from_sql_null(base),
                Some(raw) => match self.format {
                    Format::Binary => T::from_sql(base, raw),
                    Format::Text => T::from_sql_text(base, raw),
                },
            };
            r.map_err(|e| e.context(self.describe(i)))
        };
        match &self.types {
            Some(map) => with_type_map(map, decode),
            None => decode(),
        }
    }

    /// A field as a dynamic [`Value`].
    pub fn value<I: FieldIndex>(&self, idx: I) -> Result<Value> {
        self.get(idx)
    }

    /// Every field as a [`Value`], in order.
    pub fn values(&self) -> Result<Vec<Value>> {
        (0..self.len()).map(|i| self.get(i)).collect()
    }

    /// Parses a binary composite of type `ty`.
    fn parse_binary(ty: Type, raw: &[u8]) -> Result<Record> {
        let mut r = Reader::new(raw, "record");
        let count = usize::try_from(r.i32()?)
            .map_err(|_| Error::conversion("invalid binary record value: negative field count"))?;
        // Each field takes at least 8 bytes (OID + length).
        if count > r.remaining() / 8 {
            return Err(Error::conversion("invalid binary record value: more fields than bytes"));
        }
        let names = field_names(ty, count)?;
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            let oid = Type::from_oid(r.u32()?);
            let len = r.i32()?;
            let span = if len == -1 {
                None
            } else {
                let len = usize::try_from(len)
                    .map_err(|_| Error::conversion("invalid binary record value: bad field length"))?;
                let start = raw.len() - r.remaining();
                r.bytes(len)?;
                Some((start, start + len))
            };
            fields.push((oid, span));
        }
        r.finish()?;
        Ok(Record { type_: ty, names, fields, data: raw.to_vec(), format: Format::Binary, types: current_type_map() })
    }

    /// Parses record_out text; fields are unescaped into the record's buffer.
    fn parse_text(ty: Type, raw: &[u8]) -> Result<Record> {
        let bad = || Error::conversion(format!("invalid text value of type {}", ty.display_name()));
        let s = utf8(raw)?.trim().as_bytes();
        if s.len() < 2 || s[0] != b'(' || s[s.len() - 1] != b')' {
            return Err(bad());
        }
        let inner = &s[1..s.len() - 1];
        let mut data = Vec::with_capacity(inner.len());
        let mut spans = Vec::new();
        let mut i = 0;
        loop {
            // One field: up to the next comma outside quotes.
            let start = data.len();
            let mut quoted = false;
            let mut in_quotes = false;
            while i < inner.len() {
                let c = inner[i];
                match c {
                    b'"' if in_quotes && inner.get(i + 1) == Some(&b'"') => {
                        data.push(b'"');
                        i += 1;
                    }
                    b'"' => {
                        in_quotes = !in_quotes;
                        quoted = true;
                    }
                    b'\\' => {
                        i += 1;
                        data.push(*inner.get(i).ok_or_else(bad)?);
                    }
                    b',' if !in_quotes => break,
                    c => data.push(c),
                }
                i += 1;
            }
            if in_quotes {
                return Err(bad());
            }
            let empty = data.len() == start && !quoted;
            spans.push(if empty { None } else { Some((start, data.len())) });
            if i >= inner.len() {
                break;
            }
            i += 1; // the comma
        }
        let names = field_names(ty, spans.len())?;
        let fields = match &names {
            Some(n) => n.iter().zip(spans).map(|(f, s)| (f.type_, s)).collect(),
            None => spans.into_iter().map(|s| (Type::UNKNOWN, s)).collect(),
        };
        Ok(Record { type_: ty, names, fields, data, format: Format::Text, types: current_type_map() })
    }
}

/// The field list of a named composite (checked against the value's field
/// count), `None` for anonymous records.
fn field_names(ty: Type, count: usize) -> Result<Option<Arc<[Field]>>> {
    match ty.base().kind() {
        TypeKind::Composite(fields) => {
            if fields.len() != count {
                return Err(Error::conversion(format!(
                    "a value of composite type {} has {count} fields but the type has {} ({}); \
                     if the type was altered, reload the connection's type cache",
                    ty.display_name(),
                    fields.len(),
                    fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            Ok(Some(fields))
        }
        _ => Ok(None),
    }
}

/// Whether `ty` is a composite or record type.
pub(crate) fn is_composite(ty: Type) -> bool {
    matches!(ty.base().kind(), TypeKind::Composite(_) | TypeKind::Record)
}

impl<'a> FromSql<'a> for Record {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Record> {
        if !is_composite(ty) {
            return Err(cannot_decode::<Record>(ty, "not a composite type"));
        }
        Record::parse_binary(ty.base(), raw)
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Record> {
        if !is_composite(ty) {
            return Err(cannot_decode::<Record>(ty, "not a composite type"));
        }
        Record::parse_text(ty.base(), raw)
    }
    fn accepts(ty: Type) -> bool {
        is_composite(ty)
    }
}

/// Sends the record back as it came (the server checks the field types).
impl ToSql for Record {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        out.put_slice(&self.data_for_send());
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        is_composite(ty)
    }
    fn encode_format(&self, _ty: Type) -> Format {
        self.format
    }
    to_sql_checked!();
}

impl Record {
    fn data_for_send(&self) -> std::borrow::Cow<'_, [u8]> {
        match self.format {
            Format::Binary => std::borrow::Cow::Borrowed(&self.data),
            Format::Text => std::borrow::Cow::Owned(self.to_string().into_bytes()),
        }
    }
}

impl PartialEq for Record {
    fn eq(&self, other: &Record) -> bool {
        self.type_ == other.type_
            && self.format == other.format
            && self.fields == other.fields
            && self.data == other.data
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_struct("Record");
        t.field("type", &self.type_);
        for i in 0..self.len() {
            let v = self.value(i).unwrap_or_else(|e| Value::Text(format!("<{e}>")));
            match self.name(i) {
                Some(n) => t.field(n, &v),
                None => t.field(&i.to_string(), &v),
            };
        }
        t.finish()
    }
}

/// record_out's text form: `(1,"a b",)`.
impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for i in 0..self.len() {
            if i > 0 {
                f.write_str(",")?;
            }
            match self.value(i) {
                Ok(Value::Null) => {}
                Ok(v) => write_quoted(f, &super::value::pg_text(&v))?,
                Err(_) => write_quoted(f, &String::from_utf8_lossy(self.raw_at(i).unwrap_or_default()))?,
            }
        }
        f.write_str(")")
    }
}

// ---------------------------------------------------------------- encoding

/// Writes a binary composite of type `ty` from named field values, in the
/// type's field order; every field of the type must be given exactly once.
/// The connection must know `ty` (the client resolves parameter types).
pub fn encode_composite(ty: Type, values: &[(&str, &dyn ToSql)], out: &mut BytesMut) -> Result<IsNull> {
    let TypeKind::Composite(fields) = ty.base().kind() else {
        return Err(Error::conversion(format!("PostgreSQL type {} is not a known composite type", ty.display_name())));
    };
    for (name, _) in values {
        if !fields.iter().any(|f| f.name == *name) {
            return Err(Error::conversion(format!("composite type {} has no field \"{name}\"", ty.display_name())));
        }
    }
    out.put_i32(i32::try_from(fields.len()).map_err(|_| Error::conversion("too many fields"))?);
    for field in fields.iter() {
        let (_, value) = values.iter().find(|(n, _)| *n == field.name).ok_or_else(|| {
            Error::conversion(format!("no value for field \"{}\" of composite type {}", field.name, ty.display_name()))
        })?;
        let ctx = || format!("field \"{}\" of composite type {}", field.name, ty.display_name());
        let base = field.type_.base();
        // Inside a binary record every field must be binary; an enum's binary
        // form is its label, so text there is fine.
        if value.encode_format(base) != Format::Binary && base.kind() != TypeKind::Enum {
            return Err(Error::conversion(format!(
                "{}: type {} cannot be sent inside a binary composite from {value:?}",
                ctx(),
                base.display_name()
            )));
        }
        out.put_u32(field.type_.oid());
        let at = out.len();
        out.put_i32(0);
        match value.to_sql_checked(base, out).map_err(|e| e.context(ctx()))? {
            IsNull::Yes => {
                out.truncate(at);
                out.put_i32(-1);
            }
            IsNull::No => {
                let len = i32::try_from(out.len() - at - 4).map_err(|_| Error::conversion("field is too large"))?;
                out[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    Ok(IsNull::No)
}

/// A composite parameter built from named fields (any order).
///
/// ```no_run
/// # async fn demo(conn: &edgepg_core::client::Connection) -> edgepg_core::Result<()> {
/// use edgepg_core::types::Composite;
/// let p = Composite::new().field("k", &"a").field("v", &1i32);
/// conn.execute("INSERT INTO pairs VALUES ($1)", &[&p]).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Composite<'a> {
    fields: Vec<(&'a str, &'a (dyn ToSql + Sync))>,
}

impl<'a> Composite<'a> {
    /// No fields yet.
    pub fn new() -> Composite<'a> {
        Composite { fields: Vec::new() }
    }

    /// Adds a field value.
    pub fn field(mut self, name: &'a str, value: &'a (dyn ToSql + Sync)) -> Composite<'a> {
        self.fields.push((name, value));
        self
    }
}

impl ToSql for Composite<'_> {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        let values: Vec<(&str, &dyn ToSql)> = self.fields.iter().map(|(n, v)| (*n, *v as &dyn ToSql)).collect();
        encode_composite(ty, &values, out)
    }
    fn accepts(ty: Type) -> bool {
        matches!(ty.base().kind(), TypeKind::Composite(_))
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::TypeInfo;

    fn map() -> Arc<TypeMap> {
        let mut m = TypeMap::default();
        let fields: Arc<[Field]> =
            vec![Field { name: "k".into(), type_: Type::TEXT }, Field { name: "v".into(), type_: Type::INT4 }].into();
        m.insert(TypeInfo::new(90100, "public", "pair", TypeKind::Composite(fields)));
        Arc::new(m)
    }

    #[test]
    fn named_composite_round_trip() {
        let m = map();
        with_type_map(&m, || {
            let ty = Type::from_oid(90100);
            let mut buf = BytesMut::new();
            let p = Composite::new().field("v", &7i32).field("k", &"a\"b");
            p.to_sql_checked(ty, &mut buf).unwrap();
            let r = Record::from_sql(ty, &buf).unwrap();
            assert_eq!(r.get::<&str, _>("k").unwrap(), "a\"b");
            assert_eq!(r.get::<i32, _>(1).unwrap(), 7);
            assert_eq!(r.names(), Some(vec!["k", "v"]));
            assert_eq!(r.to_string(), r#"("a\"b",7)"#);
            let e = r.get::<i64, _>("nope").unwrap_err();
            assert!(e.message().contains("no field nope"), "{e}");
            let e = r.get::<String, _>("v").unwrap_err();
            assert!(e.message().contains("field \"v\" of type pair"), "{e}");
            // Missing and unknown fields.
            assert!(Composite::new().field("k", &"x").to_sql_checked(ty, &mut buf).is_err());
            assert!(Composite::new().field("zz", &1i32).to_sql_checked(ty, &mut buf).is_err());
            // Wrong field count for the type.
            let mut three = BytesMut::new();
            three.put_i32(1);
            three.put_u32(25);
            three.put_i32(-1);
            let e = Record::from_sql(ty, &three).unwrap_err();
            assert!(e.message().contains("has 1 fields but the type has 2"), "{e}");
        });
    }

    #[test]
    fn text_records() {
        let r = Record::from_sql_text(Type::RECORD, br#"(1,"a ""b"" \\c",,"")"#).unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r.get::<&str, _>(0).unwrap(), "1");
        assert_eq!(r.get::<&str, _>(1).unwrap(), r#"a "b" \c"#);
        assert_eq!(r.get::<Option<&str>, _>(2).unwrap(), None);
        assert_eq!(r.get::<&str, _>(3).unwrap(), "");
        assert!(Record::from_sql_text(Type::RECORD, b"(\"a").is_err());
        assert!(Record::from_sql_text(Type::RECORD, b"1,2").is_err());
    }

    #[test]
    fn hostile_records_never_panic() {
        for raw in [
            &b""[..],
            b"\x7f\xff\xff\xff",
            b"\x00\x00\x00\x01\x00\x00\x00\x17\x7f\xff\xff\xff",
            b"\x00\x00\x00\x01\x00\x00\x00\x17\xff\xff\xff\xfe",
            b"\x00\x00\x00\x01\x00\x00\x00\x17\x00\x00\x00\x04\x00\x00\x00\x01\x00",
        ] {
            assert!(Record::from_sql(Type::RECORD, raw).is_err(), "{raw:?}");
            let _ = Record::from_sql_text(Type::RECORD, raw);
        }
    }
}
