//! The connection handle and its asyncpg-shaped API.
//!
//! A [`Connection`] is a cheap handle to a driver task that owns the stream
//! (see [`super::driver`]). Every method encodes its messages, queues them and
//! awaits the answer, so calls made concurrently on one connection (e.g. with
//! `join!`) are pipelined and answered in order.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;

use super::cancel::{BackendKey, CancelToken};
use super::from_row::FromRow;
use super::params::{DynParams, Params};
use super::request::{Request, RequestSender, Response, Sink, StreamItem, STREAM_CHANNEL};
use super::results::TextColumns;
use super::row::{Column, Row};
use super::runtime::{MaybeSend, Runtime};
use super::shared::{lock, LogListener, Shared};
use super::statement::{PreparedStatement, StatementCache, StatementInner};
use super::type_catalog::TypeTarget;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::{frontend, IsNull};
use crate::types::{with_type_map, FromSqlOwned, RawJson, ToSql, Type, TypeMap};
use crate::{DbError, Error, Result, SqlState};

/// The server's version, from the `server_version` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
    /// Third component for servers before 10 (e.g. 9.6.**24**), 0 otherwise.
    pub micro: u32,
}

impl ServerVersion {
    /// Parses `server_version` values such as `15.18 (Debian 15.18-0+deb12u1)`,
    /// `9.6.24` or `17beta1`.
    pub fn parse(s: &str) -> Option<ServerVersion> {
        let head = s.split(|c: char| !(c.is_ascii_digit() || c == '.')).next()?;
        let mut parts = head.split('.').filter(|p| !p.is_empty()).map(|p| p.parse::<u32>());
        let major = parts.next()?.ok()?;
        let minor = parts.next().and_then(|r| r.ok()).unwrap_or(0);
        let micro = parts.next().and_then(|r| r.ok()).unwrap_or(0);
        Some(ServerVersion { major, minor, micro })
    }
}

/// Settings that shape how a connection behaves once established.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionSettings {
    pub(crate) statement_cache_size: usize,
    pub(crate) max_cached_statement_lifetime: Duration,
    pub(crate) max_cacheable_statement_size: usize,
    /// Default timeout of every call (`command_timeout`).
    pub(crate) command_timeout: Option<Duration>,
}

impl ConnectionSettings {
    pub(crate) fn from_config(config: &crate::config::Config) -> ConnectionSettings {
        ConnectionSettings {
            statement_cache_size: config.get_statement_cache_size(),
            max_cached_statement_lifetime: config.get_max_cached_statement_lifetime(),
            max_cacheable_statement_size: config.get_max_cacheable_statement_size(),
            command_timeout: config.get_command_timeout(),
        }
    }
}

/// What a connection handle and its prepared statements share.
pub(crate) struct ConnInner {
    sender: RequestSender,
    pub(crate) shared: Arc<Shared>,
    runtime: Arc<dyn Runtime>,
    pub(crate) cache: Mutex<StatementCache>,
    /// User types learnt from the catalog and custom codecs (see `type_catalog`).
    pub(crate) types: Mutex<Arc<TypeMap>>,
    pub(crate) next_statement: AtomicU64,
    /// BackendKeyData (set when startup ends).
    backend: BackendKey,
    /// Requests sent so far (the pool's `max_queries`).
    requests: AtomicU64,
    /// Sends CancelRequests for this connection's backend.
    pub(crate) cancel: CancelToken,
    /// Default timeout of every call (`command_timeout`).
    pub(crate) command_timeout: Option<Duration>,
    /// A request owed before the next one: the pool's session reset of a
    /// connection handed straight to a waiting borrower, so that it leaves
    /// in the same write as that borrower's first request (see
    /// [`ConnInner::send_before_next`]).
    owed: Mutex<Option<Request>>,
}

