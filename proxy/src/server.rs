//! The listener: accepting (with a cap on open connections), TLS
//! termination, HTTP/1.1 with upgrades, routing, and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::http::{self, Body};
use crate::settings::Settings;
use crate::{log_info, sql, ws};

/// What every request handler shares.
pub struct State {
    /// The resolved settings.
    pub settings: Settings,
    /// SQL-over-HTTP connection pools.
    pub pools: sql::pools::Pools,
    /// Flips to `true` when the grace period of a shutdown is over: the
    /// WebSocket relays still running close then.
    pub(crate) stop: watch::Receiver<bool>,
    /// WebSocket relays, so a shutdown can wait for them.
    pub(crate) relays: std::sync::Mutex<JoinSet<()>>,
}

/// A bound proxy, ready to [`run`](Proxy::run).
pub struct Proxy {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    stop: watch::Sender<bool>,
}

impl Proxy {
    /// Binds the listening socket and loads the TLS certificate, so that
    /// configuration errors surface before anything is served.
    pub async fn bind(settings: Settings) -> io::Result<Proxy> {
        let tls = match &settings.tls {
            Some((cert, key)) => Some(tls_acceptor(cert, key)?),
            None => None,
        };
        let listener = TcpListener::bind(settings.listen).await?;
        let (stop, stop_rx) = watch::channel(false);
        let pools = sql::pools::Pools::new(&settings);
        let state = Arc::new(State { settings, pools, stop: stop_rx, relays: Default::default() });
        Ok(Proxy { listener, tls, state, stop })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.settings.listen)
    }

    /// Serves until `shutdown` completes, then stops accepting, lets running
    /// requests and WebSocket relays finish for up to the shutdown timeout,
    /// closes what is left and the pools, and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Proxy { listener, tls, state, stop } = self;
        let settings = &state.settings;
        if settings.allow.is_empty() {
            log_info!("no target is allowed (use --allow HOST:PORT): every request will be refused");
        } else if settings.allow.allows_any_host() {
            log_info!("warning: an allow rule matches every host; anyone who reaches this proxy can reach them");
        }
        log_info!(
            "listening on {}://{} (targets allowed: {})",
            if tls.is_some() { "https" } else { "http" },
            listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            settings.allow
        );
        let limit = Arc::new(Semaphore::new(settings.max_connections));
        // Tells open HTTP connections to finish their request and close.
        let (closing_tx, closing) = watch::channel(false);
        tokio::pin!(shutdown);
        loop {
            // The permit first: over the cap, connections wait in the backlog.
            let permit = tokio::select! {
                _ = &mut shutdown => break,
                p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            };
            let (tcp, peer) = tokio::select! {
                _ = &mut shutdown => break,
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        log_info!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let state = state.clone();
            let tls = tls.clone();
            let closing = closing.clone();
            tokio::spawn(async move {
                serve_connection(state, tls, tcp, peer, closing).await;
                drop(permit);
            });
        }
        drop(listener);
        log_info!("shutting down: waiting up to {:?} for running requests", settings.shutdown_timeout);
        let deadline = tokio::time::Instant::now() + settings.shutdown_timeout;
        let _ = closing_tx.send(true);
        // Every connection holds a permit until it ends: all permits back
        // means every HTTP connection is done (upgraded ones hand over to
        // their relay task).
        let all = u32::try_from(settings.max_connections).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout_at(deadline, limit.acquire_many(all)).await;
        let mut relays = std::mem::take(&mut *state.relays.lock().unwrap_or_else(|e| e.into_inner()));
        let _ = tokio::time::timeout_at(deadline, async { while relays.join_next().await.is_some() {} }).await;
        let _ = stop.send(true);
        relays.shutdown().await;
        state.pools.close().await;
        log_info!("stopped");
    }
}

async fn serve_connection(
    state: Arc<State>,
    tls: Option<TlsAcceptor>,
    tcp: TcpStream,
    peer: SocketAddr,
    closing: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let handshake = state.settings.handshake_timeout;
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).keep_alive(true);
    // Slowloris: a request head must arrive within the handshake timeout.
    // (hyper also applies it to the wait for the next request on a
    // keep-alive connection.)
    builder.header_read_timeout(handshake);
    let service = {
        let state = state.clone();
        service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(route(state, req, peer).await) }
        })
    };
    match tls {
        None => {
            let conn = builder.serve_connection(TokioIo::new(tcp), service).with_upgrades();
            drive(conn, closing).await;
        }
        Some(acceptor) => {
            let accepted = match handshake {
                Some(t) => tokio::time::timeout(t, acceptor.accept(tcp))
                    .await
                    .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))),
                None => acceptor.accept(tcp).await,
            };
            match accepted {
                Ok(stream) => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
                    drive(conn, closing).await;
                }
                Err(e) => crate::log_request!("{peer}: TLS handshake failed: {e}"),
            }
        }
    }
}

/// Runs an HTTP connection; when the proxy shuts down, lets the request in
/// progress finish and then closes it.
async fn drive<I, S>(conn: http1::UpgradeableConnection<I, S>, mut closing: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = closing.wait_for(|c| *c) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

/// Neon's routes: a WebSocket upgrade on any path, `POST /sql`, its CORS
/// preflight; plus `GET /health` for load balancers and scripts.
async fn route(state: Arc<State>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    if ws::is_upgrade(&req) {
        return ws::upgrade(state, req, peer).await;
    }
    match (req.method(), req.uri().path()) {
        (&Method::POST, "/sql") => sql::handle(state, req, peer).await,
        (&Method::OPTIONS, "/sql") => sql::preflight(),
        (&Method::GET, "/health") => http::json(StatusCode::OK, b"{\"status\":\"ok\"}".to_vec()),
        (_, "/sql") => http::error(StatusCode::METHOD_NOT_ALLOWED, "POST /sql only", None),
        _ => http::error(
            StatusCode::NOT_FOUND,
            "unknown route: use a WebSocket upgrade (GET /v1?address=host:port or /v2) or POST /sql",
            None,
        ),
    }
}

/// Loads a PEM certificate chain and private key into a TLS acceptor that
/// offers HTTP/1.1 (WebSocket upgrades need it).
fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> io::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{}: {e}", what.display()))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, &e))?;
    if certs.is_empty() {
        return Err(bad(cert, &"no certificate in the file"));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(cert, &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
