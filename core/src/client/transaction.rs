//! Transactions: `BEGIN` with options, `COMMIT`/`ROLLBACK`, savepoints for
//! nested transactions, and the rollback of a transaction dropped without
//! an ending.
//!
//! A [`Transaction`] is a guard that borrows its [`Connection`] and derefs to
//! it, so queries inside read like queries outside. Ending it consumes it, so
//! committing twice does not compile. Dropping it unended queues a
//! `ROLLBACK` (or `ROLLBACK TO SAVEPOINT` for a nested one) as a
//! fire-and-forget request: the driver writes requests in order, so it runs
//! before anything sent on the connection afterwards. The same holds when the
//! future of `start()` or `commit()` is dropped midway (a timeout, a
//! `select!`): the guard is alive inside it, and its drop rolls back.

use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::BytesMut;

use super::handle::{ConnInner, Connection};
use super::request::Request;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::frontend;
use crate::{DbError, Error, Result};

/// Transaction isolation level (`BEGIN ISOLATION LEVEL ...`).
///
/// ```
/// use edgepg_core::client::Isolation;
/// assert_eq!(Isolation::RepeatableRead.as_sql(), "REPEATABLE READ");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// `READ UNCOMMITTED` (PostgreSQL runs it as read committed).
    ReadUncommitted,
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ` (snapshot isolation).
    RepeatableRead,
    /// `SERIALIZABLE`: retry on SQLSTATE 40001.
    Serializable,
}

impl Isolation {
    /// The SQL spelling, as in `BEGIN ISOLATION LEVEL <this>`.
    pub fn as_sql(self) -> &'static str {
        match self {
            Isolation::ReadUncommitted => "READ UNCOMMITTED",
            Isolation::ReadCommitted => "READ COMMITTED",
            Isolation::RepeatableRead => "REPEATABLE READ",
            Isolation::Serializable => "SERIALIZABLE",
        }
    }
}

/// The options of a `BEGIN`; `None` leaves the server's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TransactionOptions {
    pub(crate) isolation: Option<Isolation>,
    pub(crate) readonly: Option<bool>,
    pub(crate) deferrable: Option<bool>,
}

impl TransactionOptions {
    /// `BEGIN [ISOLATION LEVEL ...][, READ ONLY|READ WRITE][, [NOT] DEFERRABLE]`.
    pub(crate) fn begin_sql(&self) -> String {
        let mut modes: Vec<&str> = Vec::new();
        let isolation;
        if let Some(i) = self.isolation {
            isolation = format!("ISOLATION LEVEL {}", i.as_sql());
            modes.push(&isolation);
        }
        match self.readonly {
            Some(true) => modes.push("READ ONLY"),
            Some(false) => modes.push("READ WRITE"),
            None => {}
        }
        match self.deferrable {
            Some(true) => modes.push("DEFERRABLE"),
            Some(false) => modes.push("NOT DEFERRABLE"),
            None => {}
        }
        if modes.is_empty() {
            "BEGIN".to_owned()
        } else {
            format!("BEGIN {}", modes.join(", "))
        }
    }

    /// Checks that a nested transaction asks for nothing the outer one does
    /// not already have: a savepoint cannot change any of these.
    fn check_nested(&self, outer: &TransactionOptions) -> Result<()> {
        fn same<T: PartialEq + std::fmt::Debug>(what: &str, inner: Option<T>, outer: Option<T>) -> Result<()> {
            match inner {
                Some(v) if Some(&v) != outer.as_ref() => Err(Error::interface(format!(
                    "a nested transaction (savepoint) cannot set {what} {v:?}: the outer transaction has {}",
                    match outer {
                        Some(o) => format!("{o:?}"),
                        None => "the server default".to_owned(),
                    }
                ))),
                _ => Ok(()),
            }
        }
        same("isolation", self.isolation, outer.isolation)?;
        same("readonly", self.readonly, outer.readonly)?;
        same("deferrable", self.deferrable, outer.deferrable)
    }
}

/// The life of one transaction or savepoint, shared with the savepoints
/// started inside it.
///
/// With [`TransactionBuilder::start_owned`] a savepoint can outlive its
/// enclosing transaction, and a transaction can outlive a pooled
/// connection's lease. Once either has ended, the savepoint is gone on the
/// server: sending its `ROLLBACK TO SAVEPOINT` then would fail — and abort
/// whatever newer transaction the connection is running.
#[derive(Debug)]
struct Scope {
    /// Set when this transaction ends (commit, rollback or drop).
    ended: AtomicBool,
    /// The connection's lease when the transaction started.
    lease: u64,
    /// The enclosing transaction's scope, for a savepoint.
    parent: Option<Arc<Scope>>,
}

impl Scope {
    /// Ok while this scope and all enclosing ones are open and the lease
    /// is current.
    fn check(&self, shared: &super::shared::Shared) -> Result<()> {
        shared.check_lease(self.lease, "transaction")?;
        match &self.parent {
            Some(p) if p.ended.load(Ordering::Acquire) => Err(enclosing_ended()),
            Some(p) => p.check(shared),
            None => Ok(()),
        }
    }
}

fn enclosing_ended() -> Error {
    Error::interface("the enclosing transaction has ended: this nested transaction (savepoint) ended with it")
}

/// A number unique in this process, for savepoint and portal names.
pub(crate) fn next_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{prefix}{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// True when no transaction is open. The status seen by handles is the one
/// of the last ReadyForQuery; when it says "in a transaction" it may be
/// stale (e.g. the rollback of a dropped transaction is still queued), so
/// then a lone Sync asks the server, after everything queued before it.
pub(crate) async fn is_idle(inner: &ConnInner) -> Result<bool> {
    if inner.shared.status() == TransactionStatus::Idle {
        return Ok(true);
    }
    let mut buf = BytesMut::with_capacity(5);
    frontend::sync(&mut buf);
    let response = inner.request(buf, 1, None).await?;
    Ok(response.final_status() == Some(TransactionStatus::Idle))
}

/// Queues `sql` (simple protocol) without waiting; errors are dropped. Used
/// by guards' `Drop`.
pub(crate) fn send_and_forget(inner: &ConnInner, sql: &str) {
    let mut buf = BytesMut::with_capacity(sql.len() + 6);
    if frontend::query(sql, &mut buf).is_ok() {
        // If the connection is gone, so is the transaction.
        let _ = inner.send(Request::discard(buf, 1));
    }
}

/// The work of [`Connection::transaction`], which delegates here.
pub(crate) fn transaction<'c>(conn: &'c Connection) -> TransactionBuilder<'c> {
    TransactionBuilder { conn, options: TransactionOptions::default(), outer: None }
}

/// Options of a transaction to start, from [`Connection::transaction`] or
/// (for a savepoint) [`Transaction::transaction`].
#[derive(Debug)]
#[must_use = "a transaction builder does nothing until `.start().await`"]
pub struct TransactionBuilder<'a> {
    conn: &'a Connection,
    options: TransactionOptions,
    /// The enclosing transaction's options and scope, when this is a savepoint.
    outer: Option<(TransactionOptions, Arc<Scope>)>,
}

impl<'a> TransactionBuilder<'a> {
    /// The isolation level (default: the server's, normally read committed).
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.options.isolation = Some(isolation);
        self
    }

    /// `READ ONLY` when true, `READ WRITE` when false (default: the server's).
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.options.readonly = Some(readonly);
        self
    }

    /// `DEFERRABLE` when true, `NOT DEFERRABLE` when false (only meaningful
    /// for serializable read-only transactions).
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.options.deferrable = Some(deferrable);
        self
    }

    /// Sends `BEGIN ...` (or `SAVEPOINT ...` when nested) and returns the guard.
    pub async fn start(self) -> Result<Transaction<'a>> {
        begin(ConnRef::Borrowed(self.conn), self.options, self.outer).await
    }

    /// Like [`start`](TransactionBuilder::start), but the transaction holds
    /// its own handle to the connection (handles are cheap and share one
    /// driver) instead of borrowing it, so it is `'static`.
    ///
    /// This is for bindings that cannot keep a borrow alive between calls,
    /// such as the JavaScript API, where a transaction object outlives the
    /// call that made it. Everything else is the same: a nested one is a
    /// savepoint, and a transaction dropped unended is rolled back. The
    /// borrow checker no longer stops the outer transaction from ending
    /// while a nested one is alive: the nested one then counts as ended too
    /// (its `commit`, `rollback` and `transaction().start()` return an
    /// Interface error and its drop sends nothing). The same holds once a
    /// pool takes the connection back. Queries run through the `Deref` to
    /// [`Connection`] are not checked: do not use an ended transaction.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::Transaction;
    /// let tx: Transaction<'static> = conn.transaction().start_owned().await?;
    /// drop(conn); // the transaction keeps its own handle
    /// tx.execute("SELECT 1", &[]).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub fn start_owned(self) -> impl Future<Output = Result<Transaction<'static>>> + 'static {
        // A second handle on the same driver (`Connection` is not `Clone` in
        // the public API, so that ownership stays obvious there).
        let conn = Connection { inner: self.conn.inner.clone() };
        begin(ConnRef::Owned(conn), self.options, self.outer)
    }
}

