//! Deterministic simulation tests of the driver (see `super::sim`): the real
//! [`Driver`] against a scripted backend over an in-memory stream, with a
//! virtual clock. Scenarios first, then a seeded randomized run that checks
//! the invariants over more than 100,000 steps.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_channel::{mpsc, oneshot};

use super::cancel::{BackendKey, CancelToken, SendCancel, CANCEL_GRACE};
use super::driver::Driver;
use super::pipelined_startup::{PipelinedStartup, Reopen, HOLD};
use super::request::{CopyInMessage, Request, RequestSender, Response, Sink, StreamItem, COPY_IN_CHANNEL};
use super::runtime::{BoxFuture, Runtime};
use super::shared::Shared;
use super::sim::{Auth, Backend, Rng, SimCancel, SimClock, SimRuntime, SimStream};
use super::startup::{Startup, StartupOptions, Step};
use super::transport::Connected;
use crate::config::ChannelBindingMode;
use crate::protocol::backend::{self, TransactionStatus};
use crate::protocol::frontend;
use crate::{Error, ErrorKind, Result, SqlState};

type Answer = oneshot::Receiver<Result<Response>>;

/// One connection under simulation: driver, backend, clock.
struct Sim {
    stream: SimStream,
    backend: Backend,
    clock: Arc<SimClock>,
    cancel: Arc<SimCancel>,
    /// Dropped once it ends, as a runtime drops a finished task.
    driver: Option<Pin<Box<Driver<SimStream>>>>,
    tx: Option<RequestSender>,
    shared: Arc<Shared>,
    ended: bool,
}

impl Sim {
    /// A connection whose session is up; with `drop_cancel`, abandoned
    /// requests are cancelled after the grace period.
    fn new(drop_cancel: bool) -> Sim {
        let stream = SimStream::default();
        let backend = Backend::ready(&stream);
        let clock = SimClock::new();
        let cancel = Arc::new(SimCancel::default());
        let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
        let (tx, rx) = mpsc::unbounded();
        let mut driver = Driver::new(stream.clone(), BytesMut::new(), rx, shared.clone(), 1 << 20);
        if drop_cancel {
            let key: BackendKey = Arc::new(std::sync::OnceLock::from((4242, Bytes::from_static(&[0, 0, 0, 7]))));
            let runtime: Arc<dyn Runtime> = Arc::new(SimRuntime(clock.clone()));
            let sender: Arc<dyn SendCancel> = cancel.clone();
            let token = CancelToken::new(Some(sender), key, runtime, Duration::from_secs(5));
            driver = driver.with_drop_cancel(token);
        }
        Sim { stream, backend, clock, cancel, driver: Some(Box::pin(driver)), tx: Some(tx), shared, ended: false }
    }

    fn send(&self, r: Request) {
        if matches!(r, Request::Query { .. }) {
            self.shared.note_sent();
        }
        // A closed driver drops the request: its sink reports the close.
        let _ = self.tx.as_ref().expect("handles dropped").unbounded_send(r);
    }

    fn query(&self, sql: &str) -> Answer {
        let mut b = BytesMut::new();
        frontend::query(sql, &mut b).unwrap();
        let (tx, rx) = oneshot::channel();
        self.send(Request::collect(b, 1, None, tx));
        rx
    }

    /// One poll of the driver, then the backend and the spawned tasks
    /// (cancel requests). Returns whether anything moved.
    fn turn(&mut self) -> bool {
        let before = self.lengths();
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        if let Some(d) = self.driver.as_mut() {
            if d.as_mut().poll(&mut cx).is_ready() {
                self.ended = true;
                self.driver = None;
            }
        }
        let mut progress = self.backend.step(self.clock_now());
        self.clock.run_tasks();
        let cancels: Vec<Bytes> = std::mem::take(&mut *self.cancel.0.lock().unwrap());
        for c in cancels {
            // CancelRequest: length 16, code 80877102, pid, key.
            assert_eq!(&c[8..12], &4242i32.to_be_bytes(), "a cancel for another backend");
            self.backend.cancel();
            progress = true;
        }
        progress || before != self.lengths()
    }

