//! # edgepg — PostgreSQL for servers (tokio) and the edge (wasm)
//!
//! This is the native crate: TCP (with `TCP_NODELAY` and keepalive), Unix
//! sockets and TLS with rustls, on tokio. The client itself — connection,
//! statements, rows, types — lives in [`edgepg_core`] and is shared with the
//! WebAssembly build.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> edgepg::Result<()> {
//! let conn = edgepg::connect("postgres://user:pw@localhost/db?sslmode=prefer").await?;
//! conn.execute("CREATE TEMP TABLE t (id int8, name text)", &[]).await?;
//! conn.execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"]).await?;
//! let rows = conn.fetch("SELECT id, name FROM t WHERE id > $1", &[&0i64]).await?;
//! let id: i64 = rows[0].get("id")?;
//! let name: &str = rows[0].get(1)?;
//! assert_eq!((id, name), (1, "a"));
//! conn.close().await?;
//! # Ok(()) }
//! ```
//!
//! Configuration follows libpq: URIs (`postgres://...`), key/value strings
//! (`host=... dbname=...`), connection service files (`service=`,
//! `pg_service.conf`), the `PG*` environment variables and `~/.pgpass`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod connector;
mod pgpass;
mod runtime;
mod service;
mod stream;
mod tls;

use std::sync::Arc;

pub use connector::TokioConnector;
pub use edgepg_core::client::pool::{self, Lease, Pool, PoolConnection, PoolOptions};
pub use edgepg_core::client::{
    Batch, BatchResult, CancelToken, Column, Connection, Cursor, CursorFactory, Isolation, LogListener, LoggedQuery,
    Notification, NotificationListener, NotificationStream, Params, PickColumns, PreparedStatement, QueryLogger, Row,
    RowIndex, ServerVersion, StatementResult, TerminationListener, TextColumns, Transaction, TransactionBuilder,
    WithTimeout,
};
pub use edgepg_core::client::{BoxError, CopyFormat, CopyOptions, CopyOutStream};
pub use edgepg_core::client::{BoxFuture, MaybeSend, MaybeSync, Runtime};
pub use edgepg_core::client::{FromRow, TypeTarget};
pub use edgepg_core::config::{self, Config};
pub use edgepg_core::protocol::backend::TransactionStatus;
pub use edgepg_core::sqlstate;
pub use edgepg_core::{types, DbError, Error, ErrorKind, ErrorPosition, Result, Severity, SqlState};
/// `#[derive(FromRow)]`, `#[derive(FromSql)]`, `#[derive(ToSql)]` (feature `derive`).
#[cfg(feature = "derive")]
pub use edgepg_derive::{FromRow, FromSql, ToSql};
pub use runtime::TokioRuntime;
pub use stream::Stream;

use edgepg_core::config::SslMode;

/// Adapters between tokio's `AsyncRead`/`AsyncWrite` and the `futures-io`
/// traits the COPY methods take (`copy_to_table_from_reader`,
/// `copy_from_table_to_writer`, ...).
///
/// ```no_run
/// # async fn demo(conn: edgepg::Connection) -> edgepg::Result<()> {
/// use edgepg::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};
/// use edgepg::{CopyFormat, CopyOptions};
/// let csv = CopyOptions::new().format(CopyFormat::Csv);
/// let input: &[u8] = b"1,one\n2,two\n"; // any tokio AsyncRead, e.g. a tokio::fs::File
/// conn.copy_to_table_from_reader("t", input.compat(), &csv).await?;
/// let output = tokio::io::sink(); // any tokio AsyncWrite
/// conn.copy_from_table_to_writer("t", &csv, output.compat_write()).await?;
/// # Ok(()) }
/// ```
pub mod compat {
    pub use tokio_util::compat::{
        Compat, FuturesAsyncReadCompatExt, FuturesAsyncWriteCompatExt, TokioAsyncReadCompatExt,
        TokioAsyncWriteCompatExt,
    };
}

/// Connects using a libpq-style DSN (URI or key/value), completed by the
/// connection service file (`service=` or `PGSERVICE`), the `PG*`
/// environment variables and `~/.pgpass`.
///
/// Must be called inside a tokio runtime (the connection's driver task is
/// spawned on it).
pub async fn connect(dsn: &str) -> Result<Connection> {
    connect_with(Config::parse(dsn)?).await
}

/// Connects like [`connect`], but with `pipeline_connect=password` in the DSN
/// returns as soon as the stream is open: the startup exchange finishes in
/// the background and the first query goes out in the same flight as the
/// StartupMessage and password (one round trip for connect + first query).
/// A wrong password fails that first query (kind `Auth`, SQLSTATE 28P01);
/// a server asking for SCRAM or MD5 is reconnected to without pipelining.
/// Without `pipeline_connect=password` this is [`connect`].
///
/// ```no_run
/// # #[tokio::main] async fn main() -> edgepg::Result<()> {
/// let conn = edgepg::connect_pipelined("postgres://u:pw@db/app?pipeline_connect=password").await?;
/// let one: i32 = conn.fetchval("SELECT 1", &[]).await?; // startup + query: one round trip
/// # Ok(()) }
/// ```
pub async fn connect_pipelined(dsn: &str) -> Result<Connection> {
    connect_pipelined_with(Config::parse(dsn)?).await
}

