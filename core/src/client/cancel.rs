//! Query cancellation: [`CancelToken`], and the driver's "a dropped request
//! is cancelled" logic.
//!
//! PostgreSQL cancels a running query through a *second* connection that
//! sends only a CancelRequest (backend process ID + secret key); the server
//! closes that connection without an answer. The second stream is opened by
//! the same [`Connector`] as the first (TCP, TLS as configured, Unix socket,
//! or a WebSocket on wasm), so this module is transport-generic.
//!
//! # Why cancelling is delicate with pipelining
//!
//! A CancelRequest does not name a query: it interrupts whatever the backend
//! is running *when the signal arrives*. With several requests written ahead
//! (pipelining), a cancel meant for one request could hit the next one. The
//! driver therefore only cancels a request when it is safe:
//!
//! 1. the request is the **front** of the in-flight queue (the one the
//!    backend is executing) and nobody waits for its answer any more (its
//!    caller dropped the future, or its timeout expired);
//! 2. it is the **only** request written: if later requests were already
//!    pipelined behind it, no cancel is sent (the answer is read and
//!    discarded as before — correct, just not faster);
//! 3. from that moment the driver **holds back** new requests, so none can
//!    land on the backend while the cancel is on its way;
//! 4. the cancel is sent once the request has been running for
//!    [`CANCEL_GRACE`] (a quick query that was dropped just finishes, without
//!    the cost of a second connection);
//! 5. new requests are written again only when **both** the request's answer
//!    has ended (with 57014 `query_canceled`, or its normal result when it
//!    finished first) **and** the cancel connection is over (the server closes
//!    it after signalling the backend). A cancel that arrives while the
//!    backend is idle is ignored by PostgreSQL, so a late cancel cannot hit
//!    the next query.
//!
//! An explicit [`CancelToken::cancel`] is the libpq `PQcancel` equivalent:
//! it interrupts whatever runs at that moment, by design.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;

use super::duration_text::Shown;
use super::runtime::{timeout, BoxFuture, MaybeSend, MaybeSync, Runtime};
use super::transport::{io_ext, Connector};
use crate::config::{Config, Host};
use crate::protocol::frontend;
use crate::{Error, ErrorKind, Result};

/// How long a request whose caller went away may keep running before the
/// driver cancels it.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_millis(100);

/// Bound on a cancel connection when `connect_timeout` is not set.
pub(crate) const DEFAULT_CANCEL_TIMEOUT: Duration = Duration::from_secs(10);

/// The backend's process ID and cancel key (BackendKeyData), shared by a
/// connection, its cancel tokens and its driver. Set once, when the startup
/// exchange ends (later than the handle's creation for a lazily started
/// connection, see `super::pipelined`).
pub(crate) type BackendKey = Arc<std::sync::OnceLock<(i32, Bytes)>>;

/// Opens a fresh stream to the server of one connection and sends `request`
/// (an encoded CancelRequest) on it.
pub(crate) trait SendCancel: MaybeSend + MaybeSync {
    fn send_cancel(&self, request: Bytes) -> BoxFuture<'static, Result<()>>;
}

/// [`SendCancel`] through the connector that opened the connection.
pub(crate) struct ConnectorCancel<C> {
    pub(crate) connector: C,
    pub(crate) host: Host,
    pub(crate) port: u16,
    pub(crate) config: Arc<Config>,
}

impl<C: Connector + Clone + 'static> SendCancel for ConnectorCancel<C> {
    fn send_cancel(&self, request: Bytes) -> BoxFuture<'static, Result<()>> {
        let connector = self.connector.clone();
        let (host, port, config) = (self.host.clone(), self.port, self.config.clone());
        Box::pin(async move {
            let mut stream = connector.connect(&host, port, &config).await?.stream;
            io_ext::write_all(&mut stream, &request).await.map_err(Error::io)?;
            // The server closes the connection once it has signalled the
            // backend: wait for that, so the caller knows the cancel is done.
            // Whatever the read returns (EOF, a reset, a TLS error on close)
            // means the same thing.
            let mut buf = BytesMut::with_capacity(64);
            loop {
                match io_ext::read_buf(&mut stream, &mut buf).await {
                    Ok(0) | Err(_) => break,
                    // Nothing is expected; never buffer without bound.
                    Ok(_) => buf.clear(),
                }
            }
            Ok(())
        })
    }
}

