//! Server-side cursors: a named portal read a few rows at a time.
//!
//! [`Connection::cursor`] returns a [`CursorFactory`], which is both
//! * a [`Stream`] of rows that prefetches `prefetch` rows per round trip
//!   (Bind + Execute(n) + Sync, then Execute(n) + Sync while the server
//!   answers PortalSuspended), and
//! * a builder for a [`Cursor`] object (`.open().await`) with
//!   `fetch(n)`, `fetchrow()` and `forward(n)`.
//!
//! A portal lives until the end of its transaction, so cursors need one
//! (like asyncpg, a cursor outside a transaction is an Interface error).
//! The portal is closed when the stream ends or when the stream or cursor
//! is dropped (a fire-and-forget Close, ordered before later requests).

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_channel::oneshot;
use futures_core::Stream;
use futures_util::FutureExt;

use super::from_row::FromRow;
use super::handle::{encode_bind_to, type_oids, ConnInner, Connection};
use super::params::DynParams;
use super::request::{Request, Response};
use super::row::{Column, Row};
use super::runtime::BoxFuture;
use super::statement::StatementInner;
use super::transaction::next_name;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::frontend;
use crate::types::ToSql;
use crate::{Error, Result};

/// Rows per round trip of a cursor stream unless [`CursorFactory::prefetch`] says otherwise.
pub const DEFAULT_PREFETCH: u32 = 50;

/// The work of [`Connection::cursor`], which delegates here.
pub(crate) fn cursor<'a>(
    conn: &'a Connection,
    sql: &'a str,
    params: &'a [&'a (dyn ToSql + Sync)],
) -> CursorFactory<'a> {
    CursorFactory {
        conn,
        sql,
        params,
        prefetch: None,
        state: StreamState::Start,
        rows: VecDeque::new(),
        portal: None,
        columns: None,
    }
}

/// A cursor not yet opened: a [`Stream`] of rows, or `.open().await` for a
/// [`Cursor`]. From [`Connection::cursor`].
#[must_use = "a cursor does nothing until streamed or opened"]
pub struct CursorFactory<'a> {
    conn: &'a Connection,
    sql: &'a str,
    params: &'a [&'a (dyn ToSql + Sync)],
    prefetch: Option<u32>,
    state: StreamState<'a>,
    /// Rows received and not yet yielded.
    rows: VecDeque<Row>,
    portal: Option<Portal>,
    columns: Option<Arc<[Column]>>,
}

enum StreamState<'a> {
    /// Nothing sent yet.
    Start,
    /// Looking the statement up in the cache (or preparing it).
    Preparing(BoxFuture<'a, Result<Arc<StatementInner>>>),
    /// A Bind/Execute is in flight.
    Fetching(oneshot::Receiver<Result<Response>>),
    /// The last batch of rows was partial (PortalSuspended): ask for more
    /// once the buffer is empty.
    Suspended,
    /// Finished (all rows, or an error was yielded).
    Done,
}

impl std::fmt::Debug for CursorFactory<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorFactory").field("query", &self.sql).field("prefetch", &self.prefetch).finish()
    }
}

impl<'a> CursorFactory<'a> {
    /// Rows fetched per round trip when streaming (default
    /// [`DEFAULT_PREFETCH`], 50). Must be positive.
    pub fn prefetch(mut self, rows: u32) -> Self {
        self.prefetch = Some(rows);
        self
    }