/// [`connect_pipelined`] with a [`Config`].
pub async fn connect_pipelined_with(mut config: Config) -> Result<Connection> {
    complete_config(&mut config)?;
    let runtime: Arc<dyn edgepg_core::client::Runtime> = Arc::new(TokioRuntime);
    let mode = config.get_ssl_mode();
    let first = TokioConnector { sslmode: None };
    match edgepg_core::client::connect_pipelined(&config, &first, runtime.clone()).await {
        // sslmode=prefer: the TLS handshake failed; retry in plain text. (A
        // pg_hba rejection only shows on the first query here.)
        Err(e) if mode == SslMode::Prefer && e.kind() == ErrorKind::Tls => {
            let plain = TokioConnector { sslmode: Some(SslMode::Disable) };
            edgepg_core::client::connect_pipelined(&config, &plain, runtime).await
        }
        other => other,
    }
}

/// The connection service file, the environment (`PG*`, `USER`) and libpq's
/// default hosts, in libpq's order: what the DSN gives wins over the service,
/// which wins over the environment.
fn complete_config(config: &mut Config) -> Result<()> {
    service::apply(config, |k| std::env::var(k).ok(), service::home_dir().as_deref())?;
    config.apply_env(|k| std::env::var(k).ok())?;
    if config.get_user().is_none() {
        if let Some(u) = std::env::var("USER").ok().or_else(|| std::env::var("LOGNAME").ok()) {
            config.user(&u);
        }
    }
    if config.get_hosts().is_empty() {
        // libpq's defaults on Debian: the server's socket directory, then TCP.
        config.host("/var/run/postgresql");
        config.host("/tmp");
        config.host("localhost");
    }
    Ok(())
}

/// Connects with a [`Config`], completed by the environment like [`connect`].
pub async fn connect_with(mut config: Config) -> Result<Connection> {
    complete_config(&mut config)?;
    let runtime: Arc<dyn edgepg_core::client::Runtime> = Arc::new(TokioRuntime);
    let mode = config.get_ssl_mode();
    let first = TokioConnector { sslmode: None };
    match edgepg_core::client::connect(&config, &first, runtime.clone()).await {
        // sslmode=prefer: TLS failed or pg_hba refused it; libpq retries in plain text.
        Err(e) if mode == SslMode::Prefer && (e.kind() == ErrorKind::Tls || rejected_by_hba(&e)) => {
            let plain = TokioConnector { sslmode: Some(SslMode::Disable) };
            edgepg_core::client::connect(&config, &plain, runtime).await
        }
        // sslmode=allow: plain text was refused; libpq retries with TLS.
        Err(e) if mode == SslMode::Allow && rejected_by_hba(&e) => {
            let tls = TokioConnector { sslmode: Some(SslMode::Require) };
            edgepg_core::client::connect(&config, &tls, runtime).await
        }
        other => other,
    }
}

/// Creates a connection pool for a libpq-style DSN (completed by the
/// environment like [`connect`]) and opens `options.min_size` connections,
/// so a wrong password or an unreachable host fails here rather than on the
/// first query.
///
/// Must be called inside a tokio runtime.
///
/// ```no_run
/// # #[tokio::main] async fn main() -> edgepg::Result<()> {
/// use edgepg::PoolOptions;
/// let pool = edgepg::create_pool("postgres://user:pw@localhost/db", PoolOptions { min_size: 2, max_size: 10, ..Default::default() }).await?;
/// let n: i64 = pool.fetchval("SELECT count(*) FROM pg_class", &[]).await?;
/// let conn = pool.acquire().await?;
/// conn.execute("SELECT 1", &[]).await?;
/// drop(conn); // back to the pool
/// pool.close().await?;
/// # Ok(()) }
/// ```
///
/// Behind PgBouncer in transaction mode, turn off the statement cache
/// (`statement_cache_size=0` in the DSN) and the session reset (`reset: None`).
pub async fn create_pool(dsn: &str, options: PoolOptions) -> Result<Pool> {
    let config = Config::parse(dsn)?;
    // New connections start lazily with pipeline_connect=password: the
    // first query of a fresh connection travels with its startup.
    let connect: pool::ConnectFn = Arc::new(move || {
        let config = config.clone();
        Box::pin(connect_pipelined_with(config))
    });
    Pool::new(Arc::new(TokioRuntime), connect, options).await
}

/// "no pg_hba.conf entry for host ..., SSL off/on" (SQLSTATE 28000).
fn rejected_by_hba(e: &Error) -> bool {
    e.code() == Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION)
}