/// A connection to PostgreSQL.
///
/// Create one with `edgepg::connect` (native) or the wasm crate's `connect`.
/// Methods take `&self`: share a connection between tasks with `Arc`, and
/// concurrent calls are pipelined.
///
/// Every call is bounded by `command_timeout` (none by default); use
/// [`Connection::with_timeout`] for another limit, and
/// [`Connection::cancel_token`] to cancel from elsewhere. Dropping the future
/// of a long-running call cancels it on the server.
///
/// ```no_run
/// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
/// conn.execute("CREATE TEMP TABLE t (id int8, name text)", &[]).await?;
/// conn.execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"]).await?;
/// let n: i64 = conn.fetchval("SELECT count(*) FROM t", &[]).await?;
/// assert_eq!(n, 1);
/// conn.close().await?;
/// # Ok(()) }
/// ```
pub struct Connection {
    pub(crate) inner: Arc<ConnInner>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("process_id", &self.get_server_pid())
            .field("closed", &self.inner.shared.is_closed())
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(
        sender: RequestSender,
        shared: Arc<Shared>,
        runtime: Arc<dyn Runtime>,
        settings: &ConnectionSettings,
        backend: BackendKey,
        cancel: CancelToken,
    ) -> Connection {
        let cache = StatementCache::new(
            settings.statement_cache_size,
            settings.max_cached_statement_lifetime,
            settings.max_cacheable_statement_size,
        );
        Connection {
            inner: Arc::new(ConnInner {
                sender,
                shared,
                runtime,
                cache: Mutex::new(cache),
                types: Mutex::new(Arc::new(TypeMap::default())),
                next_statement: AtomicU64::new(1),
                backend,
                requests: AtomicU64::new(0),
                cancel,
                command_timeout: settings.command_timeout,
                owed: Mutex::new(None),
            }),
        }
    }

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
    /// while a lazily started connection, see [`super::connect_pipelined`],
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
        let counted = super::query_log::Counting { iter: rows.into_iter(), count: &count };
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

pub(crate) fn first_value<T: FromSqlOwned>(row: Option<Row>) -> Result<T> {
    match row {
        Some(row) if row.is_empty() => Err(Error::interface("fetchval: the query returned no columns")),
        Some(row) => row.get(0),
        None => T::from_sql_null(Type::UNKNOWN)
            .map_err(|_| Error::interface("fetchval: the query returned no rows; fetch into Option<T> to allow that")),
    }
}

impl ConnInner {
    /// Queues any request; fails when the connection is closed.
    pub(crate) fn send(&self, request: Request) -> Result<()> {
        self.send_owed();
        if matches!(request, Request::Query { .. }) {
            self.shared.note_sent();
        }
        self.sender.unbounded_send(request).map_err(|_| self.shared.closed_error())
    }

    /// Queues `request` in front of the next request sent on this connection
    /// instead of now, so both leave in one write (the driver writes what is
    /// queued together). The pool uses it for the session reset of a
    /// connection it hands straight to a waiting borrower; it sends the reset
    /// at once ([`ConnInner::send_owed`]) when the connection goes idle.
    pub(crate) fn send_before_next(&self, request: Request) {
        *lock(&self.owed) = Some(request);
    }

    /// Queues the request owed by [`ConnInner::send_before_next`], if any.
    pub(crate) fn send_owed(&self) {
        let owed = lock(&self.owed).take();
        if let Some(request) = owed {
            if matches!(request, Request::Query { .. }) {
                self.shared.note_sent();
            }
            // A closed connection: the caller's own send reports it.
            let _ = self.sender.unbounded_send(request);
        }
    }

    /// A sender for requests that outlive a call (statement closes).
    pub(crate) fn sender(&self) -> RequestSender {
        self.sender.clone()
    }

    /// How many requests (round trips) this connection was asked to make.
    pub(crate) fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The runtime (timers, spawning) this connection runs on.
    pub(crate) fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.runtime
    }

