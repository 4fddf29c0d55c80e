//! What a connection handle sends to its driver task, and what comes back.
//!
//! A request is a batch of already-encoded frontend messages ending in one or
//! more Sync (or a simple Query), plus where the response goes. The driver
//! writes requests in order and answers them in order: this is what makes
//! concurrent calls on one connection pipeline automatically.

use std::sync::Arc;
use std::task::Context;

use bytes::{Bytes, BytesMut};
use futures_channel::{mpsc, oneshot};

use super::row::{Column, Row};
use crate::protocol::backend::TransactionStatus;
use crate::types::Type;
use crate::{Error, Result};

pub(crate) type RequestSender = mpsc::UnboundedSender<Request>;
pub(crate) type RequestReceiver = mpsc::UnboundedReceiver<Request>;

/// One unit of work for the driver.
pub(crate) enum Request {
    /// Encoded messages whose response ends after `syncs` ReadyForQuery messages.
    Query {
        bytes: BytesMut,
        syncs: u32,
        /// Column descriptions for DataRows that arrive without a RowDescription
        /// (Bind + Execute of a statement described earlier).
        columns: Option<Arc<[Column]>>,
        sink: Sink,
        /// For `COPY ... FROM STDIN`: the data to send once the server asks
        /// for it. While such a request is unfinished, no later request is
        /// written (its bytes would land inside the COPY stream).
        copy_in: Option<CopyInReceiver>,
    },
    /// Send Terminate and close the stream once everything before it is
    /// answered; the sender is dropped when the driver has finished.
    Terminate(Option<oneshot::Sender<()>>),
    /// Drop the stream now, failing everything in flight.
    Abort,
}

impl Request {
    /// A request whose response nobody waits for (closing a statement, the
    /// rollback of a dropped transaction). Its errors are discarded.
    pub(crate) fn discard(bytes: BytesMut, syncs: u32) -> Request {
        Request::Query { bytes, syncs, columns: None, sink: Sink::Discard, copy_in: None }
    }

    /// A request whose whole response is delivered on `tx`.
    pub(crate) fn collect(
        bytes: BytesMut,
        syncs: u32,
        columns: Option<Arc<[Column]>>,
        tx: oneshot::Sender<Result<Response>>,
    ) -> Request {
        Request::Query { bytes, syncs, columns, sink: Sink::Collect(tx), copy_in: None }
    }
}

/// A piece of `COPY ... FROM STDIN` data sent by the caller to the driver.
#[derive(Debug)]
pub(crate) enum CopyInMessage {
    /// Bytes to send as CopyData (the driver frames them; chunks should be large).
    Data(Bytes),
    /// The data is complete: send CopyDone.
    Done,
    /// Abort the COPY with this message: send CopyFail, so no row lands.
    Fail(String),
}

/// Capacity of the copy-in channel, in chunks: bounds memory and gives the
/// caller backpressure when the network is slower than the source.
pub(crate) const COPY_IN_CHANNEL: usize = 4;

pub(crate) type CopyInSender = mpsc::Sender<CopyInMessage>;
pub(crate) type CopyInReceiver = mpsc::Receiver<CopyInMessage>;

/// A streamed piece of a response (COPY TO STDOUT data, or rows).
#[derive(Debug)]
pub(crate) enum StreamItem {
    /// CopyOutResponse: the overall format (0 text, 1 binary) of what follows.
    CopyOut { format: i16 },
    /// One CopyData message.
    CopyData(Bytes),
    /// DataRows of a streamed query (`ConnInner::fetch_streamed`), in order:
    /// the ones parsed from one read of the socket. Rows not sent this way
    /// stay in the final response.
    Rows(Vec<Row>),
    /// The end: the response without the streamed parts, or its error.
    End(Result<Response>),
}

/// Capacity of a streaming response channel: how far the driver may read
/// ahead of a slow consumer before it stops reading the socket.
pub(crate) const STREAM_CHANNEL: usize = 16;

/// Where the response to a request goes.
pub(crate) enum Sink {
    /// Collected whole and delivered once, at the final ReadyForQuery.
    Collect(oneshot::Sender<Result<Response>>),
    /// Dropped.
    Discard,
    /// Streamed item by item through a bounded channel: when the consumer
    /// falls behind, the driver stops reading (backpressure). If the consumer
    /// goes away, the rest of the response is read and dropped.
    Stream(mpsc::Sender<StreamItem>),
}

impl Sink {
    /// True when nobody waits for this response any more (the caller dropped
    /// its future). Registers the task for a wakeup when a oneshot caller
    /// goes away; a dropped stream is noticed at the next poll.
    pub(crate) fn poll_abandoned(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Sink::Collect(tx) => tx.poll_canceled(cx).is_ready(),
            Sink::Stream(tx) => tx.is_closed(),
            // Fire-and-forget requests (ROLLBACK, statement close) must run.
            Sink::Discard => false,
        }
    }

    /// Delivers the response (or the error) to whoever waits for it; the
    /// caller may have gone away (dropped future): that is fine.
    pub(crate) fn deliver(self, result: Result<Response>) {
        match self {
            Sink::Collect(tx) => {
                let _ = tx.send(result);
            }
            Sink::Stream(mut tx) => {
                // The session engine waits for room before ending a stream,
                // so this fits unless the consumer is gone.
                let _ = tx.try_send(StreamItem::End(result));
            }
            Sink::Discard => {}
        }
    }
}

/// One statement's result, as [`Connection::query_results`](super::Connection::query_results)
/// gives it: its columns, its rows and its command tag.
#[derive(Debug, Clone)]
pub struct StatementResult {
    /// The result columns (empty for a statement that returns no rows).
    pub columns: Arc<[Column]>,
    /// The rows, decoded on access.
    pub rows: Vec<Row>,
    /// The CommandComplete tag (`"INSERT 0 3"`, `"SELECT 2"`); `None` for an
    /// empty query.
    pub tag: Option<String>,
}

