//! Parsing of backend (server → client) messages of protocol 3.0 (and the
//! parts of 3.2 a 3.0 client can meet: longer cancel keys,
//! NegotiateProtocolVersion).
//!
//! [`next_message`] splits one complete message off the front of a receive
//! buffer and returns it as a [`Message`] whose bodies share the buffer's
//! memory (`Bytes`), so rows are never copied. Everything that arrives from the
//! network is checked: a malformed message is a protocol error, never a panic,
//! and no memory is reserved on the strength of a length the server announced.
//!
//! Small bodies are validated completely when parsed. Bodies that can be large
//! ([`DataRowBody`], [`RowDescriptionBody`], [`ErrorFields`]) are checked
//! cheaply up front and decoded lazily by accessors that return `Result`.
//!
//! ```
//! use bytes::BytesMut;
//! use edgepg_core::protocol::backend::{next_message, Message, TransactionStatus};
//!
//! let mut buf = BytesMut::from(&b"Z\0\0\0\x05I"[..]);
//! let msg = next_message(&mut buf, 1 << 20).unwrap();
//! assert!(matches!(msg, Some(Message::ReadyForQuery { status: TransactionStatus::Idle })));
//! assert!(buf.is_empty());
//! assert!(next_message(&mut buf, 1 << 20).unwrap().is_none());
//! ```

mod bodies;
mod data_row;
mod error_fields;
mod reader;
mod row_description;

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

pub use self::bodies::{CommandCompleteBody, CopyResponseBody, ParameterDescriptionBody, SaslMechanisms};
pub use self::data_row::{DataRowBody, DataRowRanges};
pub use self::error_fields::{ErrorFields, ErrorFieldsIter};
use self::reader::Reader;
pub use self::row_description::{FieldDescription, Fields, RowDescriptionBody};
use crate::error::{Error, Result};

/// Default limit for one message (the length field, i.e. the message without
/// its tag byte): 1 GiB, PostgreSQL's own maximum field size.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 30;

/// Size of a message header: the tag byte and the 4-byte length.
pub const HEADER_LEN: usize = 5;

/// Smallest and largest cancel key a server may send (4 in 3.0, up to 256 in 3.2).
const CANCEL_KEY_LEN: std::ops::RangeInclusive<usize> = 4..=256;

/// Message type bytes sent by the server.
pub mod tag {
    #![allow(missing_docs)]
    pub const AUTHENTICATION: u8 = b'R';
    pub const BACKEND_KEY_DATA: u8 = b'K';
    pub const BIND_COMPLETE: u8 = b'2';
    pub const CLOSE_COMPLETE: u8 = b'3';
    pub const COMMAND_COMPLETE: u8 = b'C';
    pub const COPY_DATA: u8 = b'd';
    pub const COPY_DONE: u8 = b'c';
    pub const COPY_IN_RESPONSE: u8 = b'G';
    pub const COPY_OUT_RESPONSE: u8 = b'H';
    pub const COPY_BOTH_RESPONSE: u8 = b'W';
    pub const DATA_ROW: u8 = b'D';
    pub const EMPTY_QUERY_RESPONSE: u8 = b'I';
    pub const ERROR_RESPONSE: u8 = b'E';
    pub const FUNCTION_CALL_RESPONSE: u8 = b'V';
    pub const NEGOTIATE_PROTOCOL_VERSION: u8 = b'v';
    pub const NO_DATA: u8 = b'n';
    pub const NOTICE_RESPONSE: u8 = b'N';
    pub const NOTIFICATION_RESPONSE: u8 = b'A';
    pub const PARAMETER_DESCRIPTION: u8 = b't';
    pub const PARAMETER_STATUS: u8 = b'S';
    pub const PARSE_COMPLETE: u8 = b'1';
    pub const PORTAL_SUSPENDED: u8 = b's';
    pub const READY_FOR_QUERY: u8 = b'Z';
    pub const ROW_DESCRIPTION: u8 = b'T';

    /// True for every tag [`next_message`](super::next_message) understands.
    pub fn is_known(tag: u8) -> bool {
        matches!(
            tag,
            b'R' | b'K'
                | b'2'
                | b'3'
                | b'C'
                | b'd'
                | b'c'
                | b'G'
                | b'H'
                | b'W'
                | b'D'
                | b'I'
                | b'E'
                | b'V'
                | b'v'
                | b'n'
                | b'N'
                | b'A'
                | b't'
                | b'S'
                | b'1'
                | b's'
                | b'Z'
                | b'T'
        )
    }
}

