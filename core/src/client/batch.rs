//! Explicit batches: several statements sent in one write, answered with
//! one result per statement.
//!
//! Concurrent calls on a connection already pipeline; a [`Batch`] goes
//! further and guarantees the statements leave in a single flight (one
//! write, one WebSocket frame), which matters most at the edge where every
//! round trip counts. Three modes decide what a failure means:
//!
//! | mode | wire | when statement *k* fails |
//! |---|---|---|
//! | independent (default) | each statement ends with its own Sync | only *k* fails; the others run and commit (each in its own implicit transaction, or in the open transaction) |
//! | [`atomic`](Batch::atomic) | one Sync at the end: one implicit transaction | nothing is applied; the server skips the statements after *k* |
//! | [`transaction`](Batch::transaction) | `BEGIN [options]` … `COMMIT`, one Sync | nothing is applied; the failed transaction is rolled back, so the connection is usable after |
//!
//! Before the flight, the statements are looked up in the statement cache;
//! the ones missing are prepared in one pipelined round trip. If one fails to
//! prepare, or its arguments cannot be encoded, nothing is sent and
//! [`Batch::run`] returns that error.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use futures_channel::oneshot;
use futures_util::future::try_join_all;

use super::handle::{encode_bind, type_oids, ConnInner, Connection};
use super::params::DynParams;
use super::request::{QueryResult, Request, Response, Segment};
use super::row::{Column, Row};
use super::statement::StatementInner;
use super::transaction::{is_idle, send_and_forget, Isolation, TransactionOptions};
use crate::protocol::backend::TransactionStatus;
use crate::protocol::{frontend, IsNull};
use crate::types::ToSql;
use crate::{Error, Result};

/// The work of [`Connection::batch`], which delegates here.
pub(crate) fn batch<'c>(conn: &'c Connection) -> Batch<'c> {
    Batch { conn, statements: Vec::new(), mode: Mode::Independent, options: TransactionOptions::default() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Independent,
    Atomic,
    Transaction,
}

struct BatchStatement<'a> {
    sql: &'a str,
    params: &'a [&'a (dyn ToSql + Sync)],
    keep_rows: bool,
}

/// Statements to send in one flight, from [`Connection::batch`]. See the
/// [module documentation](self) for what a failure means in each mode.
#[must_use = "a batch does nothing until `.run().await`"]
pub struct Batch<'a> {
    conn: &'a Connection,
    statements: Vec<BatchStatement<'a>>,
    mode: Mode,
    options: TransactionOptions,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("statements", &self.statements.iter().map(|s| s.sql).collect::<Vec<_>>())
            .field("mode", &self.mode)
            .finish()
    }
}

impl<'a> Batch<'a> {
    /// Adds a statement whose rows are returned in its [`BatchResult`].
    pub fn query(mut self, sql: &'a str, params: &'a [&'a (dyn ToSql + Sync)]) -> Self {
        self.statements.push(BatchStatement { sql, params, keep_rows: true });
        self
    }

    /// Adds a statement run for its effect: its [`BatchResult`] has the
    /// command status but no rows (any rows are dropped as they arrive).
    pub fn execute(mut self, sql: &'a str, params: &'a [&'a (dyn ToSql + Sync)]) -> Self {
        self.statements.push(BatchStatement { sql, params, keep_rows: false });
        self
    }

    /// All or nothing, with one Sync at the end: the statements run in one
    /// implicit transaction (or in the open transaction, if any); the first
    /// failure makes the server skip the rest and nothing is applied.
    pub fn atomic(mut self) -> Self {
        if self.mode == Mode::Independent {
            self.mode = Mode::Atomic;
        }
        self
    }

    /// Wraps the statements in `BEGIN` … `COMMIT`, all in one flight. When a
    /// statement (or the COMMIT) fails, nothing is applied and the
    /// transaction is rolled back before the connection's next request.
    /// Fails with an Interface error at `run()` if a transaction is already open.
    pub fn transaction(mut self) -> Self {
        self.mode = Mode::Transaction;
        self
    }

    /// The isolation level of the batch's transaction (implies [`Batch::transaction`]).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.options.isolation = Some(isolation);
        self.transaction()
    }

    /// `READ ONLY` / `READ WRITE` for the batch's transaction (implies [`Batch::transaction`]).
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.options.readonly = Some(readonly);
        self.transaction()
    }

