//! Opening native streams: TCP (TCP_NODELAY, keepalive), Unix sockets, and
//! TLS negotiated with SSLRequest or directly (`sslnegotiation=direct`).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use edgepg_core::client::{BoxFuture, Connected, Connector};
use edgepg_core::config::{Config, Host, SslMode, SslNegotiation, SslRootCert};
use edgepg_core::protocol::frontend;
use edgepg_core::{Error, ErrorKind, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::stream::Stream;
use crate::tls::{self, ClientCertOptions, TlsOptions, Verification};

/// Opens TCP, Unix-socket and TLS streams for the core client.
#[derive(Debug, Clone)]
pub struct TokioConnector {
    /// Overrides the configured sslmode (used for the allow/prefer fallbacks).
    pub(crate) sslmode: Option<SslMode>,
}

impl Connector for TokioConnector {
    type Stream = Stream;

    fn connect<'a>(
        &'a self,
        host: &'a Host,
        port: u16,
        config: &'a Config,
    ) -> BoxFuture<'a, Result<Connected<Stream>>> {
        Box::pin(async move {
            match host {
                Host::Tcp(name) => self.connect_tcp(name, port, config).await,
                Host::Unix(dir) => connect_unix(dir, port).await,
            }
        })
    }

    fn password_for(&self, host: &Host, port: u16, config: &Config) -> Option<Vec<u8>> {
        crate::pgpass::password_for(host, port, config)
    }
}

impl TokioConnector {
    async fn connect_tcp(&self, name: &str, port: u16, config: &Config) -> Result<Connected<Stream>> {
        let mode = self.sslmode.unwrap_or(config.get_ssl_mode());
        let direct = config.get_ssl_negotiation() == SslNegotiation::Direct;
        if mode == SslMode::Disable || mode == SslMode::Allow {
            let tcp = open_tcp(name, port, config).await?;
            return Ok(Connected { stream: Stream::Tcp(tcp), tls_server_end_point: None });
        }
        // Certificate and key files are read before any connection is opened:
        // a bad file is the user's to fix and needs no network traffic.
        let prepared = tls::prepare(&tls_options(config, mode, name, direct))?;
        let mut tcp = open_tcp(name, port, config).await?;
        if !direct {
            // SSLRequest: the server answers one byte, 'S' (go ahead) or 'N'.
            let mut buf = BytesMut::with_capacity(8);
            frontend::ssl_request(&mut buf);
            tcp.write_all(&buf).await.map_err(|e| connect_error(name, port, e))?;
            let answer = tcp.read_u8().await.map_err(|e| connect_error(name, port, e))?;
            match answer {
                b'S' => {}
                b'N' if mode == SslMode::Prefer => {
                    return Ok(Connected { stream: Stream::Tcp(tcp), tls_server_end_point: None });
                }
                b'N' => {
                    return Err(Error::new(
                        ErrorKind::Tls,
                        format!(
                            "the server at {name}:{port} does not support TLS, but sslmode={} requires it",
                            mode_name(mode)
                        ),
                    ))
                }
                // An 'E' here is a pre-3.0 error message; anything else is garbage.
                other => {
                    return Err(Error::protocol(format!(
                        "unexpected answer {other:#04x} to SSLRequest from {name}:{port}"
                    )))
                }
            }
        }
        let (tls, end_point) = tls::handshake(tcp, &prepared).await?;
        Ok(Connected { stream: Stream::Tls(Box::new(tls)), tls_server_end_point: end_point })
    }
}

/// The TLS settings of `config` for host `name` under `mode`.
fn tls_options<'a>(config: &'a Config, mode: SslMode, name: &'a str, direct: bool) -> TlsOptions<'a> {
    let verify = match mode {
        SslMode::VerifyFull => Verification::Full,
        SslMode::VerifyCa => Verification::Chain,
        // libpq: with a root certificate file given, require verifies the chain.
        _ if config.get_ssl_root_cert().is_some() => Verification::Chain,
        _ => Verification::None,
    };
    let root_cert = config.get_ssl_root_cert().map(|r| match r {
        SslRootCert::System => "system",
        SslRootCert::File(path) => path.as_str(),
    });
    let client_cert = ClientCertOptions {
        cert: config.get_ssl_cert(),
        key: config.get_ssl_key(),
        password: config.get_ssl_password(),
    };
    TlsOptions { verify, root_cert, server_name: name, direct, client_cert }
}

async fn open_tcp(name: &str, port: u16, config: &Config) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| Error::new(ErrorKind::Connect, format!("could not resolve host \"{name}\": {e}")).with_source(e))?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                // Small request/response messages: never wait for Nagle.
                let _ = s.set_nodelay(true);
                if config.get_keepalives() {
                    let mut ka = socket2::TcpKeepalive::new();
                    if let Some(idle) = config.get_keepalives_idle() {
                        ka = ka.with_time(idle);
                    } else {
                        ka = ka.with_time(Duration::from_secs(120));
                    }
                    let _ = socket2::SockRef::from(&s).set_tcp_keepalive(&ka);
                }
                return Ok(s);
            }
            Err(e) => last = Some((addr, e)),
        }
    }
    Err(match last {
        Some((addr, e)) => {
            Error::new(ErrorKind::Connect, format!("could not connect to {name}:{port} ({addr}): {e}")).with_source(e)
        }
        None => Error::new(ErrorKind::Connect, format!("host \"{name}\" resolved to no addresses")),
    })
}

#[cfg(unix)]
async fn connect_unix(dir: &str, port: u16) -> Result<Connected<Stream>> {
    let path = format!("{}/.s.PGSQL.{port}", dir.trim_end_matches('/'));
    let s = tokio::net::UnixStream::connect(&path).await.map_err(|e| {
        Error::new(ErrorKind::Connect, format!("could not connect to Unix socket \"{path}\": {e}")).with_source(e)
    })?;
    Ok(Connected { stream: Stream::Unix(s), tls_server_end_point: None })
}

#[cfg(not(unix))]
async fn connect_unix(dir: &str, _port: u16) -> Result<Connected<Stream>> {
    Err(Error::config("host", format!("Unix sockets are not supported on this platform ({dir})")))
}

fn connect_error(name: &str, port: u16, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Connect, format!("connection to {name}:{port} failed during TLS negotiation: {e}"))
        .with_source(e)
}

pub(crate) fn mode_name(mode: SslMode) -> &'static str {
    mode.as_str()
}
