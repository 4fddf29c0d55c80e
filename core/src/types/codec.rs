//! Small helpers shared by the binary codecs: fixed-size reads that return an
//! error (never panic) on short or long input.

use crate::{Error, Result};

/// `raw` as exactly `N` bytes, or an error naming `what`.
pub(crate) fn exact<const N: usize>(raw: &[u8], what: &str) -> Result<[u8; N]> {
    raw.try_into()
        .map_err(|_| Error::conversion(format!("invalid binary {what} value: expected {N} bytes, got {}", raw.len())))
}

/// A forward-only reader over a binary value; every read checks the length.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, what }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn truncated(&self) -> Error {
        Error::conversion(format!("invalid binary {} value: truncated", self.what))
    }

    // `bytes` and `array` are inlined even in the size-optimised wasm build:
    // every binary value goes through them; the error path stays out of line.
    #[inline(always)]
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(self.truncated());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    #[inline(always)]
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let b = self.bytes(N)?;
        b.try_into().map_err(|_| self.truncated())
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub(crate) fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Errors unless every byte was consumed (trailing garbage is invalid).
    pub(crate) fn finish(self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::conversion(format!(
                "invalid binary {} value: {} unexpected trailing bytes",
                self.what,
                self.buf.len()
            )))
        }
    }
}

/// `raw` as UTF-8, or a Conversion error.
pub(crate) fn utf8(raw: &[u8]) -> Result<&str> {
    std::str::from_utf8(raw).map_err(|e| Error::conversion(format!("invalid UTF-8 in a text value: {e}")))
}

/// A text-format value as a trimmed `str`, for the numeric parsers.
pub(crate) fn text(raw: &[u8]) -> Result<&str> {
    utf8(raw)
}
