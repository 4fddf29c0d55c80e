//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS, client side (RFC 5802, RFC 7677), as
//! PostgreSQL uses them.
//!
//! [`ScramSha256`] is a sans-io state machine: it produces the bytes to send
//! ([`ScramSha256::message`]) and consumes the server's messages
//! ([`ScramSha256::update`], [`ScramSha256::finish`]). The caller moves the
//! bytes through `SASLInitialResponse`/`SASLResponse` and
//! `AuthenticationSASLContinue`/`AuthenticationSASLFinal`.
//!
//! PostgreSQL specifics: the SCRAM user name is sent empty (the server uses
//! the startup packet's user), and the password is SASLprep-ed when that
//! succeeds and used as raw bytes otherwise, exactly like the server does when
//! it builds its verifier. Without the `saslprep` cargo feature SASLprep uses
//! the host's NFKC normaliser when one is installed (the wasm build: JS's),
//! else the raw bytes (identical for ASCII passwords; see `prepare_password`).

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::base64;
use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// What the client says about channel binding in the GS2 header.
///
/// Which one to use (the usual libpq `channel_binding` logic):
/// * no TLS, or channel binding disabled by configuration, or no
///   `tls-server-end-point` hash could be computed → [`unrequested`](Self::unrequested);
/// * TLS, and the server offered only `SCRAM-SHA-256` → [`unsupported`](Self::unsupported)
///   (this lets the server detect a man in the middle that stripped `-PLUS`);
/// * TLS, and the server offered `SCRAM-SHA-256-PLUS` →
///   [`tls_server_end_point`](Self::tls_server_end_point) with the hash from
///   [`tls_server_end_point`](super::tls_server_end_point).
///
/// Note: the variant names describe the situation from the client's point of
/// view; they are not the same as tokio-postgres' (whose `unrequested()` sends `y`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelBinding {
    /// GS2 header `n,,`: the client does not use channel binding.
    Unrequested,
    /// GS2 header `y,,`: the client supports channel binding but the server did
    /// not offer `SCRAM-SHA-256-PLUS`.
    Unsupported,
    /// GS2 header `p=tls-server-end-point,,`, binding to this certificate hash.
    TlsServerEndPoint(Vec<u8>),
}

impl ChannelBinding {
    /// The client does not use channel binding (`n,,`).
    pub fn unrequested() -> ChannelBinding {
        ChannelBinding::Unrequested
    }

    /// The client could bind but the server did not offer it (`y,,`).
    pub fn unsupported() -> ChannelBinding {
        ChannelBinding::Unsupported
    }

    /// Bind to the TLS server certificate hash (`p=tls-server-end-point,,`).
    pub fn tls_server_end_point(hash: Vec<u8>) -> ChannelBinding {
        ChannelBinding::TlsServerEndPoint(hash)
    }

    fn gs2_header(&self) -> &'static str {
        match self {
            ChannelBinding::Unrequested => "n,,",
            ChannelBinding::Unsupported => "y,,",
            ChannelBinding::TlsServerEndPoint(_) => "p=tls-server-end-point,,",
        }
    }

    fn cbind_data(&self) -> &[u8] {
        match self {
            ChannelBinding::TlsServerEndPoint(hash) => hash,
            _ => &[],
        }
    }
}

/// A client-side SCRAM-SHA-256(-PLUS) exchange.
///
/// ```
/// use edgepg_core::auth::{ChannelBinding, ScramSha256};
///
/// let mut scram = ScramSha256::new(b"secret", ChannelBinding::unrequested())?;
/// assert_eq!(scram.mechanism(), "SCRAM-SHA-256");
/// // Send `scram.message()` in SASLInitialResponse:
/// assert!(scram.message().starts_with(b"n,,n=,r="));
/// // A server nonce that does not extend ours is rejected:
/// assert!(scram.update(b"r=evil,s=QSXCR+Q6sek8bf92,i=4096").is_err());
/// # Ok::<(), edgepg_core::Error>(())
/// ```
pub struct ScramSha256 {
    channel_binding: ChannelBinding,
    /// The message the caller must send next (or sent last).
    message: Vec<u8>,
    state: State,
}

