//! Rows and column descriptions.
//!
//! A [`Row`] is the DataRow message body (one shared, reference-counted
//! buffer, usually a slice of the connection's receive buffer) plus the
//! column descriptions shared by every row of the result. Values are decoded
//! only when asked for: no per-row `Vec<Value>` is ever built.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::protocol::Format;
use crate::types::{with_type_map, FromSql, Type, TypeMap};
use crate::{Error, Result};

/// One result column: name, type and the wire format its values arrive in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    name: String,
    type_: Type,
    format: Format,
    table_oid: u32,
    column_id: i16,
    type_size: i16,
    type_modifier: i32,
    /// The connection's user types, for columns whose decoding needs them.
    types: ColumnTypes,
}

/// The type map of a column (compared by identity: it is shared, immutable).
#[derive(Debug, Clone, Default)]
struct ColumnTypes(Option<Arc<TypeMap>>);

impl PartialEq for ColumnTypes {
    fn eq(&self, other: &ColumnTypes) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}
impl Eq for ColumnTypes {}

impl Column {
    pub(crate) fn new(
        name: String,
        type_: Type,
        format: Format,
        table_oid: u32,
        column_id: i16,
        type_size: i16,
        type_modifier: i32,
    ) -> Column {
        Column { name, type_, format, table_oid, column_id, type_size, type_modifier, types: ColumnTypes::default() }
    }

    /// The column name (or alias).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The column's PostgreSQL type.
    pub fn type_(&self) -> Type {
        self.type_
    }

    /// The format values of this column arrive in: binary for types edgepg
    /// has a binary codec for, text for everything else (enums, extensions).
    pub fn format(&self) -> Format {
        self.format
    }

    /// OID of the table the column comes from, if it is a plain table column.
    pub fn table_oid(&self) -> Option<u32> {
        (self.table_oid != 0).then_some(self.table_oid)
    }

    /// Attribute number of the column in its table, if it is a plain table column.
    pub fn column_id(&self) -> Option<i16> {
        (self.column_id != 0).then_some(self.column_id)
    }

    /// `pg_type.typlen` of the column's type: its size in bytes, negative
    /// for variable-width types (-1 varlena, -2 C string).
    pub fn type_size(&self) -> i16 {
        self.type_size
    }

    /// The type modifier (e.g. `varchar(n)` length + 4), -1 when none.
    pub fn type_modifier(&self) -> i32 {
        self.type_modifier
    }

    pub(crate) fn set_format(&mut self, format: Format) {
        self.format = format;
    }

    pub(crate) fn set_types(&mut self, types: Arc<TypeMap>) {
        self.types = ColumnTypes(Some(types));
    }

    /// The connection's knowledge of user types (enums, domains, composites,
    /// ranges, custom codecs) when this column's values need it to decode.
    pub fn type_map(&self) -> Option<&Arc<TypeMap>> {
        self.types.0.as_ref()
    }

    /// Runs `f` with this column's type map current (see
    /// [`with_type_map`]), for decoding its values outside [`Row::get`].
    pub fn with_types<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.types.0 {
            Some(map) => with_type_map(map, f),
            None => f(),
        }
    }
}

/// Something that selects a column: a position (`usize`) or a name (`&str`).
pub trait RowIndex: fmt::Display {
    /// The position of the column in `columns`, if any.
    fn index(&self, columns: &[Column]) -> Option<usize>;
}

impl RowIndex for usize {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl RowIndex for str {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name == self)
    }
}

impl<T: RowIndex + ?Sized> RowIndex for &T {
    fn index(&self, columns: &[Column]) -> Option<usize> {
        T::index(*self, columns)
    }
}

/// One row of a query result.
///
/// ```no_run
/// # async fn demo(conn: &edgepg_core::client::Connection) -> edgepg_core::Result<()> {
/// let rows = conn.fetch("SELECT 1::int8 AS id, 'a' AS name", &[]).await?;
/// let id: i64 = rows[0].get("id")?;
/// let name: &str = rows[0].get(1)?;
/// # let _ = (id, name); Ok(()) }
/// ```
#[derive(Clone)]
pub struct Row {
    columns: Arc<[Column]>,
    /// The DataRow body: a 2-byte column count, then for each column a 4-byte
    /// length (-1 = NULL) and the value bytes. Validated on construction.
    body: Bytes,
}