/// The transaction state reported by ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// `I`: not in a transaction block.
    Idle,
    /// `T`: in a transaction block.
    InTransaction,
    /// `E`: in a failed transaction block (queries are rejected until it ends).
    Failed,
}

impl TransactionStatus {
    /// Parses the status byte of ReadyForQuery.
    pub fn from_byte(b: u8) -> Result<TransactionStatus> {
        match b {
            b'I' => Ok(TransactionStatus::Idle),
            b'T' => Ok(TransactionStatus::InTransaction),
            b'E' => Ok(TransactionStatus::Failed),
            _ => Err(Error::protocol(format!("invalid transaction status {b:#04x} in ReadyForQuery"))),
        }
    }

    /// The status byte as sent on the wire.
    pub fn as_byte(self) -> u8 {
        match self {
            TransactionStatus::Idle => b'I',
            TransactionStatus::InTransaction => b'T',
            TransactionStatus::Failed => b'E',
        }
    }
}

/// One message from the server.
///
/// Byte payloads are `Bytes` slices of the receive buffer (no copy). `Debug`
/// prints the length of byte payloads, not their content.
#[derive(Clone, PartialEq, Eq)]
pub enum Message {
    /// Authentication succeeded (`R`, code 0).
    AuthenticationOk,
    /// Kerberos V5 is required (`R`, code 2); no longer supported by PostgreSQL.
    AuthenticationKerberosV5,
    /// A cleartext password is required (`R`, code 3).
    AuthenticationCleartextPassword,
    /// An MD5-hashed password with this salt is required (`R`, code 5).
    AuthenticationMd5Password {
        /// Salt for `md5(md5(password || user) || salt)`.
        salt: [u8; 4],
    },
    /// GSSAPI authentication is required (`R`, code 7).
    AuthenticationGss,
    /// GSSAPI or SSPI continuation data (`R`, code 8).
    AuthenticationGssContinue(Bytes),
    /// SSPI authentication is required (`R`, code 9).
    AuthenticationSspi,
    /// SASL authentication with one of these mechanisms is required (`R`, code 10).
    AuthenticationSasl(SaslMechanisms),
    /// A SASL challenge, e.g. the SCRAM server-first message (`R`, code 11).
    AuthenticationSaslContinue(Bytes),
    /// The SASL outcome, e.g. the SCRAM server-final message (`R`, code 12).
    AuthenticationSaslFinal(Bytes),
    /// The key for cancelling queries of this session (`K`).
    BackendKeyData {
        /// Process ID of the backend.
        process_id: i32,
        /// The secret: 4 bytes in protocol 3.0, 4 to 256 bytes in 3.2.
        secret_key: Bytes,
    },
    /// `2`: Bind succeeded.
    BindComplete,
    /// `3`: Close succeeded.
    CloseComplete,
    /// `1`: Parse succeeded.
    ParseComplete,
    /// `n`: the described statement or portal returns no rows.
    NoData,
    /// `I`: the query string was empty.
    EmptyQueryResponse,
    /// `s`: Execute stopped at its row limit; the portal can be resumed.
    PortalSuspended,
    /// `c`: the server finished sending COPY data.
    CopyDone,
    /// `C`: a command finished; see [`CommandCompleteBody::rows`].
    CommandComplete(CommandCompleteBody),
    /// `d`: a chunk of COPY data.
    CopyData(Bytes),
    /// `G`: the server is ready for COPY FROM STDIN data.
    CopyInResponse(CopyResponseBody),
    /// `H`: the server will send COPY TO STDOUT data.
    CopyOutResponse(CopyResponseBody),
    /// `W`: bidirectional COPY (streaming replication).
    CopyBothResponse(CopyResponseBody),
    /// `D`: one result row.
    DataRow(DataRowBody),
    /// `E`: the server reports an error.
    ErrorResponse(ErrorFields),
    /// `N`: the server reports a notice or warning.
    NoticeResponse(ErrorFields),
    /// `V`: the result of a FunctionCall (`None` for NULL).
    FunctionCallResponse(Option<Bytes>),
    /// `A`: a NOTIFY on a channel this session listens to.
    ///
    /// Channel and payload are owned `String`s: notifications are rare and
    /// usually handed to another task, where a borrowed form would not help.
    NotificationResponse {
        /// Process ID of the notifying backend.
        process_id: i32,
        /// The channel name.
        channel: String,
        /// The payload (empty if none was given).
        payload: String,
    },
    /// `t`: the parameter types of a described statement.
    ParameterDescription(ParameterDescriptionBody),
    /// `S`: a run-time parameter's current value (e.g. `client_encoding`).
    ParameterStatus {
        /// Parameter name.
        name: String,
        /// Its value.
        value: String,
    },
    /// `Z`: the server is ready for a new query.
    ReadyForQuery {
        /// The transaction state.
        status: TransactionStatus,
    },
    /// `T`: the columns of the rows that follow (or of a described statement).
    RowDescription(RowDescriptionBody),
    /// `v`: the server does not support the requested minor protocol version
    /// or some `_pq_.` startup options.
    NegotiateProtocolVersion {
        /// Newest minor protocol version the server supports.
        newest_minor: i32,
        /// Protocol options the server did not recognize.
        unrecognized: Vec<String>,
    },
}

