//! # edgepg-core
//!
//! The runtime-agnostic heart of edgepg: PostgreSQL wire protocol, authentication,
//! type codecs, configuration, errors, and the client (connection, statements,
//! rows) written once and generic over a byte-stream transport and a tiny
//! runtime trait. It performs no I/O of its own and depends on no async runtime,
//! so it builds for native targets and for `wasm32-unknown-unknown` alike.
//!
//! Applications use the `edgepg` crate (native, tokio) or `edgepg-wasm`; both
//! re-export this crate's API.
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations)]
// On wasm32 (single-threaded) callbacks and connect functions may hold JS
// values, so the shared connection state is not Send + Sync there; its Arc
// is still right, as the code is the same on native targets, where it is.
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod protocol;
pub mod sqlstate;
pub mod types;

pub use error::{DbError, Error, ErrorKind, ErrorPosition, Result, Severity};
pub use sqlstate::SqlState;
