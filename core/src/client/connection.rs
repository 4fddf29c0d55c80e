//! The public API of [`Connection`], in one place: the asyncpg-shaped
//! methods. The core queries are written here; every other method delegates
//! to the module of its operation (COPY, cursors, transactions, batches,
//! listeners, timeouts, ...), which builds on `super::handle`.
//!
//! A [`Connection`] is a cheap handle to a driver task that owns the stream
//! (see [`super::driver`]). Every method encodes its messages, queues them and
//! awaits the answer, so calls made concurrently on one connection (e.g. with
//! `join!`) are pipelined and answered in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};

use super::batch::Batch;
use super::cancel::CancelToken;
use super::copy::{BoxError, CopyOptions, CopyOutStream};
use super::cursor::CursorFactory;
use super::formats::TextColumns;
use super::from_row::FromRow;
use super::handle::Connection;
use super::listeners::NotificationStream;
use super::params::Params;
use super::prepared::PreparedStatement;
use super::request::Request;
use super::request::StatementResult;
use super::row::Row;
use super::runtime::{MaybeSend, MaybeSync};
use super::shared::{
    lock, LogListener, LoggedQuery, Notification, NotificationListener, QueryLogger, ServerVersion, TerminationListener,
};
use super::timeout::WithTimeout;
use super::transaction::TransactionBuilder;
use super::type_catalog::TypeTarget;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::frontend;
use crate::types::{FromSqlOwned, ToSql};
use crate::{DbError, Result};

impl Connection {
    /// Runs a command and returns its status, e.g. `"INSERT 0 1"`.
    ///
    /// Without arguments it uses the simple query protocol, so a script of
    /// several `;`-separated statements works (the status of the last one is
    /// returned). With arguments it runs one statement through the extended
    /// protocol (and the statement cache).
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<String> {
        self.default_timeout().execute(sql, params).await
    }

    /// Runs one statement once per set of arguments, pipelined in a single
    /// round trip with one Sync at the end: all executions commit together
    /// or, when one fails, none does.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// conn.executemany("INSERT INTO t VALUES ($1, $2)", (0..100i64).map(|i| (i, format!("n{i}")))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn executemany<I, P>(&self, sql: &str, rows: I) -> Result<()>
    where
        I: IntoIterator<Item = P>,
        P: Params,
    {
        self.default_timeout().executemany(sql, rows).await
    }

    /// Runs a query and returns all its rows.
    pub async fn fetch(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.default_timeout().fetch(sql, params).await
    }

    /// Runs a query and hands its rows to `on_rows` batch by batch, in
    /// order, as they arrive (one batch per read from the socket), so they
    /// can be converted while the rest is still on the way; an `Err` from
    /// `on_rows` stops the query (the rest of its response is discarded).
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// let mut total = 0i64;
    /// conn.fetch_batches("SELECT g::int8 FROM generate_series(1, 100000) g", &[], |rows| {
    ///     for row in rows {
    ///         total += row.get::<i64, _>(0)?;
    ///     }
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_batches(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        on_rows: impl FnMut(Vec<Row>) -> Result<()> + MaybeSend,
    ) -> Result<()> {
        self.default_timeout().fetch_batches(sql, params, on_rows).await
    }

    /// Runs a query and returns its first row, if any (the server stops after one row).
    pub async fn fetchrow(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        self.default_timeout().fetchrow(sql, params).await
    }

    /// Runs a query and returns the first column of its first row.
    ///
    /// With no row, `Option<T>` gives `None` and any other `T` an error.
    pub async fn fetchval<T: FromSqlOwned>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<T> {
        self.default_timeout().fetchval(sql, params).await
    }

    /// Prepares a statement for repeated execution.
    pub async fn prepare(&self, sql: &str) -> Result<PreparedStatement> {
        self.default_timeout().prepare(sql).await
    }