impl Row {
    /// Wraps a DataRow body. Fails (protocol error) unless the body is
    /// well-formed and has exactly one value per column, so that later
    /// accesses cannot fail on structure.
    pub(crate) fn new(columns: Arc<[Column]>, body: Bytes) -> Result<Row> {
        let count = read_u16(&body, 0).ok_or_else(|| Error::protocol("DataRow message too short"))? as usize;
        if count != columns.len() {
            return Err(Error::protocol(format!(
                "DataRow has {count} values but the row description has {} columns",
                columns.len()
            )));
        }
        let mut pos = 2usize;
        for _ in 0..count {
            let len = read_i32(&body, pos).ok_or_else(|| Error::protocol("DataRow message truncated"))?;
            pos += 4;
            if len >= 0 {
                pos = pos
                    .checked_add(len as usize)
                    .filter(|end| *end <= body.len())
                    .ok_or_else(|| Error::protocol("DataRow value length exceeds the message"))?;
            } else if len != -1 {
                return Err(Error::protocol("DataRow value has a negative length"));
            }
        }
        if pos != body.len() {
            return Err(Error::protocol("DataRow message has trailing bytes"));
        }
        Ok(Row { columns, body })
    }

    /// The column descriptions.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Number of values in the row.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True for a row of zero columns (`SELECT`).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The raw bytes of a value (`None` for NULL), in the column's [`Format`].
    pub fn raw<I: RowIndex + ?Sized>(&self, idx: &I) -> Result<Option<&[u8]>> {
        let i = self.position(idx)?;
        Ok(self.raw_at(i))
    }

