//! RowDescription (`T`) bodies: the columns of a result.

use std::fmt;

use bytes::Bytes;

use super::reader::Reader;
use crate::error::{Error, Result};

/// Smallest possible encoding of one field: an empty name (1 byte) + 18 bytes.
const MIN_FIELD_LEN: usize = 19;

/// The body of a RowDescription message. Fields are decoded lazily by
/// [`fields`](Self::fields); the count is checked against the body size when
/// the message is parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct RowDescriptionBody {
    body: Bytes,
    len: u16,
}

/// One column of a [`RowDescriptionBody`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription<'a> {
    /// Column name (or alias).
    pub name: &'a str,
    /// OID of the source table, or 0.
    pub table_oid: u32,
    /// Attribute number in the source table, or 0.
    pub column_id: i16,
    /// OID of the column's data type.
    pub type_oid: u32,
    /// `pg_type.typlen` (negative for variable width).
    pub type_size: i16,
    /// `pg_attribute.atttypmod` (type-specific, -1 if none).
    pub type_modifier: i32,
    /// Format code: 0 text, 1 binary (0 in the reply to a statement Describe).
    pub format: i16,
}

impl RowDescriptionBody {
    /// Wraps a body after checking the field count is plausible for its size.
    pub(crate) fn parse(body: Bytes) -> Result<RowDescriptionBody> {
        let count = Reader::new(&body).i16()?;
        let len = u16::try_from(count).map_err(|_| Error::protocol("negative field count in RowDescription"))?;
        if usize::from(len) * MIN_FIELD_LEN > body.len() - 2 {
            return Err(Error::protocol("RowDescription field count exceeds the message"));
        }
        Ok(RowDescriptionBody { body, len })
    }

    /// The number of fields (columns).
    pub fn len(&self) -> u16 {
        self.len
    }

    /// True when the statement returns no columns.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw body, starting with the 2-byte field count.
    pub fn buffer(&self) -> &Bytes {
        &self.body
    }

    /// The fields in order. A malformed body (bad UTF-8, truncated field,
    /// trailing bytes) yields one `Err` and then ends.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use edgepg_core::protocol::backend::{next_message, Message};
    /// // The server's answer to `SELECT 1 AS a`.
    /// let mut buf = BytesMut::from(&b"T\0\0\0\x1a\0\x01a\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0"[..]);
    /// let Some(Message::RowDescription(rd)) = next_message(&mut buf, 1 << 20).unwrap() else { panic!() };
    /// let f = rd.fields().next().unwrap().unwrap();
    /// assert_eq!((f.name, f.type_oid, f.type_size), ("a", 23, 4));
    /// ```
    pub fn fields(&self) -> Fields<'_> {
        Fields { reader: Reader::at(&self.body, 2), remaining: self.len, done: false }
    }

    /// Decodes every field, failing on the first malformed one.
    pub fn validate(&self) -> Result<()> {
        self.fields().try_for_each(|f| f.map(drop))
    }
}

impl fmt::Debug for RowDescriptionBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for field in self.fields() {
            match field {
                Ok(field) => l.entry(&field),
                Err(_) => l.entry(&"<malformed>"),
            };
        }
        l.finish()
    }
}

/// Iterator over the fields of a [`RowDescriptionBody`].
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    reader: Reader<'a>,
    remaining: u16,
    done: bool,
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<FieldDescription<'a>> {
        let r = &mut self.reader;
        Ok(FieldDescription {
            name: r.cstr()?,
            table_oid: r.u32()?,
            column_id: r.i16()?,
            type_oid: r.u32()?,
            type_size: r.i16()?,
            type_modifier: r.i32()?,
            format: r.i16()?,
        })
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<FieldDescription<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.remaining == 0 {
            self.done = true;
            return self.reader.finish().err().map(Err);
        }
        self.remaining -= 1;
        let item = self.field();
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            // +1: a trailing-bytes error may follow the last field.
            (0, Some(usize::from(self.remaining) + 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two fields: `a int4` from table 16384 column 1, `b text` computed.
    const TWO: &[u8] = b"\0\x02\
        a\0\0\0\x40\0\0\x01\0\0\0\x17\0\x04\xff\xff\xff\xff\0\x01\
        b\0\0\0\0\0\0\0\0\0\0\x19\xff\xff\xff\xff\xff\xff\0\0";

    #[test]
    fn decodes_fields() {
        let rd = RowDescriptionBody::parse(Bytes::from_static(TWO)).unwrap();
        assert_eq!(rd.len(), 2);
        let f: Vec<_> = rd.fields().map(Result::unwrap).collect();
        assert_eq!(
            f[0],
            FieldDescription {
                name: "a",
                table_oid: 16384,
                column_id: 1,
                type_oid: 23,
                type_size: 4,
                type_modifier: -1,
                format: 1
            }
        );
        assert_eq!((f[1].name, f[1].type_oid, f[1].type_size, f[1].table_oid), ("b", 25, -1, 0));
        rd.validate().unwrap();
        assert!(format!("{rd:?}").contains("name: \"b\""));
    }

    #[test]
    fn malformed() {
        // Field count larger than the body can hold: rejected up front.
        assert!(RowDescriptionBody::parse(Bytes::from_static(b"\0\x05a\0")).is_err());
        assert!(RowDescriptionBody::parse(Bytes::from_static(b"\xff\xff")).is_err());
        assert!(RowDescriptionBody::parse(Bytes::from_static(b"\0")).is_err());
        // Truncated last field.
        let rd = RowDescriptionBody::parse(Bytes::from_static(&TWO[..TWO.len() - 1])).unwrap();
        assert!(rd.validate().is_err());
        assert_eq!(rd.fields().count(), 2);
        // Bad UTF-8 in a name.
        let mut bad = TWO.to_vec();
        bad[2] = 0xff;
        assert!(RowDescriptionBody::parse(Bytes::from(bad)).unwrap().validate().is_err());
        // Trailing bytes.
        let mut long = TWO.to_vec();
        long.push(0);
        let rd = RowDescriptionBody::parse(Bytes::from(long)).unwrap();
        assert!(rd.validate().is_err());
        assert_eq!(rd.fields().count(), 3);
    }
}
