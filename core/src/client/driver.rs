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

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use futures_util::StreamExt;

use super::request::{QueryResult, Request, RequestReceiver, Response, Sink};
use super::row::{Column, Row};
use super::shared::Shared;
use super::transport::Transport;
use crate::protocol::backend::{self, Message};
use crate::protocol::{frontend, Format};
use crate::types::Type;
use crate::{Error, ErrorKind, Result};

/// Read at least this much at a time.
const MIN_READ: usize = 8 * 1024;
/// Never reserve more than this at once for a partial message; a large
/// message's buffer grows as its bytes actually arrive.
const MAX_RESERVE: usize = 4 * 1024 * 1024;

struct InFlight {
    sink: Sink,
    syncs_left: u32,
    builder: ResponseBuilder,
}

/// Drives one connection. Spawned by [`super::connect`] on the runtime.
pub(crate) struct Driver<T> {
    transport: T,
    requests: RequestReceiver,
    requests_done: bool,
    in_flight: VecDeque<InFlight>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    needs_flush: bool,
    terminating: bool,
    shared: Arc<Shared>,
    max_message_size: usize,
    /// A FATAL ErrorResponse that arrived outside any request (e.g. the
    /// server shutting down); reported as the reason the connection closed.
    fatal: Option<Error>,
    /// Callers of `close()`, told (by being dropped) when the driver ends.
    close_waiters: Vec<futures_channel::oneshot::Sender<()>>,
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
            requests,
            requests_done: false,
            in_flight: VecDeque::new(),
            rbuf,
            wbuf: BytesMut::with_capacity(8 * 1024),
            needs_flush: false,
            terminating: false,
            shared,
            max_message_size,
            fatal: None,
            close_waiters: Vec::new(),
        }
    }

    fn poll_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        loop {
            let mut progress = false;

            // 1. Take every queued request; their bytes go out in one write.
            while !self.requests_done && !self.terminating {
                match self.requests.poll_next_unpin(cx) {
                    Poll::Ready(Some(Request::Query { bytes, syncs, columns, sink })) => {
                        if self.wbuf.is_empty() {
                            self.wbuf = bytes;
                        } else {
                            self.wbuf.extend_from_slice(&bytes);
                        }
                        self.in_flight.push_back(InFlight { sink, syncs_left: syncs, builder: ResponseBuilder::new(columns) });
                        progress = true;
                    }
                    Poll::Ready(Some(Request::Terminate(done))) => {
                        self.close_waiters.extend(done);
                        self.start_terminate();
                    }
                    Poll::Ready(Some(Request::Abort)) => {
                        return Poll::Ready(Err(Error::new(ErrorKind::Closed, "the connection was terminated")));
                    }
                    Poll::Ready(None) => self.requests_done = true,
                    Poll::Pending => break,
                }
            }
            if self.requests_done && self.in_flight.is_empty() && !self.terminating {
                // Every handle is gone and nothing is pending: say goodbye.
                self.start_terminate();
            }

            // 2. Write.
            while !self.wbuf.is_empty() {
                match self.transport.poll_write(cx, &self.wbuf) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::io(std::io::ErrorKind::WriteZero.into()))),
                    Poll::Ready(Ok(n)) => {
                        self.wbuf.advance(n);
                        self.needs_flush = true;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::io(e))),
                    Poll::Pending => break,
                }
            }
            if self.wbuf.is_empty() && self.needs_flush {
                match self.transport.poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.needs_flush = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::io(e))),
                    Poll::Pending => {}
                }
            }
            if self.terminating && self.wbuf.is_empty() && !self.needs_flush && self.in_flight.is_empty() {
                return match self.transport.poll_close(cx) {
                    Poll::Ready(_) => Poll::Ready(Ok(())),
                    Poll::Pending => Poll::Pending,
                };
            }

            // 3. Read. Always, even when idle: notices, notifications and a
            // server-side termination arrive unasked.
            let spare = self.rbuf.capacity() - self.rbuf.len();
            if spare < MIN_READ {
                let want = backend::needed(&self.rbuf).unwrap_or(0).clamp(MIN_READ * 4, MAX_RESERVE);
                self.rbuf.reserve(want);
            }
            match self.transport.poll_read_buf(cx, &mut self.rbuf) {
                Poll::Ready(Ok(0)) => {
                    if self.terminating {
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Ready(Err(self.fatal.take().unwrap_or_else(|| {
                        Error::new(ErrorKind::Closed, "the server closed the connection unexpectedly")
                    })));
                }
                Poll::Ready(Ok(_)) => {
                    progress = true;
                    while let Some(msg) = backend::next_message(&mut self.rbuf, self.max_message_size)? {
                        self.handle(msg)?;
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::io(e))),
                Poll::Pending => {}
            }

            if !progress {
                return Poll::Pending;
            }
        }
    }

    fn start_terminate(&mut self) {
        self.terminating = true;
        frontend::terminate(&mut self.wbuf);
    }

    fn handle(&mut self, msg: Message) -> Result<()> {
        match msg {
            Message::NoticeResponse(fields) => {
                let notice = fields.to_db_error()?;
                self.shared.notice(&notice);
            }
            Message::ParameterStatus { name, value } => self.shared.set_parameter(name, value),
            Message::NotificationResponse { .. } => {
                // LISTEN/NOTIFY delivery comes with the listener API.
            }
            Message::ReadyForQuery { status } => {
                self.shared.set_status(status);
                let front = self.front("ReadyForQuery")?;
                front.syncs_left = front.syncs_left.saturating_sub(1);
                if front.syncs_left == 0 {
                    if let Some(done) = self.in_flight.pop_front() {
                        done.finish();
                    }
                }
            }
            Message::CopyInResponse(_) => {
                // This request cannot feed COPY data: refuse cleanly so the
                // server aborts the COPY and the connection stays in step.
                frontend::copy_fail("COPY FROM STDIN is not supported by this call; use copy_to_table", &mut self.wbuf)?;
                self.front("CopyInResponse")?;
            }
            Message::ErrorResponse(fields) if self.in_flight.is_empty() => {
                // Unsolicited: the server is about to close (admin shutdown,
                // idle timeout, ...). Keep it as the reason.
                self.fatal = Some(Error::db(fields.to_db_error()?));
            }
            other => {
                let front = self.front("a response message")?;
                front.builder.push(other)?;
            }
        }
        Ok(())
    }

    fn front(&mut self, what: &str) -> Result<&mut InFlight> {
        self.in_flight
            .front_mut()
            .ok_or_else(|| Error::protocol(format!("server sent {what} while no request was in flight")))
    }

    /// Fails every pending request with `error` (or its own server error).
    fn fail_all(&mut self, error: &Error) {
        for f in self.in_flight.drain(..) {
            match f.sink {
                Sink::Collect(tx) => {
                    let e = match f.builder.response.error {
                        Some(e) => e,
                        None => Error::new(error.kind(), error.message().to_owned()),
                    };
                    let _ = tx.send(Err(e));
                }
                Sink::Discard => {}
            }
        }
        // Requests still queued are dropped; their callers see the close reason.
        self.requests.close();
        while self.requests.try_recv().is_ok() {}
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
                this.shared.mark_closed(Some(&error));
                this.fail_all(&error);
                Poll::Ready(())
            }
        }
    }
}

