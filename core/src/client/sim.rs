//! Deterministic simulation of a connection, for tests only: a scripted
//! PostgreSQL backend on an in-memory byte stream, and a virtual clock.
//!
//! No socket, no runtime, no real time: the test polls the real [`Driver`]
//! with a no-op waker, lets the [`Backend`] answer whatever the client wrote,
//! and moves the [`SimClock`] by hand. The stream ([`SimStream`]) is told how
//! many bytes each read and write may move (partial reads and writes), when
//! writes block, and when the server hangs up.
//!
//! The backend speaks the simple query protocol with a tiny SQL dialect whose
//! answers say which request they belong to:
//!
//! | query | answer |
//! |---|---|
//! | `SELECT n` | one row, one text column holding `n`; tag `SELECT 1` |
//! | `FAIL n` | ErrorResponse (ERROR, 42000, message `fail n`) |
//! | `FATAL` | ErrorResponse (FATAL, 57P01), then the server hangs up |
//! | `SLEEP n` | nothing until a CancelRequest arrives: ErrorResponse 57014; tag `SELECT n` if the clock says 10 s passed |
//! | `COPY OUT n` | CopyOutResponse, `n` CopyData rows, CopyDone, tag `COPY n` |
//! | `COPY IN` | CopyInResponse; CopyDone answers `COPY <rows>`, CopyFail answers 57014 |
//!
//! and the startup exchange with trust, cleartext password, MD5 or
//! SCRAM-SHA-256 authentication (the server side of RFC 5802 as PostgreSQL
//! runs it: it checks the client's proof against the password and signs the
//! exchange, so a wrong password fails with 28P01 and a client that checks
//! the server signature accepts it).

#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::cancel::SendCancel;
use super::runtime::{BoxFuture, Runtime};
use super::transport::Transport;
use crate::auth::md5::md5_password;
use crate::Result;

/// A small deterministic generator (xorshift64*), so a failing seed replays.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Both directions of the in-memory stream, and the knobs a test turns.
#[derive(Default)]
pub(crate) struct Wire {
    /// Every byte the client wrote.
    pub(crate) to_server: Vec<u8>,
    /// Bytes the backend sent and the client has not read yet.
    pub(crate) to_client: VecDeque<u8>,
    /// The server hung up: reads return end of stream once `to_client` is drained.
    pub(crate) server_closed: bool,
    /// The client closed the stream.
    pub(crate) client_closed: bool,
    /// Bytes the client tried to write after closing (must stay 0).
    pub(crate) written_after_close: usize,
    /// At most this many bytes per read (0: no limit).
    pub(crate) read_chunk: usize,
    /// At most this many bytes per write (0: no limit).
    pub(crate) write_chunk: usize,
    /// Writes return `Pending` (a full socket buffer).
    pub(crate) write_blocked: bool,
    /// Reads return `Pending` even with bytes waiting (a slow network).
    pub(crate) read_blocked: bool,
}

/// The client's end of a [`Wire`].
#[derive(Clone, Default)]
pub(crate) struct SimStream(pub(crate) Arc<Mutex<Wire>>);

impl SimStream {
    pub(crate) fn wire(&self) -> std::sync::MutexGuard<'_, Wire> {
        self.0.lock().unwrap()
    }
}

impl Transport for SimStream {
    fn poll_read_buf(&mut self, _: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        let mut w = self.wire();
        if w.read_blocked {
            return Poll::Pending;
        }
        if w.to_client.is_empty() {
            return if w.server_closed { Poll::Ready(Ok(0)) } else { Poll::Pending };
        }
        let limit = if w.read_chunk == 0 { usize::MAX } else { w.read_chunk };
        let n = w.to_client.len().min(limit);
        buf.extend(w.to_client.drain(..n));
        Poll::Ready(Ok(n))
    }

    fn poll_write(&mut self, _: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut w = self.wire();
        if w.client_closed {
            w.written_after_close += data.len();
        }
        if w.server_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if w.write_blocked {
            return Poll::Pending;
        }
        let limit = if w.write_chunk == 0 { usize::MAX } else { w.write_chunk };
        let n = data.len().min(limit);
        w.to_server.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.wire().client_closed = true;
        Poll::Ready(Ok(()))
    }
}

