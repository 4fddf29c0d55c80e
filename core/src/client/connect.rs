//! Establishing a connection: pick a host, open a stream through the
//! transport's [`Connector`], run the startup exchange, spawn the driver.
//!
//! Everything here is transport-independent; the native crate supplies TCP,
//! Unix sockets and TLS, the wasm crate a WebSocket.

use std::future::Future;
use std::sync::Arc;

use bytes::BytesMut;
use futures_channel::mpsc;

use super::cancel::{BackendKey, CancelToken, ConnectorCancel, SendCancel, DEFAULT_CANCEL_TIMEOUT};
use super::driver::Driver;
use super::duration_text::Shown;
use super::handle::{Connection, ConnectionSettings};
use super::pipelined_startup::{PipelinedStartup, Reopen};
use super::runtime::{timeout, BoxFuture, MaybeSend, Runtime};
use super::session_attrs::{self, Verdict};
use super::shared::Shared;
use super::startup::{Startup, StartupOptions, Step};
use super::transport::{io_ext, Connected, Connector, Transport};
use crate::config::{Config, Host, LoadBalanceHosts, PipelineConnect, TargetSessionAttrs};
use crate::protocol::backend::{self, TransactionStatus};
use crate::{Error, ErrorKind, Result};

/// Connects to the first suitable host of `config`, in order (shuffled for
/// `load_balance_hosts=random`).
///
/// Network failures (refused, unreachable, timeout, TLS) move on to the next
/// host; an authentication or server error stops, since another host would
/// most likely answer the same. `connect_timeout` bounds each attempt. A
/// server that does not match `target_session_attrs` is closed and the next
/// host tried (see [`super::session_attrs`]); with `prefer-standby`, the first
/// usable non-standby is kept in case no standby answers. When no host
/// fits, the error lists every host's failure.
///
/// The connector is cloned into the connection so that a CancelRequest can
/// later open a second stream to the same server.
///
/// With `pipeline_connect=password`, a server that asks for something other
/// than a cleartext password is connected to again without pipelining.
pub async fn connect<C: Connector + Clone + 'static>(
    config: &Config,
    connector: &C,
    runtime: Arc<dyn Runtime>,
) -> Result<Connection> {
    let pipeline = config.get_pipeline_connect() == PipelineConnect::Password;
    let attrs = config.get_target_session_attrs();
    let shared_config = Arc::new(config.clone());
    try_hosts(config, &mut |host, port| {
        let runtime = runtime.clone();
        let opener = opener(connector, &host, port, &shared_config);
        Box::pin(async move {
            let attempt = async {
                let password = password_for(config, connector, &host, port);
                let cancel: Arc<dyn SendCancel> = opener;
                let connected = connector.connect(&host, port, config).await?;
                let started = startup_and_spawn(
                    connected,
                    config,
                    password.clone(),
                    runtime.clone(),
                    Some(cancel.clone()),
                    pipeline,
                )
                .await;
                let conn = match started {
                    Err(StartupError::PipelineRejected(_)) => {
                        let connected = connector.connect(&host, port, config).await?;
                        startup_and_spawn(connected, config, password, runtime.clone(), Some(cancel), false).await?
                    }
                    other => other?,
                };
                match session_attrs::check(&conn, attrs).await {
                    Ok(verdict) => Ok((conn, verdict)),
                    Err(e) => {
                        let _ = conn.close().await;
                        Err(e)
                    }
                }
            };
            bounded(&*runtime, config, &host, port, attempt).await
        })
    })
    .await
}

/// What a connection to `host` needs later: a way to open a second stream
/// to the same server (for a CancelRequest, and for a pipelined connect's
/// reconnect without pipelining).
pub(super) fn opener<C: Connector + Clone>(
    connector: &C,
    host: &Host,
    port: u16,
    config: &Arc<Config>,
) -> Arc<ConnectorCancel<C>> {
    Arc::new(ConnectorCancel { connector: connector.clone(), host: host.clone(), port, config: config.clone() })
}

/// One attempt on one host: the connection and what `target_session_attrs` says of it.
pub(super) type Attempt<'a> = BoxFuture<'a, Result<(Connection, Verdict)>>;

/// Makes the attempt on one host (`Send` where futures must be).
#[cfg(not(target_arch = "wasm32"))]
pub(super) type AttemptFn<'a> = dyn FnMut(Host, u16) -> Attempt<'a> + Send + 'a;
/// Makes the attempt on one host (`Send` where futures must be).
#[cfg(target_arch = "wasm32")]
pub(super) type AttemptFn<'a> = dyn FnMut(Host, u16) -> Attempt<'a> + 'a;