    /// `[NOT] DEFERRABLE` for the batch's transaction (implies [`Batch::transaction`]).
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.options.deferrable = Some(deferrable);
        self.transaction()
    }

    /// Number of statements added.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// True when no statement was added.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// Sends the batch in one flight and returns one result per statement,
    /// in order.
    ///
    /// The outer `Err` means the batch was not run (a statement failed to
    /// prepare, arguments could not be encoded, a transaction was already
    /// open for [`Batch::transaction`]) or the connection broke. Otherwise
    /// each statement has its own result:
    /// * independent mode: `Err` only for the statements that failed;
    /// * atomic and transaction modes: on a failure every entry is `Err`.
    ///   The failed statement has the server's error; the statements before
    ///   it say they were rolled back, those after it that they did not run
    ///   (both keep the cause's SQLSTATE in [`Error::code`]). When the
    ///   `COMMIT` itself fails (a deferred constraint, a serialization
    ///   failure), every entry says so.
    pub async fn run(self) -> Result<Vec<Result<BatchResult>>> {
        if self.statements.is_empty() {
            return Ok(Vec::new());
        }
        let inner = &self.conn.inner;
        if self.mode == Mode::Transaction && !is_idle(inner).await? {
            return Err(Error::interface(
                "a transaction batch cannot run inside an open transaction (its COMMIT would end it); \
                 use an atomic batch instead",
            ));
        }
        let stmts = prepare_all(inner, &self.statements).await?;

        let mut buf = BytesMut::with_capacity(256);
        let mut syncs = 0u32;
        if self.mode == Mode::Transaction {
            encode_plain(&self.options.begin_sql(), &mut buf)?;
        }
        for (i, (s, stmt)) in self.statements.iter().zip(&stmts).enumerate() {
            encode_statement(stmt, s.params, &mut buf).map_err(|e| e.context(format_args!("batch statement #{i}")))?;
            if self.mode == Mode::Independent {
                frontend::sync(&mut buf);
                syncs += 1;
            }
        }
        if self.mode == Mode::Transaction {
            encode_plain("COMMIT", &mut buf)?;
        }
        if self.mode != Mode::Independent {
            frontend::sync(&mut buf);
            syncs = 1;
        }

        // From the moment the BEGIN is queued, a dropped future (or a
        // failure) must not leave the transaction open.
        let mut guard = RollbackGuard { inner, armed: self.mode == Mode::Transaction };
        let (tx, rx) = oneshot::channel();
        inner.send(Request::collect(buf, syncs, None, tx))?;
        let response: Response = match rx.await {
            Ok(r) => r?,
            Err(_canceled) => return Err(inner.shared.closed_error()),
        };
        guard.armed = guard.armed && response.final_status() != Some(TransactionStatus::Idle);
        drop(guard);

        let keep: Vec<bool> = self.statements.iter().map(|s| s.keep_rows).collect();
        let segments = response.into_segments();
        match self.mode {
            Mode::Independent => independent_results(segments, &keep),
            Mode::Atomic => atomic_results(segments, &keep, 0),
            Mode::Transaction => atomic_results(segments, &keep, 1),
        }
    }
}

/// The result of one statement of a batch.
#[derive(Debug)]
pub struct BatchResult {
    rows: Vec<Row>,
    status: String,
    columns: Option<Arc<[Column]>>,
}

impl BatchResult {
    /// The statement's result columns (also when it returned no rows);
    /// empty for a statement without a result set (`INSERT` without
    /// `RETURNING`, DDL) and for statements added with [`Batch::execute`].
    pub fn columns(&self) -> &[Column] {
        self.columns.as_deref().unwrap_or(&[])
    }

    /// The rows (empty for statements added with [`Batch::execute`]).
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The rows, by value.
    pub fn into_rows(self) -> Vec<Row> {
        self.rows
    }

    /// The command status, e.g. `INSERT 0 1` (empty for an empty statement).
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The row count of the command status (`INSERT 0 3` → 3, `SELECT 5` →
    /// 5); 0 for commands without one.
    pub fn rows_affected(&self) -> u64 {
        rows_affected(&self.status)
    }
}

fn rows_affected(status: &str) -> u64 {
    status.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Queues a ROLLBACK when dropped armed: covers a dropped `run()` future and
/// a transaction batch that failed.
struct RollbackGuard<'a> {
    inner: &'a ConnInner,
    armed: bool,
}

impl Drop for RollbackGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            send_and_forget(self.inner, "ROLLBACK");
        }
    }
}

