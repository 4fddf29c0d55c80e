//! Prepared statements: [`PreparedStatement`], a statement prepared once
//! and run many times, bound to the connection that prepared it.

use std::sync::Arc;

use super::handle::first_value;
use super::params::{DynParams, Params};
use super::query_log::Counting;
use super::row::{Column, Row};
use super::statement::StatementInner;
use crate::protocol::backend::TransactionStatus;
use crate::types::{FromSqlOwned, RawJson, ToSql, Type};
use crate::Result;

/// A prepared statement: execute it many times with different arguments.
///
/// Created by [`Connection::prepare`](super::Connection::prepare); keeps the
/// connection's driver alive while it exists.
///
/// On a pooled connection the handle is only valid until the connection is
/// released: after that its methods return an Interface error (the
/// connection may be running someone else's transaction). The server-side
/// statement stays in the connection's cache, so preparing the same SQL on
/// the next acquired connection is cheap.
#[derive(Clone)]
pub struct PreparedStatement {
    pub(crate) inner: Arc<StatementInner>,
    pub(crate) conn: Arc<super::handle::ConnInner>,
    /// The connection's lease when this handle was made (see `Shared::check_lease`).
    pub(crate) lease: u64,
}

impl std::fmt::Debug for PreparedStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedStatement")
            .field("name", &self.inner.name)
            .field("query", &self.inner.sql)
            .field("parameters", &self.inner.params)
            .field("columns", &self.inner.columns)
            .finish()
    }
}

impl PreparedStatement {
    pub(crate) fn new(inner: Arc<StatementInner>, conn: Arc<super::handle::ConnInner>) -> PreparedStatement {
        let lease = conn.shared.lease();
        PreparedStatement { inner, conn, lease }
    }

    /// Fails when the pooled connection this statement came from was released.
    pub(crate) fn check_lease(&self) -> crate::Result<()> {
        self.conn.shared.check_lease(self.lease, "prepared statement")
    }

    /// The SQL text.
    pub fn query(&self) -> &str {
        &self.inner.sql
    }

    /// The server-side statement name (empty for the unnamed statement).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The types of the parameters `$1`, `$2`, ... as the server inferred them.
    pub fn parameters(&self) -> &[Type] {
        &self.inner.params
    }

    /// The result columns (empty for statements that return no rows).
    pub fn columns(&self) -> &[Column] {
        &self.inner.columns
    }
}

impl PreparedStatement {
    /// Runs the statement and returns all rows.
    pub async fn fetch(&self, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.check_lease()?;
        let args = DynParams(params);
        let call = self.conn.timed(self.conn.command_timeout, self.conn.bind_execute(&self.inner, &args, 0));
        let r = self.conn.logged(&self.inner.sql, params.len(), call).await?;
        Ok(r.results.into_iter().next().map(|r| r.rows).unwrap_or_default())
    }

    /// Runs the statement and returns the first row, if any.
    pub async fn fetchrow(&self, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        self.check_lease()?;
        let args = DynParams(params);
        let call = self.conn.timed(self.conn.command_timeout, self.conn.bind_execute(&self.inner, &args, 1));
        let r = self.conn.logged(&self.inner.sql, params.len(), call).await?;
        Ok(r.results.into_iter().next().and_then(|r| r.rows.into_iter().next()))
    }

    /// Runs the statement and returns the first column of the first row.
    pub async fn fetchval<T: FromSqlOwned>(&self, params: &[&(dyn ToSql + Sync)]) -> Result<T> {
        first_value(self.fetchrow(params).await?)
    }

    /// Runs the statement and returns its command status, e.g. `UPDATE 3`.
    pub async fn execute(&self, params: &[&(dyn ToSql + Sync)]) -> Result<String> {
        self.check_lease()?;
        let args = DynParams(params);
        let call = self.conn.timed(self.conn.command_timeout, self.conn.bind_execute(&self.inner, &args, 0));
        let r = self.conn.logged(&self.inner.sql, params.len(), call).await?;
        Ok(r.last_tag().unwrap_or_default().to_owned())
    }

    /// Runs the statement once per set of arguments in one round trip (one Sync: all or nothing).
    pub async fn executemany<I, P>(&self, rows: I) -> Result<()>
    where
        I: IntoIterator<Item = P>,
        P: Params,
    {
        self.check_lease()?;
        let count = std::sync::atomic::AtomicUsize::new(0);
        let counted = Counting { iter: rows.into_iter(), count: &count };
        let call = self.conn.timed(self.conn.command_timeout, self.conn.executemany_stmt(&self.inner, counted));
        self.conn.logged_rows(&self.inner.sql, &count, call).await
    }
}

impl PreparedStatement {
    /// The plan of this statement for `params`, as the JSON text of
    /// `EXPLAIN (FORMAT JSON, VERBOSE)` (parse it with your JSON library).
    ///
    /// With `analyze`, the statement really runs (`EXPLAIN ANALYZE`) inside a
    /// transaction — or a savepoint when one is open — that is rolled back,
    /// so it changes nothing.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// let stmt = conn.prepare("SELECT * FROM pg_class WHERE relname = $1").await?;
    /// let plan = stmt.explain(&[&"pg_type"], false).await?;
    /// assert!(plan.0.contains("Plan"));
    /// # Ok(()) }
    /// ```
    pub async fn explain(&self, params: &[&(dyn ToSql + Sync)], analyze: bool) -> Result<RawJson> {
        self.check_lease()?;
        let sql =
            format!("EXPLAIN (FORMAT JSON, VERBOSE{}) {}", if analyze { ", ANALYZE" } else { "" }, self.inner.sql);
        if !analyze {
            let r = self.conn.timed(self.conn.command_timeout, self.conn.query(&sql, &DynParams(params), 0)).await?;
            return first_value(r.results.into_iter().next().and_then(|r| r.rows.into_iter().next()));
        }
        let nested = self.conn.shared.status() != TransactionStatus::Idle;
        let (begin, rollback) = if nested {
            ("SAVEPOINT edgepg_explain", "ROLLBACK TO SAVEPOINT edgepg_explain; RELEASE SAVEPOINT edgepg_explain")
        } else {
            ("BEGIN", "ROLLBACK")
        };
        self.conn.simple_query(begin).await?;
        let result = self.conn.timed(self.conn.command_timeout, self.conn.query(&sql, &DynParams(params), 0)).await;
        // Roll back whatever happened; a failure here leaves the connection
        // in a failed transaction the caller can see with is_in_transaction.
        let rolled_back = self.conn.simple_query(rollback).await;
        let r = result?;
        rolled_back?;
        first_value(r.results.into_iter().next().and_then(|r| r.rows.into_iter().next()))
    }
}
