//! The session engine: one connection's protocol state, sans-io.
//!
//! In the style of rustls's `ConnectionCommon` and quinn-proto's
//! `Connection`, [`Session`] does no I/O and knows no runtime: no futures,
//! channels, wakers, sockets or timers. It is driven by plain method calls:
//!
//! ```text
//!   requests in ── push_request / terminate ──▶ ┌─────────┐ ── output / advance_output ──▶ bytes out
//!   bytes in ───── recv_buf / receive ────────▶ │ Session │ ── poll_event ──────────────▶ events out
//!   time in ────── set_now ───────────────────▶ └─────────┘ ── deadline ────────────────▶ deadlines out
//! ```
//!
//! It owns the in-flight FIFO and the routing of every backend message to
//! the request that caused it, the order requests are written in
//! (pipelining: each is written as soon as it is pushed, without waiting
//! for earlier answers), the COPY FROM STDIN / TO STDOUT sub-protocols and
//! their backpressure decisions, the startup exchange of a pipelined
//! connect (`super::pipelined_startup`), the Terminate, and the decision to
//! cancel an abandoned request (`super::cancel::DropCancel`).
//!
//! Requests carry an opaque token `K` (the async driver's response sink; a
//! number in tests), handed back with the request's [`Event::Done`] or
//! [`Session::fail_all`]. The engine never looks inside it.
//!
//! Backpressure, both ways:
//! * COPY FROM STDIN: [`Session::wants_copy_data`] is false while
//!   [`COPY_WRITE_HIGH_WATER`] bytes wait to be written, so the caller's data
//!   is taken only as fast as the socket drains.
//! * Streamed responses (COPY TO STDOUT, streamed rows): [`Session::poll_event`]
//!   is told whether the front request's consumer has room; when it has not,
//!   the message waits (stalled) and [`Session::wants_read`] turns false:
//!   nothing more is read, so memory stays bounded whatever the result's size.
//!
//! The async shell that pumps bytes, channels and timers through it is
//! `super::driver`; the tests in `tests.rs` drive it with no async at all.

mod response;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};

use crate::client::cancel::{DropCancel, Front};
use crate::client::pipelined_startup::{PipelinedStartup, StartupEvent};
use crate::client::request::{Response, StreamItem};
use crate::client::row::Column;
use crate::client::shared::Shared;
use crate::protocol::backend::{self, Message};
use crate::protocol::frontend;
use crate::{Error, ErrorKind, Result};
use response::ResponseBuilder;

/// Read at least this much at a time.
const MIN_READ: usize = 8 * 1024;
/// Never reserve more than this at once for a partial message; a large
/// message's buffer grows as its bytes actually arrive.
const MAX_RESERVE: usize = 4 * 1024 * 1024;
/// Streamed COPY TO STDOUT data is handed over in chunks of up to this size.
const COPY_OUT_BATCH: usize = 64 * 1024;
/// Stop taking COPY data from the caller while this much is waiting to be written.
pub(crate) const COPY_WRITE_HIGH_WATER: usize = 256 * 1024;

/// Where the session is in the connection's life.
///
/// ```text
///   connect_pipelined                                  connect
///          │                                              │
///          ▼            ReadyForQuery                      ▼
///      Starting ─────────────────────────────────────▶ Running
///       │    ▲ pipelining rejected: Event::Reopen,        │
///       │    └ reopened(), replay (stays Starting)        │ terminate(): a Terminate request,
///       │                                                 │ or every handle gone, nothing in flight
///       │ terminate() ─▶ Starting{then_terminate}          ▼
///       │                ── ReadyForQuery ──▶  Terminating ── written, flushed: wants_close ──▶ end
///       │
///   any phase ── I/O error, EOF, protocol error, abort ──▶ end (fail_all: every waiting request fails)
/// ```
///
/// Orthogonal to the phase: the COPY FROM STDIN sub-state ([`CopyIn`]), a
/// message stalled by a full stream consumer (`stalled`, which stops
/// reading), unflushed writes (`needs_flush`) and the drop-cancel hold-back.
enum Phase {
    /// A pipelined connect's startup exchange runs here (see
    /// `super::pipelined_startup`); `then_terminate` once a Terminate
    /// arrived meanwhile.
    Starting { startup: Box<PipelinedStartup>, then_terminate: bool },
    /// The session is up: requests are written as they come and answered in order.
    Running,
    /// A Terminate is queued: no new request is taken; what is left is
    /// written, the answers in flight are awaited, then the stream closes.
    Terminating,
}