/// Looks every distinct statement up in the cache, preparing the missing
/// ones concurrently (so they share one round trip).
async fn prepare_all(inner: &ConnInner, statements: &[BatchStatement<'_>]) -> Result<Vec<Arc<StatementInner>>> {
    let mut distinct: Vec<&str> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for s in statements {
        index.entry(s.sql).or_insert_with(|| {
            distinct.push(s.sql);
            distinct.len() - 1
        });
    }
    let prepared = try_join_all(distinct.iter().map(|sql| inner.prepare_cached(sql))).await?;
    Ok(statements.iter().map(|s| prepared[index[s.sql]].clone()).collect())
}

/// [Parse] + Bind + Describe (portal) + Execute of one statement. The
/// Describe makes the server send the row description, so each statement's
/// rows are decoded with its own columns.
fn encode_statement(stmt: &StatementInner, params: &[&(dyn ToSql + Sync)], buf: &mut BytesMut) -> Result<()> {
    let start = buf.len();
    let result = (|| {
        if !stmt.is_named() {
            frontend::parse("", &stmt.sql, &type_oids(&stmt.params), buf)?;
        }
        encode_bind(stmt, &DynParams(params), buf)?;
        frontend::describe(b'P', "", buf)?;
        frontend::execute("", 0, buf)
    })();
    if result.is_err() {
        buf.truncate(start);
    }
    result
}

/// A parameterless statement through the extended protocol (BEGIN, COMMIT):
/// unlike a simple Query, it does not end the batch's implicit Sync block.
fn encode_plain(sql: &str, buf: &mut BytesMut) -> Result<()> {
    frontend::parse("", sql, &[], buf)?;
    frontend::bind("", "", &[], std::iter::empty::<()>(), |(), _| Ok(IsNull::Yes), &[], buf)?;
    frontend::execute("", 0, buf)
}

fn to_result(r: QueryResult, keep_rows: bool) -> BatchResult {
    BatchResult {
        rows: if keep_rows { r.rows } else { Vec::new() },
        status: r.tag.unwrap_or_default(),
        columns: if keep_rows { r.columns } else { None },
    }
}

fn independent_results(segments: Vec<Segment>, keep: &[bool]) -> Result<Vec<Result<BatchResult>>> {
    if segments.len() != keep.len() {
        return Err(Error::protocol(format!(
            "a batch of {} statements got {} ReadyForQuery messages",
            keep.len(),
            segments.len()
        )));
    }
    Ok(segments
        .into_iter()
        .zip(keep)
        .map(|(seg, &keep_rows)| match seg.error {
            Some(e) => Err(e),
            None => Ok(to_result(seg.results.into_iter().next().unwrap_or_default(), keep_rows)),
        })
        .collect())
}

/// Results of a batch with one Sync; `skip` leading results (the BEGIN) are
/// not the caller's statements.
fn atomic_results(segments: Vec<Segment>, keep: &[bool], skip: usize) -> Result<Vec<Result<BatchResult>>> {
    let n = keep.len();
    let Some(seg) = segments.into_iter().next() else {
        return Err(Error::protocol("a batch got no ReadyForQuery"));
    };
    let Some(cause) = seg.error else {
        if seg.completed < n + skip {
            return Err(Error::protocol(format!("a batch of {n} statements got {} results", seg.completed)));
        }
        return Ok(seg.results.into_iter().skip(skip).zip(keep).map(|(r, &k)| Ok(to_result(r, k))).collect());
    };
    if skip > 0 && seg.completed == 0 {
        return Ok((0..n).map(|_| Err(copy_error(&cause).context("not run: the batch's BEGIN failed"))).collect());
    }
    let done = seg.completed.saturating_sub(skip);
    if done >= n {
        // Every statement ran; the COMMIT failed.
        return Ok((0..n).map(|_| Err(copy_error(&cause).context("rolled back: the batch's COMMIT failed"))).collect());
    }
    let mut out: Vec<Result<BatchResult>> = (0..n)
        .map(|i| {
            let what = if i < done { "rolled back" } else { "not run" };
            Err(copy_error(&cause).context(format_args!("{what}: batch statement #{done} failed")))
        })
        .collect();
    // The failed statement gets the server's error itself.
    if let Some(slot) = out.get_mut(done) {
        *slot = Err(cause);
    }
    Ok(out)
}

/// A copy of an error with the same kind, message and server error (errors
/// are not `Clone`: their source may not be).
fn copy_error(e: &Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::db(db.clone()),
        None => Error::new(e.kind(), e.message().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DbError, ErrorKind, SqlState};

    fn ok(tag: &str) -> QueryResult {
        QueryResult { tag: Some(tag.to_owned()), ..QueryResult::default() }
    }

    fn server_error(code: &str) -> Error {
        Error::db(DbError::from_fields([(b'S', "ERROR"), (b'C', code), (b'M', "boom")]).unwrap())
    }

    fn seg(results: Vec<QueryResult>, error: Option<Error>) -> Segment {
        let completed = results.len();
        Segment { results, completed, error }
    }

    #[test]
    fn rows_affected_reads_the_last_number() {
        assert_eq!(rows_affected("INSERT 0 3"), 3);
        assert_eq!(rows_affected("SELECT 5"), 5);
        assert_eq!(rows_affected("CREATE TABLE"), 0);
        assert_eq!(rows_affected(""), 0);
    }

    #[test]
    fn independent_results_are_per_statement() {
        let segs = vec![seg(vec![ok("INSERT 0 1")], None), seg(vec![], Some(server_error("23505")))];
        let out = independent_results(segs, &[true, true]).unwrap();
        assert_eq!(out[0].as_ref().unwrap().status(), "INSERT 0 1");
        assert_eq!(out[1].as_ref().unwrap_err().code(), Some(SqlState::UNIQUE_VIOLATION));
        assert!(independent_results(vec![], &[true]).is_err());
    }

    #[test]
    fn atomic_failure_marks_every_statement() {
        // BEGIN ok, statement 0 ok, statement 1 failed; statement 2 not run.
        let s = seg(vec![ok("BEGIN"), ok("INSERT 0 1")], Some(server_error("23505")));
        let out = atomic_results(vec![s], &[true, true, true], 1).unwrap();
        let e0 = out[0].as_ref().unwrap_err();
        assert!(e0.message().contains("rolled back"), "{e0}");
        assert_eq!(e0.code(), Some(SqlState::UNIQUE_VIOLATION));
        let e1 = out[1].as_ref().unwrap_err();
        assert_eq!(e1.message(), "ERROR: boom");
        let e2 = out[2].as_ref().unwrap_err();
        assert!(e2.message().contains("not run"), "{e2}");
        assert_eq!(e2.code(), Some(SqlState::UNIQUE_VIOLATION));
    }

    #[test]
    fn atomic_commit_failure_and_success() {
        let s = seg(vec![ok("BEGIN"), ok("INSERT 0 1")], Some(server_error("40001")));
        let out = atomic_results(vec![s], &[true], 1).unwrap();
        assert!(out[0].as_ref().unwrap_err().message().contains("COMMIT"));

        let s = seg(vec![ok("BEGIN"), ok("INSERT 0 1"), ok("COMMIT")], None);
        let out = atomic_results(vec![s], &[false], 1).unwrap();
        assert_eq!(out[0].as_ref().unwrap().rows_affected(), 1);

        let s = seg(vec![], Some(server_error("25001")));
        let out = atomic_results(vec![s], &[true, true], 1).unwrap();
        assert!(out.iter().all(|r| r.as_ref().unwrap_err().message().contains("BEGIN")));

        let s = seg(vec![ok("INSERT 0 1")], None);
        assert_eq!(atomic_results(vec![s], &[true, true], 0).unwrap_err().kind(), ErrorKind::Protocol);
    }

    #[test]
    fn plain_statement_encoding() {
        let mut buf = BytesMut::new();
        encode_plain("BEGIN", &mut buf).unwrap();
        assert!(buf.windows(6).any(|w| w == b"BEGIN\0"));
        // Parse, Bind, Execute: walk the framed messages.
        let mut tags = Vec::new();
        let mut rest = &buf[..];
        while let [tag, a, b, c, d, ..] = rest {
            tags.push(*tag);
            let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            rest = &rest[1 + len..];
        }
        assert_eq!(tags, b"PBE");
        assert!(encode_plain("BE\0GIN", &mut BytesMut::new()).is_err());
    }
}
