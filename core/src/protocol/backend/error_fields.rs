//! ErrorResponse (`E`) and NoticeResponse (`N`) bodies.

use std::fmt;

use bytes::Bytes;

use super::reader::Reader;
use crate::error::{DbError, Error, Result};

/// The fields of an ErrorResponse or NoticeResponse: a list of
/// `(field type, value)` pairs such as `(b'C', "23505")`, ended by a NUL.
///
/// Decoded lazily by [`iter`](Self::iter); [`to_db_error`](Self::to_db_error)
/// builds the full [`DbError`].
#[derive(Clone, PartialEq, Eq)]
pub struct ErrorFields {
    body: Bytes,
}

impl ErrorFields {
    /// Wraps a body; it must at least end with the terminating NUL.
    pub(crate) fn parse(body: Bytes) -> Result<ErrorFields> {
        if body.last() != Some(&0) {
            return Err(Error::protocol("error or notice response is not NUL-terminated"));
        }
        Ok(ErrorFields { body })
    }

    /// The raw body.
    pub fn buffer(&self) -> &Bytes {
        &self.body
    }

    /// The `(field type, value)` pairs in order. A malformed body (bad UTF-8,
    /// missing terminator, bytes after the terminator) yields one `Err` and
    /// then ends.
    pub fn iter(&self) -> ErrorFieldsIter<'_> {
        ErrorFieldsIter { reader: Reader::new(&self.body), done: false }
    }

    /// Builds a [`DbError`] from the fields (see [`DbError::from_fields`]).
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use edgepg_core::protocol::backend::{next_message, Message};
    /// let mut buf = BytesMut::from(&b"E\0\0\0\x22SERROR\0C42P01\0Mno such table\0\0"[..]);
    /// let Some(Message::ErrorResponse(f)) = next_message(&mut buf, 1 << 20).unwrap() else { panic!() };
    /// let db = f.to_db_error().unwrap();
    /// assert_eq!(db.code.code(), "42P01");
    /// assert_eq!(db.message, "no such table");
    /// ```
    pub fn to_db_error(&self) -> Result<DbError> {
        let fields = self.iter().collect::<Result<Vec<_>>>()?;
        DbError::from_fields(fields)
    }
}

impl<'a> IntoIterator for &'a ErrorFields {
    type Item = Result<(u8, &'a str)>;
    type IntoIter = ErrorFieldsIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Debug for ErrorFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for field in self.iter() {
            match field {
                Ok((ty, v)) => m.entry(&char::from(ty), &v),
                Err(_) => m.entry(&"<malformed>", &self.body.len()),
            };
        }
        m.finish()
    }
}

/// Iterator over the fields of an [`ErrorFields`].
#[derive(Debug, Clone)]
pub struct ErrorFieldsIter<'a> {
    reader: Reader<'a>,
    done: bool,
}

impl<'a> Iterator for ErrorFieldsIter<'a> {
    type Item = Result<(u8, &'a str)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match self.reader.u8() {
            Ok(0) => {
                self.done = true;
                return self.reader.finish().err().map(Err);
            }
            Ok(ty) => self.reader.cstr().map(|v| (ty, v)),
            Err(e) => Err(e),
        };
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real PostgreSQL 16 error for `SELECT * FROM nope`.
    const UNDEFINED_TABLE: &[u8] = b"SERROR\0VERROR\0C42P01\0Mrelation \"nope\" does not exist\0\
        P15\0Fparse_relation.c\0L1449\0RparserOpenTable\0\0";

    #[test]
    fn real_error() {
        let f = ErrorFields::parse(Bytes::from_static(UNDEFINED_TABLE)).unwrap();
        let pairs: Vec<_> = f.iter().map(Result::unwrap).collect();
        assert_eq!(pairs[0], (b'S', "ERROR"));
        assert_eq!(pairs.len(), 8);
        let db = f.to_db_error().unwrap();
        assert_eq!(db.code.code(), "42P01");
        assert_eq!(db.message, "relation \"nope\" does not exist");
        assert_eq!(db.position, Some(crate::ErrorPosition::Original(15)));
        assert_eq!(db.routine.as_deref(), Some("parserOpenTable"));
        assert!(format!("{f:?}").contains("'C': \"42P01\""));
    }

    #[test]
    fn malformed() {
        assert!(ErrorFields::parse(Bytes::from_static(b"")).is_err());
        assert!(ErrorFields::parse(Bytes::from_static(b"SERROR")).is_err());
        // Bad UTF-8.
        let f = ErrorFields::parse(Bytes::from_static(b"S\xff\0\0")).unwrap();
        assert!(f.iter().next().unwrap().is_err());
        assert!(f.to_db_error().is_err());
        // Value runs into the end (only the last NUL, no list terminator).
        let f = ErrorFields::parse(Bytes::from_static(b"SERROR\0")).unwrap();
        let v: Vec<_> = f.iter().collect();
        assert!(v[0].is_ok() && v[1].is_err() && v.len() == 2);
        // Bytes after the terminator.
        let f = ErrorFields::parse(Bytes::from_static(b"\0x\0")).unwrap();
        assert!(f.iter().next().unwrap().is_err());
        // Well-formed but missing fields: kept, with defaults for the rest.
        let f = ErrorFields::parse(Bytes::from_static(b"SERROR\0\0")).unwrap();
        assert_eq!(f.to_db_error().unwrap().code, crate::SqlState::INTERNAL_ERROR);
    }
}