enum State {
    /// client-first-message is in `message`; waiting for server-first-message.
    ServerFirst { password: Secret, client_nonce: String, client_first_bare: String },
    /// client-final-message is in `message`; waiting for server-final-message.
    /// The MAC is keyed with ServerKey and has absorbed AuthMessage, so
    /// checking the server signature is one constant-time `verify_slice`.
    ServerFinal { verifier: HmacSha256 },
    /// Finished, successfully or not.
    Done,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::ServerFirst { .. } => "awaiting server-first-message",
            State::ServerFinal { .. } => "awaiting server-final-message",
            State::Done => "done",
        }
    }
}

/// Password bytes: redacted in Debug and overwritten when dropped (best
/// effort: without `unsafe` the compiler may still keep other copies).
struct Secret(Vec<u8>);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self.0);
    }
}

impl fmt::Debug for ScramSha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the password, the proof or the keys.
        f.debug_struct("ScramSha256")
            .field("mechanism", &self.mechanism())
            .field("state", &self.state.name())
            .finish_non_exhaustive()
    }
}

impl ScramSha256 {
    /// The SASL mechanism name without channel binding.
    pub const MECHANISM: &'static str = "SCRAM-SHA-256";
    /// The SASL mechanism name with channel binding.
    pub const MECHANISM_PLUS: &'static str = "SCRAM-SHA-256-PLUS";
    /// The largest iteration count accepted from a server. PostgreSQL's
    /// default is 4096; a hostile server must not be able to make us spend
    /// unbounded CPU (10,000,000 iterations take seconds already).
    pub const MAX_ITERATIONS: u32 = 10_000_000;

    /// Starts an exchange with a fresh random client nonce (24 random bytes,
    /// base64-encoded). Fails only if the platform has no random source.
    pub fn new(password: &[u8], channel_binding: ChannelBinding) -> Result<ScramSha256> {
        // Fuzz builds (cargo-fuzz sets `--cfg fuzzing`) use a fixed nonce, so
        // a seed input can carry a valid server signature and the fuzzer can
        // explore what comes after a SCRAM login.
        if cfg!(fuzzing) {
            return Ok(ScramSha256::with_nonce(password, channel_binding, "fuzzfuzzfuzzfuzzfuzzfuzz"));
        }
        let mut raw = [0u8; 24];
        getrandom::getrandom(&mut raw)
            .map_err(|e| Error::auth(format!("cannot generate a SCRAM nonce: no random source ({e})")))?;
        Ok(ScramSha256::with_nonce(password, channel_binding, &base64::encode(&raw)))
    }

    /// Starts an exchange with a given client nonce; for tests. The nonce must
    /// be printable ASCII without `,`; anything else makes the exchange fail
    /// at the server.
    pub fn with_nonce(password: &[u8], channel_binding: ChannelBinding, nonce: &str) -> ScramSha256 {
        ScramSha256::with_user(password, channel_binding, nonce, "")
    }

    /// The general constructor; PostgreSQL wants `user` empty, tests use the
    /// RFC's `"user"`.
    pub(crate) fn with_user(password: &[u8], channel_binding: ChannelBinding, nonce: &str, user: &str) -> ScramSha256 {
        let client_first_bare = format!("n={},r={nonce}", escape_saslname(user));
        let mut message = Vec::with_capacity(32 + client_first_bare.len());
        message.extend_from_slice(channel_binding.gs2_header().as_bytes());
        message.extend_from_slice(client_first_bare.as_bytes());
        ScramSha256 {
            channel_binding,
            message,
            state: State::ServerFirst {
                password: Secret(prepare_password(password)),
                client_nonce: nonce.to_owned(),
                client_first_bare,
            },
        }
    }