impl Message {
    /// The message's type byte, e.g. `b'Z'` for ReadyForQuery.
    pub fn tag(&self) -> u8 {
        match self {
            Message::AuthenticationOk
            | Message::AuthenticationKerberosV5
            | Message::AuthenticationCleartextPassword
            | Message::AuthenticationMd5Password { .. }
            | Message::AuthenticationGss
            | Message::AuthenticationGssContinue(_)
            | Message::AuthenticationSspi
            | Message::AuthenticationSasl(_)
            | Message::AuthenticationSaslContinue(_)
            | Message::AuthenticationSaslFinal(_) => tag::AUTHENTICATION,
            Message::BackendKeyData { .. } => tag::BACKEND_KEY_DATA,
            Message::BindComplete => tag::BIND_COMPLETE,
            Message::CloseComplete => tag::CLOSE_COMPLETE,
            Message::ParseComplete => tag::PARSE_COMPLETE,
            Message::NoData => tag::NO_DATA,
            Message::EmptyQueryResponse => tag::EMPTY_QUERY_RESPONSE,
            Message::PortalSuspended => tag::PORTAL_SUSPENDED,
            Message::CopyDone => tag::COPY_DONE,
            Message::CommandComplete(_) => tag::COMMAND_COMPLETE,
            Message::CopyData(_) => tag::COPY_DATA,
            Message::CopyInResponse(_) => tag::COPY_IN_RESPONSE,
            Message::CopyOutResponse(_) => tag::COPY_OUT_RESPONSE,
            Message::CopyBothResponse(_) => tag::COPY_BOTH_RESPONSE,
            Message::DataRow(_) => tag::DATA_ROW,
            Message::ErrorResponse(_) => tag::ERROR_RESPONSE,
            Message::NoticeResponse(_) => tag::NOTICE_RESPONSE,
            Message::FunctionCallResponse(_) => tag::FUNCTION_CALL_RESPONSE,
            Message::NotificationResponse { .. } => tag::NOTIFICATION_RESPONSE,
            Message::ParameterDescription(_) => tag::PARAMETER_DESCRIPTION,
            Message::ParameterStatus { .. } => tag::PARAMETER_STATUS,
            Message::ReadyForQuery { .. } => tag::READY_FOR_QUERY,
            Message::RowDescription(_) => tag::ROW_DESCRIPTION,
            Message::NegotiateProtocolVersion { .. } => tag::NEGOTIATE_PROTOCOL_VERSION,
        }
    }

