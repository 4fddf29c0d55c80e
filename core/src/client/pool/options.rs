//! Pool settings and the hooks that customise how connections are made,
//! prepared and cleaned.

use std::sync::Arc;
use std::time::Duration;

use super::super::handle::Connection;
use super::super::runtime::BoxFuture;
use crate::types::TypeCodec;
use crate::Result;

/// Makes a new connection for the pool (e.g. `edgepg::connect_with(config)`).
///
/// `Send + Sync` on native targets; on wasm32 (single-threaded) it may hold
/// JS values, which are neither.
#[cfg(not(target_arch = "wasm32"))]
pub type ConnectFn = Arc<dyn Fn() -> BoxFuture<'static, Result<Connection>> + Send + Sync>;
/// Makes a new connection for the pool (e.g. `edgepg::connect_with(config)`).
///
/// `Send + Sync` on native targets; on wasm32 (single-threaded) it may hold
/// JS values, which are neither.
#[cfg(target_arch = "wasm32")]
pub type ConnectFn = Arc<dyn Fn() -> BoxFuture<'static, Result<Connection>>>;

/// A hook run on a pooled connection: `init`, `setup` or `reset`.
///
/// It gets its own handle to the connection (handles are cheap and share one
/// driver), so the returned future can be `'static`.
///
/// ```
/// use edgepg_core::client::pool::Hook;
/// use std::sync::Arc;
/// let setup: Hook = Arc::new(|conn| Box::pin(async move {
///     conn.execute("SET application_name = 'worker'", &[]).await?;
///     Ok(())
/// }));
/// # let _ = setup;
/// ```
///
/// `Send + Sync` on native targets only, like [`ConnectFn`].
#[cfg(not(target_arch = "wasm32"))]
pub type Hook = Arc<dyn Fn(Connection) -> BoxFuture<'static, Result<()>> + Send + Sync>;
/// A hook run on a pooled connection: `init`, `setup` or `reset` (see the
/// native documentation; not `Send + Sync` on wasm32).
#[cfg(target_arch = "wasm32")]
pub type Hook = Arc<dyn Fn(Connection) -> BoxFuture<'static, Result<()>>>;

/// What the default `reset` hook runs on release (after any open transaction
/// was rolled back): releases advisory locks, closes cursors (also `WITH
/// HOLD` ones), stops listening and restores every setting.
///
/// Servers or poolers that reject some of it (PgBouncer in transaction mode
/// has no session to clean; some PostgreSQL-compatible servers lack advisory
/// locks) should use `reset: None` or their own [`Hook`].
pub const DEFAULT_RESET_SQL: &str = "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;";

/// The default `reset` hook: runs [`DEFAULT_RESET_SQL`].
///
/// The pool recognises this hook: when a released connection is provably
/// idle (nothing in flight, the last ReadyForQuery said idle) it does not wait
/// for the reset, but queues it in front of the next borrower's first request
/// — the connection answers requests in order, so the reset still runs first
/// and release costs no round trip.
///
/// ```
/// let opts = edgepg_core::client::pool::PoolOptions {
///     reset: Some(edgepg_core::client::pool::default_reset()),
///     ..Default::default()
/// };
/// assert!(opts.reset.is_some());
/// ```
pub fn default_reset() -> Hook {
    default_hook()
}

/// Whether `hook` is [`default_reset`] (the same instance).
pub(crate) fn is_default_reset(hook: &Hook) -> bool {
    Arc::ptr_eq(hook, &default_hook())
}

fn make_default_reset() -> Hook {
    Arc::new(|conn| {
        Box::pin(async move {
            conn.execute(DEFAULT_RESET_SQL, &[]).await?;
            Ok(())
        })
    })
}

/// One shared instance, so the pool can recognise it.
#[cfg(not(target_arch = "wasm32"))]
fn default_hook() -> Hook {
    static HOOK: std::sync::OnceLock<Hook> = std::sync::OnceLock::new();
    HOOK.get_or_init(make_default_reset).clone()
}

/// One shared instance, so the pool can recognise it (wasm32 is single-threaded).
#[cfg(target_arch = "wasm32")]
fn default_hook() -> Hook {
    thread_local! {
        static HOOK: Hook = make_default_reset();
    }
    HOOK.with(Hook::clone)
}

