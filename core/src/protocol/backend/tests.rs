//! Byte fixtures for every backend message, malformed input, and framing.

use bytes::{BufMut, Bytes, BytesMut};

use super::*;
use crate::error::ErrorKind;
use crate::protocol::Format;

const MAX: usize = DEFAULT_MAX_MESSAGE_SIZE;

/// Frames `body` as a message with `tag` (for fixtures where the body is
/// clearer on its own; most fixtures below are complete raw bytes).
fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Parses `bytes`, which must hold exactly one message.
fn one(bytes: &[u8]) -> Message {
    let mut buf = BytesMut::from(bytes);
    let m = next_message(&mut buf, MAX).unwrap().expect("complete message");
    assert!(buf.is_empty(), "message left {} bytes", buf.len());
    m
}

/// Parses `bytes` expecting a protocol error.
fn bad(bytes: &[u8]) -> Error {
    let mut buf = BytesMut::from(bytes);
    match next_message(&mut buf, MAX) {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Protocol);
            e
        }
        Ok(m) => panic!("expected an error for {bytes:?}, got {m:?}"),
    }
}

#[test]
fn authentication_messages() {
    assert_eq!(one(b"R\0\0\0\x08\0\0\0\0"), Message::AuthenticationOk);
    assert_eq!(one(b"R\0\0\0\x08\0\0\0\x02"), Message::AuthenticationKerberosV5);
    assert_eq!(one(b"R\0\0\0\x08\0\0\0\x03"), Message::AuthenticationCleartextPassword);
    assert_eq!(
        one(b"R\0\0\0\x0c\0\0\0\x05\x9a\x1b\x03\xf4"),
        Message::AuthenticationMd5Password { salt: [0x9a, 0x1b, 0x03, 0xf4] }
    );
    assert_eq!(one(b"R\0\0\0\x08\0\0\0\x07"), Message::AuthenticationGss);
    assert_eq!(one(b"R\0\0\0\x0b\0\0\0\x08tok"), Message::AuthenticationGssContinue(Bytes::from_static(b"tok")));
    assert_eq!(one(b"R\0\0\0\x08\0\0\0\x09"), Message::AuthenticationSspi);
    // PostgreSQL 16 offering SCRAM with and without channel binding.
    match one(b"R\0\0\0\x2a\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0") {
        Message::AuthenticationSasl(m) => {
            assert_eq!(m.iter().collect::<Vec<_>>(), ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"])
        }
        m => panic!("{m:?}"),
    }
    let first = b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    let mut b = b"\0\0\0\x0b".to_vec();
    b.extend_from_slice(first);
    assert_eq!(one(&frame(b'R', &b)), Message::AuthenticationSaslContinue(Bytes::from_static(first)));
    let fin = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    let mut b = b"\0\0\0\x0c".to_vec();
    b.extend_from_slice(fin);
    assert_eq!(one(&frame(b'R', &b)), Message::AuthenticationSaslFinal(Bytes::from_static(fin)));

    bad(b"R\0\0\0\x08\0\0\0\x01"); // unknown code
    bad(b"R\0\0\0\x06\0\0"); // truncated code
    bad(b"R\0\0\0\x09\0\0\0\0\0"); // AuthenticationOk with a body
    bad(b"R\0\0\0\x0b\0\0\0\x05abc"); // short salt
    bad(b"R\0\0\0\x0d\0\0\0\x05abcde"); // long salt
    bad(&frame(b'R', b"\0\0\0\x0aSCR")); // unterminated mechanism
    bad(&frame(b'R', b"\0\0\0\x0a\xff\0\0")); // bad UTF-8
}

#[test]
fn backend_key_data() {
    // Protocol 3.0: 4-byte secret.
    match one(b"K\0\0\0\x0c\0\0\x30\x39\xde\xad\xbe\xef") {
        Message::BackendKeyData { process_id, secret_key } => {
            assert_eq!(process_id, 12345);
            assert_eq!(&secret_key[..], b"\xde\xad\xbe\xef");
        }
        m => panic!("{m:?}"),
    }
    // Protocol 3.2: 32-byte secret.
    let secret: Vec<u8> = (0u8..32).collect();
    let mut body = 777i32.to_be_bytes().to_vec();
    body.extend_from_slice(&secret);
    match one(&frame(b'K', &body)) {
        Message::BackendKeyData { process_id, secret_key } => {
            assert_eq!(process_id, 777);
            assert_eq!(&secret_key[..], &secret[..]);
        }
        m => panic!("{m:?}"),
    }
    bad(b"K\0\0\0\x0b\0\0\x30\x39\xde\xad\xbe"); // 3-byte secret
    let mut body = 1i32.to_be_bytes().to_vec();
    body.extend_from_slice(&[7; 257]);
    bad(&frame(b'K', &body)); // 257-byte secret
    body.pop();
    assert!(matches!(one(&frame(b'K', &body)), Message::BackendKeyData { .. }));
    // The secret is not shown by Debug.
    let dbg = format!("{:?}", one(b"K\0\0\0\x0c\0\0\x30\x39\xde\xad\xbe\xef"));
    assert_eq!(dbg, "BackendKeyData { process_id: 12345, .. }");
}

#[test]
fn empty_messages() {
    assert_eq!(one(b"2\0\0\0\x04"), Message::BindComplete);
    assert_eq!(one(b"3\0\0\0\x04"), Message::CloseComplete);
    assert_eq!(one(b"1\0\0\0\x04"), Message::ParseComplete);
    assert_eq!(one(b"n\0\0\0\x04"), Message::NoData);
    assert_eq!(one(b"I\0\0\0\x04"), Message::EmptyQueryResponse);
    assert_eq!(one(b"s\0\0\0\x04"), Message::PortalSuspended);
    assert_eq!(one(b"c\0\0\0\x04"), Message::CopyDone);
    for t in [b'2', b'3', b'1', b'n', b'I', b's', b'c'] {
        bad(&frame(t, b"x"));
    }
}

#[test]
fn command_complete() {
    match one(b"C\0\0\0\x0dSELECT 1\0") {
        Message::CommandComplete(c) => {
            assert_eq!(c.tag().unwrap(), "SELECT 1");
            assert_eq!(c.rows(), Some(1));
        }
        m => panic!("{m:?}"),
    }
    let m = one(b"C\0\0\0\x0fINSERT 0 5\0");
    assert!(matches!(m, Message::CommandComplete(ref c) if c.rows() == Some(5)), "{m:?}");
    bad(b"C\0\0\0\x0cSELECT 1"); // unterminated
    bad(b"C\0\0\0\x06\xc3\0"); // bad UTF-8
}

#[test]
fn copy_messages() {
    assert_eq!(one(b"d\0\0\0\x0a1\tone\n"), Message::CopyData(Bytes::from_static(b"1\tone\n")));
    assert_eq!(format!("{:?}", one(b"d\0\0\0\x0a1\tone\n")), "CopyData(<6 bytes>)");
    // COPY t TO STDOUT on a 2-column table, text format.
    match one(b"H\0\0\0\x0b\0\0\x02\0\0\0\0") {
        Message::CopyOutResponse(c) => {
            assert_eq!(c.format(), Format::Text);
            assert_eq!(c.column_formats().collect::<Vec<_>>(), [Format::Text, Format::Text]);
        }
        m => panic!("{m:?}"),
    }
    // COPY t FROM STDIN (FORMAT binary) on a 1-column table.
    match one(b"G\0\0\0\x09\x01\0\x01\0\x01") {
        Message::CopyInResponse(c) => {
            assert_eq!(c.format(), Format::Binary);
            assert_eq!(c.len(), 1);
        }
        m => panic!("{m:?}"),
    }
    assert!(matches!(one(b"W\0\0\0\x07\0\0\0"), Message::CopyBothResponse(ref c) if c.is_empty()));
    bad(b"H\0\0\0\x0b\0\0\x03\0\0\0\0"); // count past end
    bad(b"G\0\0\0\x07\x05\0\0"); // bad format
}

#[test]
fn data_row() {
    // `SELECT 1 AS a, NULL AS b` in text format.
    match one(b"D\0\0\0\x0f\0\x02\0\0\0\x011\xff\xff\xff\xff") {
        Message::DataRow(row) => {
            assert_eq!(row.len(), 2);
            row.validate().unwrap();
            let r: Vec<_> = row.ranges().map(Result::unwrap).collect();
            assert_eq!(r, [Some(6..7), None]);
            assert_eq!(&row.buffer()[6..7], b"1");
        }
        m => panic!("{m:?}"),
    }
    // Column length past the end: the message parses, validation fails.
    match one(b"D\0\0\0\x0b\0\x01\0\0\0\x09a") {
        Message::DataRow(row) => assert_eq!(row.validate().unwrap_err().kind(), ErrorKind::Protocol),
        m => panic!("{m:?}"),
    }
    bad(b"D\0\0\0\x05\0"); // no column count
}

#[test]
fn error_and_notice() {
    let body = b"SERROR\0VERROR\0C23505\0Mduplicate key value violates unique constraint \"t_pkey\"\0\
        DKey (id)=(1) already exists.\0st\0tt\0nt_pkey\0Fnbtinsert.c\0L664\0R_bt_check_unique\0\0";
    match one(&frame(b'E', body)) {
        Message::ErrorResponse(f) => {
            let db = f.to_db_error().unwrap();
            assert_eq!(db.code, crate::SqlState::UNIQUE_VIOLATION);
            assert_eq!(db.detail.as_deref(), Some("Key (id)=(1) already exists."));
            assert_eq!(db.constraint.as_deref(), Some("t_pkey"));
        }
        m => panic!("{m:?}"),
    }
    let notice = b"SNOTICE\0VNOTICE\0C00000\0Mtable \"x\" does not exist, skipping\0\0";
    match one(&frame(b'N', notice)) {
        Message::NoticeResponse(f) => {
            assert_eq!(f.iter().nth(3).unwrap().unwrap(), (b'M', "table \"x\" does not exist, skipping"));
            assert_eq!(f.to_db_error().unwrap().severity, "NOTICE");
        }
        m => panic!("{m:?}"),
    }
    bad(&frame(b'E', b"SERROR")); // unterminated
    bad(b"E\0\0\0\x04"); // empty body
}

#[test]
fn function_call_response() {
    assert_eq!(one(b"V\0\0\0\x0a\0\0\0\x02hi"), Message::FunctionCallResponse(Some(Bytes::from_static(b"hi"))));
    assert_eq!(one(b"V\0\0\0\x08\xff\xff\xff\xff"), Message::FunctionCallResponse(None));
    bad(b"V\0\0\0\x0a\0\0\0\x03hi");
    bad(b"V\0\0\0\x08\xff\xff\xff\xfe");
}

#[test]
fn notification() {
    match one(b"A\0\0\0\x15\0\0\x04\xd2events\0hello\0") {
        Message::NotificationResponse { process_id, channel, payload } => {
            assert_eq!((process_id, channel.as_str(), payload.as_str()), (1234, "events", "hello"));
        }
        m => panic!("{m:?}"),
    }
    bad(b"A\0\0\0\x0f\0\0\x04\xd2events\0"); // no payload
    bad(&frame(b'A', b"\0\0\x04\xd2ev\xffnts\0\0")); // bad UTF-8
}

#[test]
fn parameter_description_and_status() {
    // `SELECT $1::int4, $2::text`
    match one(b"t\0\0\0\x0e\0\x02\0\0\0\x17\0\0\0\x19") {
        Message::ParameterDescription(p) => {
            assert_eq!(p.len(), 2);
            assert_eq!(p.types().collect::<Vec<_>>(), [23, 25]);
        }
        m => panic!("{m:?}"),
    }
    bad(b"t\0\0\0\x0e\0\x03\0\0\0\x17\0\0\0\x19");
    assert_eq!(
        one(b"S\0\0\0\x19client_encoding\0UTF8\0"),
        Message::ParameterStatus { name: "client_encoding".into(), value: "UTF8".into() }
    );
    bad(b"S\0\0\0\x14client_encoding\0"); // no value
    bad(b"S\0\0\0\x09a\0b\0c"); // trailing
    bad(&frame(b'S', b"a\0\xe2\x82\0")); // bad UTF-8
}

#[test]
fn ready_for_query() {
    for (b, s) in
        [(b'I', TransactionStatus::Idle), (b'T', TransactionStatus::InTransaction), (b'E', TransactionStatus::Failed)]
    {
        assert_eq!(one(&frame(b'Z', &[b])), Message::ReadyForQuery { status: s });
        assert_eq!(s.as_byte(), b);
    }
    bad(b"Z\0\0\0\x05X");
    bad(b"Z\0\0\0\x04");
    bad(b"Z\0\0\0\x06II");
}

#[test]
fn row_description() {
    // `SELECT 1 AS a` from PostgreSQL.
    match one(b"T\0\0\0\x1a\0\x01a\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0") {
        Message::RowDescription(rd) => {
            assert_eq!(rd.len(), 1);
            let f = rd.fields().next().unwrap().unwrap();
            assert_eq!(
                f,
                FieldDescription {
                    name: "a",
                    table_oid: 0,
                    column_id: 0,
                    type_oid: 23,
                    type_size: 4,
                    type_modifier: -1,
                    format: 0
                }
            );
        }
        m => panic!("{m:?}"),
    }
    // Field count larger than the body.
    bad(b"T\0\0\0\x1a\0\x09a\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0");
}

#[test]
fn negotiate_protocol_version() {
    // Server supports 3.0 only and did not recognize one `_pq_` option.
    match one(b"v\0\0\0\x1d\0\0\0\0\0\0\0\x01_pq_.compression\0") {
        Message::NegotiateProtocolVersion { newest_minor, unrecognized } => {
            assert_eq!(newest_minor, 0);
            assert_eq!(unrecognized, ["_pq_.compression"]);
        }
        m => panic!("{m:?}"),
    }
    assert_eq!(
        one(b"v\0\0\0\x0c\0\0\0\x02\0\0\0\0"),
        Message::NegotiateProtocolVersion { newest_minor: 2, unrecognized: vec![] }
    );
    // A huge count does not allocate; it fails on the missing names.
    bad(b"v\0\0\0\x0c\0\0\0\0\x7f\xff\xff\xff");
    bad(b"v\0\0\0\x0c\0\0\0\0\xff\xff\xff\xff");
}

#[test]
fn bad_headers() {
    let e = bad(b"Q\0\0\0\x04");
    assert!(e.message().contains("unknown message type"), "{e}");
    bad(b"\0\0\0\0\x04");
    bad(b"Z\0\0\0\x03I");
    bad(b"Z\xff\xff\xff\xffI");
    bad(b"Z\x80\0\0\0");
    // Over the caller's limit, decided from the header alone.
    let mut buf = BytesMut::from(&b"D\0\0\x10\0"[..]);
    let e = next_message(&mut buf, 1024).unwrap_err();
    assert!(e.message().contains("exceeds"), "{e}");
    assert_eq!(buf.len(), 5, "a header error consumes nothing");
    // Exactly at the limit is fine.
    let mut buf = BytesMut::from(&b"Z\0\0\0\x05I"[..]);
    assert!(next_message(&mut buf, 5).unwrap().is_some());
    // An unknown tag is rejected before its body arrives.
    let mut buf = BytesMut::from(&b"x\0\0\x10\0"[..]);
    assert!(next_message(&mut buf, MAX).is_err());
}

#[test]
fn huge_length_reserves_nothing() {
    let mut buf = BytesMut::with_capacity(16);
    buf.put_slice(b"D\x3f\xff\xff\xff");
    let cap = buf.capacity();
    assert!(next_message(&mut buf, MAX).unwrap().is_none());
    assert_eq!(buf.capacity(), cap);
    assert_eq!(needed(&buf), Some(0x3fff_ffff + 1 - 5));
}

#[test]
fn three_messages_in_one_buffer() {
    let mut buf = BytesMut::new();
    buf.put_slice(b"1\0\0\0\x04");
    buf.put_slice(b"C\0\0\0\x0dSELECT 1\0");
    buf.put_slice(b"Z\0\0\0\x05I");
    assert_eq!(next_message(&mut buf, MAX).unwrap(), Some(Message::ParseComplete));
    assert!(matches!(next_message(&mut buf, MAX).unwrap(), Some(Message::CommandComplete(_))));
    assert_eq!(next_message(&mut buf, MAX).unwrap(), Some(Message::ReadyForQuery { status: TransactionStatus::Idle }));
    assert_eq!(next_message(&mut buf, MAX).unwrap(), None);
    assert!(buf.is_empty());
}

#[test]
fn byte_by_byte() {
    let wire = b"D\0\0\0\x0f\0\x02\0\0\0\x011\xff\xff\xff\xff";
    let mut buf = BytesMut::new();
    for (i, &b) in wire.iter().enumerate() {
        assert_eq!(next_message(&mut buf, MAX).unwrap(), None, "complete after {i} bytes?");
        assert_eq!(buf.len(), i, "nothing consumed");
        if i >= HEADER_LEN {
            assert_eq!(needed(&buf), Some(wire.len() - i));
        } else {
            assert_eq!(needed(&buf), None);
        }
        buf.put_u8(b);
    }
    assert!(matches!(next_message(&mut buf, MAX).unwrap(), Some(Message::DataRow(_))));
    assert!(buf.is_empty());
}

#[test]
fn tag_and_name() {
    let m = one(b"Z\0\0\0\x05T");
    assert_eq!(m.tag(), b'Z');
    assert_eq!(m.name(), "ReadyForQuery");
    assert_eq!(format!("{m:?}"), "ReadyForQuery { status: InTransaction }");
    assert_eq!(format!("{:?}", Message::NoData), "NoData");
    let dbg = format!("{:?}", one(b"R\0\0\0\x0c\0\0\0\x05\x9a\x1b\x03\xf4"));
    assert!(!dbg.contains("154"), "salt is not shown: {dbg}");
}