/// The host loop of [`connect`] and [`connect_pipelined`](super::connect_pipelined):
/// runs `attempt` on each host of `config` in order (shuffled for
/// `load_balance_hosts=random`) until one is accepted.
///
/// A retryable failure (network, timeout, TLS, closed) moves on to the next
/// host; any other error stops. A [`Verdict::Fallback`] connection is kept
/// (the first one only) in case no later host is accepted;
/// [`Verdict::Reject`] closes it. When no host fits, the error lists every
/// host's failure. Not generic (the attempt is a boxed future behind a
/// `dyn FnMut`), so the loop is compiled once however many callers and
/// connectors there are: it matters for the size of the `.wasm`.
pub(super) async fn try_hosts<'a>(config: &Config, attempt: &mut AttemptFn<'a>) -> Result<Connection> {
    let targets = targets(config)?;
    let attrs = config.get_target_session_attrs();
    let mut failures: Vec<(String, Error)> = Vec::new();
    // prefer-standby: a usable server that is not a standby, kept until a standby answers.
    let mut fallback: Option<Connection> = None;
    for (host, port) in targets {
        let place = describe(&host, port);
        match attempt(host, port).await {
            Ok((conn, Verdict::Accept)) => {
                if let Some(f) = fallback.take() {
                    let _ = f.close().await;
                }
                return Ok(conn);
            }
            Ok((conn, Verdict::Fallback(why))) => {
                if fallback.is_none() {
                    fallback = Some(conn);
                } else {
                    let _ = conn.close().await;
                }
                failures.push((place, Error::new(ErrorKind::Connect, why)));
            }
            Ok((conn, Verdict::Reject(why))) => {
                let _ = conn.close().await;
                failures.push((place, Error::new(ErrorKind::Connect, why)));
            }
            Err(e) if is_retryable(&e) => failures.push((place, e)),
            Err(e) => {
                if let Some(f) = fallback.take() {
                    let _ = f.close().await;
                }
                return Err(e);
            }
        }
    }
    if let Some(f) = fallback {
        return Ok(f);
    }
    Err(no_host_error(failures, attrs))
}

/// `work` bounded by `connect_timeout` (when set), failing with a timeout
/// error that names the host.
pub(super) async fn bounded<T>(
    runtime: &dyn Runtime,
    config: &Config,
    host: &Host,
    port: u16,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    match config.get_connect_timeout() {
        Some(t) => timeout(runtime, t, work).await.unwrap_or_else(|()| {
            Err(Error::timeout(format!(
                "connecting to {} timed out after {} (connect_timeout)",
                describe(host, port),
                Shown(t)
            )))
        }),
        None => work.await,
    }
}

/// The password for `host`: the configuration's, else the connector's
/// (the native crate reads `~/.pgpass`).
pub(super) fn password_for<C: Connector>(config: &Config, connector: &C, host: &Host, port: u16) -> Option<Vec<u8>> {
    match config.get_password() {
        Some(p) => Some(p.to_vec()),
        None => connector.password_for(host, port, config),
    }
}

/// The error when no host fitted: the only failure as it is, or a list.
pub(super) fn no_host_error(mut failures: Vec<(String, Error)>, attrs: TargetSessionAttrs) -> Error {
    if failures.len() <= 1 {
        return match failures.pop() {
            Some((_, e)) => e,
            None => Error::config("host", "no host to connect to"),
        };
    }
    let first_kind = failures[0].1.kind();
    let kind = if failures.iter().all(|(_, e)| e.kind() == first_kind) { first_kind } else { ErrorKind::Connect };
    let list: Vec<String> = failures.iter().map(|(addr, e)| format!("{addr}: {e}")).collect();
    let attrs_note = if attrs == TargetSessionAttrs::Any {
        String::new()
    } else {
        format!(" (target_session_attrs={})", attrs.as_str())
    };
    Error::new(kind, format!("could not connect to any of {} hosts{attrs_note}: {}", failures.len(), list.join("; ")))
}

/// Runs the startup exchange on an open stream and spawns its driver.
pub async fn connect_stream<S>(
    connected: Connected<S>,
    config: &Config,
    runtime: Arc<dyn Runtime>,
) -> Result<Connection>
where
    S: Transport + MaybeSend + 'static,
{
    let password = config.get_password().map(|p| p.to_vec());
    let pipeline = config.get_pipeline_connect() == PipelineConnect::Password;
    // No connector: `CancelToken::cancel` reports that it cannot cancel.
    Ok(startup_and_spawn(connected, config, password, runtime, None, pipeline).await?)
}

/// Why a startup exchange failed.
enum StartupError {
    /// Any error; the attempt is over.
    Failed(Error),
    /// The server did not ask for the pipelined cleartext password; a new
    /// connection without pipelining may succeed.
    PipelineRejected(Error),
}