/// How a [`Pool`](super::Pool) sizes, ages, checks and cleans its connections.
///
/// The defaults follow asyncpg (10/10 connections, 50,000 queries, 300 s
/// idle) and add what its users most often ask for: an acquire timeout, a
/// health check for connections that sat idle, and a bound on release.
///
/// ```
/// use std::time::Duration;
/// use edgepg_core::client::pool::PoolOptions;
/// let opts = PoolOptions { min_size: 1, max_size: 20, acquire_timeout: Some(Duration::from_secs(5)), ..Default::default() };
/// assert_eq!(opts.max_queries, 50_000);
/// ```
#[derive(Clone)]
pub struct PoolOptions {
    /// Connections opened when the pool is created and kept open while idle
    /// (replaced in the background when one is discarded). Default 10.
    pub min_size: usize,
    /// Most connections open at once (including ones being opened). Default 10.
    pub max_size: usize,
    /// A connection is closed on release once it has run this many requests;
    /// 0 = no limit. Default 50,000.
    pub max_queries: u64,
    /// An idle connection above `min_size` is closed after this long; `None`
    /// keeps them. Default 300 s.
    pub max_inactive_connection_lifetime: Option<Duration>,
    /// Bound on `acquire` (waiting, connecting, `init`, `setup` and the
    /// health check); `None` waits forever. Default 30 s.
    pub acquire_timeout: Option<Duration>,
    /// A connection idle for at least this long is checked with a round trip
    /// before it is handed out (a dead one is replaced); `None` never checks,
    /// `Some(Duration::ZERO)` always does. Default 30 s.
    pub health_check_after: Option<Duration>,
    /// Bound on that health check. Default 5 s.
    pub health_check_timeout: Duration,
    /// Bound on cleaning a released connection (waiting for a request still
    /// in flight, ROLLBACK, `reset`); past it the connection is discarded, so
    /// a release never hangs. Default 30 s.
    pub release_timeout: Duration,
    /// Replaces the pool's default way of making connections.
    pub connect: Option<ConnectFn>,
    /// Runs once on every new connection; when it fails, the connection is
    /// closed and `acquire` fails.
    pub init: Option<Hook>,
    /// Runs on every acquire; when it fails, the connection is discarded and
    /// `acquire` fails.
    pub setup: Option<Hook>,
    /// Runs on every release, after the pool rolled back any open transaction
    /// and dropped the connection's listener callbacks. Default:
    /// [`default_reset`]. `None` skips it (e.g. behind PgBouncer in
    /// transaction mode); the rollback still happens. When it fails, the
    /// connection is discarded.
    pub reset: Option<Hook>,
    /// Custom codecs registered on every new connection before `init`
    /// (see `Connection::set_type_codec`): a type name (or an OID as text)
    /// and its codec.
    pub type_codecs: Vec<(String, Arc<dyn TypeCodec>)>,
    /// How many of the pool's one-call shortcuts (`pool.fetch`,
    /// `pool.fetchval`, `pool.execute`...) may run on one connection at once,
    /// pipelined, once every connection is busy. Default 1: each call has its
    /// connection to itself, as in asyncpg.
    ///
    /// Above 1, a shortcut that finds no idle connection and no free slot
    /// joins the least busy connection already lent to other shortcuts
    /// (never one lent by `acquire`, never while `acquire` callers wait), as
    /// postgres.js does with its queues. It only does so for a single plain
    /// statement (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `WITH`, `VALUES`,
    /// `TABLE`, `MERGE`; see `share::is_shareable`), and never on
    /// connections with a `command_timeout` (cancelling a call on the server
    /// is only safe when nothing is pipelined behind it); anything else gets
    /// a connection of its own. Each call is still its own implicit
    /// transaction with its own answer or error, and with the default
    /// `reset` each starts from a clean session: the reset query is sent
    /// between two calls on a shared connection, in the same write as the
    /// second (a custom reset hook runs when the last call returns the
    /// connection). What changes: a call may wait behind a slow one on the
    /// same connection; to bound that, a connection that has finished no
    /// call for 50 ms takes no new one.
    pub pipeline_depth: usize,
}

impl Default for PoolOptions {
    fn default() -> PoolOptions {
        PoolOptions {
            min_size: 10,
            max_size: 10,
            max_queries: 50_000,
            max_inactive_connection_lifetime: Some(Duration::from_secs(300)),
            acquire_timeout: Some(Duration::from_secs(30)),
            health_check_after: Some(Duration::from_secs(30)),
            health_check_timeout: Duration::from_secs(5),
            release_timeout: Duration::from_secs(30),
            connect: None,
            init: None,
            setup: None,
            reset: Some(default_reset()),
            type_codecs: Vec::new(),
            pipeline_depth: 1,
        }
    }
}

impl std::fmt::Debug for PoolOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolOptions")
            .field("min_size", &self.min_size)
            .field("max_size", &self.max_size)
            .field("max_queries", &self.max_queries)
            .field("max_inactive_connection_lifetime", &self.max_inactive_connection_lifetime)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("health_check_after", &self.health_check_after)
            .field("health_check_timeout", &self.health_check_timeout)
            .field("release_timeout", &self.release_timeout)
            .field("connect", &self.connect.is_some())
            .field("init", &self.init.is_some())
            .field("setup", &self.setup.is_some())
            .field("reset", &self.reset.is_some())
            .field("type_codecs", &self.type_codecs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
            .field("pipeline_depth", &self.pipeline_depth)
            .finish()
    }
}

impl PoolOptions {
    /// Checks the sizes: `max_size` ≥ 1, `min_size` ≤ `max_size`,
    /// `pipeline_depth` ≥ 1.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.max_size == 0 {
            return Err(crate::Error::config("max_size", "must be at least 1"));
        }
        if self.pipeline_depth == 0 {
            return Err(crate::Error::config("pipeline_depth", "must be at least 1 (1: no sharing)"));
        }
        if self.min_size > self.max_size {
            return Err(crate::Error::config(
                "min_size",
                format_args!("{} is larger than max_size ({})", self.min_size, self.max_size),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_asyncpg() {
        let o = PoolOptions::default();
        assert_eq!((o.min_size, o.max_size, o.max_queries), (10, 10, 50_000));
        assert_eq!(o.max_inactive_connection_lifetime, Some(Duration::from_secs(300)));
        assert!(o.reset.is_some());
        o.validate().unwrap();
    }

    #[test]
    fn rejects_bad_sizes() {
        let e = PoolOptions { max_size: 0, min_size: 0, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("max_size"), "{e}");
        let e = PoolOptions { min_size: 3, max_size: 2, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("min_size"), "{e}");
        let e = PoolOptions { pipeline_depth: 0, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("pipeline_depth"), "{e}");
    }
}