    /// The stream of rows as `T`s (`#[derive(FromRow)]`, tuples, ...): each
    /// row is converted as it is yielded; a row that does not fit is an
    /// error item, and streaming ends after it.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let tx = conn.transaction().start().await?;
    /// let rows = tx.cursor("SELECT g FROM generate_series(1, 3) g", &[]).rows_as::<(i32,)>();
    /// let ids: Vec<(i32,)> = rows.try_collect().await?;
    /// # let _ = ids; Ok(()) }
    /// ```
    pub fn rows_as<T: FromRow>(self) -> impl Stream<Item = Result<T>> + 'a {
        let mut failed = false;
        futures_util::stream::StreamExt::take_while(
            futures_util::stream::StreamExt::map(self, |row| row.and_then(|r| T::from_row(&r))),
            move |item| {
                let go = !failed;
                failed |= item.is_err();
                futures_util::future::ready(go)
            },
        )
    }

    /// Declares the cursor (Bind of a named portal, no rows yet) and returns
    /// it for [`Cursor::fetch`], [`Cursor::fetchrow`] and [`Cursor::forward`].
    ///
    /// `prefetch` only applies to streaming: setting it and then calling
    /// `open` is an Interface error (as in asyncpg).
    pub async fn open(self) -> Result<Cursor<'a>> {
        if self.prefetch.is_some() {
            return Err(Error::interface("prefetch only applies to a streamed cursor, not to `open()`"));
        }
        check_transaction(&self.conn.inner)?;
        let inner = &self.conn.inner;
        let stmt = inner.prepare_cached(self.sql).await?;
        let portal = Portal::new(inner.clone());
        let mut buf = BytesMut::with_capacity(64 + stmt.sql.len());
        encode_bind(&portal.name, &stmt, self.params, &mut buf)?;
        frontend::sync(&mut buf);
        // The portal guard exists before the request is awaited: a dropped
        // `open()` future still closes it.
        inner.request(buf, 1, None).await?;
        Ok(Cursor { columns: stmt.columns.clone(), portal, _conn: PhantomData })
    }

    fn rows_per_fetch(&self) -> Result<i32> {
        match self.prefetch.unwrap_or(DEFAULT_PREFETCH) {
            0 => Err(Error::interface("cursor prefetch must be at least 1")),
            n => Ok(i32::try_from(n).unwrap_or(i32::MAX)),
        }
    }

    /// Queues Execute(n) + Sync on the open portal.
    fn send_execute(&mut self, bytes: BytesMut) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.conn.inner.send(Request::collect(bytes, 1, self.columns.clone(), tx))?;
        self.state = StreamState::Fetching(rx);
        Ok(())
    }

    /// One step of the state machine; `Ok(None)` means "keep going".
    fn step(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<()>>> {
        match &mut self.state {
            StreamState::Start => {
                let start = self.rows_per_fetch().and_then(|_| check_transaction(&self.conn.inner));
                if let Err(e) = start {
                    return Poll::Ready(Some(Err(e)));
                }
                let inner = self.conn.inner.clone();
                let sql = self.sql;
                self.state = StreamState::Preparing(Box::pin(async move { inner.prepare_cached(sql).await }));
                Poll::Ready(None)
            }
            StreamState::Preparing(fut) => {
                let stmt = match fut.poll_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                    Poll::Ready(Ok(stmt)) => stmt,
                };
                let portal = Portal::new(self.conn.inner.clone());
                let n = match self.rows_per_fetch() {
                    Ok(n) => n,
                    Err(e) => return Poll::Ready(Some(Err(e))),
                };
                let mut buf = BytesMut::with_capacity(64 + stmt.sql.len());
                let encoded = encode_bind(&portal.name, &stmt, self.params, &mut buf)
                    .and_then(|()| frontend::execute(&portal.name, n, &mut buf));
                if let Err(e) = encoded {
                    return Poll::Ready(Some(Err(e)));
                }
                frontend::sync(&mut buf);
                self.columns = Some(stmt.columns.clone());
                self.portal = Some(portal);
                match self.send_execute(buf) {
                    Ok(()) => Poll::Ready(None),
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
            StreamState::Fetching(rx) => {
                let response = match rx.poll_unpin(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(r)) => r.and_then(Response::into_result),
                    Poll::Ready(Err(_canceled)) => Err(self.conn.inner.shared.closed_error()),
                };
                let result = match response {
                    Ok(r) => r.results.into_iter().next().unwrap_or_default(),
                    Err(e) => return Poll::Ready(Some(Err(e))),
                };
                self.rows.extend(result.rows);
                // Only PortalSuspended means more rows may follow; anything
                // else (CommandComplete, an empty query) ends the portal.
                if result.suspended {
                    self.state = StreamState::Suspended;
                } else {
                    self.finish();
                }
                Poll::Ready(None)
            }
            StreamState::Suspended => {
                if !self.rows.is_empty() {
                    return Poll::Ready(None);
                }
                let (Some(portal), Ok(n)) = (&self.portal, self.rows_per_fetch()) else {
                    self.finish();
                    return Poll::Ready(None);
                };
                if let Err(e) = portal.check_lease() {
                    return Poll::Ready(Some(Err(e)));
                }
                let mut buf = BytesMut::with_capacity(32);
                if let Err(e) = frontend::execute(&portal.name, n, &mut buf) {
                    return Poll::Ready(Some(Err(e)));
                }
                frontend::sync(&mut buf);
                match self.send_execute(buf) {
                    Ok(()) => Poll::Ready(None),
                    Err(e) => Poll::Ready(Some(Err(e))),
                }
            }
            StreamState::Done => Poll::Ready(None),
        }
    }

    /// No more rows will be fetched: close the portal now.
    fn finish(&mut self) {
        self.state = StreamState::Done;
        self.portal = None;
    }
}

impl Stream for CursorFactory<'_> {
    type Item = Result<Row>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        let this = self.get_mut();
        loop {
            if let Some(row) = this.rows.pop_front() {
                return Poll::Ready(Some(Ok(row)));
            }
            if matches!(this.state, StreamState::Done) {
                return Poll::Ready(None);
            }
            match this.step(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {}
                Poll::Ready(Some(Err(e))) => {
                    this.finish();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(()))) => {}
            }
        }
    }
}