    /// Queues a request and waits for its whole response.
    pub(crate) async fn request(
        &self,
        bytes: BytesMut,
        syncs: u32,
        columns: Option<Arc<[Column]>>,
    ) -> Result<Response> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.send_owed();
        let (tx, rx) = oneshot::channel();
        let req = Request::collect(bytes, syncs, columns, tx);
        self.shared.note_sent();
        if self.sender.unbounded_send(req).is_err() {
            return Err(self.shared.closed_error());
        }
        match rx.await {
            Ok(r) => r?.into_result(),
            Err(_canceled) => Err(self.shared.closed_error()),
        }
    }

    pub(crate) async fn simple_query(&self, sql: &str) -> Result<String> {
        let mut buf = BytesMut::with_capacity(sql.len() + 6);
        frontend::query(sql, &mut buf)?;
        let response = self.request(buf, 1, None).await?;
        Ok(response.last_tag().unwrap_or_default().to_owned())
    }

    pub(crate) fn now(&self) -> Duration {
        self.runtime.now()
    }

    /// A cached statement for `sql`, preparing (and caching) it on a miss.
    pub(crate) async fn prepare_cached(&self, sql: &str) -> Result<Arc<StatementInner>> {
        let (hit, named) = {
            let mut cache = lock(&self.cache);
            (cache.get(sql, self.now()), cache.cacheable(sql))
        };
        if let Some(stmt) = hit {
            return Ok(stmt);
        }
        let stmt = self.prepare_new(sql, named).await?;
        if named {
            lock(&self.cache).insert(stmt.clone());
        }
        Ok(stmt)
    }

    /// Parse + Describe + Sync: one round trip.
    pub(crate) async fn prepare_new(&self, sql: &str, named: bool) -> Result<Arc<StatementInner>> {
        let name = if named {
            format!("edgepg_s{}", self.next_statement.fetch_add(1, Ordering::Relaxed))
        } else {
            String::new()
        };
        let mut buf = BytesMut::with_capacity(sql.len() + name.len() * 2 + 32);
        frontend::parse(&name, sql, &[], &mut buf)?;
        frontend::describe(b'S', &name, &mut buf)?;
        frontend::sync(&mut buf);
        let response = self.request(buf, 1, None).await?;
        let mut params = response.params.unwrap_or_default();
        let columns: Vec<Column> =
            response.results.into_iter().next().and_then(|r| r.columns).map(|c| c.to_vec()).unwrap_or_default();
        let types = self.resolve_types(params.iter().copied().chain(columns.iter().map(|c| c.type_()))).await?;
        // Parameters of domain types are described as their base types, so a
        // typed value (an `i32` for a domain over int4) encodes in binary like
        // the base type; the server still checks the domain's constraints.
        with_type_map(&types, || params.iter_mut().for_each(|t| *t = t.base()));
        Ok(Arc::new(StatementInner::new(
            name,
            sql.to_owned(),
            params,
            columns,
            self.now(),
            self.sender.clone(),
            self.shared.clone(),
            types,
        )))
    }

    /// Runs `sql` with `params` through the statement cache. When a cached
    /// statement went stale (its table was altered, or a pooler lost it) and
    /// no transaction is open, it is re-prepared and run once more.
    pub(crate) async fn query(&self, sql: &str, params: &(dyn Params + Sync), max_rows: i32) -> Result<Response> {
        self.query_as(sql, params, max_rows, TextColumns::Default).await
    }

    /// [`ConnInner::query`] with the result columns `text` selects asked for
    /// in text format instead of binary.
    pub(crate) async fn query_as(
        &self,
        sql: &str,
        params: &(dyn Params + Sync),
        max_rows: i32,
        text: TextColumns<'_>,
    ) -> Result<Response> {
        // Startup still pipelined: a cache miss goes in the same flight
        // (every result column comes in text format then).
        if let Some(flight) = self.first_flight(sql, params, max_rows) {
            return self.run_first_flight(sql, flight?).await;
        }
        let stmt = self.prepare_cached(sql).await?;
        match self.bind_execute_as(&stmt, params, max_rows, text).await {
            Err(e) if stmt.is_named() && is_stale_statement(&e) => {
                lock(&self.cache).remove(sql);
                if self.shared.status() != TransactionStatus::Idle {
                    return Err(e.context(
                        "a cached prepared statement became invalid inside a transaction (the schema changed); \
                         roll back and retry",
                    ));
                }
                let stmt = self.prepare_cached(sql).await?;
                self.bind_execute_as(&stmt, params, max_rows, text).await
            }
            other => other,
        }
    }

    /// Bind + Execute + Sync: one round trip.
    pub(crate) async fn bind_execute(
        &self,
        stmt: &StatementInner,
        params: &(dyn Params + Sync),
        max_rows: i32,
    ) -> Result<Response> {
        let mut buf = BytesMut::with_capacity(64 + stmt.sql.len());
        if !stmt.is_named() {
            // The unnamed statement may have been replaced by another request
            // since it was described: parse it again in the same flight.
            frontend::parse("", &stmt.sql, &type_oids(&stmt.params), &mut buf)?;
        }
        encode_bind(stmt, params, &mut buf)?;
        frontend::execute("", max_rows, &mut buf)?;
        frontend::sync(&mut buf);
        self.request(buf, 1, Some(stmt.columns.clone())).await
    }

    /// [`ConnInner::bind_execute`] with the columns `text` selects in text format.
    pub(crate) async fn bind_execute_as(
        &self,
        stmt: &StatementInner,
        params: &(dyn Params + Sync),
        max_rows: i32,
        text: TextColumns<'_>,
    ) -> Result<Response> {
        let Some((formats, columns)) = text.apply(&stmt.columns) else {
            return self.bind_execute(stmt, params, max_rows).await;
        };
        let mut buf = BytesMut::with_capacity(64 + stmt.sql.len());
        if !stmt.is_named() {
            frontend::parse("", &stmt.sql, &type_oids(&stmt.params), &mut buf)?;
        }
        encode_bind_formats("", stmt, params, &formats, &mut buf)?;
        frontend::execute("", max_rows, &mut buf)?;
        frontend::sync(&mut buf);
        self.request(buf, 1, Some(columns)).await
    }

    /// Runs `sql` like [`ConnInner::query`] (statement cache, one retry of a
    /// stale cached statement) and hands its rows to `on_rows` batch by
    /// batch as they are read from the socket, instead of all at the end:
    /// the caller decodes them while the rest is still on the way. Every row
    /// is handed over exactly once, in order; an error after some batches
    /// fails the call (the caller drops what it got).
    pub(crate) async fn fetch_streamed(
        &self,
        sql: &str,
        params: &(dyn Params + Sync),
        on_rows: &mut dyn RowBatches,
    ) -> Result<()> {
        // Startup still pipelined: the one-flight path collects (a cache miss
        // goes in the startup flight).
        if self.first_flight(sql, params, 0).is_some() {
            let response = self.query(sql, params, 0).await?;
            let rows = response.results.into_iter().next().map(|r| r.rows).unwrap_or_default();
            return if rows.is_empty() { Ok(()) } else { on_rows(rows) };
        }
        let stmt = self.prepare_cached(sql).await?;
        let mut streamed = false;
        match self.bind_execute_streamed(&stmt, params, on_rows, &mut streamed).await {
            // A stale statement fails at Bind, before any row: run it again.
            Err(e) if !streamed && stmt.is_named() && is_stale_statement(&e) => {
                lock(&self.cache).remove(sql);
                if self.shared.status() != TransactionStatus::Idle {
                    return Err(e.context(
                        "a cached prepared statement became invalid inside a transaction (the schema changed); \
                         roll back and retry",
                    ));
                }
                let stmt = self.prepare_cached(sql).await?;
                self.bind_execute_streamed(&stmt, params, on_rows, &mut streamed).await
            }
            other => other,
        }
    }

    /// Bind + Execute + Sync of `stmt` with a streamed response (see
    /// [`ConnInner::fetch_streamed`]); `streamed` is set once a batch was handed over.
    async fn bind_execute_streamed(
        &self,
        stmt: &StatementInner,
        params: &(dyn Params + Sync),
        on_rows: &mut dyn RowBatches,
        streamed: &mut bool,
    ) -> Result<()> {
        let mut bytes = BytesMut::with_capacity(64 + stmt.sql.len());
        if !stmt.is_named() {
            frontend::parse("", &stmt.sql, &type_oids(&stmt.params), &mut bytes)?;
        }
        encode_bind(stmt, params, &mut bytes)?;
        frontend::execute("", 0, &mut bytes)?;
        frontend::sync(&mut bytes);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let (tx, mut rx) = mpsc::channel(STREAM_CHANNEL);
        let columns = Some(stmt.columns.clone());
        self.send(Request::Query { bytes, syncs: 1, columns, sink: Sink::Stream(tx), copy_in: None })?;
        // Dropping `rx` early (an error below, or the caller's future) makes
        // the driver read and drop the rest of the response.
        loop {
            match rx.next().await {
                Some(StreamItem::Rows(rows)) => {
                    *streamed = true;
                    on_rows(rows)?;
                }
                Some(StreamItem::End(response)) => {
                    let rest = response?.into_result()?.results.into_iter().next().map(|r| r.rows);
                    return match rest {
                        Some(rows) if !rows.is_empty() => on_rows(rows),
                        _ => Ok(()),
                    };
                }
                // COPY TO STDOUT through a call that fetches rows: its data is dropped.
                Some(StreamItem::CopyOut { .. } | StreamItem::CopyData(_)) => {}
                None => return Err(self.shared.closed_error()),
            }
        }
    }

    pub(crate) async fn executemany_stmt<I, P>(&self, stmt: &StatementInner, rows: I) -> Result<()>
    where
        I: IntoIterator<Item = P>,
        P: Params,
    {
        let mut buf = BytesMut::with_capacity(256);
        if !stmt.is_named() {
            frontend::parse("", &stmt.sql, &type_oids(&stmt.params), &mut buf)?;
        }
        for (i, row) in rows.into_iter().enumerate() {
            encode_bind(stmt, &row, &mut buf).map_err(|e| e.context(format_args!("executemany row {i}")))?;
            frontend::execute("", 0, &mut buf)?;
        }
        frontend::sync(&mut buf);
        self.request(buf, 1, Some(stmt.columns.clone())).await?;
        Ok(())
    }
}

