//! COPY: bulk data in and out of tables, modelled on asyncpg's COPY methods.
//!
//! | method | statement | data |
//! |---|---|---|
//! | [`Connection::copy_records_to_table`] (+ `_stream`) | `COPY t FROM STDIN (FORMAT binary)` | typed records, encoded for the columns' types |
//! | [`Connection::copy_to_table`] (+ `_from_reader`, `_from_bytes`) | `COPY t FROM STDIN (options)` | bytes already in text/CSV/binary format |
//! | [`Connection::copy_from_table`] / [`Connection::copy_from_query`] (+ `_to_writer`) | `COPY … TO STDOUT (options)` | a [`CopyOutStream`] of byte chunks |
//!
//! Modules by concern: `options` (option struct and the SQL text, with
//! quoting), `encode` (binary/text record encoding, 64 KiB chunking),
//! `copy_in` and `copy_out` (the two directions).
//!
//! Both directions run in constant memory: data moves through bounded
//! channels between the caller and the connection's driver task, in large
//! CopyData messages. A COPY FROM that fails (bad source, bad value,
//! dropped future) is aborted with CopyFail, so no row lands and the
//! connection stays usable.
//!
//! [`Connection::copy_records_to_table`]: crate::client::Connection::copy_records_to_table
//! [`Connection::copy_to_table`]: crate::client::Connection::copy_to_table
//! [`Connection::copy_from_table`]: crate::client::Connection::copy_from_table
//! [`Connection::copy_from_query`]: crate::client::Connection::copy_from_query

pub(super) mod copy_in;
pub(super) mod copy_out;
mod encode;
mod options;

pub use copy_in::BoxError;
pub use copy_out::CopyOutStream;
pub use options::{CopyFormat, CopyOptions};