/// The connection of a transaction: borrowed (the Rust API) or an owned
/// handle ([`TransactionBuilder::start_owned`]).
enum ConnRef<'a> {
    Borrowed(&'a Connection),
    Owned(Connection),
}

impl Deref for ConnRef<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            ConnRef::Borrowed(c) => c,
            ConnRef::Owned(c) => c,
        }
    }
}

/// Sends `BEGIN ...` (or `SAVEPOINT ...` when `outer` is set) and returns the guard.
async fn begin(
    conn: ConnRef<'_>,
    options: TransactionOptions,
    outer: Option<(TransactionOptions, Arc<Scope>)>,
) -> Result<Transaction<'_>> {
    let (sql, savepoint, options, parent) = match outer {
        None => {
            if !is_idle(&conn.inner).await? {
                return Err(Error::interface(
                    "cannot start a transaction: one is already open on this connection \
                     (begun with a raw BEGIN?); use `tx.transaction()` for a nested one",
                ));
            }
            (options.begin_sql(), None, options, None)
        }
        Some((outer, parent)) => {
            // A savepoint in an ended transaction would land in whatever
            // runs on the connection now.
            if parent.ended.load(Ordering::Acquire) {
                return Err(enclosing_ended());
            }
            parent.check(&conn.inner.shared)?;
            options.check_nested(&outer)?;
            let name = next_name("edgepg_sp");
            (format!("SAVEPOINT {name}"), Some(name), outer, Some(parent))
        }
    };
    let scope = Arc::new(Scope { ended: AtomicBool::new(false), lease: conn.inner.shared.lease(), parent });
    // The guard exists before the BEGIN is sent: if this future is
    // dropped while waiting, its drop queues the rollback.
    let mut tx = Transaction { conn, savepoint, options, finished: false, scope };
    match tx.conn.inner.simple_query(&sql).await {
        Ok(_) => Ok(tx),
        Err(e) => {
            // Nothing was started; for a savepoint, the outer transaction
            // is now failed and its owner decides.
            tx.finished = true;
            Err(e)
        }
    }
}