/// COPY FROM STDIN, while in [`Phase::Running`] (or queued behind a pipelined startup).
enum CopyIn {
    /// No COPY request in flight.
    Idle,
    /// A COPY request was written; the server has not asked for data yet.
    /// Later requests wait (their bytes would land inside the COPY).
    Written,
    /// The server sent CopyInResponse: the caller's data is forwarded.
    Sending,
}

/// One request written (or held by a pipelined startup), waiting for its answer.
struct InFlight<K> {
    token: K,
    syncs_left: u32,
    builder: ResponseBuilder,
    /// Its consumer takes the response piece by piece ([`Event::Stream`]).
    streamed: bool,
    /// It carries COPY FROM STDIN data.
    copy_in: bool,
    /// The server asked for that data.
    copy_started: bool,
}

/// What the engine hands out ([`Session::poll_event`]).
pub(crate) enum Event<K> {
    /// The front request's response is complete (its server error, if any,
    /// is inside). For a streamed request this is its end.
    Done(K, Response),
    /// A piece of the front request's streamed response.
    Stream(StreamItem),
    /// The server rejected the pipelined password: open a new stream and
    /// call [`Session::reopen`]; nothing may be read or written meanwhile.
    Reopen,
}

/// The state of one connection (see the module docs).
pub(crate) struct Session<K> {
    phase: Phase,
    copy_in: CopyIn,
    in_flight: VecDeque<InFlight<K>>,
    /// How many of `in_flight` (from the front) were handed to the transport
    /// and flushed. The others, if a write fails with an unsent error
    /// ([`Error::is_unsent`]), never reached the server.
    flushed: usize,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// Bytes were written since the last flush.
    needs_flush: bool,
    /// A message that could not be delivered yet (its stream consumer is
    /// full); nothing is read until it is.
    stalled: Option<Message>,
    shared: Arc<Shared>,
    max_message_size: usize,
    /// A FATAL ErrorResponse that arrived outside any request (e.g. the
    /// server shutting down); reported as the reason the connection closed.
    fatal: Option<Error>,
    /// Cancels an abandoned long-running front request; `None` when the
    /// connection has no way to open a cancel stream.
    drop_cancel: Option<DropCancel>,
    /// New requests must wait: an abandoned front request is being (or
    /// about to be) cancelled.
    hold_back: bool,
    /// The time on the driver's clock, as last told.
    now: Duration,
    /// An [`Event::Reopen`] to hand out.
    reopen_needed: bool,
    /// Backend messages handled so far.
    messages_in: u64,
}

impl<K> Session<K> {
    /// A session that is up (startup done elsewhere); `rbuf` holds what was
    /// read after the startup exchange.
    pub(crate) fn new(rbuf: BytesMut, shared: Arc<Shared>, max_message_size: usize) -> Session<K> {
        Session {
            phase: Phase::Running,
            copy_in: CopyIn::Idle,
            in_flight: VecDeque::new(),
            flushed: 0,
            rbuf,
            wbuf: BytesMut::with_capacity(8 * 1024),
            needs_flush: false,
            stalled: None,
            shared,
            max_message_size,
            fatal: None,
            drop_cancel: None,
            hold_back: false,
            now: Duration::ZERO,
            reopen_needed: false,
            messages_in: 0,
        }
    }

    /// Runs the startup exchange first: `first` (the StartupMessage and the
    /// pipelined password) is written with the requests pushed meanwhile.
    pub(crate) fn with_pipelined_startup(mut self, startup: PipelinedStartup, first: BytesMut) -> Session<K> {
        self.wbuf = first;
        self.phase = Phase::Starting { startup: Box::new(startup), then_terminate: false };
        self
    }

