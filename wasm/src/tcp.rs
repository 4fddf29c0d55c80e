//! Direct TCP from JS runtimes that have sockets: the core's [`Connector`]
//! over a runtime adapter ([`SocketFactory`]: `node:net`/`node:tls` in Node,
//! Bun and Deno, `cloudflare:sockets` in Workers; see `js/src/sockets/`),
//! with libpq's TLS semantics.
//!
//! | sslmode | what happens |
//! |---|---|
//! | `disable`, `allow` | plain TCP (`allow` never upgrades) |
//! | `prefer` (default) | SSLRequest; TLS without verification if the server agrees, plain TCP if it says `N` |
//! | `require` | SSLRequest; TLS without verification (chain verified when `sslrootcert` is set, as libpq) |
//! | `verify-ca` | TLS; the chain must lead to `sslrootcert` (or the runtime's roots) |
//! | `verify-full` | TLS; chain and host name |
//!
//! `sslnegotiation=direct` opens TLS at once (PostgreSQL 17+, ALPN
//! `postgresql`). The TLS itself is the runtime's: Rust decides what to
//! verify, the adapter tells the runtime. A runtime that cannot do what the
//! mode asks (Workers cannot skip verification or take a custom CA) fails
//! with a clear error from its adapter rather than silently doing less.
//! SCRAM-SHA-256-PLUS channel binding uses the server certificate where the
//! runtime shows it (`peerCertificate`: Node, Bun, Deno); elsewhere
//! `channel_binding=require` fails, `prefer` falls back to plain SCRAM.

use bytes::BytesMut;
use edgepg_core::client::{BoxFuture, Connected, Connector, Transport};
use edgepg_core::config::{Config, Host, SslMode, SslNegotiation, SslRootCert};
use edgepg_core::protocol::frontend;
use edgepg_core::{Error, ErrorKind, Result};
use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::socket::{js_error, JsDuplex, SocketLimits, SocketStream};

#[wasm_bindgen]
extern "C" {
    /// A runtime's socket adapter: `{ name, connect(host, port, options) -> Promise<JsDuplex> }`.
    /// `options.tls` is null for a plain socket, or the TLS options (see
    /// [`TcpConnector`]) for direct TLS. `options.starttls` is true when an
    /// SSLRequest follows: the duplex then delivers the first chunk (the
    /// one-byte answer) and no more until `startTls` or `resume`.
    #[derive(Clone, Debug)]
    pub type SocketFactory;
    #[wasm_bindgen(method, catch)]
    fn connect(this: &SocketFactory, host: &str, port: u16, options: &JsValue)
        -> std::result::Result<Promise, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn name(this: &SocketFactory) -> JsValue;
}

impl SocketFactory {
    /// The runtime's name for messages ("node", "workerd", ...).
    pub fn runtime_name(&self) -> String {
        self.name().as_string().unwrap_or_else(|| "this runtime".into())
    }
}

/// TCP settings that come from JS rather than the DSN.
#[derive(Clone, Debug, Default)]
pub struct TcpOptions {
    /// `sslrootcert` as PEM text or a file path (the adapter reads files
    /// where the runtime has them); overrides the DSN's.
    pub ssl_root_cert: Option<String>,
    /// `sslcert`: the client certificate as PEM text or a file path; overrides the DSN's.
    pub ssl_cert: Option<String>,
    /// `sslkey`: the client key as PEM text or a file path; overrides the DSN's.
    pub ssl_key: Option<String>,
    /// Read-side buffering.
    pub limits: SocketLimits,
}

/// The core's [`Connector`] over a runtime's sockets.
#[derive(Clone, Debug)]
pub struct TcpConnector {
    sockets: SocketFactory,
    options: TcpOptions,
}

impl TcpConnector {
    /// A connector over `sockets` with `options`.
    pub fn new(sockets: SocketFactory, options: TcpOptions) -> TcpConnector {
        TcpConnector { sockets, options }
    }

    async fn open(&self, name: &str, port: u16, config: &Config) -> Result<Connected<SocketStream>> {
        let mode = config.get_ssl_mode();
        match self.open_with(name, port, config, mode).await {
            // libpq: with prefer, a failed TLS handshake is retried in clear.
            Err(e) if mode == SslMode::Prefer && e.kind() == ErrorKind::Tls => {
                self.open_with(name, port, config, SslMode::Disable).await
            }
            result => result,
        }
    }