/// Cancels the query running on a connection, from anywhere.
///
/// Get one with `Connection::cancel_token`. It is cheap to clone, `Send` and
/// `Sync`, and stays valid after the connection is gone (cancelling then does
/// nothing useful, which is harmless).
///
/// ```no_run
/// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
/// let token = conn.cancel_token();
/// // e.g. from another task, or a Ctrl-C handler:
/// token.cancel().await?;
/// // the call running on `conn` fails with SQLSTATE 57014 (query_canceled)
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CancelToken {
    sender: Option<Arc<dyn SendCancel>>,
    backend: BackendKey,
    runtime: Arc<dyn Runtime>,
    timeout: Duration,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret key is a credential: never print it.
        f.debug_struct("CancelToken")
            .field("process_id", &self.process_id())
            .field("can_cancel", &self.sender.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl CancelToken {
    pub(crate) fn new(
        sender: Option<Arc<dyn SendCancel>>,
        backend: BackendKey,
        runtime: Arc<dyn Runtime>,
        timeout: Duration,
    ) -> CancelToken {
        CancelToken { sender, backend, runtime, timeout }
    }

    /// Asks the server to cancel whatever the connection's backend is
    /// running now, and waits until the server has taken the request (it
    /// closes the cancel connection). The interrupted call fails with SQLSTATE
    /// 57014 `query_canceled`; if nothing is running, nothing happens.
    ///
    /// The attempt is bounded by `connect_timeout` (10 s when unset). Fails
    /// with [`ErrorKind::Interface`] for connections made with
    /// `connect_stream`, which have no way to open a second stream.
    pub async fn cancel(&self) -> Result<()> {
        let sender = self.sender.as_ref().ok_or_else(|| {
            Error::interface("this connection cannot be cancelled: it was made with connect_stream (no connector)")
        })?;
        let Some((process_id, secret_key)) = self.backend.get() else {
            // A pipelined-connect connection whose startup has not finished:
            // no query of it can be running yet.
            return Ok(());
        };
        let mut buf = BytesMut::with_capacity(16 + secret_key.len());
        frontend::cancel_request(*process_id, secret_key, &mut buf);
        match timeout(&*self.runtime, self.timeout, sender.send_cancel(buf.freeze())).await {
            Ok(result) => result,
            Err(()) => Err(Error::new(
                ErrorKind::Timeout,
                format!("sending the cancel request timed out after {}", Shown(self.timeout)),
            )),
        }
    }

    /// The backend process the token cancels (0 until a lazily started
    /// connection has finished its startup).
    pub fn process_id(&self) -> i32 {
        self.backend.get().map_or(0, |k| k.0)
    }

    /// How long one cancel attempt (and the wait after a timed-out call) may take.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn can_cancel(&self) -> bool {
        self.sender.is_some()
    }
}

/// The driver's side: decides when an abandoned front request is cancelled
/// and holds back new requests meanwhile (see the module docs for why).
pub(crate) struct DropCancel {
    token: CancelToken,
    state: State,
    /// Incremented whenever the front request changes.
    front_seq: u64,
    /// When the current front request became the front.
    front_since: Duration,
}

enum State {
    /// Nothing abandoned at the front.
    Idle,
    /// The front request (`seq`) is abandoned and alone; waiting out the grace period.
    Grace { seq: u64, sleep: BoxFuture<'static, ()> },
    /// A cancel for request `seq` was sent; `done` resolves when the cancel
    /// connection is over.
    Cancelling { seq: u64, done: oneshot::Receiver<()>, delivered: bool },
}

/// What the driver knows about its front request, for [`DropCancel::poll`].
pub(crate) struct Front {
    /// Nobody waits for the answer any more.
    pub(crate) abandoned: bool,
    /// No other request is in flight (nothing pipelined behind it).
    pub(crate) alone: bool,
    /// All its bytes are written and flushed.
    pub(crate) written: bool,
}

impl DropCancel {
    pub(crate) fn new(token: CancelToken) -> DropCancel {
        let now = token.runtime.now();
        DropCancel { token, state: State::Idle, front_seq: 0, front_since: now }
    }

    /// Tells that the front of the in-flight queue changed (a request
    /// finished, or one was queued on an empty queue).
    pub(crate) fn front_changed(&mut self) {
        self.front_seq = self.front_seq.wrapping_add(1);
        self.front_since = self.token.runtime.now();
    }

    /// Advances the state machine. Returns `true` while new requests must not
    /// be written. Registers wakeups for the timer and the cancel task.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, front: Option<Front>) -> bool {
        loop {
            match &mut self.state {
                State::Idle => {
                    let Some(f) = front.as_ref() else { return false };
                    if !f.abandoned || !f.alone {
                        // Not abandoned, or requests are pipelined behind it:
                        // a cancel could hit one of them, so never send one.
                        return false;
                    }
                    if !f.written {
                        // Hold back new requests until its bytes are out, then decide.
                        return true;
                    }
                    let elapsed = self.token.runtime.now().saturating_sub(self.front_since);
                    let wait = CANCEL_GRACE.saturating_sub(elapsed);
                    self.state = if wait.is_zero() {
                        self.start_cancel()
                    } else {
                        State::Grace { seq: self.front_seq, sleep: self.token.runtime.sleep(wait) }
                    };
                }
                State::Grace { seq, sleep } => {
                    if *seq != self.front_seq {
                        // It finished within the grace period: nothing to cancel.
                        self.state = State::Idle;
                        continue;
                    }
                    match sleep.as_mut().poll(cx) {
                        Poll::Ready(()) => self.state = self.start_cancel(),
                        Poll::Pending => return true,
                    }
                }
                State::Cancelling { seq, done, delivered } => {
                    if !*delivered && Pin::new(done).poll(cx).is_ready() {
                        *delivered = true;
                    }
                    if *delivered && *seq != self.front_seq {
                        self.state = State::Idle;
                        continue;
                    }
                    return true;
                }
            }
        }
    }

    fn start_cancel(&self) -> State {
        let (tx, done) = oneshot::channel::<()>();
        let token = self.token.clone();
        self.token.runtime.spawn(Box::pin(async move {
            // A failed cancel only means the request runs to its end.
            let _ = token.cancel().await;
            drop(tx);
        }));
        State::Cancelling { seq: self.front_seq, done, delivered: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A runtime whose clock is set by hand and whose tasks run to
    /// completion at once (they never wait in these tests).
    struct ManualRuntime {
        now: Mutex<Duration>,
    }

    impl Runtime for ManualRuntime {
        fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
            Box::pin(std::future::pending())
        }
        fn now(&self) -> Duration {
            *self.now.lock().unwrap()
        }
        fn spawn(&self, future: BoxFuture<'static, ()>) {
            futures_executor_block_on(future);
        }
    }

    /// Polls a future that never waits (our fake cancel) to completion.
    fn futures_executor_block_on(mut f: BoxFuture<'static, ()>) {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(f.as_mut().poll(&mut cx).is_ready(), "the fake cancel must not wait");
    }

    struct CountingCancel(Arc<AtomicUsize>, Arc<Mutex<Vec<u8>>>);

    impl SendCancel for CountingCancel {
        fn send_cancel(&self, request: Bytes) -> BoxFuture<'static, Result<()>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            *self.1.lock().unwrap() = request.to_vec();
            Box::pin(async { Ok(()) })
        }
    }

    /// The cancel under test, its clock, how many cancels were sent, and their bytes.
    type Setup = (DropCancel, Arc<ManualRuntime>, Arc<AtomicUsize>, Arc<Mutex<Vec<u8>>>);

    fn setup() -> Setup {
        let rt = Arc::new(ManualRuntime { now: Mutex::new(Duration::from_secs(1)) });
        let count = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let token = CancelToken::new(
            Some(Arc::new(CountingCancel(count.clone(), sent.clone()))),
            Arc::new(std::sync::OnceLock::from((42, Bytes::from_static(&[1, 2, 3, 4])))),
            rt.clone(),
            Duration::from_secs(1),
        );
        (DropCancel::new(token), rt, count, sent)
    }

    fn front(abandoned: bool, alone: bool, written: bool) -> Option<Front> {
        Some(Front { abandoned, alone, written })
    }

    fn advance(rt: &ManualRuntime, d: Duration) {
        *rt.now.lock().unwrap() += d;
    }

    #[test]
    fn abandoned_alone_request_is_cancelled_after_the_grace_period() {
        let (mut dc, rt, count, sent) = setup();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        dc.front_changed();
        assert!(!dc.poll(&mut cx, front(false, true, true)), "a live request holds nothing back");
        assert!(dc.poll(&mut cx, front(true, true, true)), "abandoned: hold back while in grace");
        assert_eq!(count.load(Ordering::SeqCst), 0);
        advance(&rt, CANCEL_GRACE);
        dc.state = State::Idle; // the fake sleep never fires; re-decide with the new clock
        assert!(dc.poll(&mut cx, front(true, true, true)), "cancelling: still holding back");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(&sent.lock().unwrap()[..], b"\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x2a\x01\x02\x03\x04");
        // The request's answer ended: the cancel task is done too, so release.
        dc.front_changed();
        assert!(!dc.poll(&mut cx, None));
        assert_eq!(count.load(Ordering::SeqCst), 1, "one cancel only");
    }

    #[test]
    fn no_cancel_when_requests_are_pipelined_behind() {
        let (mut dc, rt, count, _) = setup();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        advance(&rt, Duration::from_secs(5));
        assert!(!dc.poll(&mut cx, front(true, false, true)));
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn quick_request_finishing_in_grace_is_not_cancelled() {
        let (mut dc, _rt, count, _) = setup();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        dc.front_changed();
        assert!(dc.poll(&mut cx, front(true, true, true)));
        dc.front_changed(); // it finished
        assert!(!dc.poll(&mut cx, None));
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn unwritten_abandoned_request_holds_back_without_cancelling() {
        let (mut dc, rt, count, _) = setup();
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        advance(&rt, Duration::from_secs(5));
        assert!(dc.poll(&mut cx, front(true, true, false)));
        assert_eq!(count.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn token_debug_hides_the_key_and_without_sender_fails() {
        let rt = Arc::new(ManualRuntime { now: Mutex::new(Duration::ZERO) });
        let token = CancelToken::new(
            None,
            Arc::new(std::sync::OnceLock::from((7, Bytes::from_static(b"sekrit")))),
            rt,
            Duration::from_secs(1),
        );
        let dbg = format!("{token:?}");
        assert!(!dbg.contains("sekrit") && !dbg.contains("115"), "{dbg}");
        let mut f: BoxFuture<'_, Result<()>> = Box::pin(token.cancel());
        let waker = futures_util::task::noop_waker();
        match f.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::Interface),
            _ => panic!("expected an interface error"),
        }
    }
}
