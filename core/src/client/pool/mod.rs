//! The connection pool: [`Pool`], [`PoolConnection`], [`PoolOptions`].
//!
//! Written once for every transport: the pool gets a [`ConnectFn`] that makes
//! connections and the [`Runtime`] for timers and background tasks, so the
//! native crate's `edgepg::create_pool` and the wasm crate share it.
//!
//! | module | concern |
//! |---|---|
//! | `options` | [`PoolOptions`] and the `connect`/`init`/`setup`/`reset` hooks |
//! | `state` | idle connections, FIFO waiters, slot accounting (synchronous, under one mutex) |
//! | `guard` | [`PoolConnection`] and [`Lease`], which return their connection on drop |
//! | `reset` | cleaning a released connection; the health check |
//! | `share` | which shortcut calls may be pipelined onto a shared connection |
//!
//! How it improves on asyncpg's pool: `acquire` has a timeout by default and
//! serves waiters strictly first come first served; a connection idle for a
//! while is checked before it is lent; releasing never hangs (bounded by
//! `release_timeout`); a connection dropped mid-query is only reused once the
//! driver has finished that query and the session is clean; and since
//! requests on one connection are queued and pipelined, there is no "another
//! operation is in progress".

mod guard;
mod options;
mod reset;
mod share;
mod state;

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_channel::oneshot;
use futures_util::future::{select, Either};

use self::reset::CleanNow;
use self::state::{AfterFree, Grant, Pooled, Seat, State};
use super::duration_text::Shown;
use super::from_row::FromRow;
use super::handle::Connection;
use super::params::Params;
use super::request::Request;
use super::row::Row;
use super::runtime::{timeout, Runtime};
use super::shared::lock;
use crate::protocol::backend::TransactionStatus;
use crate::types::{FromSqlOwned, ToSql};
use crate::{Error, ErrorKind, Result};

pub use self::guard::{Lease, PoolConnection};
use self::guard::{LeaseKind, SharedSeat};
pub use self::options::{default_reset, ConnectFn, Hook, PoolOptions, DEFAULT_RESET_SQL};

/// A pool of connections, cheap to clone (clones share the pool).
///
/// Create it with `edgepg::create_pool(dsn, options)` on native, or with
/// [`Pool::new`] and your own connect function.
///
/// ```no_run
/// # async fn demo(pool: edgepg_core::client::pool::Pool) -> edgepg_core::Result<()> {
/// // One-off queries borrow a connection for the call.
/// let n: i64 = pool.fetchval("SELECT $1::int8 + 1", &[&41i64]).await?;
/// assert_eq!(n, 42);
/// // Several statements on the same session: hold a connection.
/// let conn = pool.acquire().await?;
/// conn.execute("BEGIN", &[]).await?;
/// conn.execute("COMMIT", &[]).await?;
/// pool.release(conn).await?;
/// pool.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

pub(crate) struct PoolInner {
    state: Mutex<State>,
    options: PoolOptions,
    connect: ConnectFn,
    runtime: Arc<dyn Runtime>,
    /// The reset as bytes, encoded once, when it can go in front of a call
    /// on a shared connection (the default reset; see `reset::pipelined_reset`).
    shared_reset: Option<bytes::BytesMut>,
    /// This pool, for hand-offs and background tasks that must not keep it alive.
    weak: Weak<PoolInner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.get_size())
            .field("idle", &self.get_idle_size())
            .field("options", &self.inner.options)
            .finish()
    }
}

fn closed_pool() -> Error {
    Error::new(ErrorKind::Closed, "the pool is closed")
}

/// A slot taken for a connection not open yet; given back if dropped armed.
struct SlotGuard {
    pool: Arc<PoolInner>,
    armed: bool,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        if self.armed {
            self.pool.free(None);
        }
    }
}