    /// Bytes written and bytes waiting to be read.
    fn lengths(&self) -> (usize, usize) {
        let w = self.stream.wire();
        (w.to_server.len(), w.to_client.len())
    }

    /// Turns until nothing moves.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            if !self.turn() {
                return;
            }
        }
        panic!("the simulation did not settle");
    }

    fn clock_now(&self) -> Duration {
        SimRuntime(self.clock.clone()).now()
    }

    /// Every query the backend saw, in order.
    fn queries(&self) -> Vec<String> {
        self.backend.seen.queries.clone()
    }
}

/// The number a `SELECT n` answered.
fn value(r: Response) -> u64 {
    let rows = &r.results[0].rows;
    assert_eq!(rows.len(), 1);
    rows[0].get::<String, _>(0).unwrap().parse().unwrap()
}

fn answer(rx: &mut Answer) -> Option<Result<Response>> {
    try_answer(rx).expect("the driver dropped a request without answering it")
}

/// The answer as a caller sees it (a server error in the response is an `Err`).
fn try_answer(rx: &mut Answer) -> std::result::Result<Option<Result<Response>>, oneshot::Canceled> {
    rx.try_recv().map(|r| r.map(|r| r.and_then(Response::into_result)))
}

#[test]
fn pipelined_requests_are_answered_in_order_through_partial_reads_and_writes() {
    let mut sim = Sim::new(false);
    sim.stream.wire().read_chunk = 3;
    sim.stream.wire().write_chunk = 7;
    let mut answers: Vec<Answer> = (0..50).map(|i| sim.query(&format!("SELECT {i}"))).collect();
    sim.settle();
    for (i, rx) in answers.iter_mut().enumerate() {
        assert_eq!(value(answer(rx).unwrap().unwrap()), i as u64);
    }
    let expected: Vec<String> = (0..50).map(|i| format!("SELECT {i}")).collect();
    assert_eq!(sim.queries(), expected, "the server ran them in order");
    assert!(sim.shared.is_quiet());
}

#[test]
fn an_error_fails_only_its_own_request() {
    let mut sim = Sim::new(false);
    let mut a = sim.query("SELECT 1");
    let mut b = sim.query("FAIL 2");
    let mut c = sim.query("SELECT 3");
    sim.settle();
    assert_eq!(value(answer(&mut a).unwrap().unwrap()), 1);
    let e = answer(&mut b).unwrap().unwrap_err();
    assert_eq!(e.code(), SqlState::from_code("42000"));
    assert_eq!(value(answer(&mut c).unwrap().unwrap()), 3);
}

#[test]
fn a_fatal_error_mid_stream_fails_what_follows_with_a_typed_error() {
    let mut sim = Sim::new(false);
    let mut a = sim.query("SELECT 1");
    let mut f = sim.query("FATAL");
    let mut b = sim.query("SELECT 2");
    sim.settle();
    assert_eq!(value(answer(&mut a).unwrap().unwrap()), 1);
    let fatal = answer(&mut f).unwrap().unwrap_err();
    assert_eq!(fatal.code(), SqlState::from_code("57P01"), "{fatal}");
    let after = answer(&mut b).unwrap().unwrap_err();
    assert!(matches!(after.kind(), ErrorKind::Closed | ErrorKind::Io), "{after}");
    assert!(sim.ended && sim.shared.is_closed());
    // A call made after the close gets the close reason at once.
    let mut late = sim.query("SELECT 3");
    assert!(late.try_recv().map(|r| r.is_none()).unwrap_or(true), "nobody answers a request to a closed driver");
}

#[test]
fn an_unsolicited_fatal_error_is_the_close_reason() {
    let mut sim = Sim::new(false);
    sim.settle();
    // The server shuts down while the connection is idle.
    let mut b = BytesMut::new();
    frontend::query("FATAL", &mut b).unwrap();
    sim.stream.wire().to_server.extend_from_slice(&b); // as if a session-level kill
    sim.settle();
    assert!(sim.ended);
    assert!(sim.shared.is_closed());
    let e = sim.shared.closed_error();
    assert!(e.message().contains("administrator command"), "{e}");
}