/// An open transaction (or savepoint). Derefs to the [`Connection`]: run
/// queries on it directly.
///
/// End it with [`commit`](Transaction::commit) or
/// [`rollback`](Transaction::rollback); dropped without either, it is rolled
/// back before the connection's next request. Nested transactions
/// ([`Transaction::transaction`]) are savepoints; they borrow the outer
/// guard, so the outer one cannot be ended while a nested one is alive.
///
/// After an error inside, PostgreSQL refuses further statements
/// (SQLSTATE 25P02) until the transaction is rolled back; a savepoint's
/// rollback makes the outer transaction usable again.
#[must_use = "a transaction not committed is rolled back when dropped"]
pub struct Transaction<'a> {
    conn: ConnRef<'a>,
    /// The savepoint name for a nested transaction.
    savepoint: Option<String>,
    /// The outermost transaction's options.
    options: TransactionOptions,
    /// Committed or rolled back (or never started): nothing to do on drop.
    finished: bool,
    /// Shared with nested transactions, which end when this one does.
    scope: Arc<Scope>,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("savepoint", &self.savepoint)
            .field("isolation", &self.options.isolation)
            .field("finished", &self.finished)
            .finish()
    }
}

impl Deref for Transaction<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Transaction<'_> {
    /// Starts building a nested transaction: a savepoint inside this one.
    /// Its options may only repeat the outer transaction's.
    pub fn transaction(&self) -> TransactionBuilder<'_> {
        TransactionBuilder {
            conn: &self.conn,
            options: TransactionOptions::default(),
            outer: Some((self.options, self.scope.clone())),
        }
    }

    /// The connection this transaction runs on.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// True for a nested transaction (a savepoint).
    pub fn is_savepoint(&self) -> bool {
        self.savepoint.is_some()
    }

    /// The generated savepoint name of a nested transaction.
    pub fn savepoint_name(&self) -> Option<&str> {
        self.savepoint.as_deref()
    }

    /// The isolation level asked for, if any (`None`: the server's default).
    pub fn isolation(&self) -> Option<Isolation> {
        self.options.isolation
    }

    /// Commits (`COMMIT`, or `RELEASE SAVEPOINT` when nested).
    ///
    /// When an earlier statement failed, PostgreSQL answers `COMMIT` by
    /// rolling back; that is reported as an error with SQLSTATE 25P02
    /// (in_failed_sql_transaction), never as success.
    pub async fn commit(mut self) -> Result<()> {
        // Marked before the request is queued, in the same poll: from here
        // on the COMMIT, not a rollback, decides.
        self.finished = true;
        self.scope.check(&self.conn.inner.shared)?;
        // Nested transactions end now, not when the request is answered.
        self.scope.ended.store(true, Ordering::Release);
        match &self.savepoint {
            None => {
                let tag = self.conn.inner.simple_query("COMMIT").await?;
                if tag == "ROLLBACK" {
                    return Err(rolled_back_error());
                }
                Ok(())
            }
            Some(name) => {
                self.conn.inner.simple_query(&format!("RELEASE SAVEPOINT {name}")).await?;
                Ok(())
            }
        }
    }

    /// Rolls back (`ROLLBACK`, or `ROLLBACK TO SAVEPOINT` + `RELEASE` when
    /// nested: the outer transaction keeps its earlier work and is usable
    /// again).
    pub async fn rollback(mut self) -> Result<()> {
        self.finished = true;
        self.scope.check(&self.conn.inner.shared)?;
        // Nested transactions end now, not when the request is answered.
        self.scope.ended.store(true, Ordering::Release);
        let sql = self.rollback_sql();
        self.conn.inner.simple_query(&sql).await?;
        Ok(())
    }

    fn rollback_sql(&self) -> String {
        match &self.savepoint {
            None => "ROLLBACK".to_owned(),
            Some(name) => format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"),
        }
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        // Nested transactions end with this one, whatever happens below.
        self.scope.ended.store(true, Ordering::Release);
        // An enclosing transaction that ended, or a pool that took the
        // connection back, already ended this one on the server.
        if !self.finished && self.scope.check(&self.conn.inner.shared).is_ok() {
            send_and_forget(&self.conn.inner, &self.rollback_sql());
        }
    }
}

