//! The engine driven by plain method calls: no futures, no channels, no
//! waker. A [`Pair`] (after quinn-proto's test pair) joins a [`Session`] to
//! the scripted backend of `crate::client::sim` through the in-memory wire,
//! moving bytes by hand; tokens are request numbers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;

use super::{Event, Session, COPY_WRITE_HIGH_WATER};
use crate::client::cancel::CANCEL_GRACE;
use crate::client::pipelined_startup::{PipelinedStartup, HOLD};
use crate::client::request::{Response, StreamItem};
use crate::client::shared::Shared;
use crate::client::sim::{Auth, Backend, Rng, SimStream};
use crate::client::startup::{Startup, StartupOptions};
use crate::config::ChannelBindingMode;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::frontend;
use crate::{Error, ErrorKind, Result, SqlState};

/// A session and the backend at the other end of its wire.
struct Pair {
    engine: Session<u64>,
    stream: SimStream,
    backend: Backend,
    shared: Arc<Shared>,
    /// Whether the stream consumer of the front request has room.
    room: bool,
    done: Vec<(u64, Response)>,
    items: Vec<StreamItem>,
    failed: Vec<(u64, Error)>,
    reopens: usize,
    /// How the session ended (`Ok` after a Terminate).
    ended: Option<Result<()>>,
    now: Duration,
}

impl Pair {
    /// A session that is up, over a backend that is ready.
    fn new() -> Pair {
        let stream = SimStream::default();
        let backend = Backend::ready(&stream);
        let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
        let engine = Session::new(BytesMut::new(), shared.clone(), 1 << 20);
        Pair::with(engine, stream, backend, shared)
    }

    fn with(engine: Session<u64>, stream: SimStream, backend: Backend, shared: Arc<Shared>) -> Pair {
        Pair {
            engine,
            stream,
            backend,
            shared,
            room: true,
            done: Vec::new(),
            items: Vec::new(),
            failed: Vec::new(),
            reopens: 0,
            ended: None,
            now: Duration::ZERO,
        }
    }

    /// A pipelined connect's session (startup bytes queued) over a backend
    /// that authenticates with `auth`.
    fn pipelined(auth: Auth, can_reopen: bool, hold_until: Option<Duration>) -> Pair {
        let stream = SimStream::default();
        let backend = Backend::new(&stream, auth);
        let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
        shared.set_pipelined_startup(true);
        let mut startup = Startup::new(options("pw"));
        let mut first = BytesMut::new();
        startup.start(&mut first).unwrap();
        assert!(startup.password_pipelined());
        let phase = PipelinedStartup::new(startup, options("pw"), can_reopen, hold_until, Arc::default());
        let engine = Session::new(BytesMut::new(), shared.clone(), 1 << 20).with_pipelined_startup(phase, first);
        Pair::with(engine, stream, backend, shared)
    }

    fn push(&mut self, sql: &str, token: u64) -> std::result::Result<(), (u64, Error)> {
        self.push_as(sql, token, false, false)
    }

    fn push_as(
        &mut self,
        sql: &str,
        token: u64,
        streamed: bool,
        copy_in: bool,
    ) -> std::result::Result<(), (u64, Error)> {
        let mut b = BytesMut::new();
        frontend::query(sql, &mut b).unwrap();
        self.shared.note_sent();
        self.engine.push_request(b, 1, None, streamed, copy_in, token)
    }

    /// Ends the session as a driver would: every request in flight fails.
    fn end(&mut self, result: Result<()>) {
        let error = match &result {
            Ok(()) => Error::closed(),
            Err(e) => e.duplicate(),
        };
        let failed = &mut self.failed;
        self.engine.fail_all(&error, |t, e| failed.push((t, e)));
        self.ended = Some(result);
    }