#[test]
fn nothing_is_written_after_terminate() {
    let mut sim = Sim::new(false);
    let mut a = sim.query("SELECT 1");
    let mut b = sim.query("SELECT 2");
    sim.tx = None; // every handle gone: the driver says goodbye after the answers
    sim.settle();
    assert_eq!(value(answer(&mut a).unwrap().unwrap()), 1);
    assert_eq!(value(answer(&mut b).unwrap().unwrap()), 2);
    assert!(sim.ended);
    let w = sim.stream.wire();
    assert_eq!(sim.backend.seen.terminate_at, Some(w.to_server.len()), "Terminate is the last thing written");
    assert!(w.client_closed);
    assert_eq!(w.written_after_close, 0);
}

#[test]
fn an_explicit_terminate_waits_for_the_answers_in_flight() {
    let mut sim = Sim::new(false);
    let mut a = sim.query("SELECT 1");
    let (done_tx, mut done_rx) = oneshot::channel();
    sim.send(Request::Terminate(Some(done_tx)));
    let mut late = sim.query("SELECT 2");
    sim.settle();
    assert_eq!(value(answer(&mut a).unwrap().unwrap()), 1);
    assert!(sim.ended);
    assert!(done_rx.try_recv().is_err(), "close() is told (by the drop) once the driver is done");
    assert!(late.try_recv().map(|r| r.is_none()).unwrap_or(true) || sim.ended);
    assert_eq!(sim.queries(), vec!["SELECT 1".to_string()], "nothing after the Terminate ran");
    assert_eq!(sim.stream.wire().written_after_close, 0);
}

#[test]
fn an_abandoned_request_is_cancelled_after_the_grace_period_on_the_virtual_clock() {
    let mut sim = Sim::new(true);
    let slow = sim.query("SLEEP 1");
    sim.settle();
    drop(slow); // the caller went away
    sim.settle();
    assert_eq!(sim.backend.seen.cancels, 0, "not before the grace period");
    let mut next = sim.query("SELECT 2");
    sim.settle();
    assert_eq!(sim.queries(), vec!["SLEEP 1".to_string()], "later requests wait while a cancel is pending");
    sim.clock.advance(CANCEL_GRACE - Duration::from_millis(1));
    sim.settle();
    assert_eq!(sim.backend.seen.cancels, 0);
    sim.clock.advance(Duration::from_millis(1));
    sim.settle();
    assert_eq!(sim.backend.seen.cancels, 1, "cancelled once the grace period is over");
    assert_eq!(value(answer(&mut next).unwrap().unwrap()), 2, "the next request runs after the cancel");
}

#[test]
fn no_cancel_when_a_request_is_pipelined_behind_the_abandoned_one() {
    let mut sim = Sim::new(true);
    let slow = sim.query("SLEEP 1");
    let mut next = sim.query("SELECT 2");
    sim.settle();
    drop(slow);
    sim.clock.advance(Duration::from_secs(1));
    sim.settle();
    assert_eq!(sim.backend.seen.cancels, 0, "a cancel could hit the request behind it");
    // The server finishes the sleep on its own (10 virtual seconds).
    sim.clock.advance(Duration::from_secs(10));
    sim.settle();
    assert_eq!(value(answer(&mut next).unwrap().unwrap()), 2);
}

#[test]
fn copy_out_stops_reading_while_the_consumer_is_full_and_resumes() {
    let mut sim = Sim::new(false);
    let (tx, mut rx) = mpsc::channel::<StreamItem>(1);
    let mut b = BytesMut::new();
    frontend::query("COPY OUT 2000", &mut b).unwrap();
    sim.send(Request::Query { bytes: b, syncs: 1, columns: None, sink: Sink::Stream(tx), copy_in: None });
    // Small reads: the backlog stays in the stream while nobody consumes.
    sim.stream.wire().read_chunk = 512;
    sim.settle();
    let unread = sim.stream.wire().to_client.len();
    assert!(unread > 10_000, "the driver kept reading a consumer that does not keep up ({unread} bytes left)");
    let mut rows = 0;
    let mut end = None;
    for _ in 0..100_000 {
        sim.turn();
        match rx.try_recv() {
            Ok(StreamItem::CopyData(d)) => rows += d.iter().filter(|b| **b == b'\n').count(),
            Ok(StreamItem::CopyOut { .. }) => {}
            Ok(StreamItem::Rows(_)) => panic!("DataRows in a COPY TO STDOUT response"),
            Ok(StreamItem::End(r)) => {
                end = Some(r);
                break;
            }
            Err(_) => {}
        }
    }
    assert_eq!(rows, 2000);
    assert_eq!(end.unwrap().unwrap().last_tag(), Some("COPY 2000"));
}

