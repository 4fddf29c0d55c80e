//! The connection's background task: it owns the stream, writes requests in
//! order, reads the server's messages and routes each response to the
//! request that caused it.
//!
//! ```text
//!  handles ──Request──▶ [ queue ] ──bytes──▶ server
//!     ▲                    │ in_flight (FIFO)
//!     └──── Response ◀─────┘◀──messages── server
//! ```
//!
//! Requests are written as soon as they arrive, without waiting for earlier
//! answers (pipelining). Every request ends in Sync, so an error in one does
//! not abort the next. A request whose caller went away (a dropped future) is
//! still read to its ReadyForQuery and its response discarded, so the stream
//! never gets out of step. Async messages (notices, notifications, parameter
//! changes) are handled wherever they appear.
//!
//! Two kinds of request need more than "write bytes, collect answer":
//! * **COPY FROM STDIN** carries a channel of data. Once the server sends
//!   CopyInResponse the driver forwards that data as CopyData messages and
//!   ends with CopyDone, or CopyFail when the caller fails or goes away (so no
//!   row lands). Until the COPY is over no later request is written.
//! * **Streaming responses** (COPY TO STDOUT) go through a bounded channel;
//!   when the consumer is slow the driver stops reading the socket, so memory
//!   stays bounded whatever the size of the result.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use futures_util::StreamExt;

use super::cancel::{DropCancel, Front};
use super::pipelined_startup::{PipelinedStartup, StartupEvent};
use super::request::{
    CopyInMessage, CopyInReceiver, QueryResult, Request, RequestReceiver, Response, Sink, StreamItem, SyncMark,
};
use super::row::{Column, Row};
use super::shared::Shared;
use super::transport::Transport;
use crate::protocol::backend::{self, Message, TransactionStatus};
use crate::protocol::{frontend, Format};
use crate::types::Type;
use crate::{Error, ErrorKind, Result};

/// Read at least this much at a time.
const MIN_READ: usize = 8 * 1024;
/// Never reserve more than this at once for a partial message; a large
/// message's buffer grows as its bytes actually arrive.
const MAX_RESERVE: usize = 4 * 1024 * 1024;
/// Streamed COPY TO STDOUT data is handed over in chunks of up to this size.
const COPY_OUT_BATCH: usize = 64 * 1024;
/// Stop taking COPY data from the caller while this much is waiting to be written.
const COPY_WRITE_HIGH_WATER: usize = 256 * 1024;

struct InFlight {
    sink: Sink,
    syncs_left: u32,
    builder: ResponseBuilder,
    /// COPY FROM STDIN data not yet asked for by the server.
    copy_in: Option<CopyInReceiver>,
}

/// Where the driver is in the connection's life.
///
/// ```text
///   connect_pipelined                                  connect
///          │                                              │
///          ▼            ReadyForQuery                      ▼
///      Starting ─────────────────────────────────────▶ Running
///       │    ▲ pipelining rejected:                       │
///       │    └ reopen, replay (stays Starting)            │ Terminate request, or every
///       │                                                 │ handle gone with nothing in flight
///       │ Terminate request ─▶ Starting{then_terminate}   ▼
///       │                      ── ReadyForQuery ──▶  Terminating ── written, flushed, closed ──▶ end
///       │
///   any phase ── I/O error, EOF, protocol error, Abort ──▶ end (every waiting request fails)
/// ```
///
/// Orthogonal to the phase: the COPY FROM STDIN sub-state ([`CopyIn`]), a
/// message stalled by a full stream consumer (`stalled`, which stops reading),
/// unflushed writes (`needs_flush`) and a closed request channel
/// (`requests_done`).
enum Phase<T> {
    /// A pipelined connect's startup exchange runs here (see
    /// `super::pipelined_startup`); `then_terminate` once a Terminate
    /// arrived meanwhile.
    Starting { startup: Box<PipelinedStartup<T>>, then_terminate: bool },
    /// The session is up: requests are written as they come and answered in order.
    Running,
    /// A Terminate is queued: no new request is taken; the driver writes what
    /// is left, waits for the answers in flight, then closes the stream.
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
    Sending(CopyInReceiver),
}

