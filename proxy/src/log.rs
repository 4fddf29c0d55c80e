//! The proxy's log: one line per event on stderr.
//!
//! Nothing that could carry a secret is ever formatted here: connection
//! strings, passwords, request bodies and query texts are not logged; a
//! request is named by its route, the target `user@host:port/db` and the
//! outcome.

use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turns per-request lines on or off.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether per-request lines are on.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Logs a line always (startup, shutdown, failures of the proxy itself).
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { eprintln!("edgepg-proxy: {}", format_args!($($arg)*)) };
}

/// Logs a line when `--verbose` is on (one per request).
#[macro_export]
macro_rules! log_request {
    ($($arg:tt)*) => {
        if $crate::log::verbose() {
            eprintln!("edgepg-proxy: {}", format_args!($($arg)*));
        }
    };
}