/// The error for a COMMIT that the server turned into a ROLLBACK.
fn rolled_back_error() -> Error {
    let message = "the transaction was rolled back instead of committed: a statement in it had failed";
    match DbError::from_fields([(b'S', "ERROR"), (b'V', "ERROR"), (b'C', "25P02"), (b'M', message)]) {
        Ok(db) => Error::db(db),
        Err(_) => Error::interface(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqlState;

    #[test]
    fn begin_sql_spells_every_option() {
        assert_eq!(TransactionOptions::default().begin_sql(), "BEGIN");
        let o = TransactionOptions {
            isolation: Some(Isolation::Serializable),
            readonly: Some(true),
            deferrable: Some(true),
        };
        assert_eq!(o.begin_sql(), "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE");
        let o = TransactionOptions { isolation: None, readonly: Some(false), deferrable: Some(false) };
        assert_eq!(o.begin_sql(), "BEGIN READ WRITE, NOT DEFERRABLE");
        let o = TransactionOptions { isolation: Some(Isolation::ReadCommitted), ..Default::default() };
        assert_eq!(o.begin_sql(), "BEGIN ISOLATION LEVEL READ COMMITTED");
    }

    #[test]
    fn nested_options_must_match_the_outer_ones() {
        let outer = TransactionOptions { isolation: Some(Isolation::Serializable), ..Default::default() };
        assert!(TransactionOptions::default().check_nested(&outer).is_ok());
        assert!(outer.check_nested(&outer).is_ok());
        let other = TransactionOptions { isolation: Some(Isolation::ReadCommitted), ..Default::default() };
        let e = other.check_nested(&outer).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Interface);
        assert!(e.message().contains("isolation"), "{e}");
        let ro = TransactionOptions { readonly: Some(true), ..Default::default() };
        assert!(ro.check_nested(&outer).is_err());
    }

    #[test]
    fn names_are_unique() {
        assert_ne!(next_name("x"), next_name("x"));
    }

    #[test]
    fn commit_turned_rollback_is_a_25p02_error() {
        let e = rolled_back_error();
        assert_eq!(e.code(), Some(SqlState::IN_FAILED_SQL_TRANSACTION));
    }
}
