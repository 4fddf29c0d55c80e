//! The connection's background task: a thin async shell around the sans-io
//! session engine (`super::session`), which owns every protocol decision.
//!
//! ```text
//!  handles ──Request──▶ requests channel ─┐            ┌─▶ transport (bytes out)
//!     ▲                                   ▼            │
//!     │   oneshot / mpsc sinks ◀── Event ── Session ◀──┴── transport (bytes in)
//!     │                                     ▲   │
//!     └── COPY data channel ───────────────┘   └── deadline ─▶ runtime timer
//! ```
//!
//! One turn of [`Driver`] (see `poll_inner`): tell the engine the time if it
//! asks, move requests from the channel into it (while it accepts them),
//! feed it the caller's COPY data (while it wants some), write and flush its
//! output, hand its events to the response sinks, read into its receive
//! buffer, and arm a timer for its next deadline — again while anything
//! moved. The driver also runs the two side jobs the engine asks for: the
//! CancelRequest of an abandoned request (on a task of the runtime) and the
//! new stream of a pipelined connect whose password was rejected.
//!
//! The engine holds each request's response sink as an opaque token
//! ([`Pending`]); the driver only translates readiness: whether a stream
//! consumer has room, and whether a caller went away.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::StreamExt;

use bytes::BytesMut;

use super::cancel::{spawn_drop_cancel, CancelToken};
use super::pipelined_startup::{PipelinedStartup, Reopen};
use super::request::{CopyInMessage, CopyInReceiver, Request, RequestReceiver, Response, Sink};
use super::runtime::{BoxFuture, Runtime};
use super::session::{Event, Session};
use super::shared::Shared;
use super::transport::{Connected, Transport};
use crate::{Error, ErrorKind, Result};

/// A request's token inside the engine: where its response goes.
pub(crate) struct Pending {
    sink: Sink,
    /// COPY FROM STDIN data, read while the engine wants it.
    copy_in: Option<CopyInReceiver>,
}

impl Pending {
    fn finish(self, result: Result<Response>) {
        self.sink.deliver(result);
    }
}

/// Drives one connection. Spawned by [`super::connect`] on the runtime.
pub(crate) struct Driver<T> {
    transport: T,
    engine: Session<Pending>,
    requests: RequestReceiver,
    /// Every handle is gone (the request channel ended).
    requests_done: bool,
    shared: Arc<Shared>,
    /// Callers of `close()`, told (by being dropped) when the driver ends.
    close_waiters: Vec<oneshot::Sender<()>>,
    /// The clock and timers for the engine's deadlines (none in some tests).
    runtime: Option<Arc<dyn Runtime>>,
    /// The armed timer and the deadline it is for.
    timer: Option<(Duration, BoxFuture<'static, ()>)>,
    /// Sends the CancelRequests the engine decides on.
    cancel: Option<CancelToken>,
    /// Resolves when the cancel connection in progress is over.
    cancelling: Option<oneshot::Receiver<()>>,
    /// Opens the new stream a rejected pipelined connect needs.
    reopen: Option<Arc<dyn Reopen<T>>>,
    reopening: Option<BoxFuture<'static, Result<Connected<T>>>>,
}

impl<T: Transport> Driver<T> {
    pub(crate) fn new(
        transport: T,
        rbuf: BytesMut,
        requests: RequestReceiver,
        shared: Arc<Shared>,
        max_message_size: usize,
    ) -> Driver<T> {
        Driver {
            transport,
            engine: Session::new(rbuf, shared.clone(), max_message_size),
            requests,
            requests_done: false,
            shared,
            close_waiters: Vec::new(),
            runtime: None,
            timer: None,
            cancel: None,
            cancelling: None,
            reopen: None,
            reopening: None,
        }
    }

    /// The clock and timers for the engine's deadlines.
    pub(crate) fn with_runtime(mut self, runtime: Arc<dyn Runtime>) -> Driver<T> {
        self.runtime = Some(runtime);
        self
    }

