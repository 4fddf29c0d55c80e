//! PostgreSQL frontend/backend protocol 3.0 messages (sans-io).
pub mod backend;
pub mod frontend;

/// Whether an encoded value was SQL NULL (then nothing was written for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsNull {
    Yes,
    No,
}

/// Wire format of a value: text (0) or binary (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Text = 0,
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
