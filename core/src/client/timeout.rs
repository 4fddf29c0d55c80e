//! Timeouts on calls, and the cancel handle.
//!
//! Every call on a [`Connection`] is bounded by `command_timeout` from the
//! configuration (none by default). [`Connection::with_timeout`] gives a view
//! of the connection whose calls use another timeout — one mechanism for
//! `execute`, `executemany`, `fetch`, `fetchrow`, `fetchval` and `prepare`.
//!
//! When a call's time is up (asyncpg semantics):
//! 1. the call's future is dropped, so nobody waits for its answer; the
//!    driver then cancels the request with a CancelRequest over a second
//!    connection, if that is safe (see [`super::cancel`]);
//! 2. the call waits until the connection has caught up — the request's
//!    answer ended with 57014 `query_canceled`, or with its result when it
//!    finished first — by queueing an empty Sync and awaiting its answer
//!    (bounded by `connect_timeout`, 10 s when unset);
//! 3. it returns an [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error.
//!
//! The connection stays usable in every order of events: the driver reads
//! every answer to its end whatever happens to the callers.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;

use super::cancel::CancelToken;
use super::duration_text::Shown;
use super::handle::{first_value, ConnInner, Connection};
use super::params::{DynParams, Params};
use super::prepared::PreparedStatement;
use super::query_log::Counting;
use super::row::Row;
use super::runtime::{timeout, MaybeSend};
use super::shared::lock;
use crate::protocol::frontend;
use crate::types::{FromSqlOwned, ToSql};
use crate::{Error, Result};

/// The work of [`Connection::with_timeout`], which delegates here.
pub(crate) fn with_timeout<'c>(conn: &'c Connection, timeout: Duration) -> WithTimeout<'c> {
    WithTimeout { conn, timeout: Some(timeout).filter(|t| !t.is_zero()) }
}

/// The work of [`Connection::default_timeout`], which delegates here.
pub(crate) fn default_timeout<'c>(conn: &'c Connection) -> WithTimeout<'c> {
    WithTimeout { conn, timeout: conn.inner.command_timeout }
}

/// The work of [`Connection::command_timeout`], which delegates here.
pub(crate) fn command_timeout(conn: &Connection) -> Option<Duration> {
    conn.inner.command_timeout
}

/// The work of [`Connection::cancel_token`], which delegates here.
pub(crate) fn cancel_token(conn: &Connection) -> CancelToken {
    conn.inner.cancel.clone()
}

/// A [`Connection`] whose calls are bounded by one timeout; from
/// [`Connection::with_timeout`]. Cheap to copy.
#[derive(Debug, Clone, Copy)]
pub struct WithTimeout<'a> {
    conn: &'a Connection,
    timeout: Option<Duration>,
}

impl WithTimeout<'_> {
    /// [`Connection::execute`] with this view's timeout.
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<String> {
        let inner = &self.conn.inner;
        let call = inner.timed(self.timeout, async {
            if params.is_empty() {
                return inner.simple_query(sql).await;
            }
            let response = inner.query(sql, &DynParams(params), 0).await?;
            Ok(response.last_tag().unwrap_or_default().to_owned())
        });
        inner.logged(sql, params.len(), call).await
    }

    /// [`Connection::executemany`] with this view's timeout.
    pub async fn executemany<I, P>(&self, sql: &str, rows: I) -> Result<()>
    where
        I: IntoIterator<Item = P>,
        P: Params,
    {
        let inner = &self.conn.inner;
        let count = std::sync::atomic::AtomicUsize::new(0);
        let counted = Counting { iter: rows.into_iter(), count: &count };
        let call = inner.timed(self.timeout, async {
            let stmt = inner.prepare_cached(sql).await?;
            inner.executemany_stmt(&stmt, counted).await
        });
        inner.logged_rows(sql, &count, call).await
    }

    /// [`Connection::fetch`] with this view's timeout.
    pub async fn fetch(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let inner = &self.conn.inner;
        let args = DynParams(params);
        let call = inner.timed(self.timeout, inner.query(sql, &args, 0));
        let response = inner.logged(sql, params.len(), call).await?;
        Ok(response.results.into_iter().next().map(|r| r.rows).unwrap_or_default())
    }

    /// [`Connection::fetch_batches`] with this view's timeout.
    pub async fn fetch_batches(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        mut on_rows: impl FnMut(Vec<Row>) -> Result<()> + MaybeSend,
    ) -> Result<()> {
        let inner = &self.conn.inner;
        let args = DynParams(params);
        let call = inner.timed(self.timeout, inner.fetch_streamed(sql, &args, &mut on_rows));
        inner.logged(sql, params.len(), call).await
    }

    /// [`Connection::fetchrow`] with this view's timeout.
    pub async fn fetchrow(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        let inner = &self.conn.inner;
        let args = DynParams(params);
        let call = inner.timed(self.timeout, inner.query(sql, &args, 1));
        let response = inner.logged(sql, params.len(), call).await?;
        Ok(response.results.into_iter().next().and_then(|r| r.rows.into_iter().next()))
    }

    /// [`Connection::fetchval`] with this view's timeout.
    pub async fn fetchval<T: FromSqlOwned>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<T> {
        first_value(self.fetchrow(sql, params).await?)
    }

    /// [`Connection::prepare`] with this view's timeout (only the Parse round
    /// trip is bounded; the statement's own calls use `command_timeout`).
    pub async fn prepare(&self, sql: &str) -> Result<PreparedStatement> {
        let inner = &self.conn.inner;
        let named = lock(&inner.cache).enabled();
        let stmt = inner.timed(self.timeout, inner.prepare_new(sql, named)).await?;
        Ok(PreparedStatement::new(stmt, inner.clone()))
    }
}

impl ConnInner {
    /// Runs `call` with a deadline (`None`: no deadline).
    ///
    /// Instantiated once per kind of call (about ten on wasm), so only the
    /// race of `call` against the timer is here; what happens when the time
    /// is up is [`Self::timed_out`], one non-generic function for all.
    pub(crate) async fn timed<T>(&self, timeout: Option<Duration>, call: impl Future<Output = Result<T>>) -> Result<T> {
        let Some(limit) = timeout else { return call.await };
        // The block drops `call` (and the timer) before `timed_out` runs:
        // the abandoned request is then cancelled by the driver when that is
        // safe, while `timed_out` waits for the connection to catch up.
        let finished = {
            let mut call = std::pin::pin!(call);
            let mut timer = self.runtime().sleep(limit);
            // `call` first: a result that is ready wins over an expired timer.
            std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
                Poll::Ready(out) => Poll::Ready(Some(out)),
                Poll::Pending => timer.as_mut().poll(cx).map(|()| None),
            })
            .await
        };
        match finished {
            Some(result) => result,
            None => Err(self.timed_out(limit).await),
        }
    }

    /// A call ran out of time and was dropped: waits for the connection to
    /// be idle again, then returns the timeout error.
    async fn timed_out(&self, limit: Duration) -> Error {
        self.settle().await;
        Error::timeout(format!("the call did not complete within {} and was cancelled", Shown(limit)))
    }

    /// Waits until every request queued so far is answered, with a bare
    /// Sync (answered by ReadyForQuery) queued behind them. Bounded by the
    /// cancel timeout: a request that could not be cancelled safely (others
    /// were pipelined behind it) may run longer, and is then left to the
    /// driver, which discards its answer.
    async fn settle(&self) {
        let mut buf = BytesMut::with_capacity(5);
        frontend::sync(&mut buf);
        let _ = timeout(&**self.runtime(), self.cancel.timeout(), self.request(buf, 1, None)).await;
    }
}
