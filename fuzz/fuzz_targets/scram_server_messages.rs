//! Feeds arbitrary server-first and server-final messages to the SCRAM
//! client. A hostile server must only ever cause an error, never a panic
//! (e.g. on a huge iteration count, bad base64 or a short nonce).
//!
//! Inputs asking for more than 999 PBKDF2 iterations are skipped: each one
//! would cost milliseconds of hashing and find nothing new (the iteration
//! limit itself is a unit test in `auth::scram`), and at 4096 iterations the
//! target could not reach millions of executions.
#![no_main]

use edgepg_core::auth::scram::{ChannelBinding, ScramSha256};
use libfuzzer_sys::fuzz_target;

/// Whether `msg` has an `i=` attribute with more than three digits.
pub fn costly(msg: &[u8]) -> bool {
    msg.windows(6).any(|w| w[0] == b'i' && w[1] == b'=' && w[2..].iter().all(u8::is_ascii_digit))
}

fuzz_target!(|data: &[u8]| {
    // First byte: where to split the rest into server-first / server-final.
    let Some((&split, rest)) = data.split_first() else { return };
    let split = usize::from(split).min(rest.len());
    let (server_first, server_final) = rest.split_at(split);
    if costly(server_first) {
        return;
    }

    // A fixed nonce keeps runs reproducible; the real nonce is random.
    let mut scram = ScramSha256::with_nonce(b"pencil", ChannelBinding::unsupported(), "fyko+d2lbbFgONRv9qkxdawL");
    if scram.update(server_first).is_ok() {
        let _ = scram.finish(server_final);
    }
});