#[test]
fn copy_in_is_paced_by_the_socket_and_later_requests_wait() {
    let mut sim = Sim::new(false);
    let (mut data_tx, data_rx) = mpsc::channel::<CopyInMessage>(COPY_IN_CHANNEL);
    let mut b = BytesMut::new();
    frontend::query("COPY IN", &mut b).unwrap();
    let (tx, mut copy_answer) = oneshot::channel();
    sim.send(Request::Query { bytes: b, syncs: 1, columns: None, sink: Sink::Collect(tx), copy_in: Some(data_rx) });
    let mut after = sim.query("SELECT 9");
    sim.settle();
    // The socket refuses writes: the driver stops taking data at its high water mark.
    sim.stream.wire().write_blocked = true;
    let chunk = Bytes::from(vec![b'x'; 16 * 1024 - 1].into_iter().chain([b'\n']).collect::<Vec<u8>>());
    let mut sent = 0;
    for _ in 0..200 {
        if data_tx.try_send(CopyInMessage::Data(chunk.clone())).is_ok() {
            sent += 1;
        }
        sim.turn();
    }
    assert!(sent < 40, "the driver took {sent} chunks into a blocked socket: no backpressure");
    assert_eq!(sim.queries(), vec!["COPY IN".to_string()], "nothing is written inside the COPY");
    sim.stream.wire().write_blocked = false;
    for _ in 0..10 {
        let _ = data_tx.try_send(CopyInMessage::Data(chunk.clone())).map(|_| sent += 1);
        sim.settle();
    }
    data_tx.try_send(CopyInMessage::Done).unwrap();
    sim.settle();
    let r = answer(&mut copy_answer).unwrap().unwrap();
    assert_eq!(r.last_tag(), Some(format!("COPY {sent}").as_str()));
    assert_eq!(sim.backend.seen.copy_bytes, sent * chunk.len());
    assert_eq!(value(answer(&mut after).unwrap().unwrap()), 9, "the request behind the COPY ran after it");
}

#[test]
fn a_copy_in_whose_caller_goes_away_is_aborted() {
    let mut sim = Sim::new(false);
    let (mut data_tx, data_rx) = mpsc::channel::<CopyInMessage>(COPY_IN_CHANNEL);
    let mut b = BytesMut::new();
    frontend::query("COPY IN", &mut b).unwrap();
    let (tx, mut copy_answer) = oneshot::channel();
    sim.send(Request::Query { bytes: b, syncs: 1, columns: None, sink: Sink::Collect(tx), copy_in: Some(data_rx) });
    sim.settle();
    data_tx.try_send(CopyInMessage::Data(Bytes::from_static(b"1\n"))).unwrap();
    sim.settle();
    drop(data_tx);
    sim.settle();
    let e = answer(&mut copy_answer).unwrap().unwrap_err();
    assert_eq!(e.code(), Some(SqlState::QUERY_CANCELED), "CopyFail, so no row lands: {e}");
    let mut next = sim.query("SELECT 5");
    sim.settle();
    assert_eq!(value(answer(&mut next).unwrap().unwrap()), 5);
}

