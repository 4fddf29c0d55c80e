//! A bounds-checked cursor over a message body.
//!
//! Every read returns a protocol error instead of panicking when the body is
//! shorter than the read, so parsers can be written as straight-line code.

use crate::error::{Error, Result};

/// Reads big-endian integers and C strings from a body, front to back.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn truncated() -> Error {
    Error::protocol("truncated message body")
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// A reader at offset `pos` of `buf` (clamped to its end).
    pub(crate) fn at(buf: &'a [u8], pos: usize) -> Reader<'a> {
        Reader { buf, pos: pos.min(buf.len()) }
    }

    /// Offset of the next unread byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Number of unread bytes.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len()).ok_or_else(truncated)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i16(&mut self) -> Result<i16> {
        self.array().map(i16::from_be_bytes)
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        self.array().map(i32::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// A NUL-terminated string (terminator consumed, not returned), as UTF-8.
    pub(crate) fn cstr(&mut self) -> Result<&'a str> {
        let rest = &self.buf[self.pos..];
        let n = memchr::memchr(0, rest).ok_or_else(|| Error::protocol("unterminated string in message body"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| Error::protocol("invalid UTF-8 in message body"))?;
        self.pos += n + 1;
        Ok(s)
    }

    /// Fails unless the whole body was consumed.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(Error::protocol("unexpected trailing bytes in message body"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let mut r = Reader::new(b"\x00\x01\xff\xff\xff\xfeab\0c");
        assert_eq!(r.i16().unwrap(), 1);
        assert_eq!(r.i32().unwrap(), -2);
        assert_eq!(r.cstr().unwrap(), "ab");
        assert!(r.finish().is_err());
        assert!(r.cstr().is_err(), "no terminator");
        assert!(r.i16().is_err());
        assert_eq!(r.u8().unwrap(), b'c');
        assert!(r.u8().is_err());
        r.finish().unwrap();
        assert!(Reader::new(b"\xff\0").cstr().is_err(), "bad UTF-8");
        assert!(Reader::new(b"ab").take(usize::MAX).is_err(), "no overflow");
    }
}
