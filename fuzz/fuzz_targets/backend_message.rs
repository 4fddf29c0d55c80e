//! Feeds arbitrary bytes to the backend message parser and every body
//! accessor. Any panic is a bug: the parser must turn hostile bytes into
//! protocol errors.
#![no_main]

use bytes::BytesMut;
use edgepg_core::protocol::backend::{needed, next_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks a message size limit, so the limit check is
    // exercised too; the rest is the stream.
    let (max_size, stream) = match data.split_first() {
        Some((&b, rest)) if b < 16 => (usize::from(b) * 8, rest),
        Some((_, rest)) => (usize::MAX, rest),
        None => return,
    };
    let _ = needed(stream);
    let mut buf = BytesMut::from(stream);
    loop {
        let before = buf.len();
        match next_message(&mut buf, max_size) {
            Ok(Some(msg)) => {
                assert!(buf.len() < before, "parsing made no progress");
                edgepg_core::protocol::backend::exercise_accessors(&msg);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "an incomplete message consumed bytes");
                break;
            }
            Err(_) => break,
        }
    }
});