    /// One round: write what the engine has (as far as the wire takes
    /// it), flush, hand out events, read, let the backend answer.
    fn turn(&mut self) -> bool {
        if self.ended.is_some() {
            return false;
        }
        let before = (self.engine.messages_in(), self.engine.output().len());
        let mut progress = false;
        let io = self.engine.io_allowed();
        if io {
            let out = self.engine.output();
            let mut w = self.stream.wire();
            let mut wrote = 0;
            if !out.is_empty() && !w.write_blocked {
                if w.client_closed {
                    w.written_after_close += out.len();
                }
                if w.server_closed {
                    drop(w);
                    self.end(Err(Error::new(ErrorKind::Io, "broken pipe")));
                    return true;
                }
                wrote = if w.write_chunk == 0 { out.len() } else { out.len().min(w.write_chunk) };
                w.to_server.extend_from_slice(&out[..wrote]);
            }
            drop(w);
            if wrote > 0 {
                self.engine.advance_output(wrote);
                progress = true;
            }
            if self.engine.wants_flush() {
                self.engine.flushed();
            }
            if self.engine.wants_close() {
                self.stream.wire().client_closed = true;
                self.end(Ok(()));
                return true;
            }
        }
        loop {
            match self.engine.poll_event(self.room) {
                Ok(None) => break,
                Ok(Some(Event::Done(t, r))) => self.done.push((t, r)),
                Ok(Some(Event::Stream(item))) => self.items.push(item),
                Ok(Some(Event::Reopen)) => self.reopens += 1,
                Err(e) => {
                    self.end(Err(e));
                    return true;
                }
            }
            progress = true;
        }
        if io && self.engine.wants_read() {
            let mut w = self.stream.wire();
            if !w.read_blocked {
                if w.to_client.is_empty() && w.server_closed {
                    drop(w);
                    let r = self.engine.recv_eof();
                    self.end(r);
                    return true;
                }
                let limit = if w.read_chunk == 0 { usize::MAX } else { w.read_chunk };
                let n = w.to_client.len().min(limit);
                let bytes: Vec<u8> = w.to_client.drain(..n).collect();
                drop(w);
                self.engine.receive(&bytes);
                progress |= n > 0;
            }
        }
        progress |= self.backend.step(self.now);
        progress || before != (self.engine.messages_in(), self.engine.output().len())
    }