/// How the simulated server authenticates.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Auth {
    Trust,
    Cleartext(&'static str),
    Md5 {
        user: &'static str,
        password: &'static str,
        salt: [u8; 4],
    },
    /// SCRAM-SHA-256 with this password (ASCII: SASLprep leaves it as is).
    Scram(&'static str),
}

#[derive(Debug, PartialEq)]
enum State {
    /// Waiting for the StartupMessage.
    Startup,
    /// Asked for a password.
    Password,
    /// SCRAM: AuthenticationSASL sent, waiting for the client-first-message.
    SaslFirst,
    /// SCRAM: server-first-message sent, waiting for the client-final-message.
    SaslFinal { client_first_bare: String, server_first: String },
    /// Answering queries.
    Ready,
    /// Inside COPY FROM STDIN, rows received so far.
    CopyIn(u64),
    /// Running `SLEEP n` until a cancel (or 10 virtual seconds).
    Sleeping { n: u64, until: Duration },
    /// Hung up.
    Gone,
}

/// What the backend saw, for the invariants.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The queries, in the order they ran.
    pub(crate) queries: Vec<String>,
    /// A Terminate arrived (and its offset in `to_server`).
    pub(crate) terminate_at: Option<usize>,
    /// CancelRequests received.
    pub(crate) cancels: usize,
    /// CopyData bytes received.
    pub(crate) copy_bytes: usize,
}

/// The scripted PostgreSQL server at the other end of a [`SimStream`].
pub(crate) struct Backend {
    stream: SimStream,
    auth: Auth,
    state: State,
    /// How much of `to_server` was parsed.
    consumed: usize,
    pub(crate) seen: Seen,
    pub(crate) pid: i32,
}

impl Backend {
    pub(crate) fn new(stream: &SimStream, auth: Auth) -> Backend {
        Backend { stream: stream.clone(), auth, state: State::Startup, consumed: 0, seen: Seen::default(), pid: 4242 }
    }

    /// A backend whose session is already up (the startup happened elsewhere).
    pub(crate) fn ready(stream: &SimStream) -> Backend {
        let mut b = Backend::new(stream, Auth::Trust);
        b.state = State::Ready;
        b
    }

    /// Answers every complete message the client wrote so far; `now` is the
    /// virtual time (for `SLEEP`). Returns whether anything happened.
    pub(crate) fn step(&mut self, now: Duration) -> bool {
        let mut progress = false;
        if let State::Sleeping { n, until } = self.state {
            if now >= until {
                self.row_answer(n);
                self.state = State::Ready;
                progress = true;
            }
        }
        loop {
            if matches!(self.state, State::Gone | State::Sleeping { .. }) {
                return progress;
            }
            let (tag, body) = {
                let w = self.stream.wire();
                let rest = &w.to_server[self.consumed..];
                if self.state == State::Startup {
                    if rest.len() < 4 {
                        return progress;
                    }
                    let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
                    if rest.len() < len {
                        return progress;
                    }
                    (0u8, rest[4..len].to_vec())
                } else {
                    if rest.len() < 5 {
                        return progress;
                    }
                    let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
                    if rest.len() < 1 + len {
                        return progress;
                    }
                    (rest[0], rest[5..1 + len].to_vec())
                }
            };
            self.consumed += if tag == 0 { body.len() + 4 } else { body.len() + 5 };
            progress = true;
            self.handle(tag, &body, now);
        }
    }

