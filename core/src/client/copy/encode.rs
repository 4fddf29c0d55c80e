//! Encoding records into COPY data, and gathering data into large chunks.
//!
//! Binary COPY (the normal case) is `PGCOPY\n\xff\r\n\0`, a 32-bit flags
//! word and a 32-bit header-extension length, then per record a 16-bit field
//! count and per field a 32-bit length (-1 for NULL) and the value in its
//! binary format, and finally a 16-bit -1 trailer.
//!
//! When a target column has a type edgepg has no binary encoder for (an
//! enum, `citext`, an extension type), the whole call uses the text format
//! instead: values are turned into their text form and escaped.
//!
//! Output is cut into chunks of about [`CHUNK`] bytes: each becomes one
//! CopyData message, so per-message costs (and, over WebSocket, per-frame
//! costs) are paid once per 64 KiB rather than once per row.

use bytes::{BufMut, Bytes, BytesMut};

use crate::client::params::Params;
use crate::protocol::{Format, IsNull};
use crate::types::{FromSql, ToSql, Type, Value};
use crate::{Error, Result};

/// Target size of one CopyData message.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Binary COPY signature, flags (no OIDs) and header-extension length.
const BINARY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The format records are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordFormat {
    Binary,
    Text,
}

impl RecordFormat {
    /// Binary unless some column type has no binary encoder.
    pub(crate) fn for_types(types: &[Type]) -> RecordFormat {
        if types.iter().all(|t| t.has_binary_codec()) {
            RecordFormat::Binary
        } else {
            RecordFormat::Text
        }
    }
}

/// Turns records into COPY data for columns of known types.
pub(crate) struct RecordEncoder {
    types: Vec<Type>,
    format: RecordFormat,
    buf: BytesMut,
    /// Text format: one value before escaping.
    scratch: BytesMut,
    /// Records written so far (for error messages).
    records: u64,
}

impl RecordEncoder {
    /// An encoder for columns of `types`; binary output starts with the header.
    pub(crate) fn new(types: Vec<Type>, format: RecordFormat) -> Result<RecordEncoder> {
        if types.len() > i16::MAX as usize {
            return Err(Error::interface("COPY supports at most 32767 columns"));
        }
        let mut buf = BytesMut::with_capacity(CHUNK + CHUNK / 4);
        if format == RecordFormat::Binary {
            buf.put_slice(BINARY_HEADER);
        }
        Ok(RecordEncoder { types, format, buf, scratch: BytesMut::new(), records: 0 })
    }

    /// Appends one record. On error the encoder must not be used further
    /// (the COPY is failed anyway).
    pub(crate) fn push(&mut self, record: &dyn Params) -> Result<()> {
        let n = record.len();
        if n != self.types.len() {
            return Err(Error::interface(format!(
                "COPY record {} has {n} value(s), the target has {} column(s)",
                self.records,
                self.types.len()
            )));
        }
        match self.format {
            RecordFormat::Binary => self.push_binary(record)?,
            RecordFormat::Text => self.push_text(record)?,
        }
        self.records += 1;
        Ok(())
    }