    /// The SASL mechanism this exchange uses: `SCRAM-SHA-256-PLUS` when
    /// binding to a certificate, `SCRAM-SHA-256` otherwise.
    pub fn mechanism(&self) -> &'static str {
        match self.channel_binding {
            ChannelBinding::TlsServerEndPoint(_) => Self::MECHANISM_PLUS,
            _ => Self::MECHANISM,
        }
    }

    /// The message to send now: client-first-message before
    /// [`update`](Self::update), client-final-message after it.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// Processes the server-first-message (the `AuthenticationSASLContinue`
    /// payload) and prepares the client-final-message.
    ///
    /// Errors: malformed message or a nonce that does not extend ours →
    /// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol); mandatory
    /// extensions, iteration counts above [`MAX_ITERATIONS`](Self::MAX_ITERATIONS)
    /// → [`ErrorKind::Auth`](crate::ErrorKind::Auth). The exchange cannot
    /// continue after an error.
    pub fn update(&mut self, server_first: &[u8]) -> Result<()> {
        let State::ServerFirst { password, client_nonce, client_first_bare } =
            std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(Error::protocol("unexpected SCRAM server-first-message"));
        };
        let parsed = ServerFirst::parse(server_first)?;
        if !parsed.nonce.starts_with(client_nonce.as_bytes()) || parsed.nonce.len() <= client_nonce.len() {
            return Err(Error::protocol("SCRAM server nonce does not extend the client nonce"));
        }
        if !parsed.nonce.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
            return Err(Error::protocol("SCRAM server nonce contains non-printable characters"));
        }

        let salted_password = hi(&password.0, &parsed.salt, parsed.iterations)?;
        drop(password);
        let client_key = hmac(&salted_password, b"Client Key")?;
        let stored_key = Sha256::digest(client_key);
        let server_key = hmac(&salted_password, b"Server Key")?;

        // client-final-message-without-proof = "c=" base64(gs2-header cbind-data) ",r=" nonce
        let mut cbind_input = self.channel_binding.gs2_header().as_bytes().to_vec();
        cbind_input.extend_from_slice(self.channel_binding.cbind_data());
        let mut client_final = Vec::with_capacity(128);
        client_final.extend_from_slice(b"c=");
        client_final.extend_from_slice(base64::encode(&cbind_input).as_bytes());
        client_final.extend_from_slice(b",r=");
        client_final.extend_from_slice(parsed.nonce);

        // AuthMessage = client-first-bare "," server-first "," client-final-without-proof
        let mut auth_message =
            Vec::with_capacity(client_first_bare.len() + server_first.len() + client_final.len() + 2);
        auth_message.extend_from_slice(client_first_bare.as_bytes());
        auth_message.push(b',');
        auth_message.extend_from_slice(server_first);
        auth_message.push(b',');
        auth_message.extend_from_slice(&client_final);

        let client_signature = hmac(&stored_key, &auth_message)?;
        let mut proof = client_key;
        proof.iter_mut().zip(client_signature).for_each(|(p, s)| *p ^= s);

        client_final.extend_from_slice(b",p=");
        client_final.extend_from_slice(base64::encode(&proof).as_bytes());
        self.message = client_final;

        let verifier = new_mac(&server_key)?.chain_update(&auth_message);
        self.state = State::ServerFinal { verifier };
        Ok(())
    }

    /// Processes the server-final-message (the `AuthenticationSASLFinal`
    /// payload): checks the server's signature in constant time, or reports
    /// the server's `e=` error as [`ErrorKind::Auth`](crate::ErrorKind::Auth).
    ///
    /// Only after this returns `Ok` has the server proven it knows the
    /// password (and, with `-PLUS`, that no one sits between us).
    pub fn finish(&mut self, server_final: &[u8]) -> Result<()> {
        let State::ServerFinal { verifier } = std::mem::replace(&mut self.state, State::Done) else {
            return Err(Error::protocol("unexpected SCRAM server-final-message"));
        };
        // server-final-message = (server-error / verifier) ["," extensions]
        let first = server_final.split(|&b| b == b',').next().unwrap_or_default();
        match attribute(first)? {
            (b'e', value) => Err(server_error(value)),
            (b'v', value) => {
                let signature = base64::decode(value)
                    .ok_or_else(|| Error::protocol("SCRAM server signature is not valid base64"))?;
                verifier.verify_slice(&signature).map_err(|_| {
                    Error::auth(
                        "SCRAM server signature does not match: the server did not prove it knows the \
                         password (wrong server, or a man in the middle)",
                    )
                })
            }
            (other, _) => Err(Error::protocol(format!(
                "SCRAM server-final-message starts with attribute {:?}, expected v= or e=",
                char::from(other)
            ))),
        }
    }
}

