//! Small message bodies that are fully validated when parsed, so their
//! accessors cannot fail: CommandComplete, Copy*Response,
//! ParameterDescription and the SASL mechanism list.

use std::fmt;

use bytes::Bytes;

use super::reader::Reader;
use crate::error::{Error, Result};
use crate::protocol::Format;

/// The body of CommandComplete (`C`): a command tag such as `INSERT 0 3`.
#[derive(Clone, PartialEq, Eq)]
pub struct CommandCompleteBody {
    /// The tag without its NUL terminator; checked to be UTF-8 when parsed.
    tag: Bytes,
}

impl CommandCompleteBody {
    pub(crate) fn parse(mut body: Bytes) -> Result<CommandCompleteBody> {
        let tag = Reader::new(&body).cstr()?;
        if tag.len() + 1 != body.len() {
            return Err(Error::protocol("unexpected trailing bytes in CommandComplete"));
        }
        body.truncate(tag.len());
        Ok(CommandCompleteBody { tag: body })
    }

    /// The command tag, e.g. `"SELECT 5"`, `"INSERT 0 1"` or `"CREATE TABLE"`.
    ///
    /// Always `Ok` (the tag was validated when the message was parsed); the
    /// `Result` keeps callers uniform with the other body accessors.
    pub fn tag(&self) -> Result<&str> {
        std::str::from_utf8(&self.tag).map_err(|_| Error::protocol("invalid UTF-8 in command tag"))
    }

    /// The number of rows the command affected or returned: the tag's last
    /// word when it is a number (`INSERT 0 3` → 3, `SELECT 5` → 5), else `None`
    /// (`CREATE TABLE`, `BEGIN`).
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use edgepg_core::protocol::backend::{next_message, Message};
    /// let mut buf = BytesMut::from(&b"C\0\0\0\x0fINSERT 0 3\0"[..]);
    /// let Some(Message::CommandComplete(c)) = next_message(&mut buf, 1 << 20).unwrap() else { panic!() };
    /// assert_eq!(c.tag().unwrap(), "INSERT 0 3");
    /// assert_eq!(c.rows(), Some(3));
    /// ```
    pub fn rows(&self) -> Option<u64> {
        let tag = self.tag().ok()?;
        tag.rsplit(' ').next()?.parse().ok()
    }
}

impl fmt::Debug for CommandCompleteBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CommandCompleteBody").field(&self.tag().unwrap_or("<invalid>")).finish()
    }
}

fn format_code(code: i16) -> Result<Format> {
    match code {
        0 => Ok(Format::Text),
        1 => Ok(Format::Binary),
        _ => Err(Error::protocol(format!("invalid format code {code}"))),
    }
}

/// The body of CopyInResponse (`G`), CopyOutResponse (`H`) or
/// CopyBothResponse (`W`): the overall format and one format per column.
#[derive(Clone, PartialEq, Eq)]
pub struct CopyResponseBody {
    format: Format,
    /// The per-column format codes (2 bytes each, validated to be 0 or 1).
    columns: Bytes,
}

impl CopyResponseBody {
    pub(crate) fn parse(body: Bytes) -> Result<CopyResponseBody> {
        let mut r = Reader::new(&body);
        let format = format_code(r.u8()?.into())?;
        let count = r.i16()?;
        let count = usize::try_from(count).map_err(|_| Error::protocol("negative column count in copy response"))?;
        let columns = r.take(count * 2)?;
        r.finish()?;
        for c in columns.chunks_exact(2) {
            format_code(i16::from_be_bytes([c[0], c[1]]))?;
        }
        Ok(CopyResponseBody { format, columns: body.slice(3..) })
    }

    /// The overall COPY format: text (also CSV) or binary.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The number of columns being copied.
    pub fn len(&self) -> usize {
        self.columns.len() / 2
    }

    /// True when no columns are copied.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The format of each column (all text when the overall format is text).
    pub fn column_formats(&self) -> impl ExactSizeIterator<Item = Format> + '_ {
        self.columns.chunks_exact(2).map(|c| match i16::from_be_bytes([c[0], c[1]]) {
            1 => Format::Binary,
            _ => Format::Text,
        })
    }
}

impl fmt::Debug for CopyResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopyResponseBody")
            .field("format", &self.format)
            .field("column_formats", &self.column_formats().collect::<Vec<_>>())
            .finish()
    }
}

/// The body of ParameterDescription (`t`): the type OID of each parameter.
#[derive(Clone, PartialEq, Eq)]
pub struct ParameterDescriptionBody {
    /// 4 bytes per parameter, length checked when parsed.
    oids: Bytes,
}

impl ParameterDescriptionBody {
    pub(crate) fn parse(body: Bytes) -> Result<ParameterDescriptionBody> {
        let mut r = Reader::new(&body);
        // The server sends the count as a 16-bit int but allows up to 65535
        // parameters, so read it unsigned.
        let count = r.u16()?;
        r.take(usize::from(count) * 4)?;
        r.finish()?;
        Ok(ParameterDescriptionBody { oids: body.slice(2..) })
    }

    /// The number of parameters.
    pub fn len(&self) -> u16 {
        // At most 65535 * 4 bytes were accepted, so this cannot truncate.
        (self.oids.len() / 4) as u16
    }