    /// The message's name as in the PostgreSQL docs, for error messages such
    /// as "unexpected DataRow".
    pub fn name(&self) -> &'static str {
        match self {
            Message::AuthenticationOk => "AuthenticationOk",
            Message::AuthenticationKerberosV5 => "AuthenticationKerberosV5",
            Message::AuthenticationCleartextPassword => "AuthenticationCleartextPassword",
            Message::AuthenticationMd5Password { .. } => "AuthenticationMD5Password",
            Message::AuthenticationGss => "AuthenticationGSS",
            Message::AuthenticationGssContinue(_) => "AuthenticationGSSContinue",
            Message::AuthenticationSspi => "AuthenticationSSPI",
            Message::AuthenticationSasl(_) => "AuthenticationSASL",
            Message::AuthenticationSaslContinue(_) => "AuthenticationSASLContinue",
            Message::AuthenticationSaslFinal(_) => "AuthenticationSASLFinal",
            Message::BackendKeyData { .. } => "BackendKeyData",
            Message::BindComplete => "BindComplete",
            Message::CloseComplete => "CloseComplete",
            Message::ParseComplete => "ParseComplete",
            Message::NoData => "NoData",
            Message::EmptyQueryResponse => "EmptyQueryResponse",
            Message::PortalSuspended => "PortalSuspended",
            Message::CopyDone => "CopyDone",
            Message::CommandComplete(_) => "CommandComplete",
            Message::CopyData(_) => "CopyData",
            Message::CopyInResponse(_) => "CopyInResponse",
            Message::CopyOutResponse(_) => "CopyOutResponse",
            Message::CopyBothResponse(_) => "CopyBothResponse",
            Message::DataRow(_) => "DataRow",
            Message::ErrorResponse(_) => "ErrorResponse",
            Message::NoticeResponse(_) => "NoticeResponse",
            Message::FunctionCallResponse(_) => "FunctionCallResponse",
            Message::NotificationResponse { .. } => "NotificationResponse",
            Message::ParameterDescription(_) => "ParameterDescription",
            Message::ParameterStatus { .. } => "ParameterStatus",
            Message::ReadyForQuery { .. } => "ReadyForQuery",
            Message::RowDescription(_) => "RowDescription",
            Message::NegotiateProtocolVersion { .. } => "NegotiateProtocolVersion",
        }
    }
}

/// Shows byte payloads by length only: they can be large, and SASL payloads
/// are authentication material.
struct Len(usize);

impl fmt::Debug for Len {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match self {
            Message::AuthenticationMd5Password { .. } => f.debug_struct(name).finish_non_exhaustive(),
            Message::AuthenticationGssContinue(b)
            | Message::AuthenticationSaslContinue(b)
            | Message::AuthenticationSaslFinal(b)
            | Message::CopyData(b) => f.debug_tuple(name).field(&Len(b.len())).finish(),
            Message::AuthenticationSasl(m) => f.debug_tuple(name).field(m).finish(),
            Message::BackendKeyData { process_id, .. } => {
                f.debug_struct(name).field("process_id", process_id).finish_non_exhaustive()
            }
            Message::CommandComplete(b) => f.debug_tuple(name).field(b).finish(),
            Message::CopyInResponse(b) | Message::CopyOutResponse(b) | Message::CopyBothResponse(b) => {
                f.debug_tuple(name).field(b).finish()
            }
            Message::DataRow(b) => f.debug_tuple(name).field(b).finish(),
            Message::ErrorResponse(b) | Message::NoticeResponse(b) => f.debug_tuple(name).field(b).finish(),
            Message::FunctionCallResponse(b) => f.debug_tuple(name).field(&b.as_ref().map(|b| Len(b.len()))).finish(),
            Message::NotificationResponse { process_id, channel, payload } => f
                .debug_struct(name)
                .field("process_id", process_id)
                .field("channel", channel)
                .field("payload", payload)
                .finish(),
            Message::ParameterDescription(b) => f.debug_tuple(name).field(b).finish(),
            Message::ParameterStatus { name: n, value } => {
                f.debug_struct(name).field("name", n).field("value", value).finish()
            }
            Message::ReadyForQuery { status } => f.debug_struct(name).field("status", status).finish(),
            Message::RowDescription(b) => f.debug_tuple(name).field(b).finish(),
            Message::NegotiateProtocolVersion { newest_minor, unrecognized } => {
                f.debug_struct(name).field("newest_minor", newest_minor).field("unrecognized", unrecognized).finish()
            }
            _ => f.write_str(name),
        }
    }
}

/// Reads and checks the header at the front of `buf`: `Ok(None)` if fewer
/// than 5 bytes are there, else the tag and the total size (tag included).
fn header(buf: &[u8], max_size: usize) -> Result<Option<(u8, usize)>> {
    let Some(&[tag, a, b, c, d]) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    // Reject garbage as early as possible, before waiting for a body that a
    // confused peer may never send.
    if !tag::is_known(tag) {
        return Err(Error::protocol(format!("unknown message type {tag:#04x} from the server")));
    }
    let len = i32::from_be_bytes([a, b, c, d]);
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len >= 4)
        .ok_or_else(|| Error::protocol(format!("invalid message length {len} from the server")))?;
    if len > max_size {
        return Err(Error::protocol(format!(
            "server message of {len} bytes exceeds the maximum message size of {max_size} bytes"
        )));
    }
    // `len` came from an i32, so adding 1 cannot overflow even a 32-bit usize.
    Ok(Some((tag, len + 1)))
}