/// The fields of a server-first-message we need.
struct ServerFirst<'a> {
    nonce: &'a [u8],
    salt: Vec<u8>,
    iterations: u32,
}

impl<'a> ServerFirst<'a> {
    /// server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
    fn parse(msg: &'a [u8]) -> Result<ServerFirst<'a>> {
        let mut parts = msg.split(|&b| b == b',');
        let mut expect = |name: u8| -> Result<&'a [u8]> {
            let part = parts.next().ok_or_else(|| {
                Error::protocol(format!("SCRAM server-first-message is missing {}=", char::from(name)))
            })?;
            match attribute(part)? {
                (key, value) if key == name => Ok(value),
                (b'm', _) => {
                    Err(Error::auth("the server requires a SCRAM extension (m=) that this client does not support"))
                }
                // Not in the grammar here, but a clear message beats "malformed".
                (b'e', value) => Err(server_error(value)),
                (key, _) => Err(Error::protocol(format!(
                    "SCRAM server-first-message has attribute {:?} where {}= was expected",
                    char::from(key),
                    char::from(name)
                ))),
            }
        };
        let nonce = expect(b'r')?;
        let salt_b64 = expect(b's')?;
        let iterations = expect(b'i')?;
        // Anything after i= is an optional extension, which we may ignore.

        let salt = base64::decode(salt_b64).ok_or_else(|| Error::protocol("SCRAM salt is not valid base64"))?;
        if salt.is_empty() {
            return Err(Error::protocol("SCRAM salt is empty"));
        }
        Ok(ServerFirst { nonce, salt, iterations: parse_iterations(iterations)? })
    }
}

/// Parses and bounds the iteration count.
fn parse_iterations(digits: &[u8]) -> Result<u32> {
    let invalid = || Error::protocol("SCRAM iteration count is not a positive number");
    // At most 10 digits fits u32 parsing without overflow surprises.
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let n = digits.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
    if n == 0 {
        return Err(invalid());
    }
    if n > u64::from(ScramSha256::MAX_ITERATIONS) {
        return Err(Error::auth(format!(
            "the server asked for {n} SCRAM iterations, more than the limit of {}; refusing to \
             authenticate (is this the right server?)",
            ScramSha256::MAX_ITERATIONS
        )));
    }
    u32::try_from(n).map_err(|_| invalid())
}

/// Splits `k=value` where `k` is one ASCII letter.
fn attribute(part: &[u8]) -> Result<(u8, &[u8])> {
    match part {
        [key, b'=', value @ ..] if key.is_ascii_alphabetic() => Ok((*key, value)),
        _ => Err(Error::protocol("malformed SCRAM message attribute")),
    }
}

/// The server's `e=` error as an authentication error.
fn server_error(value: &[u8]) -> Error {
    // The value is peer text: show it lossily and bounded.
    let text = String::from_utf8_lossy(&value[..value.len().min(200)]);
    Error::auth(format!("SCRAM authentication failed: {text}"))
}

/// SASLprep the password if possible, otherwise use its raw bytes (what
/// PostgreSQL does on both sides, so non-UTF-8 passwords work).
#[cfg(feature = "saslprep")]
fn prepare_password(password: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(password).ok().and_then(|s| stringprep::saslprep(s).ok()) {
        Some(prepared) => prepared.as_bytes().to_vec(),
        None => password.to_vec(),
    }
}