    fn push_binary(&mut self, record: &dyn Params) -> Result<()> {
        // Cannot truncate: at most 32767 columns, checked in `new`.
        self.buf.put_i16(self.types.len() as i16);
        for (i, &ty) in self.types.iter().enumerate() {
            let value = record.param(i);
            let len_at = self.buf.len();
            self.buf.put_i32(0);
            let is_null = if value.encode_format(ty) == Format::Binary {
                value.to_sql_checked(ty, &mut self.buf).map_err(|e| self.value_error(i, e))?
            } else {
                text_as_binary(value, ty, &mut self.scratch, &mut self.buf).map_err(|e| self.value_error(i, e))?
            };
            let len = match is_null {
                IsNull::Yes => {
                    self.buf.truncate(len_at + 4);
                    -1
                }
                IsNull::No => i32::try_from(self.buf.len() - len_at - 4)
                    .map_err(|_| self.value_error(i, Error::conversion("value larger than 2 GiB")))?,
            };
            self.buf[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }

    fn push_text(&mut self, record: &dyn Params) -> Result<()> {
        for (i, &ty) in self.types.iter().enumerate() {
            if i > 0 {
                self.buf.put_u8(b'\t');
            }
            let value = record.param(i);
            self.scratch.clear();
            match value.to_sql_checked(ty, &mut self.scratch).map_err(|e| self.value_error(i, e))? {
                IsNull::Yes => self.buf.put_slice(b"\\N"),
                IsNull::No => {
                    let text = text_form(value, ty, &self.scratch).map_err(|e| self.value_error(i, e))?;
                    escape_text(text.as_ref(), &mut self.buf);
                }
            }
        }
        self.buf.put_u8(b'\n');
        Ok(())
    }

    fn value_error(&self, column: usize, e: Error) -> Error {
        e.context(format_args!("COPY record {}, column {}", self.records, column + 1))
    }

    /// True when a chunk's worth of data is ready.
    pub(crate) fn is_full(&self) -> bool {
        self.buf.len() >= CHUNK
    }

    /// The data encoded so far.
    pub(crate) fn take(&mut self) -> Bytes {
        let chunk = self.buf.split().freeze();
        self.buf.reserve(CHUNK + CHUNK / 4);
        chunk
    }

    /// The rest of the data, with the binary trailer.
    pub(crate) fn finish(mut self) -> Bytes {
        if self.format == RecordFormat::Binary {
            self.buf.put_i16(-1);
        }
        self.buf.freeze()
    }
}

/// A value that encodes itself as text (e.g. a dynamic `Value::Text`)
/// into a binary COPY: fine for the types whose binary form is their text
/// (`text`, `varchar`, `"char"`, `json`, ...), or nearly (`jsonb` adds a
/// version byte); an error for the others.
fn text_as_binary(value: &dyn ToSql, ty: Type, scratch: &mut BytesMut, buf: &mut BytesMut) -> Result<IsNull> {
    scratch.clear();
    let is_null = value.to_sql_checked(ty, scratch)?;
    if is_null == IsNull::Yes {
        return Ok(is_null);
    }
    match ty {
        Type::JSONB => buf.put_u8(1),
        Type::CHAR => {
            buf.put_u8(char_from_text(scratch));
            return Ok(IsNull::No);
        }
        t if t.is_text_like() || t == Type::JSON => {}
        _ => {
            return Err(Error::conversion(format!(
                "this value is sent as text, and binary COPY needs column type {ty} in binary: \
                 pass a value of the column's Rust type"
            )))
        }
    }
    buf.put_slice(scratch);
    Ok(IsNull::No)
}

/// The one byte of a `"char"` from its text form, as the server's `charin`
/// reads it: `\ooo` octal, else the first byte (0 for an empty string).
fn char_from_text(text: &[u8]) -> u8 {
    match text {
        [b'\\', a @ b'0'..=b'7', b @ b'0'..=b'7', c @ b'0'..=b'7'] => {
            ((a - b'0') << 6).wrapping_add((b - b'0') << 3).wrapping_add(c - b'0')
        }
        [first, ..] => *first,
        [] => 0,
    }
}

/// The text form of a value already encoded in `encoded`: as is when the
/// value chose text (or the type's binary form is its text), else decoded
/// from binary and printed in PostgreSQL input syntax.
fn text_form<'a>(value: &dyn ToSql, ty: Type, encoded: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>> {
    if value.encode_format(ty) == Format::Text || ty.is_text_like() {
        return Ok(std::borrow::Cow::Borrowed(encoded));
    }
    let v = <Value as FromSql>::from_sql(ty, encoded)?;
    Ok(std::borrow::Cow::Owned(v.to_string().into_bytes()))
}

/// Escapes one value for the COPY text format (default delimiter tab).
fn escape_text(value: &[u8], out: &mut BytesMut) {
    let mut start = 0;
    for (i, &b) in value.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => continue,
        };
        out.put_slice(&value[start..i]);
        out.put_slice(escaped);
        start = i + 1;
    }
    out.put_slice(&value[start..]);
}

/// Gathers caller-supplied byte chunks of any size into chunks of about
/// [`CHUNK`] bytes; chunks already that large pass through without a copy.
#[derive(Default)]
pub(crate) struct Gather {
    buf: BytesMut,
}

impl Gather {
    /// Adds `data`; returns up to two chunks ready to send.
    pub(crate) fn push(&mut self, data: Bytes) -> [Option<Bytes>; 2] {
        if data.len() >= CHUNK {
            let pending = (!self.buf.is_empty()).then(|| self.buf.split().freeze());
            return [pending, Some(data)];
        }
        if self.buf.is_empty() {
            self.buf.reserve(CHUNK);
        }
        self.buf.extend_from_slice(&data);
        if self.buf.len() >= CHUNK {
            return [Some(self.buf.split().freeze()), None];
        }
        [None, None]
    }

