//! Query cancellation: [`CancelToken`], and the "a dropped request is
//! cancelled" decision ([`DropCancel`], sans-io: the session engine runs it,
//! the driver sends the cancel it asks for with [`spawn_drop_cancel`]).
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
//! session engine therefore only cancels a request when it is safe:
//!
//! 1. the request is the **front** of the in-flight queue (the one the
//!    backend is executing) and nobody waits for its answer any more (its
//!    caller dropped the future, or its timeout expired);
//! 2. it is the **only** request written: if later requests were already
//!    pipelined behind it, no cancel is sent (the answer is read and
//!    discarded as before — correct, just not faster);
//! 3. from that moment the engine **holds back** new requests, so none can
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

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;

use super::duration_text::Shown;
use super::runtime::{timeout, BoxFuture, MaybeSend, MaybeSync, Runtime};
use super::transport::{io_ext, Connector};
use crate::config::{Config, Host};
use crate::protocol::frontend;
use crate::{Error, ErrorKind, Result};

/// How long a request whose caller went away may keep running before it is
/// cancelled.
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

    /// The runtime the token was made for (its clock and spawner).
    pub(crate) fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    pub(crate) fn can_cancel(&self) -> bool {
        self.sender.is_some()
    }
}

/// Sends the cancel decided by [`DropCancel`] on a task of the token's
/// runtime; the receiver resolves (with `Canceled`) when the cancel
/// connection is over, whatever its outcome.
pub(crate) fn spawn_drop_cancel(token: &CancelToken) -> oneshot::Receiver<()> {
    let (tx, done) = oneshot::channel::<()>();
    let t = token.clone();
    token.runtime.spawn(Box::pin(async move {
        // A failed cancel only means the request runs to its end.
        let _ = t.cancel().await;
        drop(tx);
    }));
    done
}

/// The session engine's side, sans-io: decides when an abandoned front
/// request is cancelled and holds back new requests meanwhile (see the
/// module docs for why). Time comes in as a plain `Duration` on the
/// driver's clock; the grace period goes out as a deadline, the cancel as a
/// "send it now" answer.
pub(crate) struct DropCancel {
    state: State,
    /// Incremented whenever the front request changes.
    front_seq: u64,
    /// When the current front request became the front; `None` until the
    /// driver passes the time after a change (see [`DropCancel::needs_clock`]).
    front_since: Option<Duration>,
}

#[derive(Debug, PartialEq)]
enum State {
    /// Nothing abandoned at the front.
    Idle,
    /// The front request (`seq`) is abandoned and alone; waiting out the
    /// grace period, which ends at `until`.
    Grace { seq: u64, until: Duration },
    /// A cancel for request `seq` was sent; `delivered` once the cancel
    /// connection is over.
    Cancelling { seq: u64, delivered: bool },
}

/// What the engine knows about its front request, for [`DropCancel::decide`].
pub(crate) struct Front {
    /// Nobody waits for the answer any more.
    pub(crate) abandoned: bool,
    /// No other request is in flight (nothing pipelined behind it).
    pub(crate) alone: bool,
    /// All its bytes are written and flushed.
    pub(crate) written: bool,
}

/// The answer of [`DropCancel::decide`].
#[derive(Debug, PartialEq)]
pub(crate) struct Decision {
    /// New requests must not be written.
    pub(crate) hold_back: bool,
    /// Send a CancelRequest now (then report its end with [`DropCancel::delivered`]).
    pub(crate) send_cancel: bool,
}

impl DropCancel {
    pub(crate) fn new() -> DropCancel {
        DropCancel { state: State::Idle, front_seq: 0, front_since: None }
    }

    /// Tells that the front of the in-flight queue changed (a request
    /// finished, or one was queued on an empty queue).
    pub(crate) fn front_changed(&mut self) {
        self.front_seq = self.front_seq.wrapping_add(1);
        self.front_since = None;
    }

    /// Whether [`DropCancel::set_now`] must be called before the next decision.
    pub(crate) fn needs_clock(&self) -> bool {
        self.front_since.is_none() || matches!(self.state, State::Grace { .. })
    }

    /// The time on the driver's clock.
    pub(crate) fn set_now(&mut self, now: Duration) {
        if self.front_since.is_none() {
            self.front_since = Some(now);
        }
    }

    /// When the grace period ends, while one runs.
    pub(crate) fn deadline(&self) -> Option<Duration> {
        match self.state {
            State::Grace { until, .. } => Some(until),
            _ => None,
        }
    }

    /// The cancel connection is over.
    pub(crate) fn delivered(&mut self) {
        if let State::Cancelling { delivered, .. } = &mut self.state {
            *delivered = true;
        }
    }

