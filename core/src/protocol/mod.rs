//! PostgreSQL frontend/backend protocol 3.0 messages (sans-io).
//!
//! * [`frontend`] encodes client messages into a caller's `BytesMut`; a failed
//!   encode leaves the buffer as it was.
//! * [`backend`] splits server messages off a receive buffer without copying
//!   and never panics on malformed input (see also `fuzz/` at the repository
//!   root).
//!
//! Neither does any I/O: the client decides when bytes are read and written.
pub mod backend;
pub mod frontend;

/// Whether an encoded value was SQL NULL (then nothing was written for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsNull {
    /// The value is NULL: its length is sent as -1 and no bytes follow.
    Yes,
    /// The value was written.
    No,
}

/// Wire format of a value: text (0) or binary (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Text representation (format code 0).
    Text = 0,
    /// Binary representation (format code 1).
    Binary = 1,
}

impl Format {
    /// The format code as sent on the wire.
    pub fn code(self) -> i16 {
        self as i16
    }
}

#[cfg(test)]
mod hostile_tests;