/// Without the `saslprep` feature (the npm package's wasm build, where the
/// `stringprep` crate's Unicode tables would weigh more than the rest of the
/// client) SASLprep runs on the host's NFKC ([`super::saslprep::set_nfkc`]:
/// JS's `String.prototype.normalize`), with the same result. Without a
/// normaliser installed a non-ASCII password is used as its raw UTF-8 bytes
/// (what SASLprep gives for every ASCII password anyway).
#[cfg(not(feature = "saslprep"))]
fn prepare_password(password: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(password).ok().and_then(super::saslprep::saslprep) {
        Some(prepared) => prepared.into_bytes(),
        None => password.to_vec(),
    }
}

/// RFC 5802 saslname escaping (`=` → `=3D`, `,` → `=2C`).
fn escape_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

fn new_mac(key: &[u8]) -> Result<HmacSha256> {
    // HMAC accepts keys of any length; the error branch is unreachable in
    // practice but costs nothing to propagate.
    HmacSha256::new_from_slice(key).map_err(|_| Error::auth("invalid HMAC key length"))
}

fn hmac(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    Ok(new_mac(key)?.chain_update(data).finalize().into_bytes().into())
}

/// Hi(password, salt, i) from RFC 5802: PBKDF2 with HMAC-SHA-256 and one
/// output block.
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> Result<[u8; 32]> {
    // Key the MAC once and clone it per round: keying hashes the password.
    let prf = new_mac(password)?;
    let mut u: [u8; 32] =
        prf.clone().chain_update(salt).chain_update(1u32.to_be_bytes()).finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        u = prf.clone().chain_update(u).finalize().into_bytes().into();
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    // RFC 7677 section 3.
    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_client() -> ScramSha256 {
        ScramSha256::with_user(b"pencil", ChannelBinding::unrequested(), NONCE, "user")
    }

    #[test]
    fn rfc7677_vector() {
        let mut scram = rfc_client();
        assert_eq!(scram.mechanism(), "SCRAM-SHA-256");
        assert_eq!(scram.message(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(std::str::from_utf8(scram.message()).unwrap(), CLIENT_FINAL);
        scram.finish(SERVER_FINAL.as_bytes()).unwrap();
        // Nothing more is expected.
        assert_eq!(scram.finish(SERVER_FINAL.as_bytes()).unwrap_err().kind(), ErrorKind::Protocol);
        assert_eq!(scram.update(SERVER_FIRST.as_bytes()).unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn postgres_sends_an_empty_user_name() {
        let scram = ScramSha256::with_nonce(b"pencil", ChannelBinding::unrequested(), NONCE);
        assert_eq!(scram.message(), b"n,,n=,r=rOprNGfwEbeRWgbNEkqO");
        let scram = ScramSha256::with_nonce(b"pencil", ChannelBinding::unsupported(), NONCE);
        assert_eq!(scram.message(), b"y,,n=,r=rOprNGfwEbeRWgbNEkqO");
    }

    #[test]
    fn random_nonces_differ() {
        let a = ScramSha256::new(b"x", ChannelBinding::unrequested()).unwrap();
        let b = ScramSha256::new(b"x", ChannelBinding::unrequested()).unwrap();
        assert_ne!(a.message(), b.message());
        // "n,,n=,r=" + 32 base64 characters
        assert_eq!(a.message().len(), 8 + 32);
    }

    #[test]
    fn channel_binding_vector() {
        let hash: Vec<u8> = (0u8..32).collect();
        let mut scram = ScramSha256::with_nonce(b"pencil", ChannelBinding::tls_server_end_point(hash), NONCE);
        assert_eq!(scram.mechanism(), "SCRAM-SHA-256-PLUS");
        assert_eq!(scram.message(), b"p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO");
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        // base64("p=tls-server-end-point,," ++ bytes 0..32), computed with
        // `(printf 'p=tls-server-end-point,,'; printf "$(printf '\\x%02x' $(seq 0 31))") | base64 -w0`
        let expected_c = "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,";
        let msg = std::str::from_utf8(scram.message()).unwrap();
        assert!(msg.starts_with(expected_c), "{msg}");
        assert!(msg.contains(",r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="));
        // The proof covers the binding, so it differs from the unbound one.
        assert_ne!(msg.rsplit("p=").next(), CLIENT_FINAL.rsplit("p=").next());
        // ... and the RFC's server signature does not verify any more.
        assert_eq!(scram.finish(SERVER_FINAL.as_bytes()).unwrap_err().kind(), ErrorKind::Auth);
    }

    #[test]
    fn bad_server_nonce() {
        for first in [
            "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            // exactly the client nonce: the server added nothing
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqO\x01x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        ] {
            let e = rfc_client().update(first.as_bytes()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{first}");
            assert!(e.message().contains("nonce"), "{e}");
        }
    }

    #[test]
    fn bad_server_signature() {
        let mut scram = rfc_client();
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        let e = scram.finish(b"v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.message().contains("signature"), "{e}");

        // A truncated (prefix) signature must not verify either.
        let mut scram = rfc_client();
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(scram.finish(b"v=6rriTRBi23WpRR/wtup+mA==").unwrap_err().kind(), ErrorKind::Auth);

        let mut scram = rfc_client();
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(scram.finish(b"v=not base64!").unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn server_error_attribute() {
        let mut scram = rfc_client();
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        let e = scram.finish(b"e=invalid-proof").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.message(), "SCRAM authentication failed: invalid-proof");
    }

    #[test]
    fn extensions() {
        // Mandatory extension: refused.
        let e = rfc_client().update(format!("m=ext,{SERVER_FIRST}").as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.message().contains("m="), "{e}");
        // Optional attributes after the required ones: ignored, and part of AuthMessage.
        let mut scram = rfc_client();
        scram.update(format!("{SERVER_FIRST},x=future").as_bytes()).unwrap();
        assert!(scram.message().starts_with(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p="));
        assert_ne!(scram.message(), CLIENT_FINAL.as_bytes());
        // Extensions after v= are tolerated too.
        let mut scram = rfc_client();
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        scram.finish(format!("{SERVER_FINAL},x=y").as_bytes()).unwrap();
    }

    #[test]
    fn iteration_count_bounds() {
        let with_i = |i: &str| {
            let first = format!("r={NONCE}abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i={i}");
            rfc_client().update(first.as_bytes())
        };
        let e = with_i("10000001").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.message().contains("10000001"), "{e}");
        assert_eq!(with_i("99999999999999999999").unwrap_err().kind(), ErrorKind::Protocol);
        assert_eq!(with_i("4294967296").unwrap_err().kind(), ErrorKind::Auth);
        for bad in ["0", "", "-1", "+5", "4096 ", "0x10"] {
            assert_eq!(with_i(bad).unwrap_err().kind(), ErrorKind::Protocol, "{bad:?}");
        }
        with_i("1").unwrap();
        assert_eq!(parse_iterations(b"10000000").unwrap(), ScramSha256::MAX_ITERATIONS);
    }

    #[test]
    fn malformed_server_first() {
        for first in [
            "",
            "r=",
            "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
            "r=rOprNGfwEbeRWgbNEkqOx,s=***,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
            "r=rOprNGfwEbeRWgbNEkqOx,,i=4096",
            "rOprNGfwEbeRWgbNEkqOx",
        ] {
            let e = rfc_client().update(first.as_bytes()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Protocol, "{first:?}: {e}");
        }
        let e = rfc_client().update(b"e=other-error").unwrap_err();
        assert_eq!(e.message(), "SCRAM authentication failed: other-error");
    }

    #[test]
    fn malformed_server_final() {
        for fin in ["", "x=1", "v", "=v", "6rriTRBi23WpRR"] {
            let mut scram = rfc_client();
            scram.update(SERVER_FIRST.as_bytes()).unwrap();
            assert!(scram.finish(fin.as_bytes()).is_err(), "{fin:?}");
        }
    }

    #[test]
    fn finish_before_update_is_an_error() {
        assert_eq!(rfc_client().finish(SERVER_FINAL.as_bytes()).unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn garbage_never_panics() {
        const CHEAP_FIRST: &str = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaT,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"rsiemvpc=,abcXYZ019+/\x00\xff";
        for round in 0..3000 {
            let len = (next() % 80) as usize;
            let mut msg: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
            } else {
                (0..len).map(|_| next() as u8).collect()
            };
            // Also truncations and mutations of the valid messages.
            if round % 5 == 0 {
                msg = CHEAP_FIRST.as_bytes()[..(next() as usize % CHEAP_FIRST.len())].to_vec();
            }
            let mut scram = rfc_client();
            let _ = scram.update(&msg);
            // One iteration keeps this loop fast in debug builds.
            let mut scram = rfc_client();
            scram.update(CHEAP_FIRST.as_bytes()).unwrap();
            let _ = scram.finish(&msg);
            if round % 50 == 0 {
                let mut fin = SERVER_FINAL.as_bytes().to_vec();
                let i = next() as usize % fin.len();
                fin[i] = next() as u8;
                let mut scram = rfc_client();
                scram.update(SERVER_FIRST.as_bytes()).unwrap();
                // A mutated signature must never verify.
                if fin != SERVER_FINAL.as_bytes() {
                    assert!(scram.finish(&fin).is_err(), "{fin:?}");
                }
            }
        }
    }

    #[test]
    fn ascii_passwords_are_used_as_is() {
        // With or without the `saslprep` feature: ASCII (controls included) is unchanged.
        assert_eq!(prepare_password(b"pencil"), b"pencil");
        assert_eq!(prepare_password(b"p a=s,s~!\x7f"), b"p a=s,s~!\x7f");
        assert_eq!(prepare_password(b"a\x07b"), b"a\x07b");
        // The RFC 7677 exchange, which uses the ASCII password "pencil".
        let mut scram = rfc_client();
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(scram.message(), CLIENT_FINAL.as_bytes());
    }

    #[cfg(not(feature = "saslprep"))]
    #[test]
    fn without_saslprep_or_normaliser_non_ascii_is_raw_utf8() {
        // No test installs a normaliser (`auth::saslprep::set_nfkc`).
        assert_eq!(prepare_password("pen\u{00AD}cil".as_bytes()), "pen\u{00AD}cil".as_bytes());
        assert_eq!(prepare_password("pässwörd".as_bytes()), "pässwörd".as_bytes());
        assert_eq!(prepare_password(b"\xffpass"), b"\xffpass");
    }

    #[cfg(feature = "saslprep")]
    #[test]
    fn saslprep_and_raw_fallback() {
        // U+00AD SOFT HYPHEN is mapped to nothing by SASLprep.
        assert_eq!(prepare_password("pen\u{00AD}cil".as_bytes()), b"pencil");
        // Non-UTF-8 is used raw.
        assert_eq!(prepare_password(b"\xffpass"), b"\xffpass");
        // Prohibited output (a control character) falls back to raw bytes.
        assert_eq!(prepare_password(b"a\x07b"), b"a\x07b");
        // So the soft-hyphenated password authenticates like "pencil".
        let mut scram =
            ScramSha256::with_user("pen\u{00AD}cil".as_bytes(), ChannelBinding::unrequested(), NONCE, "user");
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(scram.message(), CLIENT_FINAL.as_bytes());
    }

    #[test]
    fn debug_output_has_no_secrets() {
        let mut scram = rfc_client();
        let before = format!("{scram:?}");
        scram.update(SERVER_FIRST.as_bytes()).unwrap();
        let after = format!("{scram:?}");
        for s in [&before, &after] {
            assert!(!s.contains("pencil"), "{s}");
            assert!(!s.contains("p="), "{s}");
        }
        assert!(after.contains("server-final"), "{after}");
    }

    #[test]
    fn saslname_escaping() {
        assert_eq!(escape_saslname("a=b,c"), "a=3Db=2Cc");
    }
}
