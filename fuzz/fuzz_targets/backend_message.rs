//! Feeds arbitrary bytes to the backend message parser and every body
//! accessor. Any panic is a bug: the parser must turn hostile bytes into
//! protocol errors.
#![no_main]

use bytes::BytesMut;
use edgepg_core::protocol::backend::{needed, next_message, Message};
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
                exercise(&msg);
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "an incomplete message consumed bytes");
                break;
            }
            Err(_) => break,
        }
    }
});

/// Calls every accessor; results are ignored, only panics matter.
fn exercise(msg: &Message) {
    let _ = format!("{msg:?}");
    let _ = (msg.tag(), msg.name());
    match msg {
        Message::AuthenticationSasl(m) => {
            let _ = m.iter().count();
            let _ = m.contains("SCRAM-SHA-256");
        }
        Message::CommandComplete(c) => {
            let _ = c.tag();
            let _ = c.rows();
        }
        Message::CopyInResponse(c) | Message::CopyOutResponse(c) | Message::CopyBothResponse(c) => {
            let _ = (c.format(), c.len(), c.column_formats().count());
        }
        Message::DataRow(row) => {
            let _ = row.validate();
            let buf = row.buffer();
            for r in row.ranges().flatten().flatten() {
                let _ = &buf[r];
            }
        }
        Message::ErrorResponse(f) | Message::NoticeResponse(f) => {
            let _ = f.iter().count();
            let _ = f.to_db_error();
        }
        Message::ParameterDescription(p) => {
            let _ = (p.len(), p.types().count(), p.to_vec());
        }
        Message::RowDescription(rd) => {
            let _ = rd.validate();
            let _ = rd.fields().count();
        }
        _ => {}
    }
}