pub(crate) fn type_oids(types: &[Type]) -> Vec<u32> {
    types.iter().map(|t| t.oid()).collect()
}

/// Writes a Bind of `params` to the unnamed portal.
pub(crate) fn encode_bind(stmt: &StatementInner, params: &dyn Params, buf: &mut BytesMut) -> Result<()> {
    encode_bind_to("", stmt, params, buf)
}

/// Writes a Bind of `params` to `portal` (named portals back cursors).
pub(crate) fn encode_bind_to(
    portal: &str,
    stmt: &StatementInner,
    params: &dyn Params,
    buf: &mut BytesMut,
) -> Result<()> {
    encode_bind_formats(portal, stmt, params, &stmt.result_formats, buf)
}

/// Writes a Bind of `params` to `portal` asking for results in `result_formats`.
fn encode_bind_formats(
    portal: &str,
    stmt: &StatementInner,
    params: &dyn Params,
    result_formats: &[i16],
    buf: &mut BytesMut,
) -> Result<()> {
    let n = params.len();
    if n != stmt.params.len() {
        return Err(Error::interface(format!(
            "the statement expects {} argument(s), {} given: {}",
            stmt.params.len(),
            n,
            abbreviate(&stmt.sql)
        )));
    }
    match &stmt.types {
        // User types (composites, ranges of user types, codecs) need the map while encoding.
        Some(map) => with_type_map(map, || bind_params(portal, stmt, params, result_formats, buf)),
        None => bind_params(portal, stmt, params, result_formats, buf),
    }
}

