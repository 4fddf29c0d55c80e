//! DataRow (`D`) bodies: one row as a shared buffer plus lazily read offsets.

use std::fmt;
use std::ops::Range;

use bytes::Bytes;

use super::reader::Reader;
use crate::error::{Error, Result};

/// The body of a DataRow message: a column count followed, per column, by a
/// 4-byte length (-1 = NULL) and that many value bytes.
///
/// Only the column count is checked when the message is parsed. Call
/// [`validate`](Self::validate) once per row, or iterate [`ranges`](Self::ranges),
/// which reports a malformed body as an error (never a panic).
#[derive(Clone, PartialEq, Eq)]
pub struct DataRowBody {
    body: Bytes,
    len: u16,
}

impl DataRowBody {
    /// Wraps a DataRow body; fails if it has no column count or a negative one.
    pub(crate) fn parse(body: Bytes) -> Result<DataRowBody> {
        let count = Reader::new(&body).i16()?;
        let len = u16::try_from(count).map_err(|_| Error::protocol("negative column count in DataRow"))?;
        Ok(DataRowBody { body, len })
    }

    /// The number of columns.
    pub fn len(&self) -> u16 {
        self.len
    }

    /// True for a row with no columns (e.g. `SELECT`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw body, starting with the 2-byte column count. The ranges from
    /// [`ranges`](Self::ranges) index into it.
    pub fn buffer(&self) -> &Bytes {
        &self.body
    }

    /// Checks the whole body once: every column length is -1 or fits in the
    /// remaining bytes, and nothing follows the last column.
    ///
    /// ```
    /// # use bytes::{Bytes, BytesMut};
    /// # use edgepg_core::protocol::backend::{next_message, Message};
    /// let mut buf = BytesMut::from(&b"D\0\0\0\x0f\0\x02\0\0\0\x011\xff\xff\xff\xff"[..]);
    /// let Some(Message::DataRow(row)) = next_message(&mut buf, 1 << 20).unwrap() else { panic!() };
    /// row.validate().unwrap();
    /// let cols: Vec<_> = row.ranges().collect::<Result<_, _>>().unwrap();
    /// assert_eq!(cols, vec![Some(6..7), None]);
    /// assert_eq!(&row.buffer()[6..7], b"1");
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.ranges().try_for_each(|r| r.map(drop))
    }

    /// The byte range of each column's value in [`buffer`](Self::buffer)
    /// (`None` for NULL). A malformed body yields one `Err` and then ends; so
    /// does a body with bytes after the last column.
    pub fn ranges(&self) -> DataRowRanges<'_> {
        DataRowRanges { reader: Reader::at(&self.body, 2), remaining: self.len, done: false }
    }
}

impl fmt::Debug for DataRowBody {
    // Rows can be large and may hold sensitive data: show only their shape.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataRowBody").field("columns", &self.len).field("bytes", &self.body.len()).finish()
    }
}

/// Iterator over the value ranges of a [`DataRowBody`]; see [`DataRowBody::ranges`].
#[derive(Debug, Clone)]
pub struct DataRowRanges<'a> {
    reader: Reader<'a>,
    remaining: u16,
    done: bool,
}

impl DataRowRanges<'_> {
    fn next_range(&mut self) -> Result<Option<Range<usize>>> {
        let len = self.reader.i32()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| Error::protocol("negative column length in DataRow"))?;
        let start = self.reader.pos();
        self.reader.take(len).map_err(|_| Error::protocol("DataRow column length exceeds the message"))?;
        Ok(Some(start..start + len))
    }
}

impl Iterator for DataRowRanges<'_> {
    type Item = Result<Option<Range<usize>>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.remaining == 0 {
            self.done = true;
            return self.reader.finish().err().map(Err);
        }
        self.remaining -= 1;
        let item = self.next_range();
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(body: &'static [u8]) -> Result<DataRowBody> {
        DataRowBody::parse(Bytes::from_static(body))
    }

    #[test]
    fn ranges_of_valid_row() {
        let r = row(b"\0\x03\0\0\0\x02ab\xff\xff\xff\xff\0\0\0\0").unwrap();
        assert_eq!(r.len(), 3);
        r.validate().unwrap();
        let v: Vec<_> = r.ranges().map(Result::unwrap).collect();
        assert_eq!(v, vec![Some(6..8), None, Some(16..16)]);
        assert_eq!(format!("{r:?}"), "DataRowBody { columns: 3, bytes: 16 }");
    }

    #[test]
    fn malformed_rows() {
        assert!(row(b"").is_err(), "no count");
        assert!(row(b"\x80\0").is_err(), "negative count");
        // Column length past the end.
        let r = row(b"\0\x01\0\0\0\x05ab").unwrap();
        assert!(r.validate().is_err());
        let v: Vec<_> = r.ranges().collect();
        assert_eq!(v.len(), 1);
        assert!(v[0].is_err());
        // Negative length other than -1.
        assert!(row(b"\0\x01\xff\xff\xff\xfe").unwrap().validate().is_err());
        // More columns announced than present.
        assert!(row(b"\0\x02\0\0\0\x01a").unwrap().validate().is_err());
        // Trailing bytes.
        let r = row(b"\0\x01\0\0\0\x01ab").unwrap();
        assert!(r.validate().is_err());
        let v: Vec<_> = r.ranges().collect();
        assert_eq!(v.len(), 2, "one value, then the trailing-bytes error");
        assert!(v[1].is_err());
        // Huge length does not overflow.
        assert!(row(b"\0\x01\x7f\xff\xff\xff").unwrap().validate().is_err());
    }
}
