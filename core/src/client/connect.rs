//! Establishing a connection: pick a host, open a stream through the
//! transport's [`Connector`], run the startup exchange, spawn the driver.
//!
//! Everything here is transport-independent; the native crate supplies TCP,
//! Unix sockets and TLS, the wasm crate a WebSocket.

use std::sync::Arc;

use bytes::BytesMut;
use futures_channel::mpsc;

use super::connection::{Connection, ConnectionSettings};
use super::driver::Driver;
use super::runtime::{timeout, BoxFuture, MaybeSend, Runtime};
use super::shared::Shared;
use super::startup::{Startup, StartupOptions, Step};
use super::transport::{io_ext, Transport};
use crate::config::{Config, Host, LoadBalanceHosts};
use crate::protocol::backend::{self, TransactionStatus};
use crate::{Error, ErrorKind, Result};

/// An open stream to a server, ready for the StartupMessage.
#[derive(Debug)]
pub struct Connected<S> {
    /// The stream (TLS already negotiated if any).
    pub stream: S,
    /// `tls-server-end-point` channel binding data when the stream is TLS.
    pub tls_server_end_point: Option<Vec<u8>>,
}

/// Opens streams for the client: TCP/TLS/Unix on native, WebSocket on wasm.
pub trait Connector: Send + Sync {
    /// The stream type.
    type Stream: Transport + MaybeSend + 'static;

    /// Opens a stream to `host:port`, including any TLS negotiation the
    /// configuration asks for. Errors should be [`ErrorKind::Connect`] (or
    /// [`ErrorKind::Tls`]) and name the address.
    fn connect<'a>(&'a self, host: &'a Host, port: u16, config: &'a Config) -> BoxFuture<'a, Result<Connected<Self::Stream>>>;

    /// A password for `host:port` when the configuration has none (the
    /// native crate reads `~/.pgpass` here). Default: none.
    fn password_for(&self, _host: &Host, _port: u16, _config: &Config) -> Option<Vec<u8>> {
        None
    }
}

/// Connects to the first host of `config` that answers, in order.
///
/// Network failures (refused, unreachable, timeout, TLS) move on to the next
/// host; an authentication or server error stops, since another host would
/// most likely answer the same. `connect_timeout` bounds each attempt.
pub async fn connect<C: Connector>(config: &Config, connector: &C, runtime: Arc<dyn Runtime>) -> Result<Connection> {
    let targets = targets(config)?;
    let mut last_error = None;
    for (host, port) in &targets {
        let attempt = async {
            let connected = connector.connect(host, *port, config).await?;
            let password = match config.get_password() {
                Some(p) => Some(p.to_vec()),
                None => connector.password_for(host, *port, config),
            };
            startup_and_spawn(connected, config, password, runtime.clone()).await
        };
        let result = match config.get_connect_timeout() {
            Some(t) => timeout(&*runtime, t, attempt).await.unwrap_or_else(|()| {
                Err(Error::timeout(format!("connecting to {} timed out after {:?} (connect_timeout)", describe(host, *port), t)))
            }),
            None => attempt.await,
        };
        match result {
            Ok(conn) => return Ok(conn),
            Err(e) if is_retryable(&e) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| Error::config("host", "no host to connect to")))
}

/// Runs the startup exchange on an open stream and spawns its driver.
pub async fn connect_stream<S>(connected: Connected<S>, config: &Config, runtime: Arc<dyn Runtime>) -> Result<Connection>
where
    S: Transport + MaybeSend + 'static,
{
    let password = config.get_password().map(|p| p.to_vec());
    startup_and_spawn(connected, config, password, runtime).await
}

async fn startup_and_spawn<S>(
    connected: Connected<S>,
    config: &Config,
    password: Option<Vec<u8>>,
    runtime: Arc<dyn Runtime>,
) -> Result<Connection>
where
    S: Transport + MaybeSend + 'static,
{
    let Connected { mut stream, tls_server_end_point } = connected;
    let user = config
        .get_user()
        .ok_or_else(|| Error::config("user", "no user name given (set user in the DSN or PGUSER)"))?
        .to_owned();
    let options = StartupOptions {
        params: config.startup_params().into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        user,
        password,
        channel_binding: config.get_channel_binding(),
        tls_server_end_point,
    };
    let max = config.get_max_message_size();
    let mut startup = Startup::new(options);
    let mut out = BytesMut::with_capacity(256);
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    startup.start(&mut out)?;
    'exchange: loop {
        if !out.is_empty() {
            io_ext::write_all(&mut stream, &out).await.map_err(Error::io)?;
            out.clear();
        }
        loop {
            while let Some(msg) = backend::next_message(&mut rbuf, max)? {
                if startup.handle(msg, &mut out)? == Step::Done {
                    break 'exchange;
                }
            }
            if !out.is_empty() {
                continue 'exchange;
            }
            if rbuf.capacity() - rbuf.len() < 4096 {
                rbuf.reserve(16 * 1024);
            }
            let n = io_ext::read_buf(&mut stream, &mut rbuf).await.map_err(Error::io)?;
            if n == 0 {
                return Err(Error::new(ErrorKind::Closed, "the server closed the connection during startup"));
            }
        }
    }
    let info = startup.into_info();
    let shared = Arc::new(Shared::new(info.parameters, info.status.unwrap_or(TransactionStatus::Idle)));
    for n in &info.notices {
        shared.notice(n);
    }
    let (tx, rx) = mpsc::unbounded();
    let settings = ConnectionSettings {
        statement_cache_size: config.get_statement_cache_size(),
        max_cached_statement_lifetime: config.get_max_cached_statement_lifetime(),
        max_cacheable_statement_size: config.get_max_cacheable_statement_size(),
    };
    // Bytes already read past ReadyForQuery belong to the driver.
    let driver = Driver::new(stream, rbuf, rx, shared.clone(), max);
    runtime.spawn(Box::pin(driver));
    Ok(Connection::new(tx, shared, runtime, &settings, info.process_id, info.secret_key))
}

/// The (host, port) pairs to try, in order (shuffled for `load_balance_hosts=random`).
fn targets(config: &Config) -> Result<Vec<(Host, u16)>> {
    config.validate()?;
    let mut targets: Vec<(Host, u16)> =
        config.get_hosts().iter().enumerate().map(|(i, h)| (h.clone(), config.port_for(i))).collect();
    if targets.is_empty() {
        return Err(Error::config("host", "no host given"));
    }
    if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
        // Fisher-Yates with OS randomness; the order only spreads load.
        for i in (1..targets.len()).rev() {
            let mut b = [0u8; 8];
            if getrandom::getrandom(&mut b).is_err() {
                break;
            }
            let j = (u64::from_le_bytes(b) % (i as u64 + 1)) as usize;
            targets.swap(i, j);
        }
    }
    Ok(targets)
}

fn is_retryable(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Connect | ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Tls | ErrorKind::Closed)
}

fn describe(host: &Host, port: u16) -> String {
    match host {
        Host::Tcp(h) => format!("{h}:{port}"),
        Host::Unix(dir) => format!("{dir}/.s.PGSQL.{port}"),
    }
}
