//! SQLSTATE codes. (Placeholder: the full list is generated from PostgreSQL's errcodes.txt.)
use std::fmt;

/// A five-character SQLSTATE code, e.g. `23505`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlState([u8; 5]);

impl SqlState {
    pub const INTERNAL_ERROR: SqlState = SqlState(*b"XX000");
    pub const UNIQUE_VIOLATION: SqlState = SqlState(*b"23505");
    pub const INVALID_PASSWORD: SqlState = SqlState(*b"28P01");

    /// Parses a code; `None` unless it is exactly five ASCII digits or upper-case letters.
    pub fn from_code(s: &str) -> Option<SqlState> {
        let b = s.as_bytes();
        if b.len() != 5 || !b.iter().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            return None;
        }
        Some(SqlState([b[0], b[1], b[2], b[3], b[4]]))
    }
    /// The code as a string.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XX000")
    }
    /// The two-character class, e.g. `"23"`.
    pub fn class(&self) -> &str {
        &self.code()[..2]
    }
}
impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.code()) }
}
impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { write!(f, "SqlState({})", self.code()) }
}