    /// Advances the state machine at time `now`.
    pub(crate) fn decide(&mut self, now: Duration, front: Option<Front>) -> Decision {
        let hold = |hold_back| Decision { hold_back, send_cancel: false };
        loop {
            match self.state {
                State::Idle => {
                    let Some(f) = front.as_ref() else { return hold(false) };
                    if !f.abandoned || !f.alone {
                        // Not abandoned, or requests are pipelined behind it:
                        // a cancel could hit one of them, so never send one.
                        return hold(false);
                    }
                    if !f.written {
                        // Hold back new requests until its bytes are out, then decide.
                        return hold(true);
                    }
                    let until = self.front_since.unwrap_or(now).saturating_add(CANCEL_GRACE);
                    self.state = State::Grace { seq: self.front_seq, until };
                }
                State::Grace { seq, until } => {
                    if seq != self.front_seq {
                        // It finished within the grace period: nothing to cancel.
                        self.state = State::Idle;
                        continue;
                    }
                    if now < until {
                        return hold(true);
                    }
                    self.state = State::Cancelling { seq, delivered: false };
                    return Decision { hold_back: true, send_cancel: true };
                }
                State::Cancelling { seq, delivered } => {
                    if delivered && seq != self.front_seq {
                        self.state = State::Idle;
                        continue;
                    }
                    return hold(true);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::task::{Context, Poll};

    /// A runtime whose tasks run to completion at once (they never wait in these tests).
    struct ManualRuntime;

    impl Runtime for ManualRuntime {
        fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
            Box::pin(std::future::pending())
        }
        fn now(&self) -> Duration {
            Duration::ZERO
        }
        fn spawn(&self, mut future: BoxFuture<'static, ()>) {
            let waker = futures_util::task::noop_waker();
            let mut cx = Context::from_waker(&waker);
            assert!(future.as_mut().poll(&mut cx).is_ready(), "the fake cancel must not wait");
        }
    }

    struct CountingCancel(Arc<AtomicUsize>, Arc<Mutex<Vec<u8>>>);

    impl SendCancel for CountingCancel {
        fn send_cancel(&self, request: Bytes) -> BoxFuture<'static, Result<()>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            *self.1.lock().unwrap() = request.to_vec();
            Box::pin(async { Ok(()) })
        }
    }

    fn front(abandoned: bool, alone: bool, written: bool) -> Option<Front> {
        Some(Front { abandoned, alone, written })
    }

    const T0: Duration = Duration::from_secs(1);

    fn fresh() -> DropCancel {
        let mut dc = DropCancel::new();
        dc.front_changed();
        assert!(dc.needs_clock(), "a new front needs the time");
        dc.set_now(T0);
        dc
    }

    #[test]
    fn abandoned_alone_request_is_cancelled_after_the_grace_period() {
        let mut dc = fresh();
        assert!(!dc.decide(T0, front(false, true, true)).hold_back, "a live request holds nothing back");
        let d = dc.decide(T0, front(true, true, true));
        assert!(d.hold_back && !d.send_cancel, "abandoned: hold back while in grace");
        assert_eq!(dc.deadline(), Some(T0 + CANCEL_GRACE));
        let d = dc.decide(T0 + CANCEL_GRACE / 2, front(true, true, true));
        assert!(d.hold_back && !d.send_cancel);
        let d = dc.decide(T0 + CANCEL_GRACE, front(true, true, true));
        assert!(d.hold_back && d.send_cancel, "grace over: cancel");
        assert_eq!(dc.deadline(), None);
        let d = dc.decide(T0 + CANCEL_GRACE, front(true, true, true));
        assert!(d.hold_back && !d.send_cancel, "one cancel only");
        // The answer ended, but the cancel connection is not over: still hold.
        dc.front_changed();
        assert!(dc.decide(T0 + CANCEL_GRACE, None).hold_back);
        dc.delivered();
        assert_eq!(dc.decide(T0 + CANCEL_GRACE, None), Decision { hold_back: false, send_cancel: false });
    }

    #[test]
    fn no_cancel_when_requests_are_pipelined_behind() {
        let mut dc = fresh();
        let d = dc.decide(T0 + Duration::from_secs(5), front(true, false, true));
        assert_eq!(d, Decision { hold_back: false, send_cancel: false });
    }

    #[test]
    fn quick_request_finishing_in_grace_is_not_cancelled() {
        let mut dc = fresh();
        assert!(dc.decide(T0, front(true, true, true)).hold_back);
        dc.front_changed(); // it finished
        assert_eq!(dc.decide(T0 + CANCEL_GRACE * 2, None), Decision { hold_back: false, send_cancel: false });
    }

    #[test]
    fn unwritten_abandoned_request_holds_back_without_cancelling() {
        let mut dc = fresh();
        let d = dc.decide(T0 + Duration::from_secs(5), front(true, true, false));
        assert_eq!(d, Decision { hold_back: true, send_cancel: false });
    }

    #[test]
    fn the_spawned_cancel_sends_the_key_and_reports_its_end() {
        let count = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let token = CancelToken::new(
            Some(Arc::new(CountingCancel(count.clone(), sent.clone()))),
            Arc::new(std::sync::OnceLock::from((42, Bytes::from_static(&[1, 2, 3, 4])))),
            Arc::new(ManualRuntime),
            Duration::from_secs(1),
        );
        let mut done = spawn_drop_cancel(&token);
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(&sent.lock().unwrap()[..], b"\0\0\0\x10\x04\xd2\x16\x2e\0\0\0\x2a\x01\x02\x03\x04");
        assert!(done.try_recv().is_err(), "the task ended: the receiver reports it");
    }

    #[test]
    fn token_debug_hides_the_key_and_without_sender_fails() {
        let token = CancelToken::new(
            None,
            Arc::new(std::sync::OnceLock::from((7, Bytes::from_static(b"sekrit")))),
            Arc::new(ManualRuntime),
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