/// Runs the sans-io startup against the scripted server over an in-memory
/// stream with 1-byte reads: every authentication method the backend knows.
#[test]
fn startup_with_every_simulated_auth_method() {
    let md5 = Auth::Md5 { user: "u", password: "pw", salt: [1, 2, 3, 4] };
    for (auth, password, ok) in [
        (Auth::Trust, None, true),
        (Auth::Cleartext("pw"), Some("pw"), true),
        (Auth::Cleartext("pw"), Some("nope"), false),
        (md5, Some("pw"), true),
        (md5, Some("nope"), false),
        (Auth::Scram("pw"), Some("pw"), true),
        (Auth::Scram("pw"), Some("nope"), false),
    ] {
        let stream = SimStream::default();
        stream.wire().read_chunk = 1;
        let mut server = Backend::new(&stream, auth);
        let mut startup = Startup::new(options(password, false));
        let mut out = BytesMut::new();
        startup.start(&mut out).unwrap();
        let mut rbuf = BytesMut::new();
        let mut client = stream.clone();
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        let result: Result<()> = 'exchange: loop {
            if !out.is_empty() {
                assert!(matches!(client.poll_write_all(&mut cx, &out), Poll::Ready(())));
                out.clear();
            }
            server.step(Duration::ZERO);
            if client.poll_read_buf_sim(&mut cx, &mut rbuf) == Some(0) {
                break Err(Error::new(ErrorKind::Closed, "closed"));
            }
            while let Some(msg) = backend::next_message(&mut rbuf, 1 << 20).unwrap() {
                match startup.handle(msg, &mut out) {
                    Ok(Step::Done) => break 'exchange Ok(()),
                    Ok(Step::Continue) => {}
                    Err(e) => break 'exchange Err(e),
                }
            }
        };
        match (ok, result) {
            (true, Ok(())) => {
                let info = startup.into_info();
                assert_eq!(info.process_id, 4242, "{auth:?}");
                assert_eq!(info.parameters.get("server_version").map(String::as_str), Some("16.4"));
            }
            (false, Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Auth, "{auth:?}: {e}");
                assert_eq!(e.code(), Some(SqlState::INVALID_PASSWORD));
            }
            (ok, r) => panic!("{auth:?}: expected ok={ok}, got {r:?}"),
        }
    }
}

fn options(password: Option<&str>, pipeline: bool) -> StartupOptions {
    StartupOptions {
        params: vec![("user".into(), "u".into())],
        user: "u".into(),
        password: password.map(|p| p.as_bytes().to_vec()),
        channel_binding: ChannelBindingMode::Prefer,
        tls_server_end_point: None,
        pipeline_password: pipeline,
        require_auth: None,
    }
}