    /// Makes the engine run the startup exchange first: `first` (the
    /// StartupMessage and pipelined password) is written with the requests
    /// queued meanwhile; `reopen` opens a new stream if pipelining is rejected.
    pub(crate) fn with_pipelined_startup(
        mut self,
        startup: PipelinedStartup,
        first: BytesMut,
        reopen: Option<Arc<dyn Reopen<T>>>,
    ) -> Driver<T> {
        self.engine = self.engine.with_pipelined_startup(startup, first);
        self.reopen = reopen;
        self
    }

    /// Enables cancelling requests whose caller went away.
    pub(crate) fn with_drop_cancel(mut self, token: CancelToken) -> Driver<T> {
        self.runtime.get_or_insert_with(|| token.runtime().clone());
        self.engine = self.engine.with_drop_cancel();
        self.cancel = Some(token);
        self
    }

    /// One turn of the driver: every step runs in order, again while any
    /// made progress. Each step returns `Ok(true)` when it did something, an
    /// error when the connection is over.
    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        macro_rules! step {
            ($progress:ident, $e:expr) => {
                match $e {
                    Ok(p) => $progress |= p,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            };
        }
        loop {
            let mut progress = false;
            if let Some(rt) = self.runtime.as_ref().filter(|_| self.engine.needs_clock()) {
                self.engine.set_now(rt.now());
            }
            step!(progress, self.poll_reopened(cx));
            step!(progress, self.take_requests(cx));
            step!(progress, self.poll_copy_in(cx));
            let io_allowed = self.engine.io_allowed();
            if io_allowed {
                step!(progress, self.poll_write(cx));
                if self.engine.wants_close() {
                    return self.transport.poll_close(cx).map(|_| Ok(()));
                }
            }
            step!(progress, self.deliver(cx));
            if io_allowed && self.engine.wants_read() {
                match self.transport.poll_read_buf(cx, self.engine.recv_buf()) {
                    // A clean end after our Terminate, or the reason the connection died.
                    Poll::Ready(Ok(0)) => return Poll::Ready(self.engine.recv_eof()),
                    Poll::Ready(Ok(_)) => progress = true,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::io(e))),
                    Poll::Pending => {}
                }
            }
            progress |= self.poll_timer(cx);
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Arms a timer for the engine's next deadline; `true` when it fired.
    #[inline(always)]
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let (Some(rt), Some(at)) = (self.runtime.as_ref(), self.engine.deadline()) else {
            self.timer = None;
            return false;
        };
        let (_, sleep) = match &mut self.timer {
            Some(t) if t.0 == at => t,
            timer => timer.insert((at, rt.sleep(at.saturating_sub(rt.now())))),
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.timer = None;
        true
    }

    /// A new stream after the server rejected the pipelined password.
    #[inline(always)]
    fn poll_reopened(&mut self, cx: &mut Context<'_>) -> Result<bool> {
        let Some(fut) = self.reopening.as_mut() else { return Ok(false) };
        let Poll::Ready(connected) = fut.as_mut().poll(cx) else { return Ok(false) };
        self.reopening = None;
        let connected = connected.map_err(|e| e.context("reconnecting without pipeline_connect"))?;
        self.transport = connected.stream;
        self.engine.reopen(connected.tls_server_end_point)?;
        Ok(true)
    }