    fn settle(&mut self) {
        for _ in 0..100_000 {
            if !self.turn() {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    fn tokens_done(&self) -> Vec<u64> {
        self.done.iter().map(|(t, _)| *t).collect()
    }
}

fn options(password: &str) -> StartupOptions {
    StartupOptions {
        params: vec![("user".into(), "u".into())],
        user: "u".into(),
        password: Some(password.as_bytes().to_vec()),
        channel_binding: ChannelBindingMode::Prefer,
        tls_server_end_point: None,
        pipeline_password: true,
        require_auth: None,
    }
}

fn query_bytes(sql: &str) -> Vec<u8> {
    let mut b = BytesMut::new();
    frontend::query(sql, &mut b).unwrap();
    b.to_vec()
}

/// The single text value of a `SELECT n` answer.
fn value(r: &Response) -> u64 {
    let rows = &r.results[0].rows;
    assert_eq!(rows.len(), 1);
    rows[0].get::<String, _>(0).unwrap().parse().unwrap()
}

#[test]
fn requests_are_written_at_once_in_order_and_answered_in_order() {
    let mut p = Pair::new();
    for n in 1..=5 {
        p.push(&format!("SELECT {n}"), n).unwrap();
    }
    // Pipelining: all five are output before any answer.
    let expected: Vec<u8> = (1..=5).flat_map(|n| query_bytes(&format!("SELECT {n}"))).collect();
    assert_eq!(p.engine.output(), &expected[..]);
    assert!(!p.engine.is_idle());
    p.stream.wire().read_chunk = 3; // answers arrive in small pieces
    p.settle();
    assert_eq!(p.tokens_done(), vec![1, 2, 3, 4, 5]);
    for (t, r) in &p.done {
        assert_eq!(value(r), *t, "each response goes to its own request");
    }
    assert!(p.engine.is_idle());
    assert_eq!(p.backend.seen.queries.len(), 5);
}

#[test]
fn an_error_is_routed_to_its_own_request_only() {
    let mut p = Pair::new();
    p.push("SELECT 1", 1).unwrap();
    p.push("FAIL 2", 2).unwrap();
    p.push("SELECT 3", 3).unwrap();
    p.settle();
    assert_eq!(p.tokens_done(), vec![1, 2, 3]);
    assert!(p.done[0].1.error.is_none() && p.done[2].1.error.is_none());
    let e = p.done[1].1.error.as_ref().expect("FAIL 2 failed");
    assert_eq!(e.code(), SqlState::from_code("42000"));
    assert_eq!(e.as_db_error().map(|d| d.message.as_str()), Some("fail 2"));
    assert_eq!(value(&p.done[2].1), 3);
}

#[test]
fn copy_in_is_paced_by_the_high_water_mark_and_later_requests_wait() {
    let mut p = Pair::new();
    assert!(p.engine.accepts_requests());
    p.push_as("COPY IN", 1, false, true).unwrap();
    assert!(!p.engine.accepts_requests(), "nothing may be written inside the COPY");
    assert!(!p.engine.wants_copy_data(), "the server has not asked for data yet");
    p.settle();
    assert!(p.engine.wants_copy_data(), "CopyInResponse arrived");
    // A socket that takes nothing: the engine stops wanting data at its mark.
    p.stream.wire().write_blocked = true;
    let chunk = [b"x".repeat(16 * 1024 - 1), b"\n".to_vec()].concat();
    let mut chunks = 0;
    while p.engine.wants_copy_data() {
        p.engine.copy_data(&chunk).unwrap();
        chunks += 1;
        p.turn();
        assert!(chunks < 1000, "no backpressure");
    }
    assert!(p.engine.output().len() >= COPY_WRITE_HIGH_WATER);
    assert!(p.engine.output().len() < COPY_WRITE_HIGH_WATER + chunk.len() + 5);
    // The socket drains: data is wanted again.
    p.stream.wire().write_blocked = false;
    p.settle();
    assert!(p.engine.wants_copy_data());
    p.engine.copy_data(&chunk).unwrap();
    chunks += 1;
    p.engine.copy_done();
    assert!(!p.engine.wants_copy_data());
    p.settle();
    assert_eq!(p.tokens_done(), vec![1]);
    assert_eq!(p.done[0].1.last_tag(), Some(format!("COPY {chunks}").as_str()));
    assert_eq!(p.backend.seen.copy_bytes, chunks * chunk.len());
    assert!(p.engine.accepts_requests(), "the COPY is over: requests flow again");
}

#[test]
fn a_rejected_copy_in_stops_the_data_and_fails_cleanly() {
    let mut p = Pair::new();
    p.push_as("COPY IN", 1, false, true).unwrap();
    p.settle();
    p.engine.copy_data(b"a\n").unwrap();
    p.engine.copy_fail("no\0thanks").unwrap(); // a NUL in the reason is replaced
    assert!(p.engine.front_copy_over());
    p.settle();
    let e = p.done[0].1.error.as_ref().expect("CopyFail fails the COPY");
    assert_eq!(e.code(), SqlState::from_code("57014"));
    assert!(p.engine.accepts_requests());
}

#[test]
fn copy_out_stops_reading_while_the_consumer_has_no_room() {
    let mut p = Pair::new();
    p.room = false;
    p.stream.wire().read_chunk = 512;
    p.push_as("COPY OUT 2000", 1, true, false).unwrap();
    p.settle();
    assert!(!p.engine.wants_read(), "a message waits for the consumer: nothing more is read");
    let unread = p.stream.wire().to_client.len();
    assert!(unread > 10_000, "the engine kept reading for a consumer without room ({unread} bytes left)");
    assert!(p.items.is_empty() && p.done.is_empty());
    // One item of room at a time.
    let mut rounds = 0;
    while p.done.is_empty() {
        p.room = true;
        let before = p.items.len();
        while p.items.len() == before && p.done.is_empty() {
            assert!(p.turn(), "stuck");
        }
        p.room = false;
        rounds += 1;
        assert!(rounds < 100_000);
    }
    assert!(matches!(p.items[0], StreamItem::CopyOut { format: 0 }));
    let rows: usize = p
        .items
        .iter()
        .map(|i| match i {
            StreamItem::CopyData(d) => d.iter().filter(|b| **b == b'\n').count(),
            _ => 0,
        })
        .sum();
    assert_eq!(rows, 2000);
    assert_eq!(p.done[0].1.last_tag(), Some("COPY 2000"));
}

#[test]
fn streamed_rows_are_handed_over_before_the_end() {
    let mut p = Pair::new();
    p.stream.wire().read_chunk = 1;
    p.push_as("SELECT 7", 1, true, false).unwrap();
    p.settle();
    let rows: Vec<_> = p
        .items
        .iter()
        .flat_map(|i| match i {
            StreamItem::Rows(rows) => rows.clone(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<String, _>(0).unwrap(), "7");
    assert!(p.done[0].1.results[0].rows.is_empty(), "streamed rows are not in the response too");
}

#[test]
fn a_consumer_that_goes_away_gets_nothing_more_and_the_stream_stays_in_step() {
    let mut p = Pair::new();
    p.push_as("COPY OUT 50", 1, true, false).unwrap();
    p.push("SELECT 2", 2).unwrap();
    p.room = false;
    p.settle();
    p.engine.front_stream_closed();
    p.settle();
    assert!(p.items.is_empty());
    assert_eq!(p.tokens_done(), vec![1, 2]);
    assert_eq!(value(&p.done[1].1), 2);
}

#[test]
fn a_fatal_error_mid_stream_fails_what_follows_with_a_typed_error() {
    let mut p = Pair::new();
    p.push("SELECT 1", 1).unwrap();
    p.push("FATAL", 2).unwrap();
    p.push("SELECT 3", 3).unwrap();
    p.settle();
    assert_eq!(p.tokens_done(), vec![1]);
    let ended = p.ended.as_ref().expect("the session ended");
    assert_eq!(ended.as_ref().unwrap_err().kind(), ErrorKind::Closed);
    let failed: HashMap<u64, &Error> = p.failed.iter().map(|(t, e)| (*t, e)).collect();
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[&2].code(), SqlState::from_code("57P01"), "its own server error");
    assert_eq!(failed[&3].kind(), ErrorKind::Closed);
    assert!(!failed[&3].is_unsent(), "SELECT 3 was flushed: it may have run");
}

#[test]
fn an_unsolicited_fatal_error_is_the_close_reason() {
    let mut p = Pair::new();
    p.push("SELECT 1", 1).unwrap();
    p.settle();
    p.receive_fatal();
    p.stream.wire().server_closed = true;
    p.settle();
    let e = p.ended.as_ref().unwrap().as_ref().unwrap_err();
    assert_eq!(e.code(), SqlState::from_code("57P01"), "{e}");
}

impl Pair {
    /// An ErrorResponse FATAL 57P01 outside any request (admin shutdown).
    fn receive_fatal(&mut self) {
        let mut body = Vec::new();
        for (f, v) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "57P01"), (b'M', "terminating connection")] {
            body.push(f);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut m = vec![b'E'];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(&body);
        self.engine.receive(&m);
    }
}

#[test]
fn nothing_is_written_after_terminate() {
    let mut p = Pair::new();
    p.push("SELECT 1", 1).unwrap();
    p.engine.terminate();
    assert!(p.engine.is_terminating() && !p.engine.accepts_requests());
    let (t, e) = p.push("SELECT 2", 2).unwrap_err();
    assert_eq!((t, e.kind()), (2, ErrorKind::Closed));
    p.engine.terminate(); // idempotent: one Terminate only
    let mut terminate = BytesMut::new();
    frontend::terminate(&mut terminate);
    let expected = [query_bytes("SELECT 1"), terminate.to_vec()].concat();
    assert_eq!(p.engine.output(), &expected[..]);
    assert!(!p.engine.wants_close(), "an answer is in flight");
    p.settle();
    assert_eq!(p.tokens_done(), vec![1]);
    assert!(matches!(p.ended, Some(Ok(()))), "closed cleanly after the answer");
    let w = p.stream.wire();
    assert_eq!(p.backend.seen.terminate_at, Some(w.to_server.len()), "Terminate came last");
    assert_eq!(w.written_after_close, 0);
}

#[test]
fn pipelined_startup_sends_password_and_requests_in_one_flight() {
    let mut p = Pair::pipelined(Auth::Cleartext("pw"), false, None);
    assert!(p.engine.is_starting());
    let first = p.engine.output().to_vec();
    p.push("SELECT 1", 1).unwrap();
    p.push("SELECT 2", 2).unwrap();
    let flight = [first, query_bytes("SELECT 1"), query_bytes("SELECT 2")].concat();
    assert_eq!(p.engine.output(), &flight[..], "one flight: startup, password, requests");
    p.settle();
    assert!(!p.engine.is_starting());
    assert_eq!(p.tokens_done(), vec![1, 2]);
    assert_eq!(value(&p.done[1].1), 2);
    assert_eq!(p.shared.parameter("server_version").as_deref(), Some("16.4"));
    assert!(!p.shared.in_pipelined_startup());
}

#[test]
fn pipelined_startup_falls_back_reopens_and_replays_in_order() {
    let md5 = Auth::Md5 { user: "u", password: "pw", salt: [1, 2, 3, 4] };
    let mut p = Pair::pipelined(md5, true, None);
    for n in 1..=3 {
        p.push(&format!("SELECT {n}"), n).unwrap();
    }
    p.settle();
    assert_eq!(p.reopens, 1, "the engine asked for a new stream");
    assert!(!p.engine.io_allowed() && p.engine.output().is_empty(), "nothing goes to the old stream");
    assert!(p.backend.seen.queries.is_empty(), "nothing ran on the rejected stream");
    p.push("SELECT 4", 4).unwrap(); // queued during the reconnect: held, then replayed after the others
                                    // The driver opened a new stream.
    let second = SimStream::default();
    p.backend = Backend::new(&second, md5);
    p.stream = second;
    p.engine.reopen(None).unwrap();
    assert!(p.engine.reopen(None).is_err(), "only one reconnect was asked for");
    p.settle();
    assert_eq!(p.tokens_done(), vec![1, 2, 3, 4]);
    let ran: Vec<String> = (1..=4).map(|n| format!("SELECT {n}")).collect();
    assert_eq!(p.backend.seen.queries, ran, "replayed once, in order");
    assert_eq!(p.reopens, 1);
}

#[test]
fn a_scram_server_rejects_the_pipelined_password_and_the_replay_authenticates() {
    let mut p = Pair::pipelined(Auth::Scram("pw"), true, None);
    p.push("SELECT 1", 1).unwrap();
    p.settle();
    assert_eq!(p.reopens, 1);
    let second = SimStream::default();
    p.backend = Backend::new(&second, Auth::Scram("pw"));
    p.stream = second;
    p.engine.reopen(None).unwrap();
    p.settle();
    assert_eq!(p.tokens_done(), vec![1], "SCRAM on the new stream, then the replay");
    assert_eq!(value(&p.done[0].1), 1);
    assert!(!p.engine.is_starting());
}

#[test]
fn pipelined_startup_without_a_way_to_reopen_fails() {
    let mut p = Pair::pipelined(Auth::Md5 { user: "u", password: "pw", salt: [1, 2, 3, 4] }, false, None);
    p.push("SELECT 1", 1).unwrap();
    p.settle();
    assert_eq!(p.reopens, 0);
    assert!(p.ended.as_ref().unwrap().is_err());
    assert_eq!(p.failed.len(), 1);
}

#[test]
fn pipelined_startup_holds_its_bytes_until_a_request_or_the_deadline() {
    let mut p = Pair::pipelined(Auth::Cleartext("pw"), false, Some(HOLD));
    assert!(p.engine.needs_clock());
    p.engine.set_now(Duration::ZERO);
    assert!(!p.engine.io_allowed());
    assert_eq!(p.engine.deadline(), Some(HOLD));
    p.settle();
    assert!(p.stream.wire().to_server.is_empty(), "held");
    p.engine.set_now(HOLD);
    assert!(p.engine.io_allowed());
    assert_eq!(p.engine.deadline(), None);
    p.settle();
    assert!(!p.engine.is_starting(), "the startup went out alone and the session came up");
    // A request ends the hold at once.
    let mut q = Pair::pipelined(Auth::Cleartext("pw"), false, Some(HOLD));
    q.push("SELECT 1", 1).unwrap();
    assert!(q.engine.io_allowed());
    assert!(!q.engine.needs_clock());
}

#[test]
fn a_terminate_during_a_pipelined_startup_waits_for_the_session() {
    let mut p = Pair::pipelined(Auth::Cleartext("pw"), false, None);
    p.push("SELECT 7", 7).unwrap();
    p.engine.terminate();
    assert_eq!(p.engine.phase_name(), "starting, then terminate");
    p.settle();
    assert_eq!(p.tokens_done(), vec![7]);
    assert!(matches!(p.ended, Some(Ok(()))));
    assert_eq!(p.backend.seen.terminate_at, Some(p.stream.wire().to_server.len()));
}

#[test]
fn an_abandoned_request_alone_is_cancelled_after_the_grace_period() {
    let mut p = Pair::new();
    p.engine = Session::new(BytesMut::new(), p.shared.clone(), 1 << 20).with_drop_cancel();
    assert!(p.engine.watches_front());
    p.push("SLEEP 1", 1).unwrap();
    p.settle();
    assert!(p.engine.needs_clock(), "a new front request: the engine wants the time");
    p.engine.set_now(Duration::from_secs(1));
    assert!(!p.engine.check_front(false) && p.engine.accepts_requests(), "alive: nothing held");
    assert!(!p.engine.check_front(true), "abandoned: the grace period starts");
    assert!(!p.engine.accepts_requests(), "new requests wait meanwhile");
    assert_eq!(p.engine.deadline(), Some(Duration::from_secs(1) + CANCEL_GRACE));
    p.engine.set_now(Duration::from_secs(1) + CANCEL_GRACE);
    assert!(p.engine.check_front(true), "grace over: cancel now");
    assert!(!p.engine.check_front(true), "once");
    p.backend.cancel();
    p.settle();
    assert_eq!(p.done[0].1.error.as_ref().and_then(Error::code), SqlState::from_code("57014"));
    assert!(!p.engine.check_front(false));
    assert!(!p.engine.accepts_requests(), "the cancel connection is not over yet");
    p.engine.cancel_delivered();
    assert!(!p.engine.check_front(false));
    assert!(p.engine.accepts_requests());
}

#[test]
fn no_cancel_when_a_request_is_pipelined_behind_the_abandoned_one() {
    let mut p = Pair::new();
    p.engine = Session::new(BytesMut::new(), p.shared.clone(), 1 << 20).with_drop_cancel();
    p.push("SLEEP 1", 1).unwrap();
    p.push("SELECT 2", 2).unwrap();
    p.settle();
    p.engine.set_now(Duration::from_secs(100));
    assert!(!p.engine.check_front(true));
    assert!(p.engine.accepts_requests());
}

/// What a request was, to check its answer.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Select(u64),
    Fail(u64),
    Fatal,
    CopyOut(u64),
    /// Runs until cancelled (57014) or 10 virtual seconds passed (its value).
    Sleep(u64),
}

/// The engine's seeded randomized run: requests of every kind, a stream
/// consumer that has room or not, partial and blocked reads and writes,
/// abandoned requests and cancels, vanishing servers and Terminates,
/// interleaved at random over the scripted backend. At every step:
/// * every request gets exactly one outcome, its own answer or a typed error;
/// * nothing is written after Terminate (nor after the stream closed);
/// * the engine says it is idle only when no request waits.
#[test]
fn randomized_engine_run_keeps_the_invariants() {
    const STEPS: u64 = 150_000;
    let seed = std::env::var("EDGEPG_SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5e55_2026);
    let mut rng = Rng::new(seed);
    let mut p = Pair::new();
    let mut waiting: HashMap<u64, Kind> = HashMap::new();
    let mut outcomes: HashSet<u64> = HashSet::new();
    let mut next = 0u64;
    let (mut sessions, mut answered, mut failed, mut cancels) = (1u64, 0u64, 0u64, 0u64);
    let mut drop_cancel = false;
    for step in 0..STEPS {
        let ctx = format!("seed {seed}, step {step}");
        let accepts = p.engine.accepts_requests() && p.ended.is_none();
        match rng.below(100) {
            0..=29 if accepts => {
                next += 1;
                p.push(&format!("SELECT {next}"), next).unwrap();
                waiting.insert(next, Kind::Select(next));
            }
            30..=33 if accepts => {
                next += 1;
                p.push(&format!("FAIL {next}"), next).unwrap();
                waiting.insert(next, Kind::Fail(next));
            }
            34 if accepts && rng.chance(10) => {
                next += 1;
                p.push("FATAL", next).unwrap();
                waiting.insert(next, Kind::Fatal);
            }
            35..=36 if accepts => {
                next += 1;
                let rows = rng.below(40);
                p.push_as(&format!("COPY OUT {rows}"), next, true, false).unwrap();
                waiting.insert(next, Kind::CopyOut(rows));
            }
            37 if accepts && rng.chance(30) => {
                next += 1;
                p.push(&format!("SLEEP {next}"), next).unwrap();
                waiting.insert(next, Kind::Sleep(next));
            }
            38..=44 => {
                let mut w = p.stream.wire();
                w.read_chunk = [0, 1, 2, 5, 13, 64][rng.below(6) as usize];
                w.write_chunk = [0, 1, 3, 7, 64][rng.below(5) as usize];
            }
            45..=48 => {
                let mut w = p.stream.wire();
                w.write_blocked = rng.chance(30);
                w.read_blocked = rng.chance(30);
            }
            49..=52 => p.room = rng.chance(60),
            53 if rng.chance(5) => p.backend.vanish(),
            54 if rng.chance(10) => p.engine.terminate(),
            55..=57 => {
                // Time passes; with drop-cancel, the front's caller may have gone away.
                p.now += Duration::from_millis(rng.below(1500));
                if drop_cancel && p.engine.watches_front() {
                    p.engine.set_now(p.now);
                    if p.engine.check_front(rng.chance(50)) {
                        cancels += 1;
                        p.backend.cancel();
                        p.engine.cancel_delivered();
                    }
                }
            }
            _ => {}
        }
        // A consumer that never makes room would stall forever: it always does eventually.
        if step % 64 == 0 {
            p.room = true;
        }
        p.turn();
        for (t, r) in p.done.drain(..) {
            assert!(outcomes.insert(t), "{ctx}: request {t} answered twice");
            let kind = waiting.remove(&t).unwrap_or_else(|| panic!("{ctx}: an answer for unknown request {t}"));
            match (kind, &r.error) {
                (Kind::Select(n), None) => assert_eq!(value(&r), n, "{ctx}: an answer went to the wrong request"),
                (Kind::Fail(n), Some(e)) => {
                    assert_eq!(e.as_db_error().map(|d| d.message.clone()), Some(format!("fail {n}")), "{ctx}")
                }
                (Kind::CopyOut(n), None) => assert_eq!(r.last_tag(), Some(format!("COPY {n}").as_str()), "{ctx}"),
                (Kind::Sleep(n), None) => assert_eq!(value(&r), n, "{ctx}: an answer went to the wrong request"),
                (Kind::Sleep(_), Some(e)) => assert_eq!(e.code(), SqlState::from_code("57014"), "{ctx}: {e}"),
                (k, e) => panic!("{ctx}: {k:?} got {e:?}"),
            }
            answered += 1;
        }
        p.items.clear();
        for (t, e) in p.failed.drain(..) {
            assert!(outcomes.insert(t), "{ctx}: request {t} failed after an outcome");
            let kind = waiting.remove(&t).unwrap_or_else(|| panic!("{ctx}: an error for unknown request {t}"));
            let typed = matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io)
                || e.code() == SqlState::from_code("57P01")
                || (matches!(kind, Kind::Fail(_)) && e.code() == SqlState::from_code("42000"))
                || e.code() == SqlState::from_code("57014");
            assert!(typed, "{ctx}: {kind:?} failed with {e}");
            failed += 1;
        }
        {
            let w = p.stream.wire();
            assert_eq!(w.written_after_close, 0, "{ctx}: bytes written after the stream was closed");
            if let Some(at) = p.backend.seen.terminate_at {
                assert_eq!(w.to_server.len(), at, "{ctx}: bytes written after Terminate");
            }
        }
        if p.ended.is_none() {
            assert_eq!(p.engine.is_idle(), waiting.is_empty(), "{ctx}: idle is reported only when idle");
        } else {
            assert!(waiting.is_empty(), "{ctx}: the session ended with requests left without an outcome");
            drop_cancel = rng.chance(50);
            p = Pair::new();
            if drop_cancel {
                p.engine = Session::new(BytesMut::new(), p.shared.clone(), 1 << 20).with_drop_cancel();
            }
            sessions += 1;
        }
    }
    eprintln!(
        "seed {seed}: {STEPS} steps, {sessions} sessions, {answered} answers, {failed} errors, {cancels} cancels"
    );
    assert!(answered > 10_000, "too few answers to mean anything: {answered}");
    assert!(failed > 100 && sessions > 10, "errors {failed}, sessions {sessions}");
}