/// Splits the next complete message off the front of `buf`.
///
/// * `Ok(None)`: the message is not complete yet; nothing was consumed.
///   Read more bytes into `buf` and call again.
/// * `Ok(Some(message))`: the message was removed from `buf`.
/// * `Err(_)`: a protocol error. A bad header (unknown tag, length below 4 or
///   above `max_size`, which bounds the length field, i.e. the message without
///   its tag byte) consumes nothing; a malformed body consumes the message.
///   Either way the stream cannot be trusted any more: close the connection.
///
/// No memory is reserved based on the length the server announced; the
/// caller grows `buf` as data arrives (see [`needed`]).
///
/// ```
/// use bytes::BytesMut;
/// use edgepg_core::protocol::backend::{next_message, Message, DEFAULT_MAX_MESSAGE_SIZE};
///
/// let mut buf = BytesMut::from(&b"1\0\0\0\x042\0\0"[..]);
/// assert_eq!(next_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE).unwrap(), Some(Message::ParseComplete));
/// assert_eq!(next_message(&mut buf, DEFAULT_MAX_MESSAGE_SIZE).unwrap(), None); // BindComplete incomplete
/// assert_eq!(&buf[..], b"2\0\0");
/// ```
pub fn next_message(buf: &mut BytesMut, max_size: usize) -> Result<Option<Message>> {
    let Some((tag, total)) = header(buf, max_size)? else {
        return Ok(None);
    };
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total).freeze();
    frame.advance(HEADER_LEN);
    parse_body(tag, frame).map(Some).map_err(|e| e.context(format!("malformed {} message", tag_name(tag))))
}

/// How many more bytes `buf` needs before the message at its front is
/// complete: `Some(0)` if it already is, `None` while the 5-byte header is
/// incomplete or invalid (then [`next_message`] decides).
///
/// The value comes from the server: cap any read-buffer reservation based on
/// it (e.g. at some fixed chunk size).
///
/// ```
/// # use edgepg_core::protocol::backend::needed;
/// assert_eq!(needed(b"D\0\0"), None);
/// assert_eq!(needed(b"D\0\0\0\x08\0\x01"), Some(2));
/// assert_eq!(needed(b"Z\0\0\0\x05Iextra"), Some(0));
/// ```
pub fn needed(buf: &[u8]) -> Option<usize> {
    let (_, total) = header(buf, usize::MAX).ok()??;
    Some(total.saturating_sub(buf.len()))
}

/// A readable name for a tag byte in error messages.
fn tag_name(tag: u8) -> String {
    if tag.is_ascii_graphic() {
        format!("'{}'", char::from(tag))
    } else {
        format!("{tag:#04x}")
    }
}