    /// Enables the drop-cancel decision ([`Session::check_front`]).
    pub(crate) fn with_drop_cancel(mut self) -> Session<K> {
        self.drop_cancel = Some(DropCancel::new());
        self
    }

    // ---- state -------------------------------------------------------------

    pub(crate) fn is_starting(&self) -> bool {
        matches!(self.phase, Phase::Starting { .. })
    }

    /// A Terminate was queued (possibly behind a pipelined startup).
    pub(crate) fn is_terminating(&self) -> bool {
        matches!(self.phase, Phase::Terminating | Phase::Starting { then_terminate: true, .. })
    }

    /// No request is waiting for an answer.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The phase's name, for tests.
    #[cfg(test)]
    pub(crate) fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Starting { then_terminate: false, .. } => "starting",
            Phase::Starting { then_terminate: true, .. } => "starting, then terminate",
            Phase::Running => "running",
            Phase::Terminating => "terminating",
        }
    }

    fn is_reopening(&self) -> bool {
        matches!(&self.phase, Phase::Starting { startup, .. } if startup.is_reopening())
    }

    // ---- time --------------------------------------------------------------

    /// Whether the engine needs the time ([`Session::set_now`]) before its
    /// next decision: a new front request's start, a running grace period or
    /// startup hold. Lets the driver read its clock only when it matters.
    pub(crate) fn needs_clock(&self) -> bool {
        let holding = matches!(&self.phase, Phase::Starting { startup, .. } if startup.holding());
        holding || self.drop_cancel.as_ref().is_some_and(DropCancel::needs_clock)
    }

    /// The time on the driver's clock (any monotonic origin).
    pub(crate) fn set_now(&mut self, now: Duration) {
        self.now = now;
        if let Some(dc) = self.drop_cancel.as_mut() {
            dc.set_now(now);
        }
    }

    /// The next time the engine wants to be told the time, if any (the end
    /// of a pipelined startup's hold, of a drop-cancel grace period).
    pub(crate) fn deadline(&self) -> Option<Duration> {
        let hold = match &self.phase {
            Phase::Starting { startup, .. } => startup.hold_deadline(self.now),
            _ => None,
        };
        let grace = self.drop_cancel.as_ref().and_then(DropCancel::deadline).filter(|t| *t > self.now);
        match (hold, grace) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- requests ----------------------------------------------------------

    /// Whether a new request may be pushed now: not while terminating,
    /// during a COPY FROM STDIN, or while an abandoned request is cancelled.
    pub(crate) fn accepts_requests(&self) -> bool {
        !self.is_terminating() && matches!(self.copy_in, CopyIn::Idle) && !self.hold_back
    }

    /// Queues a request: `bytes` (encoded messages whose answer ends after
    /// `syncs` ReadyForQuery) are written at once, behind those before it.
    /// `columns` describe DataRows that come without a RowDescription;
    /// `streamed` asks for [`Event::Stream`] pieces; `copy_in` says it
    /// carries COPY FROM STDIN data. A request pushed after a Terminate is
    /// refused: it is given back with its error, and nothing is written.
    pub(crate) fn push_request(
        &mut self,
        bytes: BytesMut,
        syncs: u32,
        columns: Option<Arc<[Column]>>,
        streamed: bool,
        copy_in: bool,
        token: K,
    ) -> std::result::Result<(), (K, Error)> {
        if self.is_terminating() {
            return Err((token, Error::new(ErrorKind::Closed, "the connection was terminated")));
        }
        let write_now = match &mut self.phase {
            Phase::Starting { startup, .. } => startup.take_request(&bytes),
            _ => true,
        };
        if !write_now {
            // Held by the startup phase until the session is ready.
        } else if self.wbuf.is_empty() {
            self.wbuf = bytes;
        } else {
            self.wbuf.extend_from_slice(&bytes);
        }
        if copy_in {
            self.copy_in = CopyIn::Written;
        }
        if self.in_flight.is_empty() {
            self.front_changed();
        }
        self.in_flight.push_back(InFlight {
            token,
            syncs_left: syncs,
            builder: ResponseBuilder::new(columns),
            streamed,
            copy_in,
            copy_started: false,
        });
        Ok(())
    }

    /// Queues a Terminate: [`Phase::Terminating`], or, behind a pipelined
    /// startup, `then_terminate` (the Terminate waits with the held requests
    /// when they cannot be written yet). Idempotent.
    pub(crate) fn terminate(&mut self) {
        match &mut self.phase {
            Phase::Starting { then_terminate: true, .. } | Phase::Terminating => {}
            Phase::Starting { startup, then_terminate } => {
                *then_terminate = true;
                if startup.may_append() {
                    startup.release();
                    frontend::terminate(&mut self.wbuf);
                } else {
                    let mut t = BytesMut::new();
                    frontend::terminate(&mut t);
                    startup.hold_bytes(&t);
                }
            }
            Phase::Running => {
                self.phase = Phase::Terminating;
                frontend::terminate(&mut self.wbuf);
            }
        }
    }

    /// The token of the request being answered now.
    pub(crate) fn front_token_mut(&mut self) -> Option<&mut K> {
        self.in_flight.front_mut().map(|f| &mut f.token)
    }

    /// Whether the driver must report the front request's fate with
    /// [`Session::check_front`] (drop-cancel is on and the session is up).
    pub(crate) fn watches_front(&self) -> bool {
        self.drop_cancel.is_some() && !self.is_starting()
    }

    /// The drop-cancel decision: `abandoned` says nobody waits for the front
    /// request's answer any more. Returns `true` when a CancelRequest must
    /// be sent now (report its end with [`Session::cancel_delivered`]); new
    /// requests are refused meanwhile ([`Session::accepts_requests`]).
    pub(crate) fn check_front(&mut self, abandoned: bool) -> bool {
        let Some(dc) = self.drop_cancel.as_mut() else { return false };
        let alone = self.in_flight.len() == 1;
        let written = self.wbuf.is_empty() && !self.needs_flush;
        let front = (!self.in_flight.is_empty()).then_some(Front { abandoned, alone, written });
        let decision = dc.decide(self.now, front);
        self.hold_back = decision.hold_back;
        decision.send_cancel
    }

    /// The cancel connection asked for by [`Session::check_front`] is over.
    pub(crate) fn cancel_delivered(&mut self) {
        if let Some(dc) = self.drop_cancel.as_mut() {
            dc.delivered();
        }
    }

    fn front_changed(&mut self) {
        if let Some(dc) = self.drop_cancel.as_mut() {
            dc.front_changed();
        }
    }

    // ---- COPY FROM STDIN ---------------------------------------------------

    /// Whether the front request's COPY data is wanted now: the server asked
    /// for it and less than [`COPY_WRITE_HIGH_WATER`] waits to be written.
    pub(crate) fn wants_copy_data(&self) -> bool {
        matches!(self.copy_in, CopyIn::Sending) && self.wbuf.len() < COPY_WRITE_HIGH_WATER
    }

    /// The front request's COPY ended (done, failed or rejected by the
    /// server): its data source can be dropped.
    pub(crate) fn front_copy_over(&self) -> bool {
        !matches!(self.copy_in, CopyIn::Sending) && self.in_flight.front().is_some_and(|f| f.copy_started)
    }

    /// Frames `data` as CopyData.
    pub(crate) fn copy_data(&mut self, data: &[u8]) -> Result<()> {
        if !data.is_empty() && matches!(self.copy_in, CopyIn::Sending) {
            frontend::copy_data_header(data.len(), &mut self.wbuf)?;
            self.wbuf.extend_from_slice(data);
        }
        Ok(())
    }

    /// The data is complete: CopyDone.
    pub(crate) fn copy_done(&mut self) {
        if matches!(self.copy_in, CopyIn::Sending) {
            frontend::copy_done(&mut self.wbuf);
            self.copy_in = CopyIn::Idle;
        }
    }

    /// Aborts the COPY with `reason` (CopyFail), so that no row lands.
    pub(crate) fn copy_fail(&mut self, reason: &str) -> Result<()> {
        if !matches!(self.copy_in, CopyIn::Sending) {
            return Ok(());
        }
        if frontend::copy_fail(reason, &mut self.wbuf).is_err() {
            // The reason had a NUL byte; the server only logs it anyway.
            frontend::copy_fail("COPY aborted by the client", &mut self.wbuf)?;
        }
        self.copy_in = CopyIn::Idle;
        Ok(())
    }

    // ---- bytes out ---------------------------------------------------------

    /// Whether the stream may be written and read now (not while a pipelined
    /// startup holds its bytes back, or a new stream is being opened).
    pub(crate) fn io_allowed(&self) -> bool {
        match &self.phase {
            Phase::Starting { startup, .. } => startup.io_allowed(self.now),
            _ => true,
        }
    }

    /// Bytes to write, in order.
    pub(crate) fn output(&self) -> &[u8] {
        &self.wbuf
    }

    /// `n` bytes of [`Session::output`] were written.
    pub(crate) fn advance_output(&mut self, n: usize) {
        self.wbuf.advance(n.min(self.wbuf.len()));
        self.needs_flush = true;
    }

    /// Everything was written and must now be flushed.
    pub(crate) fn wants_flush(&self) -> bool {
        self.wbuf.is_empty() && self.needs_flush
    }

    /// The transport flushed: every request pushed so far reached the server.
    pub(crate) fn flushed(&mut self) {
        self.needs_flush = false;
        self.flushed = self.in_flight.len();
    }

    /// The Terminate went out and every answer arrived: close the stream.
    pub(crate) fn wants_close(&self) -> bool {
        self.is_terminating() && self.wbuf.is_empty() && !self.needs_flush && self.in_flight.is_empty()
    }

    // ---- bytes in ----------------------------------------------------------

    /// Whether bytes should be read now. Always, even when idle (notices,
    /// notifications and a server-side termination arrive unasked), except
    /// while a message waits for a stream consumer (backpressure) or a new
    /// stream is being opened.
    pub(crate) fn wants_read(&self) -> bool {
        self.stalled.is_none() && !self.is_reopening()
    }

    /// The receive buffer, with room for the next read: the transport
    /// appends to it directly (no copy).
    pub(crate) fn recv_buf(&mut self) -> &mut BytesMut {
        let spare = self.rbuf.capacity() - self.rbuf.len();
        if spare < MIN_READ {
            let want = backend::needed(&self.rbuf).unwrap_or(0).clamp(MIN_READ * 4, MAX_RESERVE);
            self.rbuf.reserve(want);
        }
        &mut self.rbuf
    }

    /// Bytes from the server (when they were not read into [`Session::recv_buf`]).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn receive(&mut self, bytes: &[u8]) {
        self.rbuf.extend_from_slice(bytes);
    }

    /// The server closed the stream: a clean end after our Terminate, else
    /// the error that ends the connection.
    pub(crate) fn recv_eof(&mut self) -> Result<()> {
        if self.is_terminating() {
            return Ok(());
        }
        Err(self
            .fatal
            .take()
            .unwrap_or_else(|| Error::new(ErrorKind::Closed, "the server closed the connection unexpectedly")))
    }

    /// The new stream asked for by [`Event::Reopen`] is open: the startup
    /// starts again on it, without pipelining.
    pub(crate) fn reopen(&mut self, tls_server_end_point: Option<Vec<u8>>) -> Result<()> {
        match &mut self.phase {
            Phase::Starting { startup, .. } if startup.is_reopening() => {
                startup.reopened(tls_server_end_point, &mut self.wbuf)
            }
            _ => Err(Error::protocol("no reconnect in progress")),
        }
    }

    // ---- events out --------------------------------------------------------

    /// The front request's stream consumer went away: the rest of its
    /// response is read and dropped.
    pub(crate) fn front_stream_closed(&mut self) {
        if let Some(f) = self.in_flight.front_mut() {
            f.streamed = false;
        }
    }

    /// Handles received messages until one produces an event. `room` says
    /// whether the front request's stream consumer can take one more item
    /// (ignored for requests that do not stream). `Ok(None)` when nothing
    /// more can be done before more bytes, room or time arrive; an error
    /// ends the connection (call [`Session::fail_all`]).
    pub(crate) fn poll_event(&mut self, room: bool) -> Result<Option<Event<K>>> {
        if std::mem::take(&mut self.reopen_needed) {
            return Ok(Some(Event::Reopen));
        }
        loop {
            let msg = match self.stalled.take() {
                Some(msg) => msg,
                None if !self.io_allowed() => return Ok(None),
                None => match backend::next_message(&mut self.rbuf, self.max_message_size)? {
                    Some(msg) => {
                        self.messages_in += 1;
                        msg
                    }
                    None => return Ok(self.streamed_rows(room)),
                },
            };
            if self.is_starting() {
                self.startup_message(msg)?;
                if std::mem::take(&mut self.reopen_needed) {
                    return Ok(Some(Event::Reopen));
                }
                continue;
            }
            let event = self.handle(msg, room)?;
            if event.is_some() || self.stalled.is_some() {
                return Ok(event);
            }
        }
    }

    /// How many backend messages were taken from the receive buffer so far:
    /// a message that produced no event still changed the state (a startup
    /// step, a CopyInResponse), so the driver counts it as progress.
    pub(crate) fn messages_in(&self) -> u64 {
        self.messages_in
    }

    /// Ends the session: every request in flight gets its error (or its own
    /// server error) through `fail`. A transport's "nothing was sent" covers
    /// only what it had not flushed yet: earlier requests did reach the server.
    pub(crate) fn fail_all(&mut self, error: &Error, mut fail: impl FnMut(K, Error)) {
        let flushed = std::mem::take(&mut self.flushed);
        for (i, f) in self.in_flight.drain(..).enumerate() {
            let e = match f.builder.response.error {
                Some(e) => e,
                None if i < flushed => error.duplicate().sent(),
                None => error.duplicate(),
            };
            fail(f.token, e);
        }
    }

    /// Rows parsed so far for a streamed front request, handed over once
    /// the receive buffer holds no complete message (so they are decoded
    /// while the rest is on the way). Without room they wait: never more
    /// than a collected response would hold.
    fn streamed_rows(&mut self, room: bool) -> Option<Event<K>> {
        let front = self.in_flight.front_mut()?;
        if !room || !front.streamed || front.builder.current.rows.is_empty() {
            return None;
        }
        Some(Event::Stream(StreamItem::Rows(std::mem::take(&mut front.builder.current.rows))))
    }

    /// [`Phase::Starting`]: a server message for the startup exchange.
    fn startup_message(&mut self, msg: Message) -> Result<()> {
        let Phase::Starting { startup, then_terminate } = &mut self.phase else { return Ok(()) };
        match startup.handle(msg, &mut self.wbuf)? {
            StartupEvent::Continue => {}
            StartupEvent::Done => {
                let next = if *then_terminate { Phase::Terminating } else { Phase::Running };
                if let Phase::Starting { startup, .. } = std::mem::replace(&mut self.phase, next) {
                    startup.finish(&self.shared, &mut self.wbuf);
                }
            }
            StartupEvent::Reopening => {
                // The old stream is dead to us: forget its bytes both ways.
                self.rbuf.clear();
                self.wbuf.clear();
                self.needs_flush = false;
                self.reopen_needed = true;
            }
        }
        Ok(())
    }

    /// Routes one message of a running session. A message that must wait
    /// for the stream consumer to make room is kept in `stalled`.
    fn handle(&mut self, msg: Message, room: bool) -> Result<Option<Event<K>>> {
        match msg {
            Message::NoticeResponse(fields) => {
                // A notice that cannot be read (e.g. not UTF-8) is dropped:
                // it must not cost a healthy connection.
                if let Ok(notice) = fields.to_db_error() {
                    self.shared.notice(&notice);
                }
            }
            Message::ParameterStatus { name, value } => self.shared.set_parameter(name, value),
            Message::NotificationResponse { process_id, channel, payload } => {
                self.shared.notification(process_id, &channel, &payload);
            }
            Message::ReadyForQuery { status } => {
                let front = self.front("ReadyForQuery")?;
                if front.syncs_left <= 1 && front.streamed && !room {
                    // The end of a stream needs a free slot too.
                    self.stalled = Some(Message::ReadyForQuery { status });
                    return Ok(None);
                }
                self.shared.set_status(status);
                let front = self.front("ReadyForQuery")?;
                front.builder.sync(status, front.syncs_left > 1);
                front.syncs_left = front.syncs_left.saturating_sub(1);
                if front.syncs_left == 0 {
                    if let Some(done) = self.in_flight.pop_front() {
                        self.flushed = self.flushed.saturating_sub(1);
                        self.shared.note_done();
                        self.front_changed();
                        if done.copy_in {
                            // Over, or it never started (e.g. the table does not exist).
                            self.copy_in = CopyIn::Idle;
                        }
                        return Ok(Some(Event::Done(done.token, done.builder.finish())));
                    }
                }
            }
            Message::CopyInResponse(_) => {
                let front = self.front("CopyInResponse")?;
                if front.copy_in && !front.copy_started {
                    front.copy_started = true;
                    self.copy_in = CopyIn::Sending;
                } else {
                    // This request cannot feed COPY data: refuse cleanly so
                    // the server aborts the COPY and the connection stays in step.
                    frontend::copy_fail(
                        "COPY FROM STDIN is not supported by this call; use copy_to_table",
                        &mut self.wbuf,
                    )?;
                }
            }
            Message::ErrorResponse(fields) if self.in_flight.is_empty() => {
                // Unsolicited: the server is about to close (admin shutdown,
                // idle timeout, ...). Keep it as the reason.
                self.fatal = Some(Error::db(fields.to_db_error()?));
            }
            Message::ErrorResponse(fields) => {
                if matches!(self.copy_in, CopyIn::Sending) {
                    // The server rejected the COPY data; it ignores whatever
                    // CopyData is still on the way. Stop sending.
                    self.copy_in = CopyIn::Idle;
                }
                let e = Error::db(fields.to_db_error()?);
                self.front("ErrorResponse")?.builder.error(e);
            }
            m @ (Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone)
                if self.in_flight.front().is_some_and(|f| f.streamed) =>
            {
                if !room {
                    self.stalled = Some(m);
                    return Ok(None);
                }
                let item = match m {
                    Message::CopyOutResponse(body) => StreamItem::CopyOut { format: body.format() as i16 },
                    Message::CopyData(data) => StreamItem::CopyData(self.gather_copy_data(data)?),
                    // CopyDone: the end follows at ReadyForQuery.
                    _ => return Ok(None),
                };
                return Ok(Some(Event::Stream(item)));
            }
            other => self.front("a response message")?.builder.push(other)?,
        }
        Ok(None)
    }

    /// Joins `first` with the CopyData messages already complete in the
    /// receive buffer (up to [`COPY_OUT_BATCH`] bytes), so a streamed COPY TO
    /// STDOUT crosses the channel once per read rather than once per row.
    fn gather_copy_data(&mut self, first: bytes::Bytes) -> Result<bytes::Bytes> {
        let next_is_copy_data = |rbuf: &BytesMut| rbuf.first() == Some(&b'd') && backend::needed(rbuf) == Some(0);
        if first.len() >= COPY_OUT_BATCH || !next_is_copy_data(&self.rbuf) {
            return Ok(first);
        }
        let mut batch = BytesMut::with_capacity(COPY_OUT_BATCH.max(first.len() * 2));
        batch.extend_from_slice(&first);
        while batch.len() < COPY_OUT_BATCH && next_is_copy_data(&self.rbuf) {
            match backend::next_message(&mut self.rbuf, self.max_message_size)? {
                Some(Message::CopyData(data)) => batch.extend_from_slice(&data),
                _ => return Err(Error::protocol("CopyData message changed while being read")),
            }
        }
        Ok(batch.freeze())
    }

    fn front(&mut self, what: &str) -> Result<&mut InFlight<K>> {
        self.in_flight
            .front_mut()
            .ok_or_else(|| Error::protocol(format!("server sent {what} while no request was in flight")))
    }
}