impl Pool {
    /// Creates a pool that makes connections with `connect` (unless
    /// `options.connect` replaces it) and runs its timers and background
    /// work on `runtime`. Opens `options.min_size` connections first: one,
    /// so a wrong password or host fails here, then the rest concurrently.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use edgepg_core::client::{pool::{Pool, PoolOptions, ConnectFn}, Runtime};
    /// # async fn demo(runtime: Arc<dyn Runtime>, connect: ConnectFn) -> edgepg_core::Result<()> {
    /// let pool = Pool::new(runtime, connect, PoolOptions { min_size: 2, max_size: 8, ..Default::default() }).await?;
    /// assert_eq!(pool.get_size(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn new(runtime: Arc<dyn Runtime>, connect: ConnectFn, options: PoolOptions) -> Result<Pool> {
        options.validate()?;
        let connect = options.connect.clone().unwrap_or(connect);
        let shared_reset = options.reset.as_ref().and_then(reset::pipelined_reset);
        let inner = Arc::new_cyclic(|weak| PoolInner {
            state: Mutex::new(State::new()),
            shared_reset,
            options,
            connect,
            runtime,
            weak: weak.clone(),
        });
        let pool = Pool { inner };
        let min = pool.inner.options.min_size;
        if min > 0 {
            let result = match pool.inner.fill_one().await {
                Ok(()) => {
                    let rest = (1..min).map(|_| pool.inner.fill_one());
                    futures_util::future::join_all(rest).await.into_iter().collect::<Result<Vec<()>>>().map(|_| ())
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                pool.terminate();
                return Err(e);
            }
        }
        // The reaper starts with the first connection opened, not here: a
        // pool created where timers are refused (a Worker's module scope)
        // must still get one once it is used in a request.
        lock(&pool.inner.state).reaper_due = pool.inner.options.max_inactive_connection_lifetime;
        pool.inner.start_reaper();
        Ok(pool)
    }

    /// Borrows a connection: an idle one (checked first if it sat idle for
    /// `health_check_after`), else a new one while fewer than `max_size` are
    /// open, else the first one released — waiters are served in arrival
    /// order. Fails with [`ErrorKind::Timeout`] after `acquire_timeout`.
    ///
    /// ```no_run
    /// # async fn demo(pool: edgepg_core::client::pool::Pool) -> edgepg_core::Result<()> {
    /// let conn = pool.acquire().await?;
    /// let rows = conn.fetch("SELECT 1", &[]).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A new connection is handed out only once the server accepted its
    /// password, even with `pipeline_connect=password` (use
    /// [`Pool::acquire_lazy`] to let the first call carry the startup).
    pub async fn acquire(&self) -> Result<PoolConnection> {
        let conn = self.acquire_lazy().await?;
        if conn.is_starting() {
            // On failure the guard drops and the dead connection leaves the pool.
            conn.ready().await?;
        }
        Ok(conn)
    }

    /// Like [`Pool::acquire`], but a connection that is still starting (lazy
    /// startup with `pipeline_connect=password`) is handed out at once: its
    /// first call goes out with the startup messages, and reports a wrong
    /// password. The pool's shortcuts (`pool.fetch` & co) use this.
    pub async fn acquire_lazy(&self) -> Result<PoolConnection> {
        let mut acquire = std::pin::pin!(self.inner.acquire());
        // Most acquires find an idle connection at once: only arm the
        // timeout (a timer in the runtime: on wasm a JS setTimeout and its
        // callback) when this one has to wait.
        if let Some(done) = poll_once(acquire.as_mut()).await {
            return done;
        }
        match self.inner.options.acquire_timeout {
            Some(t) => {
                timeout(&*self.inner.runtime, t, acquire).await.unwrap_or_else(|()| Err(self.acquire_timed_out(t)))
            }
            None => acquire.await,
        }
    }

    fn acquire_timed_out(&self, limit: Duration) -> Error {
        Error::timeout(format!(
            "no pooled connection became available within {} (acquire_timeout; max_size is {})",
            Shown(limit),
            self.inner.options.max_size
        ))
    }

    /// Gives a connection back now and waits until it is cleaned (dropping
    /// the guard does the same in the background). Returns the cleaning
    /// error, if any; the connection was then closed and will be replaced.
    pub async fn release(&self, conn: PoolConnection) -> Result<()> {
        let pool = conn.pool.clone();
        pool.release_pooled(conn.take()).await
    }

    /// Replaces every connection: idle ones are closed now (and reopened up
    /// to `min_size`), acquired ones when released. Use it after a schema
    /// change or failover.
    pub async fn expire_connections(&self) {
        let idle: Vec<Pooled> = {
            let mut st = lock(&self.inner.state);
            st.generation = st.generation.wrapping_add(1);
            st.idle.drain(..).collect()
        };
        let t = self.inner.options.release_timeout;
        let closes = idle.into_iter().map(|p| async move {
            let _ = timeout(&*self.inner.runtime, t, p.conn.close()).await;
            self.inner.discard(p);
        });
        futures_util::future::join_all(closes).await;
    }