    fn handle(&mut self, tag: u8, body: &[u8], now: Duration) {
        match (&self.state, tag) {
            (State::Startup, 0) => match self.auth {
                Auth::Trust => self.session_up(),
                Auth::Cleartext(_) => {
                    self.send(b'R', &3i32.to_be_bytes());
                    self.state = State::Password;
                }
                Auth::Md5 { salt, .. } => {
                    let mut b = 5i32.to_be_bytes().to_vec();
                    b.extend_from_slice(&salt);
                    self.send(b'R', &b);
                    self.state = State::Password;
                }
                Auth::Scram(_) => {
                    let mut b = 10i32.to_be_bytes().to_vec();
                    b.extend_from_slice(b"SCRAM-SHA-256\0\0");
                    self.send(b'R', &b);
                    self.state = State::SaslFirst;
                }
            },
            (State::SaslFirst, b'p') => match scram_client_first(body) {
                Some(client_first_bare) => {
                    let nonce = format!("{}{}", attr(&client_first_bare, 'r').unwrap_or_default(), "SiMsErVeRnOnCe");
                    let server_first = format!("r={nonce},s={},i={SCRAM_ITERATIONS}", b64(SCRAM_SALT));
                    let mut b = 11i32.to_be_bytes().to_vec();
                    b.extend_from_slice(server_first.as_bytes());
                    self.send(b'R', &b);
                    self.state = State::SaslFinal { client_first_bare, server_first };
                }
                // E.g. a cleartext password sent ahead (pipelined) where a
                // SASLInitialResponse belongs.
                None => {
                    self.error("FATAL", "08P01", "malformed SCRAM message");
                    self.hang_up();
                }
            },
            (State::SaslFinal { client_first_bare, server_first }, b'p') => {
                let Auth::Scram(password) = self.auth else { unreachable!("SCRAM state without SCRAM") };
                let (bare, first) = (client_first_bare.clone(), server_first.clone());
                match scram_verify(password, &bare, &first, body) {
                    Some(server_signature) => {
                        let mut b = 12i32.to_be_bytes().to_vec();
                        b.extend_from_slice(format!("v={}", b64(&server_signature)).as_bytes());
                        self.send(b'R', &b);
                        self.session_up();
                    }
                    None => {
                        self.error("FATAL", "28P01", "password authentication failed");
                        self.hang_up();
                    }
                }
            }
            (State::Password, b'p') => {
                let given = cstr(body);
                let expected = match self.auth {
                    Auth::Cleartext(p) => p.to_owned(),
                    Auth::Md5 { user, password, salt } => md5_password(user.as_bytes(), password.as_bytes(), salt),
                    Auth::Trust | Auth::Scram(_) => String::new(),
                };
                if given == expected {
                    self.session_up();
                } else {
                    self.error("FATAL", "28P01", "password authentication failed");
                    self.hang_up();
                }
            }
            (State::Startup | State::Password | State::SaslFirst | State::SaslFinal { .. }, _) => {
                // What a server does with a message out of place here: FATAL, hang up.
                self.error("FATAL", "08P01", "invalid authentication request packet");
                self.hang_up();
            }
            (State::Ready, b'Q') => self.query(&cstr(body), now),
            (State::Ready, b'S') => self.ready_for_query(),
            (State::Ready | State::CopyIn(_), b'X') => {
                self.seen.terminate_at = Some(self.consumed);
                self.hang_up();
            }
            (State::CopyIn(rows), b'd') => {
                self.seen.copy_bytes += body.len();
                self.state = State::CopyIn(rows + body.iter().filter(|b| **b == b'\n').count() as u64);
            }
            (State::CopyIn(rows), b'c') => {
                let rows = *rows;
                self.state = State::Ready;
                self.complete(&format!("COPY {rows}"));
                self.ready_for_query();
            }
            (State::CopyIn(_), b'f') => {
                self.state = State::Ready;
                self.error("ERROR", "57014", "COPY from stdin failed");
                self.ready_for_query();
            }
            (_, other) => {
                self.error("FATAL", "08P01", &format!("unexpected message {:?}", other as char));
                self.hang_up();
            }
        }
    }

    fn query(&mut self, sql: &str, now: Duration) {
        self.seen.queries.push(sql.to_owned());
        let mut words = sql.split(' ');
        let verb = words.next().unwrap_or("");
        let arg = |w: Option<&str>| w.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        match verb {
            "SELECT" => {
                self.row_answer(arg(words.next()));
            }
            "FAIL" => {
                let n = arg(words.next());
                self.error("ERROR", "42000", &format!("fail {n}"));
                self.ready_for_query();
            }
            "FATAL" => {
                self.error("FATAL", "57P01", "terminating connection due to administrator command");
                self.hang_up();
            }
            "SLEEP" => {
                let n = arg(words.next());
                self.state = State::Sleeping { n, until: now + Duration::from_secs(10) };
            }
            "COPY" if words.next() == Some("OUT") => {
                let n = arg(words.next());
                self.send(b'H', &[0, 0, 1, 0, 0]);
                for i in 0..n {
                    self.send(b'd', format!("row {i}\n").as_bytes());
                }
                self.send(b'c', &[]);
                self.complete(&format!("COPY {n}"));
                self.ready_for_query();
            }
            "COPY" => {
                self.send(b'G', &[0, 0, 1, 0, 0]);
                self.state = State::CopyIn(0);
            }
            _ => {
                self.error("ERROR", "42601", "syntax error");
                self.ready_for_query();
            }
        }
    }