fn bind_params(
    portal: &str,
    stmt: &StatementInner,
    params: &dyn Params,
    result_formats: &[i16],
    buf: &mut BytesMut,
) -> Result<()> {
    let n = params.len();
    let formats: Vec<i16> = (0..n).map(|i| params.param(i).encode_format(stmt.params[i]).code()).collect();
    frontend::bind(
        portal,
        &stmt.name,
        &formats,
        0..n,
        |i, out| -> Result<IsNull> {
            params
                .param(i)
                .to_sql_checked(stmt.params[i], out)
                .map_err(|e| e.context(format_args!("argument ${}", i + 1)))
        },
        result_formats,
        buf,
    )
}

fn abbreviate(sql: &str) -> String {
    let s: String = sql.chars().take(80).collect();
    if s.len() < sql.len() {
        format!("{s}...")
    } else {
        s
    }
}

/// Errors that mean "this cached statement no longer matches the server".
/// Where [`ConnInner::fetch_streamed`] hands its batches of rows (`Send`
/// on native targets, where futures are).
pub(crate) trait RowBatches: FnMut(Vec<Row>) -> Result<()> + MaybeSend {}

impl<F: FnMut(Vec<Row>) -> Result<()> + MaybeSend> RowBatches for F {}

fn is_stale_statement(e: &Error) -> bool {
    match e.as_db_error() {
        Some(db) => {
            (db.code == SqlState::FEATURE_NOT_SUPPORTED
                && db.message.contains("cached plan must not change result type"))
                || db.code == SqlState::INVALID_SQL_STATEMENT_NAME
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_version_parse() {
        assert_eq!(
            ServerVersion::parse("15.18 (Debian 15.18-0+deb12u1)"),
            Some(ServerVersion { major: 15, minor: 18, micro: 0 })
        );
        assert_eq!(ServerVersion::parse("9.6.24"), Some(ServerVersion { major: 9, minor: 6, micro: 24 }));
        assert_eq!(ServerVersion::parse("17beta1"), Some(ServerVersion { major: 17, minor: 0, micro: 0 }));
        assert_eq!(ServerVersion::parse("garbage"), None);
    }
}