    /// Closes the pool gracefully: new acquires fail, waiting ones too, idle
    /// connections are closed, and it returns once every acquired connection
    /// has been released and closed.
    pub async fn close(&self) -> Result<()> {
        let (idle, done) = {
            let mut st = lock(&self.inner.state);
            st.closing = true;
            st.reaper_stop = None;
            st.reaper_due = None;
            // Dropping the senders fails the waiting acquires (and sends
            // the calls waiting for a seat to the acquire path, which fails).
            st.waiters.clear();
            st.seat_waiters.clear();
            let idle: Vec<Pooled> = st.idle.drain(..).collect();
            let done = if st.size == 0 {
                None
            } else {
                let (tx, rx) = oneshot::channel();
                st.close_waiters.push(tx);
                Some(rx)
            };
            (idle, done)
        };
        let t = self.inner.options.release_timeout;
        let closes = idle.into_iter().map(|p| async move {
            let _ = timeout(&*self.inner.runtime, t, p.conn.close()).await;
            self.inner.free(Some(p.meta.id));
        });
        futures_util::future::join_all(closes).await;
        if let Some(rx) = done {
            let _ = rx.await;
        }
        Ok(())
    }

    /// Closes every connection at once, acquired ones included (their
    /// queries fail), without waiting.
    pub fn terminate(&self) {
        let (idle, live) = {
            let mut st = lock(&self.inner.state);
            st.closing = true;
            st.reaper_stop = None;
            st.reaper_due = None;
            st.waiters.clear();
            st.seat_waiters.clear();
            let idle: Vec<Pooled> = st.idle.drain(..).collect();
            let live: Vec<_> = st.live.values().cloned().collect();
            (idle, live)
        };
        for inner in live {
            Connection { inner }.terminate();
        }
        for p in idle {
            self.inner.free(Some(p.meta.id));
        }
    }

    /// True once [`Pool::close`] or [`Pool::terminate`] was called.
    pub fn is_closing(&self) -> bool {
        lock(&self.inner.state).closing
    }

    /// Connections open or being opened, idle or acquired.
    pub fn get_size(&self) -> usize {
        lock(&self.inner.state).size
    }

    /// Connections idle in the pool.
    pub fn get_idle_size(&self) -> usize {
        lock(&self.inner.state).idle.len()
    }

    /// `min_size` of the options.
    pub fn get_min_size(&self) -> usize {
        self.inner.options.min_size
    }

    /// `max_size` of the options.
    pub fn get_max_size(&self) -> usize {
        self.inner.options.max_size
    }

    /// [`Connection::execute`] on a connection borrowed for the call.
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<String> {
        self.with_lease(sql, false, |c| async move { c.execute(sql, params).await }).await
    }

    /// [`Connection::executemany`] on a connection borrowed for the call.
    ///
    /// ```no_run
    /// # async fn demo(pool: edgepg_core::client::pool::Pool) -> edgepg_core::Result<()> {
    /// pool.executemany("INSERT INTO t VALUES ($1)", (0..10i64).map(|i| (i,))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn executemany<I, P>(&self, sql: &str, rows: I) -> Result<()>
    where
        I: IntoIterator<Item = P>,
        P: Params,
    {
        self.acquire_lazy().await?.executemany(sql, rows).await
    }

    /// [`Connection::fetch`] on a connection borrowed for the call. On an
    /// empty pool whose connections start lazily (`pipeline_connect=password`),
    /// connecting and the query take one round trip together.
    pub async fn fetch(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.with_lease(sql, false, |c| async move { c.fetch(sql, params).await }).await
    }

    /// [`Connection::fetchrow`] on a connection borrowed for the call.
    pub async fn fetchrow(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        self.with_lease(sql, false, |c| async move { c.fetchrow(sql, params).await }).await
    }

    /// [`Connection::fetch_as`] on a connection borrowed for the call.
    pub async fn fetch_as<T: FromRow>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<T>> {
        self.with_lease(sql, false, |c| async move { c.fetch_as(sql, params).await }).await
    }

    /// [`Connection::fetchrow_as`] on a connection borrowed for the call.
    pub async fn fetchrow_as<T: FromRow>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<T>> {
        self.with_lease(sql, false, |c| async move { c.fetchrow_as(sql, params).await }).await
    }