impl InFlight {
    fn finish(self) {
        if let Sink::Collect(tx) = self.sink {
            // The caller may have gone away (dropped future): that is fine.
            let _ = tx.send(Ok(self.builder.finish()));
        }
    }
}

/// Assembles a [`Response`] from the messages of one request.
struct ResponseBuilder {
    /// Columns for DataRows not preceded by a RowDescription.
    default_columns: Option<Arc<[Column]>>,
    current: QueryResult,
    response: Response,
}

impl ResponseBuilder {
    fn new(default_columns: Option<Arc<[Column]>>) -> ResponseBuilder {
        let current = QueryResult { columns: default_columns.clone(), ..QueryResult::default() };
        ResponseBuilder { default_columns, current, response: Response::default() }
    }

    fn end_statement(&mut self, tag: Option<String>) {
        let next = QueryResult { columns: self.default_columns.clone(), ..QueryResult::default() };
        let mut done = std::mem::replace(&mut self.current, next);
        done.tag = tag;
        self.response.results.push(done);
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
                                f.type_modifier,
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.current.columns = Some(columns.into());
            }
            Message::NoData => self.current.columns = Some(Arc::from(Vec::new())),
            Message::DataRow(body) => {
                let columns = self
                    .current
                    .columns
                    .clone()
                    .ok_or_else(|| Error::protocol("DataRow without a row description"))?;
                self.current.rows.push(Row::new(columns, body.buffer().clone())?);
            }
            Message::CommandComplete(body) => self.end_statement(Some(body.tag()?.to_owned())),
            Message::EmptyQueryResponse | Message::PortalSuspended => self.end_statement(None),
            Message::ErrorResponse(fields) => {
                let e = Error::db(fields.to_db_error()?);
                if self.response.error.is_none() {
                    self.response.error = Some(e);
                }
            }
            // COPY TO STDOUT through a call that does not stream: the data is dropped.
            Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone => {}
            other => return Err(Error::protocol(format!("unexpected message in a query response: {other:?}"))),
        }
        Ok(())
    }

    fn finish(mut self) -> Response {
        // A Describe response (or a script whose last statement had no
        // CommandComplete) ends with an open result: keep what it holds.
        if self.current.rows.len() > 0 || (self.current.columns.is_some() && self.response.results.is_empty()) {
            let current = std::mem::take(&mut self.current);
            self.response.results.push(current);
        }
        self.response
    }
}