    /// A CancelRequest on a second stream: stops a running `SLEEP`.
    pub(crate) fn cancel(&mut self) {
        self.seen.cancels += 1;
        if let State::Sleeping { .. } = self.state {
            self.state = State::Ready;
            self.error("ERROR", "57014", "canceling statement due to user request");
            self.ready_for_query();
        }
    }

    /// The server goes away without a word (a network failure).
    pub(crate) fn vanish(&mut self) {
        self.hang_up();
    }

    fn row_answer(&mut self, n: u64) {
        // RowDescription: one text column "v".
        let mut rd = Vec::new();
        rd.extend_from_slice(&1i16.to_be_bytes());
        rd.extend_from_slice(b"v\0");
        rd.extend_from_slice(&0i32.to_be_bytes());
        rd.extend_from_slice(&0i16.to_be_bytes());
        rd.extend_from_slice(&25i32.to_be_bytes());
        rd.extend_from_slice(&(-1i16).to_be_bytes());
        rd.extend_from_slice(&(-1i32).to_be_bytes());
        rd.extend_from_slice(&0i16.to_be_bytes());
        self.send(b'T', &rd);
        let v = n.to_string();
        let mut dr = Vec::new();
        dr.extend_from_slice(&1i16.to_be_bytes());
        dr.extend_from_slice(&(v.len() as i32).to_be_bytes());
        dr.extend_from_slice(v.as_bytes());
        self.send(b'D', &dr);
        self.complete("SELECT 1");
        self.ready_for_query();
    }

    fn session_up(&mut self) {
        self.send(b'R', &0i32.to_be_bytes());
        for (k, v) in [("server_version", "16.4"), ("client_encoding", "UTF8"), ("integer_datetimes", "on")] {
            let mut b = Vec::new();
            b.extend_from_slice(k.as_bytes());
            b.push(0);
            b.extend_from_slice(v.as_bytes());
            b.push(0);
            self.send(b'S', &b);
        }
        let mut key = self.pid.to_be_bytes().to_vec();
        key.extend_from_slice(&7i32.to_be_bytes());
        self.send(b'K', &key);
        self.state = State::Ready;
        self.ready_for_query();
    }

    fn complete(&mut self, tag: &str) {
        let mut b = tag.as_bytes().to_vec();
        b.push(0);
        self.send(b'C', &b);
    }

    fn error(&mut self, severity: &str, code: &str, message: &str) {
        let mut b = Vec::new();
        for (f, v) in [(b'S', severity), (b'V', severity), (b'C', code), (b'M', message)] {
            b.push(f);
            b.extend_from_slice(v.as_bytes());
            b.push(0);
        }
        b.push(0);
        self.send(b'E', &b);
    }

    fn ready_for_query(&mut self) {
        self.send(b'Z', b"I");
    }

    fn hang_up(&mut self) {
        self.state = State::Gone;
        self.stream.wire().server_closed = true;
    }

    fn send(&mut self, tag: u8, body: &[u8]) {
        let mut m = BytesMut::with_capacity(body.len() + 5);
        m.put_u8(tag);
        m.put_u32(body.len() as u32 + 4);
        m.extend_from_slice(body);
        self.stream.wire().to_client.extend(m.iter().copied());
    }
}

/// The salt and iteration count of the simulated SCRAM verifier.
const SCRAM_SALT: &[u8] = b"sim-salt-16bytes";
const SCRAM_ITERATIONS: u32 = 4096;