/// Parses the body of a message with a known `tag`.
fn parse_body(tag: u8, body: Bytes) -> Result<Message> {
    let empty = |m: Message| if body.is_empty() { Ok(m) } else { Err(Error::protocol("unexpected message body")) };
    match tag {
        tag::AUTHENTICATION => parse_authentication(body),
        tag::BACKEND_KEY_DATA => {
            let mut r = Reader::new(&body);
            let process_id = r.i32()?;
            let key_len = r.remaining();
            if !CANCEL_KEY_LEN.contains(&key_len) {
                return Err(Error::protocol(format!("cancel key of {key_len} bytes (expected 4 to 256)")));
            }
            Ok(Message::BackendKeyData { process_id, secret_key: body.slice(4..) })
        }
        tag::BIND_COMPLETE => empty(Message::BindComplete),
        tag::CLOSE_COMPLETE => empty(Message::CloseComplete),
        tag::PARSE_COMPLETE => empty(Message::ParseComplete),
        tag::NO_DATA => empty(Message::NoData),
        tag::EMPTY_QUERY_RESPONSE => empty(Message::EmptyQueryResponse),
        tag::PORTAL_SUSPENDED => empty(Message::PortalSuspended),
        tag::COPY_DONE => empty(Message::CopyDone),
        tag::COMMAND_COMPLETE => CommandCompleteBody::parse(body).map(Message::CommandComplete),
        tag::COPY_DATA => Ok(Message::CopyData(body)),
        tag::COPY_IN_RESPONSE => CopyResponseBody::parse(body).map(Message::CopyInResponse),
        tag::COPY_OUT_RESPONSE => CopyResponseBody::parse(body).map(Message::CopyOutResponse),
        tag::COPY_BOTH_RESPONSE => CopyResponseBody::parse(body).map(Message::CopyBothResponse),
        tag::DATA_ROW => DataRowBody::parse(body).map(Message::DataRow),
        tag::ERROR_RESPONSE => ErrorFields::parse(body).map(Message::ErrorResponse),
        tag::NOTICE_RESPONSE => ErrorFields::parse(body).map(Message::NoticeResponse),
        tag::FUNCTION_CALL_RESPONSE => {
            let mut r = Reader::new(&body);
            let len = r.i32()?;
            let value = if len == -1 {
                None
            } else {
                let len = usize::try_from(len).map_err(|_| Error::protocol("negative result length"))?;
                r.take(len)?;
                Some(body.slice(4..4 + len))
            };
            r.finish()?;
            Ok(Message::FunctionCallResponse(value))
        }
        tag::NOTIFICATION_RESPONSE => {
            let mut r = Reader::new(&body);
            let process_id = r.i32()?;
            let channel = r.cstr()?.to_owned();
            let payload = r.cstr()?.to_owned();
            r.finish()?;
            Ok(Message::NotificationResponse { process_id, channel, payload })
        }
        tag::PARAMETER_DESCRIPTION => ParameterDescriptionBody::parse(body).map(Message::ParameterDescription),
        tag::PARAMETER_STATUS => {
            let mut r = Reader::new(&body);
            let name = r.cstr()?.to_owned();
            let value = r.cstr()?.to_owned();
            r.finish()?;
            Ok(Message::ParameterStatus { name, value })
        }
        tag::READY_FOR_QUERY => {
            let mut r = Reader::new(&body);
            let status = TransactionStatus::from_byte(r.u8()?)?;
            r.finish()?;
            Ok(Message::ReadyForQuery { status })
        }
        tag::ROW_DESCRIPTION => RowDescriptionBody::parse(body).map(Message::RowDescription),
        tag::NEGOTIATE_PROTOCOL_VERSION => {
            let mut r = Reader::new(&body);
            let newest_minor = r.i32()?;
            let count = r.i32()?;
            let count = usize::try_from(count).map_err(|_| Error::protocol("negative option count"))?;
            // Grow as names are read; never trust `count` for the allocation.
            let mut unrecognized = Vec::new();
            for _ in 0..count {
                unrecognized.push(r.cstr()?.to_owned());
            }
            r.finish()?;
            Ok(Message::NegotiateProtocolVersion { newest_minor, unrecognized })
        }
        _ => Err(Error::protocol(format!("unknown message type {}", tag_name(tag)))),
    }
}

/// Parses the body of an Authentication (`R`) message.
fn parse_authentication(body: Bytes) -> Result<Message> {
    let mut r = Reader::new(&body);
    let code = r.i32()?;
    // Codes with a fixed-size body must match it exactly.
    let fixed = |m: Message, r: &Reader<'_>| r.finish().map(|()| m);
    match code {
        0 => fixed(Message::AuthenticationOk, &r),
        2 => fixed(Message::AuthenticationKerberosV5, &r),
        3 => fixed(Message::AuthenticationCleartextPassword, &r),
        5 => {
            let salt = r.array()?;
            fixed(Message::AuthenticationMd5Password { salt }, &r)
        }
        7 => fixed(Message::AuthenticationGss, &r),
        8 => Ok(Message::AuthenticationGssContinue(body.slice(4..))),
        9 => fixed(Message::AuthenticationSspi, &r),
        10 => SaslMechanisms::parse(body.slice(4..)).map(Message::AuthenticationSasl),
        11 => Ok(Message::AuthenticationSaslContinue(body.slice(4..))),
        12 => Ok(Message::AuthenticationSaslFinal(body.slice(4..))),
        _ => Err(Error::protocol(format!("unknown authentication request code {code}"))),
    }
}

#[cfg(test)]
mod tests;

/// Calls every accessor of `msg`, ignoring the results. Shared by the
/// hostile-bytes test and the fuzz target: only a panic matters.
#[doc(hidden)]
pub fn exercise_accessors(msg: &Message) {
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
            for r in row.ranges() {
                // A range that validated must index the buffer.
                if let Ok(Some(r)) = r {
                    let _ = &buf[r];
                }
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
            let _ = rd.len();
            let _ = rd.validate();
            let _ = rd.fields().count();
        }
        _ => {}
    }
}