    /// Runs a query and builds a `T` from every row (`#[derive(FromRow)]`, a
    /// tuple, or your own [`FromRow`] impl).
    ///
    /// ```no_run
    /// # async fn demo(conn: &edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// let pairs: Vec<(i32, String)> = conn.fetch_as("SELECT 1, 'a'", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_as<T: FromRow>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<T>> {
        self.fetch(sql, params).await?.iter().map(T::from_row).collect()
    }

    /// Runs a query and builds a `T` from its first row, if any.
    pub async fn fetchrow_as<T: FromRow>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<T>> {
        self.fetchrow(sql, params).await?.as_ref().map(T::from_row).transpose()
    }

    /// Registers a custom codec (asyncpg's `set_type_codec`) for a type given
    /// by name (`"hstore"`, `"public.mood"`: resolved by the server with
    /// `::regtype`) or OID. From then on columns of that type are requested
    /// in the codec's format and decode into a [`Value`](crate::types::Value)
    /// through it; [`Value`](crate::types::Value) parameters of that type are
    /// encoded by it. Typed Rust access (`row.get::<T>`) still uses `T`'s
    /// [`FromSql`](crate::types::FromSql), in the codec's wire format.
    /// Statements cached before are re-prepared.
    ///
    /// ```no_run
    /// # async fn demo(conn: &edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use std::sync::Arc;
    /// use edgepg_core::types::HstoreCodec;
    /// conn.execute("CREATE EXTENSION IF NOT EXISTS hstore", &[]).await?;
    /// conn.set_type_codec("hstore", Arc::new(HstoreCodec)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_type_codec<'t>(
        &self,
        type_: impl Into<TypeTarget<'t>>,
        codec: Arc<dyn crate::types::TypeCodec>,
    ) -> Result<()> {
        self.inner.set_type_codec(type_.into(), Some(codec)).await
    }

    /// Removes a codec set with [`Connection::set_type_codec`].
    pub async fn reset_type_codec<'t>(&self, type_: impl Into<TypeTarget<'t>>) -> Result<()> {
        self.inner.set_type_codec(type_.into(), None).await
    }

    /// Forgets what this connection learnt about user types and its cached
    /// statements (asyncpg's `reload_schema_state`): call it after
    /// `ALTER TYPE` changed a composite used before on this connection.
    pub fn reload_schema_state(&self) {
        self.inner.reload_types();
    }

    /// Closes the connection gracefully: requests already sent are answered,
    /// then Terminate is sent and the stream closed.
    pub async fn close(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.inner.sender.unbounded_send(Request::Terminate(Some(tx))).is_ok() {
            let _ = rx.await;
        }
        Ok(())
    }

    /// Closes the connection at once: requests in flight fail with a Closed error.
    pub fn terminate(&self) {
        self.inner.shared.mark_closed(None);
        let _ = self.inner.sender.unbounded_send(Request::Abort);
    }

    /// True once the connection is closed (by either side) or broken.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.is_closed()
    }

    /// True inside a transaction block (including a failed one).
    pub fn is_in_transaction(&self) -> bool {
        self.inner.shared.status() != TransactionStatus::Idle
    }

    /// The transaction status reported by the last ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.inner.shared.status()
    }

    /// The transaction status once everything sent before this call is
    /// answered: the last ReadyForQuery's when nothing is in flight (no round
    /// trip), otherwise a lone Sync queued behind the pending requests asks
    /// the server. For deciding on a `BEGIN` while calls may still be in
    /// flight (the last status seen may be stale then).
    pub async fn settled_transaction_status(&self) -> Result<TransactionStatus> {
        if !self.inner.shared.is_quiet() {
            let mut buf = BytesMut::with_capacity(5);
            frontend::sync(&mut buf);
            self.inner.request(buf, 1, None).await?;
        }
        Ok(self.inner.shared.status())
    }

    /// The process ID of the server backend serving this connection (0
    /// while a pipelined-connect connection, see [`super::connect_pipelined`],
    /// has not finished its startup).
    pub fn get_server_pid(&self) -> i32 {
        self.inner.backend.get().map_or(0, |k| k.0)
    }

    /// The cancel key of this connection's backend (protocol 3.2 allows up to
    /// 256 bytes; empty until startup has finished).
    pub fn secret_key(&self) -> &[u8] {
        self.inner.backend.get().map_or(&[][..], |k| &k.1[..])
    }

    /// The server version, parsed from `server_version`.
    pub fn get_server_version(&self) -> Option<ServerVersion> {
        self.inner.shared.parameter("server_version").and_then(|v| ServerVersion::parse(&v))
    }

    /// The server parameters reported so far (ParameterStatus), e.g.
    /// `server_version`, `TimeZone`, `application_name`, `is_superuser`.
    pub fn get_settings(&self) -> HashMap<String, String> {
        self.inner.shared.parameters()
    }

    /// One server parameter.
    pub fn get_setting(&self, name: &str) -> Option<String> {
        self.inner.shared.parameter(name)
    }

    /// Calls `listener` for every notice the server sends (WARNING, NOTICE,
    /// INFO, LOG, DEBUG). Returns a handle for [`Connection::remove_log_listener`].
    pub fn add_log_listener(
        &self,
        listener: impl Fn(&DbError) + super::MaybeSend + super::MaybeSync + 'static,
    ) -> LogListener {
        let l: LogListener = Arc::new(listener);
        self.inner.shared.add_log_listener(l.clone());
        l
    }

    /// Removes a listener added with [`Connection::add_log_listener`].
    pub fn remove_log_listener(&self, listener: &LogListener) {
        self.inner.shared.remove_log_listener(listener);
    }

    /// Number of statements currently in the statement cache.
    pub fn statement_cache_len(&self) -> usize {
        lock(&self.inner.cache).len()
    }

    /// Empties the statement cache (statements are closed on the server).
    pub fn clear_statement_cache(&self) {
        lock(&self.inner.cache).clear();
    }

    // ---- Batches (see `super::batch`) ----

    /// Starts an explicit batch: statements sent together in one flight.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// // BEGIN; INSERT; INSERT; COMMIT in one round trip: both rows or neither.
    /// let results = conn
    ///     .batch()
    ///     .transaction()
    ///     .execute("INSERT INTO t VALUES ($1)", &[&1i64])
    ///     .execute("INSERT INTO t VALUES ($1)", &[&2i64])
    ///     .query("SELECT count(*) FROM t", &[])
    ///     .run()
    ///     .await?;
    /// let count: i64 = results[2].as_ref().map_err(|e| e.to_string()).unwrap().rows()[0].get(0)?;
    /// # let _ = count;
    /// # Ok(()) }
    /// ```
    pub fn batch(&self) -> Batch<'_> {
        super::batch::batch(self)
    }

    // ---- Cursors (see `super::cursor`) ----

    /// A server-side cursor over the rows of `sql`. Needs an open
    /// transaction (call it on a [`Transaction`](super::Transaction), which
    /// derefs to the connection).
    ///
    /// Read it as a stream:
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let tx = conn.transaction().start().await?;
    /// let mut rows = tx.cursor("SELECT g FROM generate_series(1, $1::int) g", &[&10_000i32]).prefetch(500);
    /// while let Some(row) = rows.try_next().await? {
    ///     let _g: i32 = row.get(0)?;
    /// }
    /// drop(rows);
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// or as a cursor object:
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// let tx = conn.transaction().start().await?;
    /// let cur = tx.cursor("SELECT g FROM generate_series(1, 100) g", &[]).open().await?;
    /// let skipped = cur.forward(10).await?;      // MOVE FORWARD 10
    /// let rows = cur.fetch(5).await?;            // rows 11..=15
    /// let next = cur.fetchrow().await?;          // row 16
    /// # let _ = (skipped, rows, next);
    /// # Ok(()) }
    /// ```
    pub fn cursor<'a>(&'a self, sql: &'a str, params: &'a [&'a (dyn ToSql + Sync)]) -> CursorFactory<'a> {
        super::cursor::cursor(self, sql, params)
    }

    // ---- LISTEN/NOTIFY and termination callbacks (see `super::listeners`) ----

    /// Calls `callback` for every NOTIFY on `channel` (sending `LISTEN` when
    /// this is the channel's first callback). Returns a handle for
    /// [`Connection::remove_listener`].
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// let handle = conn.add_listener("jobs", |n| println!("job {} from pid {}", n.payload, n.process_id)).await?;
    /// conn.execute("NOTIFY jobs, '42'", &[]).await?;
    /// conn.remove_listener("jobs", &handle).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_listener(
        &self,
        channel: &str,
        callback: impl Fn(&Notification) + MaybeSend + MaybeSync + 'static,
    ) -> Result<NotificationListener> {
        super::listeners::add_listener(self, channel, callback).await
    }

    /// Removes a callback added with [`Connection::add_listener`] (sending
    /// `UNLISTEN` when it was the channel's last one).
    pub async fn remove_listener(&self, channel: &str, listener: &NotificationListener) -> Result<()> {
        super::listeners::remove_listener(self, channel, listener).await
    }

    /// Listens on `channel` and returns the notifications as a stream. The
    /// stream ends when the connection closes; dropping it stops listening
    /// (the `UNLISTEN` is sent with the next request).
    ///
    /// Notifications are buffered without bound until read, as PostgreSQL
    /// itself queues them: read the stream.
    pub async fn listen(&self, channel: &str) -> Result<NotificationStream> {
        super::listeners::listen(self, channel).await
    }

    /// Calls `callback` for every notification this session receives,
    /// whatever its channel, without sending `LISTEN` (for callers that run
    /// `LISTEN` themselves, as node-postgres's users do). Returns a handle for
    /// [`Connection::remove_notification_observer`]. Dropped when the
    /// connection closes or its session is reset.
    pub fn add_notification_observer(
        &self,
        callback: impl Fn(&Notification) + MaybeSend + MaybeSync + 'static,
    ) -> NotificationListener {
        super::listeners::add_notification_observer(self, callback)
    }

    /// Removes a callback added with [`Connection::add_notification_observer`].
    pub fn remove_notification_observer(&self, listener: &NotificationListener) {
        super::listeners::remove_notification_observer(self, listener)
    }

    /// Calls `callback` once when the connection closes, whatever the reason
    /// (`close`, `terminate`, the server going away, a protocol error).
    pub fn add_termination_listener(
        &self,
        callback: impl Fn() + MaybeSend + MaybeSync + 'static,
    ) -> TerminationListener {
        super::listeners::add_termination_listener(self, callback)
    }

    /// Removes a callback added with [`Connection::add_termination_listener`].
    pub fn remove_termination_listener(&self, listener: &TerminationListener) {
        super::listeners::remove_termination_listener(self, listener)
    }

    // ---- Pipelined connect (see `super::pipelined`) ----

    /// Waits until the startup exchange of a pipelined-connect connection
    /// ([`connect_pipelined`]) is over, and fails with its error (e.g. a wrong
    /// password: kind `Auth`, SQLSTATE 28P01). Sent right after connecting it
    /// rides in the startup flight, so it costs no extra round trip; on an
    /// established connection it is one Sync round trip (a liveness check).
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// conn.ready().await?; // the password was accepted
    /// # Ok(()) }
    /// ```
    pub async fn ready(&self) -> Result<()> {
        super::pipelined::ready(self).await
    }

    /// True while a pipelined-connect connection has not finished its startup.
    pub fn is_starting(&self) -> bool {
        super::pipelined::is_starting(self)
    }

    // ---- Query loggers (see `super::query_log`) ----

    /// Calls `logger` after every `execute`, `executemany`, `fetch`,
    /// `fetchrow`, `fetchval` and prepared-statement call on this connection.
    /// Returns a handle for [`Connection::remove_query_logger`].
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// conn.add_query_logger(|q| {
    ///     if q.elapsed.as_millis() > 100 {
    ///         eprintln!("slow ({:?}, {} args): {}", q.elapsed, q.args, q.query);
    ///     }
    /// });
    /// # Ok(()) }
    /// ```
    pub fn add_query_logger(
        &self,
        logger: impl for<'a> Fn(&LoggedQuery<'a>) + super::MaybeSend + super::MaybeSync + 'static,
    ) -> QueryLogger {
        super::query_log::add_query_logger(self, logger)
    }

    /// Removes a logger added with [`Connection::add_query_logger`].
    pub fn remove_query_logger(&self, logger: &QueryLogger) {
        super::query_log::remove_query_logger(self, logger)
    }

    // ---- Results statement by statement (see `super::results`) ----

    /// Runs `sql` and returns every statement's result with its tag.
    ///
    /// With `script` and no arguments, `sql` may hold several statements:
    /// the simple query protocol runs them, one result per statement (values
    /// in text format). A single statement (no `;` but a trailing one) runs
    /// in one round trip either way: from the statement cache with binary
    /// results, or on a miss as Parse + Describe + Bind + Execute in one
    /// flight (text results), which caches it. Otherwise one statement runs
    /// through the extended protocol and the statement cache. The columns
    /// `text` selects come in text format.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::TextColumns;
    /// let results = conn.query_results("CREATE TEMP TABLE t (a int); INSERT INTO t VALUES (1)", &[], true,
    ///     TextColumns::Default).await?;
    /// assert_eq!(results[1].tag.as_deref(), Some("INSERT 0 1"));
    /// # Ok(()) }
    /// ```
    pub async fn query_results(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        script: bool,
        text: TextColumns<'_>,
    ) -> Result<Vec<StatementResult>> {
        super::results::query_results(self, sql, params, script, text).await
    }

    /// [`Connection::query_results`] (default formats) with one statement's
    /// rows handed to `on_rows` batch by batch as they arrive, like
    /// [`Connection::fetch_batches`]; its result then comes back with its
    /// columns, command tag and the rows that came with the end of the
    /// response, which follow every batch (a small result comes whole
    /// there, `on_rows` never called). A script (`script`, no arguments,
    /// several statements) is collected as `query_results` does: every
    /// result with its rows. So is one statement without arguments that is
    /// not cached yet (it goes in one flight, as in `query_results`).
    pub async fn query_results_streamed(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        script: bool,
        mut on_rows: impl FnMut(Vec<Row>) -> Result<()> + MaybeSend,
    ) -> Result<Vec<StatementResult>> {
        super::results::query_results_with(self, sql, params, script, TextColumns::Default, Some(&mut on_rows)).await
    }

    // ---- Timeouts and cancellation (see `super::timeout`) ----

    /// A view of this connection whose calls time out after `timeout`
    /// instead of `command_timeout`. `Duration::ZERO` means no timeout.
    ///
    /// On expiry the running query is cancelled on the server, the call waits
    /// until the connection is idle again, and fails with
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout); the connection
    /// stays usable.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use std::time::Duration;
    /// use edgepg_core::ErrorKind;
    /// let quick = conn.with_timeout(Duration::from_millis(200));
    /// let err = quick.execute("SELECT pg_sleep(10)", &[]).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// let one: i32 = quick.fetchval("SELECT 1", &[]).await?; // same connection, still fine
    /// # Ok(()) }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> WithTimeout<'_> {
        super::timeout::with_timeout(self, timeout)
    }

    /// The view every plain call goes through: `command_timeout`.
    pub(crate) fn default_timeout(&self) -> WithTimeout<'_> {
        super::timeout::default_timeout(self)
    }

    /// The default timeout of every call (`command_timeout`), if any.
    pub fn command_timeout(&self) -> Option<Duration> {
        super::timeout::command_timeout(self)
    }

    /// A handle that cancels whatever this connection's backend is running,
    /// usable from any task (it is `Clone + Send + Sync`).
    ///
    /// ```no_run
    /// # async fn demo(conn: std::sync::Arc<edgepg_core::client::Connection>) -> edgepg_core::Result<()> {
    /// let token = conn.cancel_token();
    /// let c = conn.clone();
    /// let slow = async move { c.execute("SELECT pg_sleep(60)", &[]).await };
    /// let (result, _) = futures_util::join!(slow, token.cancel());
    /// assert_eq!(result.unwrap_err().code(), Some(edgepg_core::SqlState::QUERY_CANCELED));
    /// # Ok(()) }
    /// ```
    pub fn cancel_token(&self) -> CancelToken {
        super::timeout::cancel_token(self)
    }

    // ---- Transactions (see `super::transaction`) ----

    /// Starts building a transaction; `.start().await` sends the `BEGIN`.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::Isolation;
    /// let tx = conn.transaction().isolation(Isolation::Serializable).readonly(false).start().await?;
    /// tx.execute("INSERT INTO t VALUES ($1)", &[&1i64]).await?;
    /// {
    ///     let sp = tx.transaction().start().await?; // SAVEPOINT
    ///     sp.execute("INSERT INTO t VALUES ($1)", &[&2i64]).await?;
    ///     sp.rollback().await?; // ROLLBACK TO SAVEPOINT: row 1 stays
    /// }
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// `start()` fails with an Interface error when a transaction is already
    /// open on the connection (e.g. one begun with a raw `BEGIN`): nest with
    /// [`Transaction::transaction`] instead.
    pub fn transaction(&self) -> TransactionBuilder<'_> {
        super::transaction::transaction(self)
    }

    // ---- COPY FROM STDIN (see `super::copy`) ----

    /// Copies records into `table` with a binary `COPY … FROM STDIN`, and
    /// returns the number of rows copied.
    ///
    /// Records are any [`Params`] (tuples, arrays, `Vec`s) with one value per
    /// column, in the order of `options.columns` (all columns when empty).
    /// The columns' types are looked up once per call, and every value is
    /// encoded for its column's type. If a column has a type without a
    /// binary encoder (enums, `citext`, extension types), the whole call
    /// uses the text format instead. Only `schema_name`, `columns` and
    /// `where_clause` of `options` apply here.
    ///
    /// If a value does not fit its column, the COPY is aborted and no row
    /// lands; the connection stays usable.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::CopyOptions;
    /// conn.execute("CREATE TEMP TABLE people (id int8, name text)", &[]).await?;
    /// let rows = (0..1000i64).map(|i| (i, format!("person {i}")));
    /// let n = conn.copy_records_to_table("people", rows, &CopyOptions::new()).await?;
    /// assert_eq!(n, 1000);
    /// # Ok(()) }
    /// ```
    pub async fn copy_records_to_table<I, P>(&self, table: &str, records: I, options: &CopyOptions) -> Result<u64>
    where
        I: IntoIterator<Item = P>,
        P: Params,
    {
        super::copy::copy_in::copy_records_to_table(self, table, records, options).await
    }

    /// Like [`Connection::copy_records_to_table`], with records from a
    /// [`Stream`]. An `Err` item aborts the COPY (no row lands) and is
    /// returned.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::CopyOptions;
    /// let rows = futures_util::stream::iter((0..10i64).map(|i| Ok::<_, std::io::Error>((i, i * 2))));
    /// conn.copy_records_to_table_stream("pairs", rows, &CopyOptions::new()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn copy_records_to_table_stream<S, P, E>(
        &self,
        table: &str,
        records: S,
        options: &CopyOptions,
    ) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<P, E>>,
        P: Params,
        E: Into<BoxError>,
    {
        super::copy::copy_in::copy_records_to_table_stream(self, table, records, options).await
    }

    /// Runs `COPY table FROM STDIN (options)` with data from a [`Stream`] of
    /// byte chunks (anything `Into<Bytes>`: `Vec<u8>`, `String`, `Bytes`,
    /// ...), already in the format `options` describe. Small chunks are
    /// gathered into 64 KiB messages. Returns the number of rows copied.
    ///
    /// An `Err` item aborts the COPY: no row lands, and that error is
    /// returned.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::{CopyFormat, CopyOptions};
    /// let lines = futures_util::stream::iter(["1,one\n", "2,two\n"].map(Ok::<_, std::io::Error>));
    /// let opts = CopyOptions::new().format(CopyFormat::Csv);
    /// assert_eq!(conn.copy_to_table("t", lines, &opts).await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn copy_to_table<S, B, E>(&self, table: &str, source: S, options: &CopyOptions) -> Result<u64>
    where
        S: Stream<Item = std::result::Result<B, E>>,
        B: Into<Bytes>,
        E: Into<BoxError>,
    {
        super::copy::copy_in::copy_to_table(self, table, source, options).await
    }

    /// Like [`Connection::copy_to_table`], reading the data from a
    /// `futures_io::AsyncRead` (with tokio, wrap the reader with
    /// `tokio_util::compat`, re-exported by `edgepg::compat`). Reads fill
    /// 64 KiB messages. A read error aborts the COPY and is returned.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::CopyOptions;
    /// let data: &[u8] = b"1\tone\n2\ttwo\n";
    /// assert_eq!(conn.copy_to_table_from_reader("t", data, &CopyOptions::new()).await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn copy_to_table_from_reader<R: AsyncRead>(
        &self,
        table: &str,
        reader: R,
        options: &CopyOptions,
    ) -> Result<u64> {
        super::copy::copy_in::copy_to_table_from_reader(self, table, reader, options).await
    }

    /// Like [`Connection::copy_to_table`], with all the data in one buffer.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::CopyOptions;
    /// let n = conn.copy_to_table_from_bytes("t", "1\tone\n2\ttwo\n", &CopyOptions::new()).await?;
    /// assert_eq!(n, 2);
    /// # Ok(()) }
    /// ```
    pub async fn copy_to_table_from_bytes(
        &self,
        table: &str,
        data: impl Into<Bytes>,
        options: &CopyOptions,
    ) -> Result<u64> {
        super::copy::copy_in::copy_to_table_from_bytes(self, table, data, options).await
    }

    // ---- COPY TO STDOUT (see `super::copy`) ----

    /// Runs `COPY table TO STDOUT (options)` and returns its data as a
    /// [`CopyOutStream`] of byte chunks, read with backpressure.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::{CopyFormat, CopyOptions};
    /// let opts = CopyOptions::new().columns(["id"]).format(CopyFormat::Csv);
    /// let stream = conn.copy_from_table("people", &opts).await?;
    /// # Ok(()) }
    /// ```
    pub async fn copy_from_table(&self, table: &str, options: &CopyOptions) -> Result<CopyOutStream> {
        super::copy::copy_out::copy_from_table(self, table, options).await
    }

    /// Runs `COPY (query) TO STDOUT (options)` and returns its data as a
    /// [`CopyOutStream`].
    ///
    /// COPY takes no parameters, so `args` are inlined into the query as
    /// literals, as asyncpg does: the query is described to learn their
    /// types, and the server quotes each value (`quote_nullable`), cast to
    /// its type. `$n` inside strings, quoted identifiers and comments is left
    /// alone.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::CopyOptions;
    /// let stream = conn
    ///     .copy_from_query("SELECT * FROM people WHERE id > $1", &[&10i64], &CopyOptions::new())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn copy_from_query(
        &self,
        query: &str,
        args: &[&(dyn ToSql + Sync)],
        options: &CopyOptions,
    ) -> Result<CopyOutStream> {
        super::copy::copy_out::copy_from_query(self, query, args, options).await
    }

    /// [`Connection::copy_from_table`] written into `writer`; returns the row
    /// count. With tokio, wrap the writer with `tokio_util::compat`
    /// (re-exported by `edgepg::compat`).
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::CopyOptions;
    /// let mut out = Vec::new();
    /// conn.copy_from_table_to_writer("people", &CopyOptions::new(), futures_util::io::Cursor::new(&mut out)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn copy_from_table_to_writer<W: AsyncWrite>(
        &self,
        table: &str,
        options: &CopyOptions,
        writer: W,
    ) -> Result<u64> {
        super::copy::copy_out::copy_from_table_to_writer(self, table, options, writer).await
    }

    /// [`Connection::copy_from_query`] written into `writer`; returns the row count.
    pub async fn copy_from_query_to_writer<W: AsyncWrite>(
        &self,
        query: &str,
        args: &[&(dyn ToSql + Sync)],
        options: &CopyOptions,
        writer: W,
    ) -> Result<u64> {
        super::copy::copy_out::copy_from_query_to_writer(self, query, args, options, writer).await
    }
}