/// Drives one connection. Spawned by [`super::connect`] on the runtime.
pub(crate) struct Driver<T> {
    transport: T,
    phase: Phase<T>,
    copy_in: CopyIn,
    requests: RequestReceiver,
    /// Every handle is gone (the request channel ended).
    requests_done: bool,
    in_flight: VecDeque<InFlight>,
    /// How many of `in_flight` (from the front) were handed to the transport
    /// and flushed. The others, if a write fails with an unsent error
    /// ([`Error::is_unsent`]), never reached the server.
    flushed: usize,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// Bytes were written since the last flush.
    needs_flush: bool,
    /// A message that could not be delivered yet (its stream consumer is
    /// full); the socket is not read until it is.
    stalled: Option<Message>,
    shared: Arc<Shared>,
    max_message_size: usize,
    /// A FATAL ErrorResponse that arrived outside any request (e.g. the
    /// server shutting down); reported as the reason the connection closed.
    fatal: Option<Error>,
    /// Callers of `close()`, told (by being dropped) when the driver ends.
    close_waiters: Vec<futures_channel::oneshot::Sender<()>>,
    /// Cancels an abandoned long-running front request (see `super::cancel`);
    /// `None` when the connection has no way to open a cancel stream.
    drop_cancel: Option<DropCancel>,
}

