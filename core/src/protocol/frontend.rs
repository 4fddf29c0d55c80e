//! Encoders for frontend (client → server) messages of protocol 3.0.
//!
//! Every function appends exactly one message to the caller's [`BytesMut`], so
//! several messages can be pipelined into one buffer and written with a single
//! call. Lengths are back-patched after the body is written.
//!
//! Functions that can fail (a string containing a NUL byte, a length that does
//! not fit the wire format, a `serialize` callback returning an error) leave
//! the buffer exactly as they found it: a caller's buffer never holds half a
//! message. Error messages name *what* was wrong, never the value (it may be a
//! password).
//!
//! ```
//! use bytes::BytesMut;
//! use edgepg_core::protocol::frontend;
//!
//! let mut buf = BytesMut::new();
//! frontend::query("SELECT 1", &mut buf).unwrap();
//! assert_eq!(&buf[..], b"Q\0\0\0\x0dSELECT 1\0");
//! ```

use bytes::{BufMut, BytesMut};

use super::IsNull;
use crate::error::{Error, Result};

/// Protocol version 3.0 as sent in the StartupMessage (`3 << 16`).
pub const PROTOCOL_VERSION_3_0: i32 = 196_608;
/// The magic "version" of an SSLRequest.
pub const SSL_REQUEST_CODE: i32 = 80_877_103;
/// The magic "version" of a GSSENCRequest.
pub const GSSENC_REQUEST_CODE: i32 = 80_877_104;
/// The magic "version" of a CancelRequest.
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;
/// Largest cancel key the protocol allows (3.2); longer keys are truncated.
pub const MAX_CANCEL_KEY_LEN: usize = 256;

/// Appends a message with a one-byte `tag` whose body is written by `body`.
fn tagged<F>(tag: u8, buf: &mut BytesMut, body: F) -> Result<()>
where
    F: FnOnce(&mut BytesMut) -> Result<()>,
{
    let start = buf.len();
    buf.put_u8(tag);
    framed(start, buf, body)
}