    async fn open_with(
        &self,
        name: &str,
        port: u16,
        config: &Config,
        mode: SslMode,
    ) -> Result<Connected<SocketStream>> {
        let tls = !matches!(mode, SslMode::Disable | SslMode::Allow);
        let direct = tls && config.get_ssl_negotiation() == SslNegotiation::Direct;
        let tls_options = self.tls_options(name, mode, config, direct);
        let open_options = Object::new();
        set(&open_options, "tls", if direct { tls_options.clone() } else { JsValue::NULL });
        // SSLRequest, then maybe an upgrade: the adapter delivers the one-byte
        // answer and waits (workerd must hold its reader still for startTls).
        set(&open_options, "starttls", JsValue::from_bool(tls && !direct));
        let peer = format!("{name}:{port}");
        let runtime = self.sockets.runtime_name();
        let promise = self
            .sockets
            .connect(name, port, &open_options)
            .map_err(|e| js_error(ErrorKind::Connect, &format!("could not connect to {peer} ({runtime})"), e))?;
        let duplex: JsDuplex = JsFuture::from(promise)
            .await
            .map_err(|e| {
                // Direct TLS fails in the handshake, plain TCP in connecting.
                let kind = if direct { ErrorKind::Tls } else { ErrorKind::Connect };
                js_error(kind, &format!("could not connect to {peer}"), e)
            })?
            .unchecked_into();
        let mut stream = SocketStream::new(duplex, peer.clone(), self.options.limits)?;
        if !tls {
            return Ok(Connected { stream, tls_server_end_point: None });
        }
        if !direct {
            match ssl_request(&mut stream, &peer).await? {
                b'S' => stream.start_tls(&tls_options).await?,
                b'N' if mode == SslMode::Prefer => {
                    stream.resume();
                    return Ok(Connected { stream, tls_server_end_point: None });
                }
                b'N' => {
                    return Err(Error::new(
                        ErrorKind::Tls,
                        format!("the server at {peer} does not support TLS, but sslmode={} requires it", mode.as_str()),
                    ))
                }
                other => {
                    return Err(Error::protocol(format!("unexpected answer {other:#04x} to SSLRequest from {peer}")))
                }
            }
        }
        let tls_server_end_point =
            stream.peer_certificate().and_then(|der| edgepg_core::auth::tls_server_end_point(&der).ok());
        Ok(Connected { stream, tls_server_end_point })
    }

    /// What the adapter's `startTls` (or a direct TLS connect) gets:
    /// `{ servername, verify: "none" | "chain" | "full", ca, alpn, sslmode }`.
    fn tls_options(&self, name: &str, mode: SslMode, config: &Config, direct: bool) -> JsValue {
        let root = self.options.ssl_root_cert.clone().or_else(|| match config.get_ssl_root_cert() {
            Some(SslRootCert::File(path)) => Some(path.clone()),
            Some(SslRootCert::System) | None => None,
        });
        let verify = match mode {
            SslMode::VerifyFull => "full",
            SslMode::VerifyCa => "chain",
            // libpq: with a root certificate given, require verifies the chain.
            SslMode::Require if root.is_some() => "chain",
            _ => "none",
        };
        let o = Object::new();
        set(&o, "servername", JsValue::from_str(name));
        set(&o, "verify", JsValue::from_str(verify));
        set(&o, "sslmode", JsValue::from_str(mode.as_str()));
        if let Some(root) = root {
            set(&o, "ca", JsValue::from_str(&root));
        }
        if direct {
            set(&o, "alpn", JsValue::from_str("postgresql"));
        }
        // Client certificate (sslcert/sslkey as PEM text or paths, sslpassword
        // for an encrypted key): the adapter hands them to the runtime's TLS
        // where it takes client certificates (node:tls), and refuses otherwise.
        let (cert, key) = (
            self.options.ssl_cert.as_deref().or(config.get_ssl_cert()),
            self.options.ssl_key.as_deref().or(config.get_ssl_key()),
        );
        if let Some(cert) = cert {
            set(&o, "cert", JsValue::from_str(cert));
        }
        if let Some(key) = key {
            set(&o, "key", JsValue::from_str(key));
        }
        if let Some(password) = config.get_ssl_password() {
            set(&o, "passphrase", JsValue::from_str(password));
        }
        o.into()
    }
}

fn set(o: &Object, key: &str, value: JsValue) {
    // Setting a property of a fresh plain object cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(key), &value);
}

/// Sends SSLRequest and reads the server's one-byte answer.
async fn ssl_request(stream: &mut SocketStream, peer: &str) -> Result<u8> {
    let mut request = BytesMut::with_capacity(8);
    frontend::ssl_request(&mut request);
    let mut data = &request[..];
    while !data.is_empty() {
        let n = std::future::poll_fn(|cx| stream.poll_write(cx, data)).await.map_err(Error::io)?;
        data = &data[n..];
    }
    std::future::poll_fn(|cx| stream.poll_flush(cx)).await.map_err(Error::io)?;
    let mut answer = BytesMut::new();
    let n = std::future::poll_fn(|cx| stream.poll_read_buf(cx, &mut answer)).await.map_err(Error::io)?;
    match n {
        0 => {
            Err(Error::new(ErrorKind::Connect, format!("the server at {peer} closed the connection after SSLRequest")))
        }
        1 => Ok(answer[0]),
        // CVE-2021-23222: bytes after the answer could be injected by a man in
        // the middle and would later be read as if they came over TLS.
        _ => Err(Error::protocol(format!("the server at {peer} sent more than the one-byte answer to SSLRequest"))),
    }
}

impl Connector for TcpConnector {
    type Stream = SocketStream;

    fn connect<'a>(
        &'a self,
        host: &'a Host,
        port: u16,
        config: &'a Config,
    ) -> BoxFuture<'a, Result<Connected<SocketStream>>> {
        Box::pin(async move {
            match host {
                Host::Tcp(name) => self.open(name, port, config).await,
                Host::Unix(dir) => Err(Error::config(
                    "host",
                    format!(
                        "{dir} is a Unix socket directory; the {} sockets of the edge package are TCP only",
                        self.sockets.runtime_name()
                    ),
                )),
            }
        })
    }
}
