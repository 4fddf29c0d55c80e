//! Authentication mechanisms: SCRAM-SHA-256(-PLUS), MD5, channel binding.
//!
//! Everything here is pure computation on bytes; the client's startup state
//! machine moves the messages. Cleartext password authentication needs no
//! helper (the password is sent as is, NUL-terminated).

mod base64;
mod cert_hash;
mod der;
pub mod md5;
pub mod saslprep;
mod saslprep_tables;
pub mod scram;

pub use self::cert_hash::tls_server_end_point;
pub use self::md5::md5_password;
pub use self::scram::{ChannelBinding, ScramSha256};