/// The client-first-message-bare of a SASLInitialResponse (mechanism,
/// length, `gs2-header client-first-bare`), if it is one for SCRAM-SHA-256.
fn scram_client_first(body: &[u8]) -> Option<String> {
    let end = body.iter().position(|b| *b == 0)?;
    if &body[..end] != b"SCRAM-SHA-256" || body.len() < end + 5 {
        return None;
    }
    let data = std::str::from_utf8(&body[end + 5..]).ok()?;
    // gs2-header: "n,," or "y,," (no channel binding over an in-memory stream).
    let bare = data.strip_prefix("n,,").or_else(|| data.strip_prefix("y,,"))?;
    attr(bare, 'r')?;
    Some(bare.to_owned())
}

/// Checks a client-final-message's proof against `password`; returns the
/// server signature to send when it holds.
fn scram_verify(password: &str, client_first_bare: &str, server_first: &str, body: &[u8]) -> Option<Vec<u8>> {
    let client_final = std::str::from_utf8(body).ok()?;
    let (without_proof, proof) = client_final.rsplit_once(",p=")?;
    let proof = unb64(proof)?;
    if attr(without_proof, 'r') != attr(server_first, 'r') {
        return None;
    }
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    // SaltedPassword = Hi(password, salt, i): PBKDF2 with HMAC-SHA-256, one block.
    let mut u = hmac256(password.as_bytes(), &[SCRAM_SALT, &1u32.to_be_bytes()].concat());
    let mut salted = u.clone();
    for _ in 1..SCRAM_ITERATIONS {
        u = hmac256(password.as_bytes(), &u);
        salted.iter_mut().zip(&u).for_each(|(s, x)| *s ^= x);
    }
    let stored_key = Sha256::digest(hmac256(&salted, b"Client Key")).to_vec();
    let signature = hmac256(&stored_key, auth_message.as_bytes());
    let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
    if proof.len() != signature.len() || Sha256::digest(&client_key).as_slice() != stored_key.as_slice() {
        return None;
    }
    Some(hmac256(&hmac256(&salted, b"Server Key"), auth_message.as_bytes()))
}

fn hmac256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The value of attribute `name` (`name=value`) in a SCRAM message.
fn attr(msg: &str, name: char) -> Option<String> {
    msg.split(',').find_map(|p| p.strip_prefix(name)?.strip_prefix('=')).map(str::to_owned)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (written here: the client's is private to `auth`).
fn b64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unb64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.trim_end_matches('=').bytes() {
        acc = acc << 6 | B64.iter().position(|b| *b == c)? as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn cstr(body: &[u8]) -> String {
    let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
    String::from_utf8_lossy(&body[..end]).into_owned()
}

/// A virtual clock and a runtime on it: `sleep` completes once the test
/// moved the clock past its deadline, spawned tasks run when the test calls
/// [`SimClock::run_tasks`].
#[derive(Default)]
pub(crate) struct SimClock {
    now: Mutex<Duration>,
    tasks: Mutex<Vec<BoxFuture<'static, ()>>>,
}

impl SimClock {
    pub(crate) fn new() -> Arc<SimClock> {
        Arc::new(SimClock::default())
    }

    pub(crate) fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }

    /// Polls every spawned task once; drops those that finished.
    pub(crate) fn run_tasks(&self) {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        tasks.retain_mut(|t| t.as_mut().poll(&mut cx).is_pending());
        self.tasks.lock().unwrap().extend(tasks);
    }
}

struct Sleep {
    clock: Arc<SimClock>,
    until: Duration,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if *self.clock.now.lock().unwrap() >= self.until {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The runtime seen by the code under test.
#[derive(Clone)]
pub(crate) struct SimRuntime(pub(crate) Arc<SimClock>);

impl Runtime for SimRuntime {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        let until = self.now() + duration;
        Box::pin(Sleep { clock: self.0.clone(), until })
    }
    fn now(&self) -> Duration {
        *self.0.now.lock().unwrap()
    }
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self.0.tasks.lock().unwrap().push(future);
    }
}

/// CancelRequests, queued for the test to hand to the backend.
#[derive(Default)]
pub(crate) struct SimCancel(pub(crate) Mutex<Vec<Bytes>>);

impl SendCancel for SimCancel {
    fn send_cancel(&self, request: Bytes) -> BoxFuture<'static, Result<()>> {
        self.0.lock().unwrap().push(request);
        Box::pin(async { Ok(()) })
    }
}