/// The result of one statement inside a response.
#[derive(Debug, Default)]
pub(crate) struct QueryResult {
    pub(crate) columns: Option<Arc<[Column]>>,
    pub(crate) rows: Vec<Row>,
    /// The CommandComplete tag, e.g. `INSERT 0 3`; `None` for an empty query
    /// or a suspended portal.
    pub(crate) tag: Option<String>,
    /// The portal stopped at its row limit (PortalSuspended): more rows may follow.
    pub(crate) suspended: bool,
}

/// Everything the server answered to one request.
#[derive(Debug, Default)]
pub(crate) struct Response {
    pub(crate) results: Vec<QueryResult>,
    /// The first ErrorResponse (the server skips the rest of the batch up to Sync).
    pub(crate) error: Option<Error>,
    /// ParameterDescription of a described statement.
    pub(crate) params: Option<Vec<Type>>,
    /// One mark per ReadyForQuery, in order: where each Sync's part of the
    /// response ends. Requests with several Syncs (independent batches) use
    /// it to split the response with [`Response::into_segments`].
    pub(crate) syncs: Vec<SyncMark>,
}

/// Where one Sync's part of a response ends.
#[derive(Debug)]
pub(crate) struct SyncMark {
    /// `results.len()` when the ReadyForQuery arrived: statements completed
    /// (CommandComplete, EmptyQueryResponse or PortalSuspended) so far.
    pub(crate) results_end: usize,
    /// An ErrorResponse arrived in this part.
    pub(crate) failed: bool,
    /// This part's error, unless it is the response's first error (kept in
    /// [`Response::error`] so that `into_result` works unchanged).
    pub(crate) error: Option<Error>,
    /// The transaction status the ReadyForQuery reported.
    pub(crate) status: TransactionStatus,
}

/// One Sync's part of a response, from [`Response::into_segments`].
#[derive(Debug)]
pub(crate) struct Segment {
    /// Results of this part. The last segment may end with an incomplete
    /// result (rows of a statement that failed midway, or a Describe).
    pub(crate) results: Vec<QueryResult>,
    /// How many of `results` are complete statements.
    pub(crate) completed: usize,
    /// The server error of this part.
    pub(crate) error: Option<Error>,
}

impl Response {
    /// The response, or the server error it carried.
    pub(crate) fn into_result(mut self) -> Result<Response> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// The status reported by the last ReadyForQuery of the response.
    pub(crate) fn final_status(&self) -> Option<TransactionStatus> {
        self.syncs.last().map(|m| m.status)
    }

    /// Splits the response at its Syncs: one segment per ReadyForQuery,
    /// each with its own results and error.
    pub(crate) fn into_segments(self) -> Vec<Segment> {
        let Response { results, mut error, syncs, .. } = self;
        let mut results = results.into_iter();
        let mut start = 0;
        let count = syncs.len();
        let mut out = Vec::with_capacity(count);
        for (i, mark) in syncs.into_iter().enumerate() {
            let end = mark.results_end.max(start);
            let completed = end - start;
            // The last segment also takes what `finish` flushed after the
            // final ReadyForQuery (an incomplete result).
            let taken: Vec<QueryResult> =
                if i + 1 == count { results.by_ref().collect() } else { results.by_ref().take(completed).collect() };
            let error = match mark.error {
                Some(e) => Some(e),
                None if mark.failed => error.take(),
                None => None,
            };
            out.push(Segment { results: taken, completed, error });
            start = end;
        }
        out
    }

    /// The tag of the last completed statement.
    pub(crate) fn last_tag(&self) -> Option<&str> {
        self.results.iter().rev().find_map(|r| r.tag.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(tag: Option<&str>) -> QueryResult {
        QueryResult { tag: tag.map(str::to_owned), ..QueryResult::default() }
    }

    #[test]
    fn segments_split_results_and_errors_at_syncs() {
        let response = Response {
            results: vec![result(Some("INSERT 0 1")), result(Some("INSERT 0 2")), result(None)],
            error: Some(Error::interface("first")),
            params: None,
            syncs: vec![
                SyncMark { results_end: 1, failed: false, error: None, status: TransactionStatus::Idle },
                SyncMark { results_end: 1, failed: true, error: None, status: TransactionStatus::Idle },
                SyncMark {
                    results_end: 2,
                    failed: true,
                    error: Some(Error::interface("second")),
                    status: TransactionStatus::Failed,
                },
            ],
        };
        assert_eq!(response.final_status(), Some(TransactionStatus::Failed));
        let segs = response.into_segments();
        assert_eq!(segs.len(), 3);
        assert_eq!((segs[0].completed, segs[0].results.len()), (1, 1));
        assert!(segs[0].error.is_none());
        assert_eq!((segs[1].completed, segs[1].results.len()), (0, 0));
        assert_eq!(segs[1].error.as_ref().map(|e| e.message()), Some("first"));
        // The trailing incomplete result goes to the last segment.
        assert_eq!((segs[2].completed, segs[2].results.len()), (1, 2));
        assert_eq!(segs[2].error.as_ref().map(|e| e.message()), Some("second"));
    }

    #[test]
    fn marks_beyond_results_do_not_panic() {
        let response = Response {
            results: vec![],
            error: None,
            params: None,
            syncs: vec![SyncMark { results_end: 5, failed: false, error: None, status: TransactionStatus::Idle }],
        };
        let segs = response.into_segments();
        assert_eq!(segs[0].results.len(), 0);
    }
}