impl From<Error> for StartupError {
    fn from(e: Error) -> StartupError {
        StartupError::Failed(e)
    }
}

impl From<StartupError> for Error {
    fn from(e: StartupError) -> Error {
        match e {
            StartupError::Failed(e) | StartupError::PipelineRejected(e) => e,
        }
    }
}

/// The startup exchange without pipelining, then the driver.
pub(super) async fn startup_and_spawn_plain<S>(
    connected: Connected<S>,
    config: &Config,
    password: Option<Vec<u8>>,
    runtime: Arc<dyn Runtime>,
    cancel: Option<Arc<dyn SendCancel>>,
) -> Result<Connection>
where
    S: Transport + MaybeSend + 'static,
{
    Ok(startup_and_spawn(connected, config, password, runtime, cancel, false).await?)
}

async fn startup_and_spawn<S>(
    connected: Connected<S>,
    config: &Config,
    password: Option<Vec<u8>>,
    runtime: Arc<dyn Runtime>,
    cancel: Option<Arc<dyn SendCancel>>,
    pipeline_password: bool,
) -> std::result::Result<Connection, StartupError>
where
    S: Transport + MaybeSend + 'static,
{
    let Connected { mut stream, tls_server_end_point } = connected;
    let options = StartupOptions::from_config(config, password, tls_server_end_point, pipeline_password)?;
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
                match startup.handle(msg, &mut out) {
                    Ok(Step::Done) => break 'exchange,
                    Ok(Step::Continue) => {}
                    Err(e) if startup.pipeline_rejected() => return Err(StartupError::PipelineRejected(e)),
                    Err(e) => return Err(e.into()),
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
                return Err(Error::new(ErrorKind::Closed, "the server closed the connection during startup").into());
            }
        }
    }
    let info = startup.into_info();
    let shared = Arc::new(Shared::new(info.parameters, info.status.unwrap_or(TransactionStatus::Idle)));
    for n in &info.notices {
        shared.notice(n);
    }
    let backend: BackendKey = Arc::new(std::sync::OnceLock::from((info.process_id, info.secret_key)));
    // Bytes already read past ReadyForQuery belong to the driver.
    Ok(assemble(config, runtime, cancel, stream, rbuf, shared, backend, None))
}

/// What a pipelined connect hands to [`assemble`]: the engine's startup
/// state, the startup bytes to write first, and how to open a new stream
/// if the server rejects pipelining.
pub(super) type FirstFlight<S> = (PipelinedStartup, BytesMut, Option<Arc<dyn Reopen<S>>>);

/// The one place a connection is put together, after a plain startup or for
/// a pipelined connect (`pipelined`, see [`FirstFlight`]): the request channel, the cancel token, the
/// driver (spawned on `runtime`) and the handle.
#[allow(clippy::too_many_arguments)]
pub(super) fn assemble<S>(
    config: &Config,
    runtime: Arc<dyn Runtime>,
    cancel: Option<Arc<dyn SendCancel>>,
    stream: S,
    rbuf: BytesMut,
    shared: Arc<Shared>,
    backend: BackendKey,
    pipelined: Option<FirstFlight<S>>,
) -> Connection
where
    S: Transport + MaybeSend + 'static,
{
    shared.set_text_results(config.get_text_results());
    let (tx, rx) = mpsc::unbounded();
    let cancel_timeout = config.get_connect_timeout().unwrap_or(DEFAULT_CANCEL_TIMEOUT);
    let token = CancelToken::new(cancel, backend.clone(), runtime.clone(), cancel_timeout);
    let mut driver =
        Driver::new(stream, rbuf, rx, shared.clone(), config.get_max_message_size()).with_runtime(runtime.clone());
    if let Some((phase, first, reopen)) = pipelined {
        driver = driver.with_pipelined_startup(phase, first, reopen);
    }
    if token.can_cancel() {
        driver = driver.with_drop_cancel(token.clone());
    }
    runtime.spawn(Box::pin(driver));
    Connection::new(tx, shared, runtime, &ConnectionSettings::from_config(config), backend, token)
}

/// The (host, port) pairs to try, in order (shuffled for `load_balance_hosts=random`).
pub(super) fn targets(config: &Config) -> Result<Vec<(Host, u16)>> {
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

pub(super) fn is_retryable(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Connect | ErrorKind::Io | ErrorKind::Timeout | ErrorKind::Tls | ErrorKind::Closed)
}

pub(super) fn describe(host: &Host, port: u16) -> String {
    match host {
        Host::Tcp(h) => format!("{h}:{port}"),
        Host::Unix(dir) => format!("{dir}/.s.PGSQL.{port}"),
    }
}
