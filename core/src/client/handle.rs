//! The connection handle's insides: the [`Connection`] type, [`ConnInner`]
//! (what a handle shares with its prepared statements and cursors) and the
//! query primitives every operation is built from: one request round trip,
//! prepare through the statement cache, Bind/Execute encoding.
//!
//! The public methods of [`Connection`] are in `super::connection`; this
//! module is what the per-operation modules (transactions, COPY, cursors,
//! batches, ...) build on, so it must not depend on any of them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use futures_channel::oneshot;

use super::cancel::{BackendKey, CancelToken};
use super::formats::TextColumns;
use super::params::Params;
use super::request::{Request, RequestSender, Response, Sink};
use super::row::{Column, Row};
use super::runtime::Runtime;
use super::shared::{lock, Shared};
use super::statement::{StatementCache, StatementInner};
use crate::protocol::backend::TransactionStatus;
use crate::protocol::{frontend, IsNull};
use crate::types::{with_type_map, FromSqlOwned, Type, TypeMap};
use crate::{Error, Result, SqlState};

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
    pub(crate) sender: RequestSender,
    pub(crate) shared: Arc<Shared>,
    runtime: Arc<dyn Runtime>,
    pub(crate) cache: Mutex<StatementCache>,
    /// User types learnt from the catalog and custom codecs (see `type_catalog`).
    pub(crate) types: Mutex<Arc<TypeMap>>,
    pub(crate) next_statement: AtomicU64,
    /// BackendKeyData (set when startup ends).
    pub(crate) backend: BackendKey,
    /// Requests sent so far (the pool's `max_queries`).
    requests: AtomicU64,
    /// Sends CancelRequests for this connection's backend.
    pub(crate) cancel: CancelToken,
    /// Default timeout of every call (`command_timeout`).
    pub(crate) command_timeout: Option<Duration>,
    /// What the pool puts in front of the caller's requests (see
    /// [`Owed`]). Its lock is held while a request is queued, so what it
    /// holds and that request stay together on the wire.
    owed: Mutex<Owed>,
}

/// Requests the pool sends in front of a caller's, so they leave in the same
/// write instead of costing one of their own.
#[derive(Default)]
struct Owed {
    /// Owed before the next request, once: the session reset of a connection
    /// handed straight to a waiting borrower ([`ConnInner::send_before_next`]).
    next: Option<Request>,
    /// Sent before every caller's request while pool shortcut calls share
    /// the connection: the session reset, so that each call starts from a
    /// clean session as if it had the connection to itself
    /// ([`ConnInner::reset_between_calls`]).
    every: Option<BytesMut>,
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
                owed: Mutex::new(Owed::default()),
            }),
        }
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
        let mut owed = lock(&self.owed);
        let before = match (owed.next.take(), &owed.every, &request) {
            (Some(first), _, _) => Some(first),
            // Only in front of a caller's request: not of the connection's
            // own housekeeping (closing statements), which changes no session.
            (None, Some(reset), Request::Query { sink, .. }) if !matches!(sink, Sink::Discard) => {
                Some(Request::discard(reset.clone(), 1))
            }
            _ => None,
        };
        if let Some(before) = before {
            self.queue(before);
        }
        if matches!(request, Request::Query { .. }) {
            self.shared.note_sent();
        }
        self.sender.unbounded_send(request).map_err(|_| self.shared.closed_error())
    }

    /// Queues a request of the pool's own; a closed connection is reported
    /// by the caller's send that follows.
    fn queue(&self, request: Request) {
        if matches!(request, Request::Query { .. }) {
            self.shared.note_sent();
        }
        let _ = self.sender.unbounded_send(request);
    }

    /// Queues `request` in front of the next request sent on this connection
    /// instead of now, so both leave in one write (the driver writes what is
    /// queued together). The pool uses it for the session reset of a
    /// connection it hands straight to a waiting borrower; it sends the reset
    /// at once ([`ConnInner::send_owed`]) when the connection goes idle.
    pub(crate) fn send_before_next(&self, request: Request) {
        lock(&self.owed).next = Some(request);
    }

    /// Queues the request owed by [`ConnInner::send_before_next`], if any.
    pub(crate) fn send_owed(&self) {
        let mut owed = lock(&self.owed);
        if let Some(request) = owed.next.take() {
            self.queue(request);
        }
    }

    /// While `reset` is `Some`, it is queued in front of every caller's
    /// request (see [`Owed::every`]); the pool sets it while shortcut calls
    /// share the connection and clears it when the last one leaves.
    pub(crate) fn reset_between_calls(&self, reset: Option<BytesMut>) {
        lock(&self.owed).every = reset;
    }

    /// A sender for requests that outlive a call (statement closes).
    pub(crate) fn sender(&self) -> RequestSender {
        self.sender.clone()
    }

    /// Counts one more request for [`ConnInner::request_count`] (for the
    /// requests not sent through [`ConnInner::request`]).
    pub(crate) fn note_request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
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
        let (tx, rx) = oneshot::channel();
        self.send(Request::collect(bytes, syncs, columns, tx))?;
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
        let types =
            self.resolve_types(params.iter().copied().chain(columns.iter().map(|c| c.type_())).collect()).await?;
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
        if let Some(flight) = self.pipelined_one_flight(sql, params, max_rows) {
            return self.run_one_flight(sql, flight?).await;
        }
        let stmt = self.prepare_cached(sql).await?;
        match self.bind_execute_as(&stmt, params, max_rows, text).await {
            Err(e) if stmt.is_named() && is_stale_statement(&e) => {
                self.forget_stale(sql, e)?;
                let stmt = self.prepare_cached(sql).await?;
                self.bind_execute_as(&stmt, params, max_rows, text).await
            }
            other => other,
        }
    }

    /// After cached statement `sql` failed as stale (`e`): drops it from the
    /// cache, and says whether to prepare it again and run once more — Ok
    /// outside a transaction, else `e` (the transaction is aborted anyway).
    pub(crate) fn forget_stale(&self, sql: &str, e: Error) -> Result<()> {
        lock(&self.cache).remove(sql);
        if self.shared.status() != TransactionStatus::Idle {
            return Err(e.context(
                "a cached prepared statement became invalid inside a transaction (the schema changed); \
                 roll back and retry",
            ));
        }
        Ok(())
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
pub(crate) fn is_stale_statement(e: &Error) -> bool {
    match e.as_db_error() {
        Some(db) => {
            (db.code == SqlState::FEATURE_NOT_SUPPORTED
                && db.message.contains("cached plan must not change result type"))
                || db.code == SqlState::INVALID_SQL_STATEMENT_NAME
        }
        None => false,
    }
}