/// What one step of [`Driver::poll_inner`] did.
type Step = Result<bool>;

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
            phase: Phase::Running,
            copy_in: CopyIn::Idle,
            requests,
            requests_done: false,
            in_flight: VecDeque::new(),
            flushed: 0,
            rbuf,
            wbuf: BytesMut::with_capacity(8 * 1024),
            needs_flush: false,
            stalled: None,
            shared,
            max_message_size,
            fatal: None,
            close_waiters: Vec::new(),
            drop_cancel: None,
        }
    }

    /// Makes the driver run the startup exchange first: `first` (the
    /// StartupMessage and pipelined password) is written with the requests
    /// queued meanwhile.
    pub(crate) fn with_pipelined_startup(mut self, startup: PipelinedStartup<T>, first: BytesMut) -> Driver<T> {
        self.wbuf = first;
        self.phase = Phase::Starting { startup: Box::new(startup), then_terminate: false };
        self
    }

    /// Enables cancelling requests whose caller went away.
    pub(crate) fn with_drop_cancel(mut self, drop_cancel: DropCancel) -> Driver<T> {
        self.drop_cancel = Some(drop_cancel);
        self
    }

    #[inline(always)]
    fn startup(&mut self) -> Option<&mut PipelinedStartup<T>> {
        match &mut self.phase {
            Phase::Starting { startup, .. } => Some(startup),
            _ => None,
        }
    }

    #[inline(always)]
    fn is_starting(&self) -> bool {
        matches!(self.phase, Phase::Starting { .. })
    }

    /// A Terminate was queued (possibly behind a pipelined startup).
    #[inline(always)]
    fn is_terminating(&self) -> bool {
        matches!(self.phase, Phase::Terminating | Phase::Starting { then_terminate: true, .. })
    }

    #[inline(always)]
    fn is_reopening(&self) -> bool {
        matches!(&self.phase, Phase::Starting { startup, .. } if startup.is_reopening())
    }

    /// Whether new requests must wait because an abandoned front request is
    /// being (or about to be) cancelled.
    fn poll_hold_back(&mut self, cx: &mut Context<'_>) -> bool {
        if self.is_starting() {
            // Nothing runs before startup is over: nothing to cancel.
            return false;
        }
        let Some(dc) = self.drop_cancel.as_mut() else { return false };
        let alone = self.in_flight.len() == 1;
        let written = self.wbuf.is_empty() && !self.needs_flush;
        let front = self.in_flight.front_mut().map(|f| Front { abandoned: f.sink.poll_abandoned(cx), alone, written });
        dc.poll(cx, front)
    }

    fn front_changed(&mut self) {
        if let Some(dc) = self.drop_cancel.as_mut() {
            dc.front_changed();
        }
    }

    /// One turn of the driver: every step runs in order, again while any
    /// made progress. The steps are `#[inline(always)]`: each is called
    /// once, and as separate functions they cost the `.wasm` ~200 gzipped
    /// bytes (measured with js/build.sh's flags). A step returns `Ok(true)` when it did something, an
    /// error when the connection is over; [`Driver::poll_close`] ends it
    /// cleanly after a Terminate.
    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        // Runs a step; an error ends the driver.
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
            step!(progress, self.poll_reopened(cx));
            step!(progress, self.take_requests(cx));
            step!(progress, self.poll_copy_in(cx));
            // While a pipelined startup holds its bytes back (waiting for a
            // first request to join them) or a new stream is being opened, no I/O.
            let io_allowed = self.startup().map_or(true, |p| p.poll_io_allowed(cx));
            if io_allowed {
                step!(progress, self.poll_write(cx));
                if let Some(closing) = self.poll_close(cx) {
                    return closing;
                }
            }
            match self.poll_stalled(cx) {
                Ok(Some(p)) => progress |= p,
                // Still stalled: nothing is read until the consumer makes room.
                Ok(None) if progress => continue,
                Ok(None) => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
            if io_allowed {
                step!(progress, self.poll_messages(cx));
                self.stream_rows(cx);
                match self.poll_read(cx) {
                    Ok(Some(p)) => progress |= p,
                    // The server closed the stream after our Terminate.
                    Ok(None) => return Poll::Ready(Ok(())),
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// [`Phase::Starting`]: a new stream after the server rejected the
    /// pipelined password.
    #[inline(always)]
    fn poll_reopened(&mut self, cx: &mut Context<'_>) -> Step {
        let Phase::Starting { startup, .. } = &mut self.phase else { return Ok(false) };
        if !startup.is_reopening() {
            return Ok(false);
        }
        match startup.poll_reopened(cx, &mut self.wbuf) {
            Poll::Ready(Ok(stream)) => {
                self.transport = stream;
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Ok(false),
        }
    }

    /// Takes queued requests (not while terminating, during a COPY, or while
    /// an abandoned request is being cancelled); their bytes go out in one write.
    #[inline(always)]
    fn take_requests(&mut self, cx: &mut Context<'_>) -> Step {
        let hold_back = self.poll_hold_back(cx);
        let mut progress = false;
        while !self.requests_done && !self.is_terminating() && matches!(self.copy_in, CopyIn::Idle) && !hold_back {
            match self.requests.poll_next_unpin(cx) {
                Poll::Ready(Some(Request::Query { bytes, syncs, columns, sink, copy_in })) => {
                    let write_now = self.startup().map_or(true, |p| p.take_request(&bytes));
                    if !write_now {
                        // Held by the startup phase until the session is ready.
                    } else if self.wbuf.is_empty() {
                        self.wbuf = bytes;
                    } else {
                        self.wbuf.extend_from_slice(&bytes);
                    }
                    if copy_in.is_some() {
                        self.copy_in = CopyIn::Written;
                    }
                    if self.in_flight.is_empty() {
                        self.front_changed();
                    }
                    self.in_flight.push_back(InFlight {
                        sink,
                        syncs_left: syncs,
                        builder: ResponseBuilder::new(columns),
                        copy_in,
                    });
                    progress = true;
                }
                Poll::Ready(Some(Request::Terminate(done))) => {
                    self.close_waiters.extend(done);
                    self.start_terminate();
                }
                Poll::Ready(Some(Request::Abort)) => {
                    return Err(Error::new(ErrorKind::Closed, "the connection was terminated"));
                }
                Poll::Ready(None) => self.requests_done = true,
                Poll::Pending => break,
            }
        }
        if self.requests_done && self.in_flight.is_empty() && !self.is_terminating() {
            // Every handle is gone and nothing is pending: say goodbye.
            self.start_terminate();
        }
        Ok(progress)
    }

    /// Writes and flushes the write buffer.
    #[inline(always)]
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Step {
        let mut progress = false;
        while !self.wbuf.is_empty() {
            match self.transport.poll_write(cx, &self.wbuf) {
                Poll::Ready(Ok(0)) => return Err(Error::io(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.wbuf.advance(n);
                    self.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => return Err(Error::io(e)),
                Poll::Pending => break,
            }
        }
        if self.wbuf.is_empty() && self.needs_flush {
            match self.transport.poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    // The write buffer was empty: every request taken so far went out.
                    self.flushed = self.in_flight.len();
                }
                Poll::Ready(Err(e)) => return Err(Error::io(e)),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// [`Phase::Terminating`] (or a Terminate behind a pipelined startup):
    /// once everything is written and answered, closes the stream and ends.
    /// `None` while there is more to do first.
    #[inline(always)]
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Option<Poll<Result<()>>> {
        if !(self.is_terminating() && self.wbuf.is_empty() && !self.needs_flush && self.in_flight.is_empty()) {
            return None;
        }
        Some(self.transport.poll_close(cx).map(|_| Ok(())))
    }

    /// Delivers a message held back by a full stream consumer. `Ok(None)`
    /// while it still waits (then nothing is read).
    #[inline(always)]
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Result<Option<bool>> {
        let Some(msg) = self.stalled.take() else { return Ok(Some(false)) };
        match self.deliver(msg, cx)? {
            Some(msg) => {
                self.stalled = Some(msg);
                Ok(None)
            }
            None => Ok(Some(true)),
        }
    }

    /// Hands the rows parsed so far for the front request to its stream
    /// consumer (a streamed query, `ConnInner::fetch_streamed`), so that they
    /// are decoded while the rest is still on the way. When the consumer has
    /// no room they wait (for the next read, or the end of the response):
    /// never more than a collected response would hold.
    #[inline(always)]
    fn stream_rows(&mut self, cx: &mut Context<'_>) {
        let Some(front) = self.in_flight.front_mut() else { return };
        if front.builder.current.rows.is_empty() {
            return;
        }
        let Sink::Stream(tx) = &mut front.sink else { return };
        match tx.poll_ready(cx) {
            Poll::Ready(Ok(())) => {
                let rows = std::mem::take(&mut front.builder.current.rows);
                if tx.start_send(StreamItem::Rows(rows)).is_err() {
                    front.sink = Sink::Discard;
                }
            }
            Poll::Ready(Err(_)) => front.sink = Sink::Discard,
            Poll::Pending => {}
        }
    }

    /// Handles the complete messages in the receive buffer: startup
    /// messages in [`Phase::Starting`], responses and async messages otherwise.
    #[inline(always)]
    fn poll_messages(&mut self, cx: &mut Context<'_>) -> Step {
        let mut progress = false;
        while let Some(msg) = backend::next_message(&mut self.rbuf, self.max_message_size)? {
            if self.is_starting() {
                self.startup_message(msg)?;
                progress = true;
                if self.is_reopening() {
                    break;
                }
                continue;
            }
            if let Some(msg) = self.deliver(msg, cx)? {
                self.stalled = Some(msg);
                break;
            }
            progress = true;
        }
        Ok(progress)
    }

    /// Reads more bytes. Always reads, even when idle: notices,
    /// notifications and a server-side termination arrive unasked. Not while
    /// a message is stalled (backpressure) or a new stream is being opened.
    /// `Ok(None)` (a clean end) when the server closed after our Terminate.
    #[inline(always)]
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Result<Option<bool>> {
        if self.is_reopening() || self.stalled.is_some() {
            return Ok(Some(false));
        }
        let spare = self.rbuf.capacity() - self.rbuf.len();
        if spare < MIN_READ {
            let want = backend::needed(&self.rbuf).unwrap_or(0).clamp(MIN_READ * 4, MAX_RESERVE);
            self.rbuf.reserve(want);
        }
        match self.transport.poll_read_buf(cx, &mut self.rbuf) {
            Poll::Ready(Ok(0)) if self.is_terminating() => Ok(None),
            Poll::Ready(Ok(0)) => Err(self
                .fatal
                .take()
                .unwrap_or_else(|| Error::new(ErrorKind::Closed, "the server closed the connection unexpectedly"))),
            Poll::Ready(Ok(_)) => Ok(Some(true)),
            Poll::Ready(Err(e)) => Err(Error::io(e)),
            Poll::Pending => Ok(Some(false)),
        }
    }

    /// Queues a Terminate: [`Phase::Terminating`], or, behind a pipelined
    /// startup, `then_terminate` (the Terminate waits with the held requests
    /// when they cannot be written yet).
    fn start_terminate(&mut self) {
        match &mut self.phase {
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
            Phase::Running | Phase::Terminating => {
                self.phase = Phase::Terminating;
                frontend::terminate(&mut self.wbuf);
            }
        }
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
            }
        }
        Ok(())
    }

    /// Moves COPY data from the caller into the write buffer. Returns whether
    /// anything happened.
    fn poll_copy_in(&mut self, cx: &mut Context<'_>) -> Step {
        let CopyIn::Sending(rx) = &mut self.copy_in else { return Ok(false) };
        let mut progress = false;
        while self.wbuf.len() < COPY_WRITE_HIGH_WATER {
            match rx.poll_next_unpin(cx) {
                Poll::Ready(Some(CopyInMessage::Data(data))) => {
                    if !data.is_empty() {
                        frontend::copy_data_header(data.len(), &mut self.wbuf)?;
                        self.wbuf.extend_from_slice(&data);
                    }
                    progress = true;
                }
                Poll::Ready(Some(CopyInMessage::Done)) => {
                    frontend::copy_done(&mut self.wbuf);
                    self.end_copy_in();
                    return Ok(true);
                }
                Poll::Ready(Some(CopyInMessage::Fail(reason))) => {
                    self.fail_copy_in(&reason)?;
                    return Ok(true);
                }
                Poll::Ready(None) => {
                    // The caller went away mid-COPY (dropped future): abort,
                    // so nothing of the partial data is committed.
                    self.fail_copy_in("COPY cancelled by the client")?;
                    return Ok(true);
                }
                Poll::Pending => break,
            }
        }
        Ok(progress)
    }

    fn fail_copy_in(&mut self, reason: &str) -> Result<()> {
        if frontend::copy_fail(reason, &mut self.wbuf).is_err() {
            // The reason had a NUL byte; the server only logs it anyway.
            frontend::copy_fail("COPY aborted by the client", &mut self.wbuf)?;
        }
        self.end_copy_in();
        Ok(())
    }

    fn end_copy_in(&mut self) {
        self.copy_in = CopyIn::Idle;
    }

    /// Handles one message. Returns it back when it must wait for a full
    /// stream consumer.
    fn deliver(&mut self, msg: Message, cx: &mut Context<'_>) -> Result<Option<Message>> {
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
                if front.syncs_left <= 1 {
                    // The End item of a stream needs a free slot too.
                    if let Sink::Stream(tx) = &mut front.sink {
                        match tx.poll_ready(cx) {
                            Poll::Pending => return Ok(Some(Message::ReadyForQuery { status })),
                            Poll::Ready(Err(_)) => front.sink = Sink::Discard,
                            Poll::Ready(Ok(())) => {}
                        }
                    }
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
                        if done.copy_in.is_some() {
                            // The COPY never started (e.g. the table does not exist).
                            self.copy_in = CopyIn::Idle;
                        }
                        done.finish();
                    }
                }
            }
            Message::CopyInResponse(_) => {
                let front = self.front("CopyInResponse")?;
                match front.copy_in.take() {
                    Some(rx) => self.copy_in = CopyIn::Sending(rx),
                    None => {
                        // This request cannot feed COPY data: refuse cleanly so
                        // the server aborts the COPY and the connection stays in step.
                        frontend::copy_fail(
                            "COPY FROM STDIN is not supported by this call; use copy_to_table",
                            &mut self.wbuf,
                        )?;
                    }
                }
            }
            Message::ErrorResponse(fields) if self.in_flight.is_empty() => {
                // Unsolicited: the server is about to close (admin shutdown,
                // idle timeout, ...). Keep it as the reason.
                self.fatal = Some(Error::db(fields.to_db_error()?));
            }
            Message::ErrorResponse(fields) => {
                if matches!(self.copy_in, CopyIn::Sending(_)) {
                    // The server rejected the COPY data; it ignores whatever
                    // CopyData is still on the way. Stop sending.
                    self.end_copy_in();
                }
                let e = Error::db(fields.to_db_error()?);
                self.front("ErrorResponse")?.builder.error(e);
            }
            m @ (Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone) => {
                let m = match m {
                    Message::CopyData(data)
                        if matches!(self.in_flight.front().map(|f| &f.sink), Some(Sink::Stream(_))) =>
                    {
                        Message::CopyData(self.gather_copy_data(data)?)
                    }
                    m => m,
                };
                let front = self.front("a response message")?;
                if let Sink::Stream(tx) = &mut front.sink {
                    match tx.poll_ready(cx) {
                        Poll::Pending => return Ok(Some(m)),
                        Poll::Ready(Err(_)) => front.sink = Sink::Discard,
                        Poll::Ready(Ok(())) => {
                            let item = match m {
                                Message::CopyOutResponse(body) => StreamItem::CopyOut { format: body.format() as i16 },
                                Message::CopyData(data) => StreamItem::CopyData(data),
                                _ => return Ok(None), // CopyDone: the End item follows at ReadyForQuery
                            };
                            if tx.start_send(item).is_err() {
                                front.sink = Sink::Discard;
                            }
                        }
                    }
                    return Ok(None);
                }
                front.builder.push(m)?;
            }
            other => {
                let front = self.front("a response message")?;
                front.builder.push(other)?;
            }
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

    fn front(&mut self, what: &str) -> Result<&mut InFlight> {
        self.in_flight
            .front_mut()
            .ok_or_else(|| Error::protocol(format!("server sent {what} while no request was in flight")))
    }

    /// Fails every pending request with `error` (or its own server error).
    fn fail_all(&mut self, error: &Error) {
        let flushed = std::mem::take(&mut self.flushed);
        for (i, f) in self.in_flight.drain(..).enumerate() {
            let e = match f.builder.response.error {
                Some(e) => e,
                // A transport's "nothing was sent" covers only what it had
                // not flushed yet: earlier requests did reach the server.
                None if i < flushed => error.duplicate().sent(),
                None => error.duplicate(),
            };
            match f.sink {
                Sink::Collect(tx) => {
                    let _ = tx.send(Err(e));
                }
                Sink::Stream(mut tx) => {
                    let _ = tx.try_send(StreamItem::End(Err(e)));
                }
                Sink::Discard => {}
            }
        }
        // Requests still queued are dropped; their callers see the close
        // reason. When startup failed (a wrong password), they get its error.
        self.requests.close();
        let startup_failed = self.is_starting();
        while let Ok(r) = self.requests.try_recv() {
            if let (true, Request::Query { sink, .. }) = (startup_failed, r) {
                match sink {
                    Sink::Collect(tx) => {
                        let _ = tx.send(Err(error.duplicate()));
                    }
                    Sink::Stream(mut tx) => {
                        let _ = tx.try_send(StreamItem::End(Err(error.duplicate())));
                    }
                    Sink::Discard => {}
                }
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
                if this.is_starting() {
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

impl Sink {
    /// True when nobody waits for this response any more (the caller dropped
    /// its future). Registers the driver for a wakeup when a oneshot caller
    /// goes away; a dropped stream is noticed at the next poll.
    fn poll_abandoned(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Sink::Collect(tx) => tx.poll_canceled(cx).is_ready(),
            Sink::Stream(tx) => tx.is_closed(),
            // Fire-and-forget requests (ROLLBACK, statement close) must run.
            Sink::Discard => false,
        }
    }
}

impl InFlight {
    fn finish(self) {
        let response = self.builder.finish();
        match self.sink {
            // The caller may have gone away (dropped future): that is fine.
            Sink::Collect(tx) => {
                let _ = tx.send(Ok(response));
            }
            Sink::Stream(mut tx) => {
                // The driver checked poll_ready before popping this request,
                // so this fits unless the consumer is gone.
                let _ = tx.try_send(StreamItem::End(Ok(response)));
            }
            Sink::Discard => {}
        }
    }
}

/// Assembles a [`Response`] from the messages of one request.
struct ResponseBuilder {
    /// Columns for DataRows not preceded by a RowDescription.
    default_columns: Option<Arc<[Column]>>,
    current: QueryResult,
    response: Response,
    /// An ErrorResponse arrived since the last ReadyForQuery.
    segment_failed: bool,
    /// That error, when it is not the response's first one.
    segment_error: Option<Error>,
}

impl ResponseBuilder {
    fn new(default_columns: Option<Arc<[Column]>>) -> ResponseBuilder {
        let current = QueryResult { columns: default_columns.clone(), ..QueryResult::default() };
        ResponseBuilder {
            default_columns,
            current,
            response: Response::default(),
            segment_failed: false,
            segment_error: None,
        }
    }

    /// A ReadyForQuery: marks where this Sync's part of the response ends.
    /// Before an intermediate Sync, an unfinished result (a statement that
    /// failed midway) is dropped so the next part starts clean.
    fn sync(&mut self, status: TransactionStatus, more: bool) {
        self.response.syncs.push(SyncMark {
            results_end: self.response.results.len(),
            failed: std::mem::take(&mut self.segment_failed),
            error: self.segment_error.take(),
            status,
        });
        if more {
            self.current = QueryResult { columns: self.default_columns.clone(), ..QueryResult::default() };
        }
    }

    fn end_statement(&mut self, tag: Option<String>) {
        let next = QueryResult { columns: self.default_columns.clone(), ..QueryResult::default() };
        let mut done = std::mem::replace(&mut self.current, next);
        done.tag = tag;
        self.response.results.push(done);
    }

    fn error(&mut self, e: Error) {
        if self.segment_failed {
            return; // the server skips to Sync after an error: keep the first
        }
        self.segment_failed = true;
        if self.response.error.is_none() {
            self.response.error = Some(e);
        } else {
            self.segment_error = Some(e);
        }
    }

    fn row(&self, body: bytes::Bytes) -> Result<Row> {
        let columns =
            self.current.columns.clone().ok_or_else(|| Error::protocol("DataRow without a row description"))?;
        Row::new(columns, body)
    }

    fn push(&mut self, msg: Message) -> Result<()> {
        match msg {
            Message::ParseComplete | Message::BindComplete | Message::CloseComplete => {}
            Message::ParameterDescription(body) => {
                self.response.params = Some(body.types().map(Type::from_oid).collect());
            }
            Message::RowDescription(body) => {
                let columns = body
                    .fields()
                    .map(|f| {
                        f.map(|f| {
                            let format = if f.format == 1 { Format::Binary } else { Format::Text };
                            Column::new(
                                f.name.to_owned(),
                                Type::from_oid(f.type_oid),
                                format,
                                f.table_oid,
                                f.column_id,
                                f.type_size,
                                f.type_modifier,
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.current.columns = Some(columns.into());
            }
            Message::NoData => self.current.columns = Some(Arc::from(Vec::new())),
            Message::DataRow(body) => {
                let row = self.row(body.buffer().clone())?;
                self.current.rows.push(row);
            }
            Message::CommandComplete(body) => self.end_statement(Some(body.tag()?.to_owned())),
            Message::EmptyQueryResponse => self.end_statement(None),
            Message::PortalSuspended => {
                self.end_statement(None);
                if let Some(last) = self.response.results.last_mut() {
                    last.suspended = true;
                }
            }
            // COPY TO STDOUT through a call that does not stream: the data is dropped.
            Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone => {}
            other => return Err(Error::protocol(format!("unexpected {} message in a query response", other.name()))),
        }
        Ok(())
    }

    fn finish(mut self) -> Response {
        // A Describe response (or a script whose last statement had no
        // CommandComplete) ends with an open result: keep what it holds.
        if !self.current.rows.is_empty() || (self.current.columns.is_some() && self.response.results.is_empty()) {
            let current = std::mem::take(&mut self.current);
            self.response.results.push(current);
        }
        self.response
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
            assert!(matches!(driver.phase, Phase::Running));
            let mut a = select(&tx, 1);
            tx.unbounded_send(Request::Terminate(None)).unwrap();
            assert!(!turn(&mut driver, &mut server));
            assert!(matches!(driver.phase, Phase::Terminating), "a Terminate was taken");
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
            let phase = PipelinedStartup::new(startup, options, None, None, Arc::default());
            let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
            let (tx, rx) = mpsc::unbounded();
            let mut driver = Box::pin(
                Driver::new(stream.clone(), BytesMut::new(), rx, shared.clone(), 1 << 20)
                    .with_pipelined_startup(phase, first),
            );
            let mut a = select(&tx, 7);
            tx.unbounded_send(Request::Terminate(None)).unwrap();
            let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
            assert!(driver.as_mut().poll(&mut cx).is_pending());
            assert!(matches!(driver.phase, Phase::Starting { then_terminate: true, .. }));
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