trait SimIo {
    fn poll_write_all(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<()>;
    fn poll_read_buf_sim(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Option<usize>;
}

impl SimIo for SimStream {
    fn poll_write_all(&mut self, cx: &mut Context<'_>, mut data: &[u8]) -> Poll<()> {
        use super::transport::Transport;
        while !data.is_empty() {
            match self.poll_write(cx, data) {
                Poll::Ready(Ok(n)) => data = &data[n..],
                _ => return Poll::Pending,
            }
        }
        Poll::Ready(())
    }
    fn poll_read_buf_sim(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Option<usize> {
        use super::transport::Transport;
        match self.poll_read_buf(cx, buf) {
            Poll::Ready(Ok(n)) => Some(n),
            _ => None,
        }
    }
}

/// Opens the second stream of a pipelined connect's fallback: a new
/// in-memory stream whose backend the test reaches through `next`.
struct SimReopen {
    next: SimStream,
}

impl Reopen<SimStream> for SimReopen {
    fn reopen(&self) -> BoxFuture<'static, Result<Connected<SimStream>>> {
        let stream = self.next.clone();
        Box::pin(async move { Ok(Connected { stream, tls_server_end_point: None }) })
    }
}

/// A pipelined connect to a server that wants MD5: the password sent ahead
/// is rejected, the driver reconnects without pipelining and replays the
/// queued requests, in order, exactly once.
#[test]
fn pipelined_connect_falls_back_and_replays_in_order() {
    for (auth, reopened) in [
        (Auth::Cleartext("pw"), false),
        (Auth::Md5 { user: "u", password: "pw", salt: [9, 9, 9, 9] }, true),
        (Auth::Trust, true),
        (Auth::Scram("pw"), true),
    ] {
        let first = SimStream::default();
        let second = SimStream::default();
        let mut server = Backend::new(&first, auth);
        let mut server2 = Backend::new(&second, auth);
        let mut startup = Startup::new(options(Some("pw"), true));
        let mut bytes = BytesMut::new();
        startup.start(&mut bytes).unwrap();
        assert!(startup.password_pipelined());
        let key: BackendKey = Arc::default();
        let reopen: Arc<dyn Reopen<SimStream>> = Arc::new(SimReopen { next: second.clone() });
        let phase = PipelinedStartup::new(startup, options(Some("pw"), true), true, None, key.clone());
        let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
        shared.set_pipelined_startup(true);
        let (tx, rx) = mpsc::unbounded();
        let driver = Driver::new(first.clone(), BytesMut::new(), rx, shared.clone(), 1 << 20).with_pipelined_startup(
            phase,
            bytes,
            Some(reopen),
        );
        let mut driver = Box::pin(driver);
        let mut answers = Vec::new();
        for i in 0..5 {
            let mut b = BytesMut::new();
            frontend::query(&format!("SELECT {i}"), &mut b).unwrap();
            let (rtx, rrx) = oneshot::channel();
            tx.unbounded_send(Request::collect(b, 1, None, rtx)).unwrap();
            answers.push(rrx);
        }
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        for _ in 0..1000 {
            let _ = driver.as_mut().poll(&mut cx);
            server.step(Duration::ZERO);
            server2.step(Duration::ZERO);
        }
        for (i, rx) in answers.iter_mut().enumerate() {
            assert_eq!(value(answer(rx).unwrap().unwrap()), i as u64, "{auth:?}");
        }
        let ran: Vec<String> = (0..5).map(|i| format!("SELECT {i}")).collect();
        if reopened {
            assert!(server.seen.queries.is_empty(), "{auth:?}: nothing ran on the rejected stream");
            assert_eq!(server2.seen.queries, ran, "{auth:?}: replayed once, in order");
        } else {
            assert_eq!(server.seen.queries, ran);
            assert!(second.wire().to_server.is_empty(), "no reconnect for a cleartext server");
        }
        assert!(!shared.in_pipelined_startup());
        assert_eq!(key.get().map(|k| k.0), Some(4242));
    }
}

/// A pipelined connect with a wrong password: every queued request fails
/// with the authentication error (28P01), none ran.
#[test]
fn pipelined_connect_with_a_wrong_password_fails_every_queued_request() {
    let stream = SimStream::default();
    let mut server = Backend::new(&stream, Auth::Cleartext("right"));
    let mut startup = Startup::new(options(Some("wrong"), true));
    let mut bytes = BytesMut::new();
    startup.start(&mut bytes).unwrap();
    let phase = PipelinedStartup::new(startup, options(Some("wrong"), true), false, None, Arc::default());
    let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
    shared.set_pipelined_startup(true);
    let (tx, rx) = mpsc::unbounded();
    let mut driver = Box::pin(
        Driver::new(stream.clone(), BytesMut::new(), rx, shared.clone(), 1 << 20)
            .with_pipelined_startup(phase, bytes, None),
    );
    let mut answers = Vec::new();
    for i in 0..3 {
        let mut b = BytesMut::new();
        frontend::query(&format!("SELECT {i}"), &mut b).unwrap();
        let (rtx, rrx) = oneshot::channel();
        tx.unbounded_send(Request::collect(b, 1, None, rtx)).unwrap();
        answers.push(rrx);
    }
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut ended = false;
    for _ in 0..100 {
        ended |= driver.as_mut().poll(&mut cx).is_ready();
        server.step(Duration::ZERO);
    }
    assert!(ended);
    for rx in &mut answers {
        let e = answer(rx).unwrap().unwrap_err();
        assert_eq!(e.code(), Some(SqlState::INVALID_PASSWORD), "{e}");
    }
    assert!(server.seen.queries.is_empty());
}

/// What a request was, to check its answer.
enum Sent {
    Select(u64, Answer),
    Fail(u64, Answer),
    Fatal(Answer),
    Dropped,
}

/// The seeded randomized run: requests, drops, server errors, FATALs,
/// partial and blocked reads and writes, vanishing servers and goodbyes,
/// interleaved at random; invariants checked at every step:
/// * every request gets exactly its own answer or a typed error;
/// * nothing is written after Terminate;
/// * the connection says it is quiet (no request pending) only when every
///   request sent has been answered.
#[test]
fn randomized_simulation_keeps_the_invariants() {
    const STEPS: u64 = 120_000;
    let seed = std::env::var("EDGEPG_SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_2026);
    let mut rng = Rng::new(seed);
    let mut sim = Sim::new(rng.chance(50));
    let mut sent: Vec<Sent> = Vec::new();
    let mut next = 0u64;
    let (mut connections, mut answered, mut failed) = (1, 0u64, 0u64);
    for step in 0..STEPS {
        let ctx = format!("seed {seed}, step {step}");
        match rng.below(100) {
            0..=29 if sim.tx.is_some() => {
                next += 1;
                sent.push(Sent::Select(next, sim.query(&format!("SELECT {next}"))));
            }
            30..=33 if sim.tx.is_some() => {
                next += 1;
                sent.push(Sent::Fail(next, sim.query(&format!("FAIL {next}"))));
            }
            34 if sim.tx.is_some() && rng.chance(10) => sent.push(Sent::Fatal(sim.query("FATAL"))),
            35..=37 if !sent.is_empty() => {
                // A caller goes away.
                let i = rng.below(sent.len() as u64) as usize;
                sent[i] = Sent::Dropped;
            }
            38..=45 => {
                let mut w = sim.stream.wire();
                w.read_chunk = [0, 1, 2, 5, 13, 64][rng.below(6) as usize];
                w.write_chunk = [0, 1, 3, 7, 64][rng.below(5) as usize];
            }
            46..=49 => {
                let mut w = sim.stream.wire();
                w.write_blocked = rng.chance(30);
                w.read_blocked = rng.chance(30);
            }
            50 if rng.chance(5) => sim.backend.vanish(),
            51 if rng.chance(10) => sim.tx = None,
            _ => {}
        }
        sim.turn();
        // Answers that arrived: each must be its own.
        let closed = sim.shared.is_closed();
        let mut still = Vec::new();
        for s in sent.drain(..) {
            match s {
                Sent::Select(n, mut rx) => match try_answer(&mut rx) {
                    Ok(None) => still.push(Sent::Select(n, rx)),
                    Ok(Some(Ok(r))) => {
                        assert_eq!(value(r), n, "{ctx}: an answer went to the wrong request");
                        answered += 1;
                    }
                    Ok(Some(Err(e))) => {
                        assert!(is_typed_close(&e), "{ctx}: SELECT {n} failed with {e}");
                        failed += 1;
                    }
                    // Still queued when the driver ended: the caller turns
                    // this into the close error (`ConnInner::request`).
                    Err(_) => {
                        assert!(closed, "{ctx}: SELECT {n} was dropped without an answer on a live connection");
                        failed += 1;
                    }
                },
                Sent::Fail(n, mut rx) => match try_answer(&mut rx) {
                    Ok(None) => still.push(Sent::Fail(n, rx)),
                    Ok(Some(Ok(_))) => panic!("{ctx}: FAIL {n} succeeded"),
                    Ok(Some(Err(e))) => {
                        if e.code() == SqlState::from_code("42000") {
                            assert_eq!(
                                e.as_db_error().map(|d| d.message.as_str()),
                                Some(format!("fail {n}").as_str()),
                                "{ctx}: another request's error"
                            );
                        } else {
                            assert!(is_typed_close(&e), "{ctx}: FAIL {n}: {e}");
                        }
                        failed += 1;
                    }
                    // Still queued when the driver ended: the caller turns
                    // this into the close error (`ConnInner::request`).
                    Err(_) => {
                        assert!(closed, "{ctx}: FAIL {n} was dropped without an answer on a live connection");
                        failed += 1;
                    }
                },
                Sent::Fatal(mut rx) => match try_answer(&mut rx) {
                    Ok(None) => still.push(Sent::Fatal(rx)),
                    Ok(Some(r)) => {
                        let e = r.expect_err("FATAL succeeded");
                        assert!(is_typed_close(&e) || e.code() == SqlState::from_code("57P01"), "{ctx}: {e}");
                        failed += 1;
                    }
                    // Still queued when the driver ended: the caller turns
                    // this into the close error (`ConnInner::request`).
                    Err(_) => {
                        assert!(closed, "{ctx}: FATAL was dropped without an answer on a live connection");
                        failed += 1;
                    }
                },
                Sent::Dropped => {}
            }
        }
        sent = still;
        {
            let w = sim.stream.wire();
            assert_eq!(w.written_after_close, 0, "{ctx}: bytes written after the stream was closed");
            if let Some(at) = sim.backend.seen.terminate_at {
                assert_eq!(w.to_server.len(), at, "{ctx}: bytes written after Terminate");
            }
        }
        if sim.shared.is_quiet() && !sim.ended {
            for s in &mut sent {
                let rx = match s {
                    Sent::Select(_, rx) | Sent::Fail(_, rx) | Sent::Fatal(rx) => rx,
                    Sent::Dropped => continue,
                };
                assert!(
                    !matches!(rx.try_recv(), Ok(None)),
                    "{ctx}: the connection says it is quiet while a request waits"
                );
            }
        }
        if sim.ended {
            // Drain: whatever is left must fail now, then a new connection.
            sim.settle();
            for s in sent.drain(..) {
                if let Sent::Select(_, mut rx) | Sent::Fail(_, mut rx) | Sent::Fatal(mut rx) = s {
                    match try_answer(&mut rx) {
                        Ok(Some(Err(e))) => {
                            assert!(is_typed_close(&e) || e.as_db_error().is_some(), "{ctx}: after the end: {e}")
                        }
                        Ok(Some(Ok(_))) => answered += 1,
                        Ok(None) => panic!("{ctx}: a request outlived its driver without an answer"),
                        Err(_) => {} // queued when the driver ended: the close error
                    }
                }
            }
            sim = Sim::new(rng.chance(50));
            connections += 1;
        }
    }
    eprintln!("seed {seed}: {STEPS} steps, {connections} connections, {answered} answers, {failed} errors");
    assert!(answered > 10_000, "too few answers to mean anything: {answered}");
    assert!(failed > 100 && connections > 10, "errors {failed}, connections {connections}");
}

/// The typed errors a request may get when its connection ends under it.
fn is_typed_close(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Closed | ErrorKind::Io) || e.code() == SqlState::from_code("57P01")
}

/// The startup bytes of a pipelined connect wait [`HOLD`] on the virtual
/// clock for a first request to join them, then go out alone.
#[test]
fn pipelined_startup_bytes_wait_for_a_request_until_the_hold_timer_fires() {
    let clock = SimClock::new();
    let runtime = SimRuntime(clock.clone());
    let stream = SimStream::default();
    let mut server = Backend::new(&stream, Auth::Cleartext("pw"));
    let mut startup = Startup::new(options(Some("pw"), true));
    let mut bytes = BytesMut::new();
    startup.start(&mut bytes).unwrap();
    let hold_until = Some(runtime.now() + HOLD);
    let phase = PipelinedStartup::new(startup, options(Some("pw"), true), false, hold_until, Arc::default());
    let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
    shared.set_pipelined_startup(true);
    let (_tx, rx) = mpsc::unbounded();
    let mut driver = Box::pin(
        Driver::new(stream.clone(), BytesMut::new(), rx, shared.clone(), 1 << 20)
            .with_runtime(Arc::new(runtime.clone()))
            .with_pipelined_startup(phase, bytes, None),
    );
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    let mut run = |driver: &mut Pin<Box<Driver<SimStream>>>| {
        for _ in 0..10 {
            assert!(driver.as_mut().poll(&mut cx).is_pending());
            server.step(runtime.now());
        }
    };
    run(&mut driver);
    clock.advance(HOLD - Duration::from_millis(1));
    run(&mut driver);
    assert!(stream.wire().to_server.is_empty(), "nothing written before the hold timer");
    clock.advance(Duration::from_millis(1));
    run(&mut driver);
    assert!(!stream.wire().to_server.is_empty(), "the startup went out alone once the timer fired");
    assert!(!shared.in_pipelined_startup(), "and the session came up");
}