/// Writes a 4-byte length placeholder at the end of `buf`, runs `body`, and
/// back-patches the length (which counts itself but not a tag byte).
///
/// `start` is where the whole message began (before its tag, if any): on any
/// error the buffer is truncated back to it, so it never holds half a message.
fn framed<F>(start: usize, buf: &mut BytesMut, body: F) -> Result<()>
where
    F: FnOnce(&mut BytesMut) -> Result<()>,
{
    let len_pos = buf.len();
    buf.put_i32(0);
    let result = body(buf).and_then(|()| {
        i32::try_from(buf.len() - len_pos)
            .map_err(|_| Error::interface("message is too large for the PostgreSQL protocol"))
    });
    match result {
        Ok(len) => {
            buf[len_pos..len_pos + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        Err(e) => {
            buf.truncate(start);
            Err(e)
        }
    }
}

/// Writes `s` followed by a NUL terminator; `what` names the string in the
/// error if `s` itself contains a NUL byte (the value is never echoed).
fn put_cstr(s: &[u8], what: &str, buf: &mut BytesMut) -> Result<()> {
    if memchr::memchr(0, s).is_some() {
        return Err(Error::interface(format!("{what} contains a NUL byte")));
    }
    buf.put_slice(s);
    buf.put_u8(0);
    Ok(())
}

/// Writes a 16-bit count. PostgreSQL reads these counts as unsigned, so
/// anything up to 65535 is accepted.
fn put_count(n: usize, what: &str, buf: &mut BytesMut) -> Result<()> {
    let n = u16::try_from(n).map_err(|_| Error::interface(format!("too many {what} (at most 65535)")))?;
    buf.put_u16(n);
    Ok(())
}

/// Writes a count followed by that many format codes.
fn put_formats(formats: &[i16], what: &str, buf: &mut BytesMut) -> Result<()> {
    put_count(formats.len(), what, buf)?;
    for &f in formats {
        buf.put_i16(f);
    }
    Ok(())
}

/// Writes one length-prefixed value produced by `serialize`: a placeholder
/// length, the value, then the patched length (or -1 for NULL, dropping
/// anything the callback wrote).
fn put_value<T, F>(value: T, serialize: &mut F, buf: &mut BytesMut) -> Result<()>
where
    F: FnMut(T, &mut BytesMut) -> Result<IsNull>,
{
    let len_pos = buf.len();
    buf.put_i32(0);
    let len = match serialize(value, buf)? {
        IsNull::Yes => {
            buf.truncate(len_pos + 4);
            -1
        }
        IsNull::No => i32::try_from(buf.len() - len_pos - 4)
            .map_err(|_| Error::interface("value is too large for the PostgreSQL protocol"))?,
    };
    buf[len_pos..len_pos + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// StartupMessage for protocol 3.0 with the given `(name, value)` parameters
/// (e.g. `user`, `database`, `application_name`, `options`).
///
/// ```
/// # use bytes::BytesMut;
/// # use edgepg_core::protocol::frontend::startup_message;
/// let mut buf = BytesMut::new();
/// startup_message([("user", "bob")], &mut buf).unwrap();
/// assert_eq!(&buf[..], b"\0\0\0\x12\0\x03\0\0user\0bob\0\0");
/// ```
pub fn startup_message<'a, I>(params: I, buf: &mut BytesMut) -> Result<()>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let start = buf.len();
    framed(start, buf, |buf| {
        buf.put_i32(PROTOCOL_VERSION_3_0);
        for (name, value) in params {
            put_cstr(name.as_bytes(), "startup parameter name", buf)?;
            put_cstr(value.as_bytes(), "startup parameter value", buf)?;
        }
        buf.put_u8(0);
        Ok(())
    })
}

/// SSLRequest: asks the server to switch to TLS. It answers one byte, `S` or `N`.
pub fn ssl_request(buf: &mut BytesMut) {
    buf.put_i32(8);
    buf.put_i32(SSL_REQUEST_CODE);
}

/// GSSENCRequest: asks the server for GSSAPI encryption. It answers `G` or `N`.
pub fn gssenc_request(buf: &mut BytesMut) {
    buf.put_i32(8);
    buf.put_i32(GSSENC_REQUEST_CODE);
}

/// CancelRequest for the backend `process_id` with the key from BackendKeyData.
///
/// Protocol 3.0 keys are 4 bytes, 3.2 keys up to 256 bytes. A key longer than
/// [`MAX_CANCEL_KEY_LEN`] cannot come from a valid BackendKeyData (the parser
/// rejects it), so it is truncated rather than failing: the server simply
/// ignores a cancel request with a wrong key.
///
/// ```
/// # use bytes::BytesMut;
/// # use edgepg_core::protocol::frontend::cancel_request;
/// let mut buf = BytesMut::new();
/// cancel_request(42, &[1, 2, 3, 4], &mut buf);
/// assert_eq!(&buf[..], b"\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x2a\x01\x02\x03\x04");
/// ```
pub fn cancel_request(process_id: i32, secret_key: &[u8], buf: &mut BytesMut) {
    let key = &secret_key[..secret_key.len().min(MAX_CANCEL_KEY_LEN)];
    // At most 12 + 256 bytes, so the cast cannot truncate.
    buf.put_i32((12 + key.len()) as i32);
    buf.put_i32(CANCEL_REQUEST_CODE);
    buf.put_i32(process_id);
    buf.put_slice(key);
}

/// PasswordMessage (`p`) with a cleartext or MD5-hashed password.
///
/// The password must not contain a NUL byte (the error does not echo it).
pub fn password_message(password: &[u8], buf: &mut BytesMut) -> Result<()> {
    tagged(b'p', buf, |buf| put_cstr(password, "password", buf))
}

/// SASLInitialResponse (`p`): the chosen `mechanism` and the client-first message.
pub fn sasl_initial_response(mechanism: &str, data: &[u8], buf: &mut BytesMut) -> Result<()> {
    tagged(b'p', buf, |buf| {
        put_cstr(mechanism.as_bytes(), "SASL mechanism name", buf)?;
        let len = i32::try_from(data.len()).map_err(|_| Error::interface("SASL data is too large"))?;
        buf.put_i32(len);
        buf.put_slice(data);
        Ok(())
    })
}

/// SASLResponse (`p`): a later SASL message such as the SCRAM client-final.
pub fn sasl_response(data: &[u8], buf: &mut BytesMut) -> Result<()> {
    tagged(b'p', buf, |buf| {
        buf.put_slice(data);
        Ok(())
    })
}

/// Query (`Q`): a simple-protocol query string, possibly several statements.
pub fn query(sql: &str, buf: &mut BytesMut) -> Result<()> {
    tagged(b'Q', buf, |buf| put_cstr(sql.as_bytes(), "query", buf))
}

/// Parse (`P`): prepares `sql` as statement `name` (`""` = unnamed) with
/// optional parameter type OIDs (0 = let the server infer).
///
/// ```
/// # use bytes::BytesMut;
/// # use edgepg_core::protocol::frontend::parse;
/// let mut buf = BytesMut::new();
/// parse("s1", "SELECT $1", &[23], &mut buf).unwrap();
/// assert_eq!(&buf[..], b"P\0\0\0\x17s1\0SELECT $1\0\0\x01\0\0\0\x17");
/// ```
pub fn parse(name: &str, sql: &str, param_types: &[u32], buf: &mut BytesMut) -> Result<()> {
    tagged(b'P', buf, |buf| {
        put_cstr(name.as_bytes(), "statement name", buf)?;
        put_cstr(sql.as_bytes(), "query", buf)?;
        put_count(param_types.len(), "parameter types", buf)?;
        for &oid in param_types {
            buf.put_u32(oid);
        }
        Ok(())
    })
}

/// Bind (`B`): binds parameter `values` to prepared `statement`, creating `portal`.
///
/// `param_formats` follows the protocol: empty (all text), one code (applies
/// to all) or one per parameter. For each value, `serialize` writes its bytes
/// into the buffer after a length placeholder that this function reserves and
/// patches; if it returns [`IsNull::Yes`] the length is -1 and anything it
/// wrote is dropped. If `serialize` fails, the buffer is truncated back to
/// where the Bind began and the error is returned.
///
/// ```
/// # use bytes::{BufMut, BytesMut};
/// # use edgepg_core::protocol::{frontend::bind, IsNull};
/// let mut buf = BytesMut::new();
/// let values: [Option<i32>; 2] = [Some(7), None];
/// bind("", "s1", &[1], values, |v, buf| match v {
///     Some(v) => { buf.put_i32(v); Ok(IsNull::No) }
///     None => Ok(IsNull::Yes),
/// }, &[1], &mut buf).unwrap();
/// assert_eq!(buf[0], b'B');
/// ```
pub fn bind<I, T, F>(
    portal: &str,
    statement: &str,
    param_formats: &[i16],
    values: I,
    mut serialize: F,
    result_formats: &[i16],
    buf: &mut BytesMut,
) -> Result<()>
where
    I: IntoIterator<Item = T>,
    F: FnMut(T, &mut BytesMut) -> Result<IsNull>,
{
    tagged(b'B', buf, |buf| {
        put_cstr(portal.as_bytes(), "portal name", buf)?;
        put_cstr(statement.as_bytes(), "statement name", buf)?;
        put_formats(param_formats, "parameter formats", buf)?;
        // The number of values is only known after iterating: patch it later.
        let count_pos = buf.len();
        buf.put_u16(0);
        let mut count = 0usize;
        for value in values {
            put_value(value, &mut serialize, buf)?;
            count += 1;
        }
        let count = u16::try_from(count).map_err(|_| Error::interface("too many parameters (at most 65535)"))?;
        buf[count_pos..count_pos + 2].copy_from_slice(&count.to_be_bytes());
        put_formats(result_formats, "result formats", buf)
    })
}

fn check_variant(variant: u8) -> Result<()> {
    match variant {
        b'S' | b'P' => Ok(()),
        _ => Err(Error::interface("describe/close variant must be b'S' (statement) or b'P' (portal)")),
    }
}

/// Describe (`D`) of a prepared statement (`variant = b'S'`) or portal (`b'P'`).
pub fn describe(variant: u8, name: &str, buf: &mut BytesMut) -> Result<()> {
    check_variant(variant)?;
    tagged(b'D', buf, |buf| {
        buf.put_u8(variant);
        put_cstr(name.as_bytes(), "statement or portal name", buf)
    })
}

/// Execute (`E`) `portal`, returning at most `max_rows` rows (0 = all).
pub fn execute(portal: &str, max_rows: i32, buf: &mut BytesMut) -> Result<()> {
    tagged(b'E', buf, |buf| {
        put_cstr(portal.as_bytes(), "portal name", buf)?;
        buf.put_i32(max_rows);
        Ok(())
    })
}

/// Close (`C`) a prepared statement (`variant = b'S'`) or portal (`b'P'`).
pub fn close(variant: u8, name: &str, buf: &mut BytesMut) -> Result<()> {
    check_variant(variant)?;
    tagged(b'C', buf, |buf| {
        buf.put_u8(variant);
        put_cstr(name.as_bytes(), "statement or portal name", buf)
    })
}

fn empty(tag: u8, buf: &mut BytesMut) {
    buf.put_u8(tag);
    buf.put_i32(4);
}

/// Sync (`S`): ends an extended-query pipeline; the server answers ReadyForQuery.
pub fn sync(buf: &mut BytesMut) {
    empty(b'S', buf)
}

/// Flush (`H`): asks the server to send what it has buffered.
pub fn flush(buf: &mut BytesMut) {
    empty(b'H', buf)
}

/// Terminate (`X`): closes the session gracefully.
pub fn terminate(buf: &mut BytesMut) {
    empty(b'X', buf)
}

/// CopyData (`d`) carrying `data` during COPY FROM STDIN.
pub fn copy_data(data: &[u8], buf: &mut BytesMut) -> Result<()> {
    copy_data_header(data.len(), buf)?;
    buf.put_slice(data);
    Ok(())
}

/// Only the header of a CopyData message (`d` and the length for `len` data
/// bytes); the caller appends exactly `len` bytes next. Lets large COPY
/// payloads be written without copying them into the buffer first.
pub fn copy_data_header(len: usize, buf: &mut BytesMut) -> Result<()> {
    let len = len
        .checked_add(4)
        .and_then(|l| i32::try_from(l).ok())
        .ok_or_else(|| Error::interface("COPY data chunk is too large for one message"))?;
    buf.put_u8(b'd');
    buf.put_i32(len);
    Ok(())
}

/// CopyDone (`c`): ends COPY FROM STDIN successfully.
pub fn copy_done(buf: &mut BytesMut) {
    empty(b'c', buf)
}

/// CopyFail (`f`): aborts COPY FROM STDIN with an error `message`.
pub fn copy_fail(message: &str, buf: &mut BytesMut) -> Result<()> {
    tagged(b'f', buf, |buf| put_cstr(message.as_bytes(), "COPY failure message", buf))
}

/// FunctionCall (`F`): the legacy fast-path call of function `function_oid`.
///
/// Arguments are written like [`bind`] parameters; `result_format` is the
/// format code of the result (0 text, 1 binary).
pub fn function_call<I, T, F>(
    function_oid: u32,
    arg_formats: &[i16],
    args: I,
    mut serialize: F,
    result_format: i16,
    buf: &mut BytesMut,
) -> Result<()>
where
    I: IntoIterator<Item = T>,
    F: FnMut(T, &mut BytesMut) -> Result<IsNull>,
{
    tagged(b'F', buf, |buf| {
        buf.put_u32(function_oid);
        put_formats(arg_formats, "argument formats", buf)?;
        let count_pos = buf.len();
        buf.put_u16(0);
        let mut count = 0usize;
        for arg in args {
            put_value(arg, &mut serialize, buf)?;
            count += 1;
        }
        let count = u16::try_from(count).map_err(|_| Error::interface("too many arguments (at most 65535)"))?;
        buf[count_pos..count_pos + 2].copy_from_slice(&count.to_be_bytes());
        buf.put_i16(result_format);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn enc(f: impl FnOnce(&mut BytesMut) -> Result<()>) -> Vec<u8> {
        let mut buf = BytesMut::new();
        f(&mut buf).unwrap();
        buf.to_vec()
    }

    /// Runs a failing encoder on a buffer that already holds a message and
    /// checks the buffer is left untouched.
    fn fails(f: impl FnOnce(&mut BytesMut) -> Result<()>) -> Error {
        let mut buf = BytesMut::from(&b"S\0\0\0\x04"[..]);
        let e = f(&mut buf).unwrap_err();
        assert_eq!(&buf[..], b"S\0\0\0\x04", "buffer not restored");
        e
    }

    #[test]
    fn startup() {
        let got = enc(|b| startup_message([("user", "postgres"), ("database", "db")], b));
        let mut want = vec![0, 0, 0, 0x23, 0, 3, 0, 0];
        want.extend_from_slice(b"user\0postgres\0database\0db\0\0");
        assert_eq!(got, want);
        assert_eq!(enc(|b| startup_message([], b)), b"\0\0\0\x09\0\x03\0\0\0");
        let e = fails(|b| startup_message([("user", "a\0b")], b));
        assert_eq!(e.kind(), ErrorKind::Interface);
        assert!(e.message().contains("NUL"));
    }

    #[test]
    fn fixed_requests() {
        let mut buf = BytesMut::new();
        ssl_request(&mut buf);
        assert_eq!(&buf[..], b"\0\0\0\x08\x04\xd2\x16\x2f");
        buf.clear();
        gssenc_request(&mut buf);
        assert_eq!(&buf[..], b"\0\0\0\x08\x04\xd2\x16\x30");
        buf.clear();
        cancel_request(12345, b"\xde\xad\xbe\xef", &mut buf);
        assert_eq!(&buf[..], b"\0\0\0\x10\x04\xd2\x16\x2e\0\0\x30\x39\xde\xad\xbe\xef");
        // A 3.2-style 32-byte key.
        buf.clear();
        cancel_request(1, &[0xab; 32], &mut buf);
        assert_eq!(&buf[..4], &44i32.to_be_bytes());
        assert_eq!(buf.len(), 44);
        assert_eq!(&buf[12..], &[0xab; 32]);
        // Too long: truncated to the protocol maximum.
        buf.clear();
        cancel_request(1, &[1; 300], &mut buf);
        assert_eq!(buf.len(), 12 + MAX_CANCEL_KEY_LEN);
        assert_eq!(&buf[..4], &(12 + MAX_CANCEL_KEY_LEN as i32).to_be_bytes());
    }

    #[test]
    fn empty_messages() {
        for (f, tag) in [(sync as fn(&mut BytesMut), b'S'), (flush, b'H'), (terminate, b'X'), (copy_done, b'c')] {
            let mut buf = BytesMut::new();
            f(&mut buf);
            assert_eq!(&buf[..], &[tag, 0, 0, 0, 4]);
        }
    }

    #[test]
    fn password_and_sasl() {
        assert_eq!(enc(|b| password_message(b"s3cret", b)), b"p\0\0\0\x0bs3cret\0");
        let e = fails(|b| password_message(b"se\0cret", b));
        assert!(!e.to_string().contains("cret"), "password leaked: {e}");
        assert_eq!(
            enc(|b| sasl_initial_response("SCRAM-SHA-256", b"n,,n=,r=abc", b)),
            b"p\0\0\0\x21SCRAM-SHA-256\0\0\0\0\x0bn,,n=,r=abc"
        );
        assert_eq!(enc(|b| sasl_response(b"c=biws", b)), b"p\0\0\0\x0ac=biws");
        fails(|b| sasl_initial_response("SCRAM\0", b"", b));
    }

    #[test]
    fn simple_query() {
        assert_eq!(enc(|b| query("SELECT 1", b)), b"Q\0\0\0\x0dSELECT 1\0");
        assert_eq!(enc(|b| query("", b)), b"Q\0\0\0\x05\0");
        fails(|b| query("SELECT '\0'", b));
    }

    #[test]
    fn extended_query() {
        assert_eq!(enc(|b| parse("", "SELECT 1", &[], b)), b"P\0\0\0\x10\0SELECT 1\0\0\0");
        assert_eq!(
            enc(|b| parse("s1", "SELECT $1, $2", &[23, 25], b)),
            b"P\0\0\0\x1fs1\0SELECT $1, $2\0\0\x02\0\0\0\x17\0\0\0\x19"
        );
        fails(|b| parse("s\0x", "SELECT 1", &[], b));
        let too_many = vec![0u32; 65536];
        let e = fails(|b| parse("", "x", &too_many, b));
        assert!(e.message().contains("65535"));
        // 65535 parameters is the protocol's limit and allowed.
        let mut buf = BytesMut::new();
        parse("", "x", &too_many[1..], &mut buf).unwrap();
        assert_eq!(&buf[8..10], b"\xff\xff");

        assert_eq!(enc(|b| describe(b'S', "s1", b)), b"D\0\0\0\x08Ss1\0");
        assert_eq!(enc(|b| describe(b'P', "", b)), b"D\0\0\0\x06P\0");
        fails(|b| describe(b'X', "", b));
        assert_eq!(enc(|b| execute("", 0, b)), b"E\0\0\0\x09\0\0\0\0\0");
        assert_eq!(enc(|b| execute("p", 100, b)), b"E\0\0\0\x0ap\0\0\0\0\x64");
        assert_eq!(enc(|b| close(b'S', "s1", b)), b"C\0\0\0\x08Ss1\0");
        assert_eq!(enc(|b| close(b'P', "p", b)), b"C\0\0\0\x07Pp\0");
        fails(|b| close(0, "p", b));
    }

    fn ser(v: Option<&[u8]>, buf: &mut BytesMut) -> Result<IsNull> {
        match v {
            Some(v) => {
                buf.put_slice(v);
                Ok(IsNull::No)
            }
            None => {
                // Written bytes must be dropped for NULL.
                buf.put_slice(b"junk");
                Ok(IsNull::Yes)
            }
        }
    }

    #[test]
    fn bind_message() {
        let values: [Option<&[u8]>; 3] = [Some(b"\0\0\0\x07"), None, Some(b"")];
        let got = enc(|b| bind("", "s1", &[1], values, ser, &[1], b));
        let want: &[u8] = b"B\0\0\0\x22\0s1\0\0\x01\0\x01\0\x03\
            \0\0\0\x04\0\0\0\x07\xff\xff\xff\xff\0\0\0\0\0\x01\0\x01";
        assert_eq!(got, want);
        assert_eq!(
            enc(|b| bind("p", "", &[], std::iter::empty::<Option<&[u8]>>(), ser, &[], b)),
            b"B\0\0\0\x0dp\0\0\0\0\0\0\0\0"
        );
    }

    #[test]
    fn bind_failure_restores_buffer() {
        let values: [Option<&[u8]>; 2] = [Some(b"ok"), Some(b"bad")];
        let e = fails(|b| {
            bind(
                "",
                "",
                &[],
                values,
                |v, buf| if v == Some(b"bad") { Err(Error::conversion("nope")) } else { ser(v, buf) },
                &[],
                b,
            )
        });
        assert_eq!(e.kind(), ErrorKind::Conversion);
        fails(|b| bind("p\0", "", &[], [None::<&[u8]>], ser, &[], b));
        let many = vec![None::<&[u8]>; 65536];
        fails(|b| bind("", "", &[], many, ser, &[], b));
    }

    #[test]
    fn copy_messages() {
        assert_eq!(enc(|b| copy_data(b"1\tone\n", b)), b"d\0\0\0\x0a1\tone\n");
        assert_eq!(enc(|b| copy_data_header(6, b)), b"d\0\0\0\x0a");
        let e = fails(|b| copy_data_header(i32::MAX as usize - 3, b));
        assert_eq!(e.kind(), ErrorKind::Interface);
        fails(|b| copy_data_header(usize::MAX, b));
        assert_eq!(enc(|b| copy_data_header(i32::MAX as usize - 4, b)), b"d\x7f\xff\xff\xff");
        assert_eq!(enc(|b| copy_fail("oops", b)), b"f\0\0\0\x09oops\0");
        fails(|b| copy_fail("o\0ps", b));
    }

    #[test]
    fn function_call_message() {
        let got = enc(|b| function_call(1598, &[1], [Some(&b"\0\0\0\x02"[..])], ser, 1, b));
        assert_eq!(got, b"F\0\0\0\x18\0\0\x06\x3e\0\x01\0\x01\0\x01\0\0\0\x04\0\0\0\x02\0\x01");
    }

    #[test]
    fn messages_round_trip_lengths() {
        // Every tagged message's length field matches what was written.
        let mut buf = BytesMut::new();
        query("SELECT 1", &mut buf).unwrap();
        parse("a", "b", &[1, 2, 3], &mut buf).unwrap();
        sync(&mut buf);
        let mut rest = &buf[..];
        let mut n = 0;
        while !rest.is_empty() {
            let len = i32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            rest = &rest[1 + len..];
            n += 1;
        }
        assert_eq!(n, 3);
    }
}