    /// [`Connection::fetchval`] on a connection borrowed for the call.
    pub async fn fetchval<T: FromSqlOwned>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<T> {
        self.with_lease(sql, false, |c| async move { c.fetchval(sql, params).await }).await
    }

    /// Borrows a connection for ONE call running `sql` — what the shortcuts
    /// above use. Like [`Pool::acquire_lazy`], except that with
    /// [`PoolOptions::pipeline_depth`] above 1 and `sql` a single plain
    /// statement, a caller that would otherwise wait for a release is seated
    /// on the least busy connection other such calls are using, and its call
    /// is pipelined behind theirs. Use the lease for that one call only.
    ///
    /// ```no_run
    /// # async fn demo(pool: edgepg_core::client::pool::Pool) -> edgepg_core::Result<()> {
    /// let sql = "SELECT $1::int8 + 1";
    /// let conn = pool.acquire_for(sql).await?;
    /// let two: i64 = conn.fetchval(sql, &[&1i64]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn acquire_for(&self, sql: &str) -> Result<Lease> {
        self.lease(sql, false).await
    }

    /// [`Pool::acquire_for`]`(sql)`, or a connection of its own when `own`
    /// (a call that may be cancelled: a cancel is only safe when nothing is
    /// pipelined behind the call).
    pub async fn lease(&self, sql: &str, own: bool) -> Result<Lease> {
        let depth = self.inner.options.pipeline_depth;
        if own || depth <= 1 || !share::is_shareable(sql) {
            return Ok(Lease(LeaseKind::Own(self.acquire_lazy().await?)));
        }
        let mut deadline = None;
        loop {
            let (max_size, runtime) = (self.inner.options.max_size, &self.inner.runtime);
            let seat = lock(&self.inner.state).seat_for_shortcut(depth, max_size, runtime.now());
            let (conn, id) = match seat {
                Seat::Taken(conn, id) => (conn, id),
                Seat::Acquire => break,
                Seat::Wait(freed) => {
                    // Bounded by acquire_timeout, like any wait for a connection.
                    let Some(limit) = self.inner.options.acquire_timeout else {
                        let _ = freed.await;
                        continue;
                    };
                    let deadline = *deadline.get_or_insert_with(|| runtime.now() + limit);
                    let left = deadline.saturating_sub(runtime.now());
                    if timeout(&**runtime, left, freed).await.is_err() {
                        return Err(self.acquire_timed_out(limit));
                    }
                    continue;
                }
            };
            // From now on every call on this connection is preceded by the
            // session reset, in the same write: each call starts from a clean
            // session, as if the connection had been released in between.
            // With a custom reset hook (code, not a query) nothing can go in
            // between: the hook runs when the last call returns the connection.
            conn.inner.reset_between_calls(self.inner.shared_reset.clone());
            return Ok(Lease(LeaseKind::Shared(SharedSeat { pool: self.inner.clone(), conn, id })));
        }
        // No seat free: an idle connection, a new one, or the next released
        // one, which then takes further calls beside this one.
        let p = self.acquire_lazy().await?.into_shared();
        let (conn, id) = (Connection { inner: p.conn.inner.clone() }, p.meta.id);
        lock(&self.inner.state).share(p, self.inner.runtime.now());
        Ok(Lease(LeaseKind::Shared(SharedSeat { pool: self.inner.clone(), conn, id })))
    }

    /// [`Pool::with_retry`] on [`Pool::acquire_for`]`(sql)`, or on a
    /// connection of its own when `own` (a call that may be cancelled: a
    /// cancel is only safe when nothing is pipelined behind the call).
    ///
    /// ```no_run
    /// # async fn demo(pool: edgepg_core::client::pool::Pool) -> edgepg_core::Result<()> {
    /// let sql = "SELECT $1::int8 + 1";
    /// let two: i64 = pool.with_lease(sql, false, |c| async move { c.fetchval(sql, &[&1i64]).await }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn with_lease<T, F, Fut>(&self, sql: &str, own: bool, mut call: F) -> Result<T>
    where
        F: FnMut(Lease) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut retries = 0;
        loop {
            match call(self.lease(sql, own).await?).await {
                Err(e) if e.is_unsent() && retries < self.inner.options.max_size => retries += 1,
                result => return result,
            }
        }
    }

    /// Runs `call` on a borrowed connection (see [`Pool::acquire_lazy`]).
    /// When the call fails before any byte of it reached the server
    /// ([`Error::is_unsent`]: the socket refused the write, as a Cloudflare
    /// Worker's socket does when a later request uses it), the broken
    /// connection leaves the pool and the call runs again on another one:
    /// at most `max_size` times, so even a pool full of such connections is
    /// drained and the call ends on a fresh one. Anything that reached the
    /// server is never run twice.
    pub async fn with_retry<T, F, Fut>(&self, mut call: F) -> Result<T>
    where
        F: FnMut(PoolConnection) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut retries = 0;
        loop {
            match call(self.acquire_lazy().await?).await {
                Err(e) if e.is_unsent() && retries < self.inner.options.max_size => retries += 1,
                result => return result,
            }
        }
    }
}