    /// Decodes the value of a column, selected by position or by name.
    ///
    /// SQL NULL decodes only into `Option<T>` (or [`crate::types::Value`]);
    /// into anything else it is a [`crate::ErrorKind::Conversion`] error.
    pub fn get<'a, T, I>(&'a self, idx: I) -> Result<T>
    where
        T: FromSql<'a>,
        I: RowIndex,
    {
        let i = self.position(&idx)?;
        let column = &self.columns[i];
        column.with_types(|| {
            let ty = column.type_;
            if !T::accepts(ty) {
                return Err(Error::conversion(format!(
                    "cannot decode column \"{}\" of type {} into {}",
                    column.name,
                    type_name(ty),
                    std::any::type_name::<T>()
                )));
            }
            let result = match self.raw_at(i) {
                None => T::from_sql_null(ty),
                Some(raw) => match column.format {
                    Format::Binary => T::from_sql(ty, raw),
                    Format::Text => T::from_sql_text(ty, raw),
                },
            };
            result.map_err(|e| e.context(format_args!("column \"{}\"", column.name)))
        })
    }

    fn position<I: RowIndex + ?Sized>(&self, idx: &I) -> Result<usize> {
        idx.index(&self.columns).ok_or_else(|| {
            Error::interface(format!(
                "no column {idx} in a row of {} columns ({})",
                self.columns.len(),
                self.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// The value bytes of column `i`. The body was validated in `new`, so the
    /// walk cannot run past the end; it still uses checked reads.
    fn raw_at(&self, i: usize) -> Option<&[u8]> {
        let mut pos = 2usize;
        let mut index = 0;
        loop {
            let len = read_i32(&self.body, pos)?;
            pos += 4;
            if index == i {
                if len < 0 {
                    return None;
                }
                return self.body.get(pos..pos + len as usize);
            }
            if len > 0 {
                pos += len as usize;
            }
            index += 1;
        }
    }

    /// The raw bytes of every value, in column order (`None` for NULL), in
    /// each column's [`Format`]. One walk of the row: calling [`Row::raw`]
    /// for each column would walk it from the start every time.
    ///
    /// ```no_run
    /// # async fn demo(conn: &edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// let row = conn.fetchrow("SELECT 'a', NULL::text", &[]).await?.unwrap();
    /// let raw: Vec<Option<&[u8]>> = row.raw_values().collect();
    /// assert_eq!(raw, [Some(&b"a"[..]), None]);
    /// # Ok(()) }
    /// ```
    pub fn raw_values(&self) -> RawValues<'_> {
        RawValues { rest: self.body.get(2..).unwrap_or_default(), left: self.columns.len() }
    }

    /// Size in bytes of the row's wire representation.
    pub fn raw_size(&self) -> usize {
        self.body.len()
    }
}

pub(crate) fn type_name(ty: Type) -> String {
    match ty.name() {
        Some(n) => n.to_owned(),
        None => ty.display_name(),
    }
}

/// The iterator of [`Row::raw_values`].
#[derive(Debug, Clone)]
pub struct RawValues<'a> {
    /// The values not read yet (each a 4-byte length, then its bytes).
    rest: &'a [u8],
    left: usize,
}

impl<'a> Iterator for RawValues<'a> {
    type Item = Option<&'a [u8]>;

    // Inlined even in the size-optimised wasm build: every value of a JS
    // result is read through here (`packed_columns` in the wasm crate).
    #[inline(always)]
    fn next(&mut self) -> Option<Option<&'a [u8]>> {
        // The body was validated in `Row::new`; checked reads all the same.
        self.left = self.left.checked_sub(1)?;
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        let len = i32::from_be_bytes(*len);
        if len < 0 {
            self.rest = rest;
            return Some(None);
        }
        let (value, rest) = rest.split_at_checked(len as usize)?;
        self.rest = rest;
        Some(Some(value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

fn read_u16(b: &[u8], pos: usize) -> Option<u16> {
    let s = b.get(pos..pos.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

fn read_i32(b: &[u8], pos: usize) -> Option<i32> {
    let s = b.get(pos..pos.checked_add(4)?)?;
    Some(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (i, c) in self.columns.iter().enumerate() {
            match self.raw_at(i) {
                None => m.entry(&c.name, &"NULL"),
                Some(raw) if c.format == Format::Text => m.entry(&c.name, &String::from_utf8_lossy(raw)),
                Some(raw) => m.entry(&c.name, &format_args!("<{} binary bytes>", raw.len())),
            };
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(n: usize) -> Arc<[Column]> {
        (0..n).map(|i| Column::new(format!("c{i}"), Type::TEXT, Format::Text, 0, 0, -1, -1)).collect()
    }

    #[test]
    fn parses_and_reads_values() {
        let body = Bytes::from_static(b"\x00\x03\x00\x00\x00\x01a\xff\xff\xff\xff\x00\x00\x00\x02bc");
        let row = Row::new(cols(3), body).unwrap();
        assert_eq!(row.raw(&0usize).unwrap(), Some(&b"a"[..]));
        assert_eq!(row.raw(&1usize).unwrap(), None);
        assert_eq!(row.raw("c2").unwrap(), Some(&b"bc"[..]));
        assert!(row.raw("nope").is_err());
        assert!(row.raw(&3usize).is_err());
        let all: Vec<_> = row.raw_values().collect();
        assert_eq!(all, [Some(&b"a"[..]), None, Some(&b"bc"[..])]);
        assert_eq!(Row::new(cols(0), Bytes::from_static(b"\x00\x00")).unwrap().raw_values().count(), 0);
    }

    #[test]
    fn rejects_malformed_bodies() {
        for body in [
            &b""[..],
            b"\x00\x02\x00\x00\x00\x01a",  // count too high
            b"\x00\x01\x00\x00\x00\x05a",  // length past end
            b"\x00\x01\xff\xff\xff\xfe",   // negative length
            b"\x00\x01\x00\x00\x00\x01ab", // trailing byte
            b"\x00\x01\x7f\xff\xff\xff",   // huge length
        ] {
            let n = if body.len() >= 2 { u16::from_be_bytes([body[0], body[1]]) as usize } else { 1 };
            assert!(Row::new(cols(n), Bytes::copy_from_slice(body)).is_err(), "{body:?}");
        }
    }
}