    /// True for a statement without parameters.
    pub fn is_empty(&self) -> bool {
        self.oids.is_empty()
    }

    /// The parameter type OIDs in order.
    pub fn types(&self) -> impl ExactSizeIterator<Item = u32> + '_ {
        self.oids.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// The parameter type OIDs as a vector.
    pub fn to_vec(&self) -> Vec<u32> {
        self.types().collect()
    }
}

impl fmt::Debug for ParameterDescriptionBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ParameterDescriptionBody").field(&self.to_vec()).finish()
    }
}

/// The SASL mechanisms offered by AuthenticationSASL, e.g. `SCRAM-SHA-256`
/// and `SCRAM-SHA-256-PLUS`, in the server's order of preference.
#[derive(Clone, PartialEq, Eq)]
pub struct SaslMechanisms {
    /// NUL-terminated UTF-8 names, without the final empty name; validated.
    names: Bytes,
}

impl SaslMechanisms {
    pub(crate) fn parse(body: Bytes) -> Result<SaslMechanisms> {
        let mut r = Reader::new(&body);
        while !r.cstr()?.is_empty() {}
        r.finish()?;
        // Drop the empty name that ends the list.
        Ok(SaslMechanisms { names: body.slice(..body.len() - 1) })
    }

    /// Iterates the mechanism names.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use edgepg_core::protocol::backend::{next_message, Message};
    /// let mut buf = BytesMut::from(&b"R\0\0\0\x2a\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"[..]);
    /// let Some(Message::AuthenticationSasl(m)) = next_message(&mut buf, 1 << 20).unwrap() else { panic!() };
    /// assert_eq!(m.iter().collect::<Vec<_>>(), ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
    /// assert!(m.contains("SCRAM-SHA-256"));
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.names
            .split(|&b| b == 0)
            // The list ends with a NUL, so the last split piece is empty.
            .filter(|s| !s.is_empty())
            .map(|s| std::str::from_utf8(s).unwrap_or(""))
    }

    /// True if `mechanism` is offered.
    pub fn contains(&self, mechanism: &str) -> bool {
        self.iter().any(|m| m == mechanism)
    }
}

impl fmt::Debug for SaslMechanisms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static [u8]) -> Bytes {
        Bytes::from_static(s)
    }

    #[test]
    fn command_complete() {
        let c = CommandCompleteBody::parse(b(b"SELECT 12\0")).unwrap();
        assert_eq!(c.tag().unwrap(), "SELECT 12");
        assert_eq!(c.rows(), Some(12));
        assert_eq!(CommandCompleteBody::parse(b(b"CREATE TABLE\0")).unwrap().rows(), None);
        assert_eq!(CommandCompleteBody::parse(b(b"\0")).unwrap().rows(), None);
        assert!(CommandCompleteBody::parse(b(b"SELECT 1")).is_err(), "unterminated");
        assert!(CommandCompleteBody::parse(b(b"SELECT 1\0x")).is_err(), "trailing");
        assert!(CommandCompleteBody::parse(b(b"\xc3\0")).is_err(), "bad UTF-8");
    }

    #[test]
    fn copy_response() {
        let c = CopyResponseBody::parse(b(b"\x01\0\x02\0\x01\0\x01")).unwrap();
        assert_eq!(c.format(), Format::Binary);
        assert_eq!(c.len(), 2);
        assert_eq!(c.column_formats().collect::<Vec<_>>(), [Format::Binary, Format::Binary]);
        assert!(CopyResponseBody::parse(b(b"\x02\0\0")).is_err(), "bad overall format");
        assert!(CopyResponseBody::parse(b(b"\0\0\x01\0\x02")).is_err(), "bad column format");
        assert!(CopyResponseBody::parse(b(b"\0\0\x02\0\0")).is_err(), "count past end");
        assert!(CopyResponseBody::parse(b(b"\0\xff\xff")).is_err(), "negative count");
        assert!(CopyResponseBody::parse(b(b"\0\0\0\0")).is_err(), "trailing");
    }

    #[test]
    fn parameter_description() {
        let p = ParameterDescriptionBody::parse(b(b"\0\x02\0\0\0\x17\0\0\0\x19")).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.to_vec(), [23, 25]);
        assert!(ParameterDescriptionBody::parse(b(b"\0\x02\0\0\0\x17")).is_err());
        assert!(ParameterDescriptionBody::parse(b(b"\0\x01\0\0\0\x17\0")).is_err());
        assert!(ParameterDescriptionBody::parse(b(b"\0")).is_err());
    }

    #[test]
    fn sasl_mechanisms() {
        let m = SaslMechanisms::parse(b(b"SCRAM-SHA-256\0\0")).unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), ["SCRAM-SHA-256"]);
        assert!(!m.contains("SCRAM-SHA-256-PLUS"));
        assert_eq!(SaslMechanisms::parse(b(b"\0")).unwrap().iter().count(), 0);
        assert!(SaslMechanisms::parse(b(b"")).is_err());
        assert!(SaslMechanisms::parse(b(b"SCRAM\0")).is_err(), "no list terminator");
        assert!(SaslMechanisms::parse(b(b"A\0\0B")).is_err(), "trailing");
        assert!(SaslMechanisms::parse(b(b"\xff\0\0")).is_err(), "bad UTF-8");
    }
}