    /// Reports the front request's fate to the engine's drop-cancel logic,
    /// then moves queued requests into the engine while it accepts them.
    #[inline(always)]
    fn take_requests(&mut self, cx: &mut Context<'_>) -> Result<bool> {
        if self.engine.watches_front() {
            if self.cancelling.as_mut().is_some_and(|done| Pin::new(done).poll(cx).is_ready()) {
                self.cancelling = None;
                self.engine.cancel_delivered();
            }
            let abandoned = self.engine.front_token_mut().is_some_and(|p| p.sink.poll_abandoned(cx));
            if self.engine.check_front(abandoned) {
                self.cancelling = self.cancel.as_ref().map(spawn_drop_cancel);
            }
        }
        let mut progress = false;
        while !self.requests_done && self.engine.accepts_requests() {
            match self.requests.poll_next_unpin(cx) {
                Poll::Ready(Some(Request::Query { bytes, syncs, columns, sink, copy_in })) => {
                    let streamed = matches!(sink, Sink::Stream(_));
                    let pending = Pending { sink, copy_in };
                    let wants_copy = pending.copy_in.is_some();
                    // Refused only after a Terminate, which ends this loop
                    // first; a refused request's dropped sink reports the close.
                    let _ = self.engine.push_request(bytes, syncs, columns, streamed, wants_copy, pending);
                    progress = true;
                }
                Poll::Ready(Some(Request::Terminate(done))) => {
                    self.close_waiters.extend(done);
                    self.engine.terminate();
                }
                Poll::Ready(Some(Request::Abort)) => {
                    return Err(Error::new(ErrorKind::Closed, "the connection was terminated"));
                }
                Poll::Ready(None) => self.requests_done = true,
                Poll::Pending => break,
            }
        }
        if self.requests_done && self.engine.is_idle() && !self.engine.is_terminating() {
            // Every handle is gone and nothing is pending: say goodbye.
            self.engine.terminate();
        }
        Ok(progress)
    }

    /// Moves COPY data from the caller into the engine while it wants some.
    #[inline(always)]
    fn poll_copy_in(&mut self, cx: &mut Context<'_>) -> Result<bool> {
        if self.engine.front_copy_over() {
            // Dropping the source tells the caller to stop sending.
            if let Some(p) = self.engine.front_token_mut() {
                p.copy_in = None;
            }
        }
        let mut progress = false;
        while self.engine.wants_copy_data() {
            let Some(rx) = self.engine.front_token_mut().and_then(|p| p.copy_in.as_mut()) else { break };
            match rx.poll_next_unpin(cx) {
                Poll::Ready(Some(CopyInMessage::Data(data))) => self.engine.copy_data(&data)?,
                Poll::Ready(Some(CopyInMessage::Done)) => self.engine.copy_done(),
                Poll::Ready(Some(CopyInMessage::Fail(reason))) => self.engine.copy_fail(&reason)?,
                // The caller went away mid-COPY (dropped future): abort, so
                // nothing of the partial data is committed.
                Poll::Ready(None) => self.engine.copy_fail("COPY cancelled by the client")?,
                Poll::Pending => break,
            }
            progress = true;
        }
        Ok(progress)
    }