/// Polls `fut` once: its output if it is ready, else `None` (the future
/// keeps its place, e.g. in the waiters' line, to be polled again).
async fn poll_once<F: std::future::Future + Unpin>(mut fut: F) -> Option<F::Output> {
    use std::task::Poll;
    std::future::poll_fn(|cx| match std::pin::Pin::new(&mut fut).poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

impl PoolInner {
    fn arc(&self) -> Option<Arc<PoolInner>> {
        self.weak.upgrade()
    }

    async fn acquire(self: &Arc<Self>) -> Result<PoolConnection> {
        let slot = match self.next_grant().await? {
            Grant::Conn(p) => match self.check_out(p).await {
                Ok(conn) => return self.setup(conn).await,
                Err(slot) => slot,
            },
            Grant::Slot => SlotGuard { pool: self.clone(), armed: true },
        };
        let conn = self.open(slot).await?;
        self.setup(conn).await
    }

    /// An idle connection or a free slot, now or when one is released.
    async fn next_grant(self: &Arc<Self>) -> Result<Grant> {
        let rx = {
            let mut st = lock(&self.state);
            if st.closing {
                return Err(closed_pool());
            }
            if let Some(grant) = st.checkout(self.options.max_size) {
                return Ok(grant);
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.push_back(tx);
            rx
        };
        match rx.await {
            Ok(mut handoff) => handoff.take().ok_or_else(closed_pool),
            // The pool closed while we waited.
            Err(_canceled) => Err(closed_pool()),
        }
    }

    /// Vets an idle connection before lending it; a dead or outdated one
    /// is closed and its slot returned for a new connection.
    async fn check_out(self: &Arc<Self>, p: Pooled) -> std::result::Result<PoolConnection, SlotGuard> {
        let generation = lock(&self.state).generation;
        if p.conn.is_closed() || p.meta.generation != generation {
            return Err(self.reuse_slot(p));
        }
        let idle_for = self.runtime.now().saturating_sub(p.idle_since);
        let conn = PoolConnection::new(self.clone(), p.conn, p.meta);
        if let Some(after) = self.options.health_check_after {
            if idle_for >= after {
                let t = self.options.health_check_timeout;
                let alive = timeout(&*self.runtime, t, reset::sync_round_trip(&conn.inner)).await;
                if !matches!(alive, Ok(Ok(()))) || conn.transaction_status() != TransactionStatus::Idle {
                    return Err(self.reuse_slot(conn.take()));
                }
            }
        }
        Ok(conn)
    }

    /// Closes `p` and keeps its slot for a replacement.
    fn reuse_slot(self: &Arc<Self>, p: Pooled) -> SlotGuard {
        lock(&self.state).live.remove(&p.meta.id);
        p.conn.terminate();
        SlotGuard { pool: self.clone(), armed: true }
    }

    /// Opens a connection in `slot` and runs `init` on it.
    async fn open(self: &Arc<Self>, mut slot: SlotGuard) -> Result<PoolConnection> {
        let conn = (self.connect)().await?;
        let meta = {
            let mut st = lock(&self.state);
            if st.closing {
                None
            } else {
                Some(st.register(&conn))
            }
        };
        self.start_reaper();
        let Some(meta) = meta else {
            let _ = timeout(&*self.runtime, self.options.release_timeout, conn.close()).await;
            return Err(closed_pool());
        };
        slot.armed = false;
        let mut conn = PoolConnection::new(self.clone(), conn, meta);
        for (name, codec) in &self.options.type_codecs {
            // Boxed: one copy of the catalog lookup's state machine instead of
            // one inlined into every future that opens a connection (wasm size).
            let register: super::runtime::BoxFuture<'_, Result<()>> =
                Box::pin(conn.inner.set_type_codec(name.as_str().into(), Some(codec.clone())));
            if let Err(e) = register.await {
                self.discard(conn.take());
                return Err(e.context(format_args!("registering the pool's codec for type {name}")));
            }
        }
        if let Some(init) = &self.options.init {
            if let Err(e) = init(Connection { inner: conn.inner.clone() }).await {
                self.discard(conn.take());
                return Err(e.context("the pool's init hook failed"));
            }
        }
        conn.meta.initialized = true;
        Ok(conn)
    }

    /// Runs `setup` on a connection about to be lent.
    async fn setup(self: &Arc<Self>, conn: PoolConnection) -> Result<PoolConnection> {
        if let Some(setup) = &self.options.setup {
            if let Err(e) = setup(Connection { inner: conn.inner.clone() }).await {
                self.discard(conn.take());
                return Err(e.context("the pool's setup hook failed"));
            }
        }
        Ok(conn)
    }

    /// Opens one connection into the idle set, if the pool is below `min_size`.
    async fn fill_one(self: &Arc<Self>) -> Result<()> {
        {
            let mut st = lock(&self.state);
            if st.closing || st.size >= self.options.min_size {
                return Ok(());
            }
            st.size += 1;
        }
        let conn = self.open(SlotGuard { pool: self.clone(), armed: true }).await?;
        if conn.is_starting() {
            // A lazily started connection: check the password now, not when
            // it is lent (so `Pool::new` fails on a wrong password).
            if let Err(e) = conn.ready().await {
                self.discard(conn.take());
                return Err(e);
            }
        }
        let mut p = conn.take();
        p.idle_since = self.runtime.now();
        self.recycle(p);
        Ok(())
    }

    /// Gives a returned connection back from a guard's drop: at once when
    /// that needs no round trip (the common case: an idle connection and the
    /// default reset, which is only queued), else in a background task.
    fn release_in_background(self: &Arc<Self>, mut p: Pooled) {
        if !p.conn.is_closed() && p.meta.initialized && !self.to_retire(&p) {
            match reset::clean_now(&p.conn, self.options.reset.as_ref()) {
                CleanNow::Clean(reset) => {
                    if let Some(bytes) = reset {
                        // Sent with the next borrower's first request (one
                        // write instead of two), or at once by `recycle` if
                        // the connection goes idle.
                        p.conn.inner.send_before_next(Request::discard(bytes, 1));
                    }
                    p.idle_since = self.runtime.now();
                    self.recycle(p);
                    return;
                }
                CleanNow::NotNow => {}
            }
        }
        let pool = self.clone();
        // Cleaning needs round trips, and drop cannot await.
        self.runtime.spawn(Box::pin(async move {
            let _ = pool.release_pooled(p).await;
        }));
    }

    /// Healthy but not to be reused: the pool is closing, the connection ran
    /// `max_queries` requests, or it predates `expire_connections`.
    fn to_retire(&self, p: &Pooled) -> bool {
        let (closing, generation) = {
            let st = lock(&self.state);
            (st.closing, st.generation)
        };
        let max_queries = self.options.max_queries;
        let worn = max_queries > 0 && p.conn.inner.request_count() >= max_queries;
        closing || worn || p.meta.generation != generation
    }

    /// Cleans a returned connection and makes it idle, or replaces it.
    async fn release_pooled(self: &Arc<Self>, mut p: Pooled) -> Result<()> {
        if p.conn.is_closed() || !p.meta.initialized {
            self.discard(p);
            return Ok(());
        }
        if self.to_retire(&p) {
            // Healthy but not to be reused: say goodbye properly (this also
            // waits for any request still in flight).
            let _ = timeout(&*self.runtime, self.options.release_timeout, p.conn.close()).await;
            self.discard(p);
            return Ok(());
        }
        let t = self.options.release_timeout;
        match timeout(&*self.runtime, t, reset::clean(&p.conn, self.options.reset.as_ref())).await {
            Ok(Ok(())) => {
                p.idle_since = self.runtime.now();
                self.recycle(p);
                Ok(())
            }
            Ok(Err(e)) => {
                self.discard(p);
                Err(e.context("cleaning a released connection failed; it was closed"))
            }
            Err(()) => {
                self.discard(p);
                Err(Error::timeout(format!(
                    "cleaning a released connection took longer than {} (release_timeout); it was closed",
                    Shown(t)
                )))
            }
        }
    }

    /// Puts a clean connection back: to the first waiter, else idle.
    fn recycle(&self, p: Pooled) {
        let mut st = lock(&self.state);
        if st.closing {
            drop(st);
            self.close_in_background(p);
            return;
        }
        match st.hand_to_waiter(&self.weak, Grant::Conn(p)) {
            None => {}
            Some(Grant::Conn(p)) => {
                // Nobody to carry an owed reset along: it goes out now, so an
                // idle connection holds no advisory lock or LISTEN.
                p.conn.inner.send_owed();
                st.idle.push_back(p);
                st.wake_seat_waiter();
            }
            Some(Grant::Slot) => {
                drop(st);
                self.free(None);
            }
        }
    }

    /// A grant that never reached its waiter comes back.
    fn give_back(&self, grant: Grant) {
        match grant {
            Grant::Conn(p) => self.recycle(p),
            Grant::Slot => self.free(None),
        }
    }

    /// Closes `p` at once and frees its slot; reopens up to `min_size`.
    fn discard(&self, p: Pooled) {
        p.conn.terminate();
        self.free(Some(p.meta.id));
        self.replenish();
    }

    /// Closes a healthy connection gracefully without waiting, and frees its slot.
    fn close_in_background(&self, p: Pooled) {
        let Some(pool) = self.arc() else {
            p.conn.terminate();
            return;
        };
        let t = self.options.release_timeout;
        self.runtime.spawn(Box::pin(async move {
            let _ = timeout(&*pool.runtime, t, p.conn.close()).await;
            p.conn.terminate();
            pool.free(Some(p.meta.id));
        }));
    }

    /// Gives a slot back (closing the pool when it was the last one).
    fn free(&self, id: Option<u64>) {
        let after = lock(&self.state).free_slot(&self.weak, id);
        if let AfterFree::Closed(waiters) = after {
            for w in waiters {
                let _ = w.send(());
            }
        }
    }

    /// Opens connections in the background while below `min_size`.
    fn replenish(&self) {
        let missing = {
            let st = lock(&self.state);
            if st.closing || !st.waiters.is_empty() {
                0
            } else {
                self.options.min_size.saturating_sub(st.size)
            }
        };
        if missing == 0 {
            return;
        }
        let Some(pool) = self.arc() else { return };
        self.runtime.spawn(Box::pin(async move {
            // A failure is not retried here (the server may be down): the
            // next acquire or release tries again.
            for _ in 0..missing {
                if pool.fill_one().await.is_err() {
                    break;
                }
            }
        }));
    }

    /// Closes connections idle longer than `lifetime`, down to `min_size`,
    /// every `lifetime / 2`, until the pool closes or is dropped. Closing or
    /// dropping the pool drops `reaper_stop`, which ends the task (and drops
    /// its pending sleep) at once.
    ///
    /// Started once, when the pool has its first connection (`open`; or at
    /// creation when `min_size` opened some), so that the task's first timer
    /// is set where the connection was opened: workerd refuses `setTimeout`
    /// at a Worker's module scope, where a pool is typically created.
    fn start_reaper(&self) {
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let lifetime = {
            let mut st = lock(&self.state);
            if st.size == 0 || st.closing {
                return;
            }
            let Some(lifetime) = st.reaper_due.take() else { return };
            st.reaper_stop = Some(stop_tx);
            lifetime
        };
        let weak = self.weak.clone();
        let runtime = self.runtime.clone();
        let period = (lifetime / 2).max(Duration::from_millis(10));
        self.runtime.spawn(Box::pin(async move {
            loop {
                let sleep = runtime.sleep(period);
                if let Either::Right(_) = select(sleep, &mut stop_rx).await {
                    break;
                }
                let Some(pool) = weak.upgrade() else { break };
                if !pool.reap(lifetime) {
                    break;
                }
            }
        }));
    }

    /// One pass of the reaper; false once the pool is closing.
    fn reap(&self, lifetime: Duration) -> bool {
        let now = self.runtime.now();
        let expired = {
            let mut st = lock(&self.state);
            if st.closing {
                return false;
            }
            let mut out = Vec::new();
            // Oldest idle connections are at the front.
            while st.size.saturating_sub(out.len()) > self.options.min_size {
                match st.idle.front() {
                    Some(p) if now.saturating_sub(p.idle_since) >= lifetime => out.extend(st.idle.pop_front()),
                    _ => break,
                }
            }
            out
        };
        for p in expired {
            self.close_in_background(p);
        }
        true
    }
}