    /// What is left.
    pub(crate) fn finish(mut self) -> Option<Bytes> {
        (!self.buf.is_empty()).then(|| self.buf.split().freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_records() {
        let mut e = RecordEncoder::new(vec![Type::INT4, Type::TEXT], RecordFormat::Binary).unwrap();
        e.push(&(7i32, "ab")).unwrap();
        e.push(&(Option::<i32>::None, "")).unwrap();
        let out = e.finish();
        let mut want = b"PGCOPY\n\xff\r\n\0".to_vec();
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // flags, extension length
        want.extend_from_slice(&[0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 2, b'a', b'b']);
        want.extend_from_slice(&[0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        want.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(&out[..], &want[..]);
    }

    #[test]
    fn record_errors() {
        let mut e = RecordEncoder::new(vec![Type::INT4], RecordFormat::Binary).unwrap();
        let err = e.push(&(1i32, 2i32)).unwrap_err();
        assert!(err.to_string().contains("2 value(s)"), "{err}");
        let err = e.push(&("not an int",)).unwrap_err();
        assert!(err.to_string().contains("record 0, column 1"), "{err}");
    }

    #[test]
    fn text_values_in_binary_copy() {
        let mut e = RecordEncoder::new(vec![Type::TEXT, Type::JSONB], RecordFormat::Binary).unwrap();
        e.push(&[Value::Text("ab".into()), Value::Text("{}".into())]).unwrap();
        let out = e.finish();
        assert_eq!(&out[19..], &[0, 2, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 3, 1, b'{', b'}', 0xff, 0xff][..]);
        assert_eq!((char_from_text(b""), char_from_text(b"xy"), char_from_text(b"\\101")), (0, b'x', b'A'));
        assert_eq!(char_from_text(b"\\777"), 0xff);
        let mut e = RecordEncoder::new(vec![Type::INT8], RecordFormat::Binary).unwrap();
        let err = e.push(&[Value::Text("1".into())]).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Conversion);
    }

    #[test]
    fn text_records_escape_and_convert() {
        let enum_type = Type::from_oid(99_999);
        let mut e =
            RecordEncoder::new(vec![enum_type, Type::TEXT, Type::INT8, Type::FLOAT8], RecordFormat::Text).unwrap();
        assert_eq!(RecordFormat::for_types(&[Type::INT4, enum_type]), RecordFormat::Text);
        assert_eq!(RecordFormat::for_types(&[Type::INT4, Type::TEXT]), RecordFormat::Binary);
        e.push(&("happy", "a\tb\\c\nd\re", 42i64, 1.5f64)).unwrap();
        e.push(&("sad", Option::<&str>::None, -1i64, f64::NAN)).unwrap();
        let out = e.finish();
        assert_eq!(&out[..], &b"happy\ta\\tb\\\\c\\nd\\re\t42\t1.5\nsad\t\\N\t-1\tNaN\n"[..]);
    }

    #[test]
    fn chunks_are_cut_at_about_64k() {
        let mut e = RecordEncoder::new(vec![Type::INT8], RecordFormat::Binary).unwrap();
        let mut chunks = Vec::new();
        for i in 0..20_000i64 {
            e.push(&(i,)).unwrap();
            if e.is_full() {
                chunks.push(e.take());
            }
        }
        chunks.push(e.finish());
        assert!(chunks.len() >= 3);
        assert!(chunks[..chunks.len() - 1].iter().all(|c| c.len() >= CHUNK && c.len() < CHUNK + 64));
        let total: usize = chunks.iter().map(Bytes::len).sum();
        assert_eq!(total, 19 + 20_000 * (2 + 4 + 8) + 2);
    }

    #[test]
    fn gather() {
        let mut g = Gather::default();
        assert_eq!(g.push(Bytes::from_static(b"abc")), [None, None]);
        let big = Bytes::from(vec![1u8; CHUNK]);
        let [a, b] = g.push(big.clone());
        assert_eq!(a.as_deref(), Some(&b"abc"[..]));
        assert_eq!(b, Some(big));
        let small = Bytes::from(vec![2u8; CHUNK / 2 + 1]);
        assert_eq!(g.push(small.clone()), [None, None]);
        let [a, b] = g.push(small);
        assert_eq!(a.map(|c| c.len()), Some(CHUNK + 2));
        assert_eq!(b, None);
        assert!(g.finish().is_none());
    }
}