    /// Writes and flushes the engine's output.
    #[inline(always)]
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<bool> {
        let mut progress = false;
        while !self.engine.output().is_empty() {
            match self.transport.poll_write(cx, self.engine.output()) {
                Poll::Ready(Ok(0)) => return Err(Error::io(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.engine.advance_output(n);
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(Error::io(e)),
                Poll::Pending => break,
            }
        }
        if self.engine.wants_flush() {
            match self.transport.poll_flush(cx) {
                Poll::Ready(Ok(())) => self.engine.flushed(),
                Poll::Ready(Err(e)) => return Err(Error::io(e)),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// Hands the engine's events to their sinks.
    #[inline(always)]
    fn deliver(&mut self, cx: &mut Context<'_>) -> Result<bool> {
        let before = self.engine.messages_in();
        let mut progress = false;
        loop {
            let room = self.front_room(cx);
            match self.engine.poll_event(room)? {
                None => return Ok(progress || self.engine.messages_in() != before),
                Some(Event::Done(p, response)) => p.finish(Ok(response)),
                Some(Event::Stream(item)) => {
                    let sent = match self.engine.front_token_mut().map(|p| &mut p.sink) {
                        Some(Sink::Stream(tx)) => tx.start_send(item).is_ok(),
                        _ => false,
                    };
                    if !sent {
                        self.front_stream_closed();
                    }
                }
                // Asked for only when a way to reopen was given.
                Some(Event::Reopen) => self.reopening = self.reopen.as_ref().map(|r| r.reopen()),
            }
            progress = true;
        }
    }

    /// Whether the front request's stream consumer can take an item.
    #[inline(always)]
    fn front_room(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(Pending { sink: Sink::Stream(tx), .. }) = self.engine.front_token_mut() else { return true };
        match tx.poll_ready(cx) {
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(_)) => {
                self.front_stream_closed();
                true
            }
            Poll::Pending => false,
        }
    }

    /// The front consumer went away: the rest of its response is dropped.
    fn front_stream_closed(&mut self) {
        if let Some(p) = self.engine.front_token_mut() {
            p.sink = Sink::Discard;
        }
        self.engine.front_stream_closed();
    }

    /// Fails every pending request with `error` (or its own server error).
    fn fail_all(&mut self, error: &Error) {
        self.engine.fail_all(error, |p, e| p.finish(Err(e)));
        // Requests still queued are dropped; their callers see the close
        // reason. When startup failed (a wrong password), they get its error.
        self.requests.close();
        let startup_failed = self.engine.is_starting();
        while let Ok(r) = self.requests.try_recv() {
            if let (true, Request::Query { sink, copy_in, .. }) = (startup_failed, r) {
                Pending { sink, copy_in }.finish(Err(error.duplicate()));
            }
        }
    }
}

impl<T: Transport> Future for Driver<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        match this.poll_inner(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                let error = result.err().unwrap_or_else(Error::closed);
                if this.engine.is_starting() {
                    this.shared.set_startup_error(&error);
                    this.shared.set_pipelined_startup(false);
                }
                this.shared.mark_closed(Some(&error));
                this.fail_all(&error);
                this.shared.terminated();
                Poll::Ready(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The driver over a scripted transport: which requests a failed write
    //! reports as never sent.
    use std::collections::HashMap;
    use std::io;
    use std::sync::Mutex;

    use futures_channel::{mpsc, oneshot};

    use super::*;
    use crate::client::request::RequestSender;
    use crate::protocol::backend::TransactionStatus;
    use crate::protocol::frontend;

    /// Accepts every write; a flush fails with an unsent error once `refuse` is set.
    #[derive(Clone, Default)]
    struct Refusing {
        refuse: Arc<Mutex<bool>>,
        written: Arc<Mutex<usize>>,
    }

    impl Transport for Refusing {
        fn poll_read_buf(&mut self, _: &mut Context<'_>, _: &mut BytesMut) -> Poll<std::io::Result<usize>> {
            Poll::Pending
        }
        fn poll_write(&mut self, _: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
            *self.written.lock().unwrap() += data.len();
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            if *self.refuse.lock().unwrap() {
                let e = Error::new(ErrorKind::Io, "the socket refused the write").unsent();
                return Poll::Ready(Err(io::Error::other(e)));
            }
            Poll::Ready(Ok(()))
        }
        fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn query(tx: &RequestSender) -> oneshot::Receiver<Result<Response>> {
        let (rtx, rrx) = oneshot::channel();
        tx.unbounded_send(Request::collect(BytesMut::from(&b"Q\0\0\0\x0dSELECT 1\0"[..]), 1, None, rtx)).unwrap();
        rrx
    }

    #[test]
    fn a_refused_write_marks_only_the_requests_not_flushed_yet_as_unsent() {
        let transport = Refusing::default();
        let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
        let (tx, rx) = mpsc::unbounded();
        let mut driver = Box::pin(Driver::new(transport.clone(), BytesMut::new(), rx, shared.clone(), 1 << 20));
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());

        // `first` is written and flushed; its answer has not arrived.
        let mut first = query(&tx);
        assert!(driver.as_mut().poll(&mut cx).is_pending());
        assert_eq!(*transport.written.lock().unwrap(), 14);
        // The socket then refuses everything: `second` never left.
        *transport.refuse.lock().unwrap() = true;
        let mut second = query(&tx);
        assert!(driver.as_mut().poll(&mut cx).is_ready(), "a refused write ends the driver");

        let first = first.try_recv().unwrap().unwrap().unwrap_err();
        assert_eq!(first.kind(), ErrorKind::Io);
        assert!(!first.is_unsent(), "the first request reached the server: it must not run again");
        let second = second.try_recv().unwrap().unwrap().unwrap_err();
        assert!(second.is_unsent(), "{second}");
        assert!(shared.is_closed());
    }

    /// Phase transitions, over the simulated backend (see `super::super::sim`).
    mod phases {
        use super::*;
        use crate::client::pipelined_startup::PipelinedStartup;
        use crate::client::sim::{Auth, Backend, SimStream};
        use crate::client::startup::{Startup, StartupOptions};
        use crate::config::ChannelBindingMode;
        use std::time::Duration;

        fn turn(driver: &mut Pin<Box<Driver<SimStream>>>, server: &mut Backend) -> bool {
            let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
            let ended = driver.as_mut().poll(&mut cx).is_ready();
            server.step(Duration::ZERO);
            ended
        }

        fn select(tx: &RequestSender, n: u32) -> oneshot::Receiver<Result<Response>> {
            let mut b = BytesMut::new();
            frontend::query(&format!("SELECT {n}"), &mut b).unwrap();
            let (rtx, rrx) = oneshot::channel();
            tx.unbounded_send(Request::collect(b, 1, None, rtx)).unwrap();
            rrx
        }

        #[test]
        fn running_to_terminating_to_the_end() {
            let stream = SimStream::default();
            let mut server = Backend::ready(&stream);
            let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
            let (tx, rx) = mpsc::unbounded();
            let mut driver = Box::pin(Driver::new(stream.clone(), BytesMut::new(), rx, shared, 1 << 20));
            assert_eq!(driver.engine.phase_name(), "running");
            let mut a = select(&tx, 1);
            tx.unbounded_send(Request::Terminate(None)).unwrap();
            assert!(!turn(&mut driver, &mut server));
            assert_eq!(driver.engine.phase_name(), "terminating", "a Terminate was taken");
            let mut ended = false;
            for _ in 0..10 {
                ended |= turn(&mut driver, &mut server);
            }
            assert!(ended, "the driver ends once the answer in flight arrived");
            assert!(a.try_recv().unwrap().unwrap().is_ok());
            assert_eq!(server.seen.terminate_at, Some(stream.wire().to_server.len()));
        }

        #[test]
        fn a_terminate_during_a_pipelined_startup_waits_for_the_session() {
            let stream = SimStream::default();
            let mut server = Backend::new(&stream, Auth::Cleartext("pw"));
            let options = StartupOptions {
                params: vec![("user".into(), "u".into())],
                user: "u".into(),
                password: Some(b"pw".to_vec()),
                channel_binding: ChannelBindingMode::Prefer,
                tls_server_end_point: None,
                pipeline_password: true,
                require_auth: None,
            };
            let mut startup = Startup::new(options.clone());
            let mut first = BytesMut::new();
            startup.start(&mut first).unwrap();
            let phase = PipelinedStartup::new(startup, options, false, None, Arc::default());
            let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
            let (tx, rx) = mpsc::unbounded();
            let mut driver = Box::pin(
                Driver::new(stream.clone(), BytesMut::new(), rx, shared.clone(), 1 << 20)
                    .with_pipelined_startup(phase, first, None),
            );
            let mut a = select(&tx, 7);
            tx.unbounded_send(Request::Terminate(None)).unwrap();
            let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
            assert!(driver.as_mut().poll(&mut cx).is_pending());
            assert_eq!(driver.engine.phase_name(), "starting, then terminate");
            let mut ended = false;
            for _ in 0..10 {
                ended |= turn(&mut driver, &mut server);
            }
            assert!(ended);
            assert!(a.try_recv().unwrap().unwrap().is_ok(), "the request queued before the Terminate ran");
            assert_eq!(server.seen.queries, vec!["SELECT 7".to_string()]);
            assert_eq!(server.seen.terminate_at, Some(stream.wire().to_server.len()), "Terminate came last");
        }
    }
}