/// An open cursor, from [`CursorFactory::open`]. It borrows the connection
/// (through the transaction) because its portal ends with the transaction.
/// Dropping it closes the portal.
pub struct Cursor<'a> {
    portal: Portal,
    columns: Arc<[Column]>,
    _conn: PhantomData<&'a Connection>,
}

impl std::fmt::Debug for Cursor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cursor").field("portal", &self.portal.name).finish()
    }
}

impl Cursor<'_> {
    /// Reads the next `n` rows (fewer at the end; none once exhausted).
    pub async fn fetch(&self, n: u32) -> Result<Vec<Row>> {
        let n = positive(n, "fetch")?;
        self.portal.check_lease()?;
        let mut buf = BytesMut::with_capacity(32);
        frontend::execute(&self.portal.name, n, &mut buf)?;
        frontend::sync(&mut buf);
        let response = self.portal.conn.request(buf, 1, Some(self.columns.clone())).await?;
        Ok(response.results.into_iter().next().map(|r| r.rows).unwrap_or_default())
    }

    /// Reads the next row, if any.
    pub async fn fetchrow(&self) -> Result<Option<Row>> {
        Ok(self.fetch(1).await?.into_iter().next())
    }

    /// Skips `n` rows (`MOVE FORWARD n`) and returns how many were skipped
    /// (fewer than `n` at the end).
    pub async fn forward(&self, n: u32) -> Result<u64> {
        let n = positive(n, "forward")?;
        self.portal.check_lease()?;
        let tag = self.portal.conn.simple_query(&format!("MOVE FORWARD {n} \"{}\"", self.portal.name)).await?;
        parse_move_tag(&tag)
    }

    /// The result columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The server-side portal name.
    pub fn name(&self) -> &str {
        &self.portal.name
    }
}

/// A named portal, closed on the server when dropped.
struct Portal {
    name: String,
    conn: Arc<ConnInner>,
    /// The connection's lease when the portal was opened. A cursor can
    /// outlive a pooled connection's lease through an owned transaction;
    /// after the release the portal is gone (the pool rolled back) and the
    /// connection may be inside someone else's transaction, where a failing
    /// FETCH would abort it.
    lease: u64,
}

impl Portal {
    fn new(conn: Arc<ConnInner>) -> Portal {
        let lease = conn.shared.lease();
        Portal { name: next_name("edgepg_p"), conn, lease }
    }

    fn check_lease(&self) -> Result<()> {
        self.conn.shared.check_lease(self.lease, "cursor")
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if self.check_lease().is_err() {
            // Released: the transaction, and the portal with it, is gone.
            return;
        }
        let mut buf = BytesMut::with_capacity(self.name.len() + 16);
        if frontend::close(b'P', &self.name, &mut buf).is_ok() {
            frontend::sync(&mut buf);
            // Closing a portal that the transaction's end already destroyed is
            // not an error; if the connection is gone, so is the portal.
            let _ = self.conn.send(Request::discard(buf, 1));
        }
    }
}

/// Parse (for the unnamed statement) + Bind of `params` into `portal`.
fn encode_bind(portal: &str, stmt: &StatementInner, params: &[&(dyn ToSql + Sync)], buf: &mut BytesMut) -> Result<()> {
    if !stmt.is_named() {
        // The unnamed statement may have been replaced since it was described.
        frontend::parse("", &stmt.sql, &type_oids(&stmt.params), buf)?;
    }
    encode_bind_to(portal, stmt, &DynParams(params), buf)
}

/// Cursors need a transaction: outside one, the portal would vanish at the
/// first Sync.
fn check_transaction(inner: &ConnInner) -> Result<()> {
    match inner.shared.status() {
        TransactionStatus::Idle => Err(Error::interface(
            "a cursor needs an open transaction: call `cursor` on a transaction from `conn.transaction().start()`",
        )),
        _ => Ok(()),
    }
}

fn positive(n: u32, what: &str) -> Result<i32> {
    match n {
        0 => Err(Error::interface(format!("cursor {what}: the row count must be at least 1"))),
        n => Ok(i32::try_from(n).unwrap_or(i32::MAX)),
    }
}

/// `MOVE 5` → 5.
fn parse_move_tag(tag: &str) -> Result<u64> {
    tag.strip_prefix("MOVE ")
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| Error::protocol(format!("unexpected command tag for MOVE: {tag:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn move_tag() {
        assert_eq!(parse_move_tag("MOVE 5").unwrap(), 5);
        assert_eq!(parse_move_tag("MOVE 0").unwrap(), 0);
        assert!(parse_move_tag("FETCH 5").is_err());
        assert!(parse_move_tag("MOVE -1").is_err());
    }

    #[test]
    fn counts_must_be_positive() {
        assert_eq!(positive(0, "fetch").unwrap_err().kind(), crate::ErrorKind::Interface);
        assert_eq!(positive(7, "fetch").unwrap(), 7);
        assert_eq!(positive(u32::MAX, "fetch").unwrap(), i32::MAX);
    }
}
