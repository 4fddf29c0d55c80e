//! # edgepg-wasm — edgepg over WebSocket, for browsers and edge runtimes
//!
//! The WebAssembly transport of edgepg: PostgreSQL's wire protocol tunnelled
//! through a WebSocket to a proxy (Neon's, websockify, Neon's `wsproxy`),
//! the JS clock and timers, and the same Rust API as the native crate — so a
//! workers-rs Worker or any Rust code on `wasm32-unknown-unknown` writes
//! exactly what a tokio server writes:
//!
//! ```no_run
//! # #[cfg(target_arch = "wasm32")]
//! # async fn f() -> edgepg_wasm::Result<()> {
//! use edgepg_wasm::{WsOptions, WsProxy};
//! // Neon: wss://<host>/v2, no options needed.
//! let conn = edgepg_wasm::connect("postgres://u:pw@ep-x.eu-central-1.aws.neon.tech/db", WsOptions::default()).await?;
//! // A self-hosted websockify in front of PostgreSQL on 127.0.0.1:5432.
//! let local = WsOptions {
//!     ws_proxy: Some(WsProxy::Url("127.0.0.1:8080/v1".into())),
//!     use_secure_websocket: false,
//!     ..WsOptions::default()
//! };
//! let conn = edgepg_wasm::connect("postgres://u:pw@127.0.0.1:5432/db?pipeline_connect=password", local).await?;
//! let n: i32 = conn.fetchval("SELECT $1::int4 + 1", &[&41i32]).await?;
//! # Ok(()) }
//! ```
//!
//! * **URLs** follow Neon's serverless driver: `wss://<host>/v2` by default
//!   (Neon), or [`WsOptions::ws_proxy`]: a `host:port/path` prefix to which
//!   `?address=<pghost>:<pgport>` is appended, or a function `(host, port) -> url`.
//! * **TLS**: PostgreSQL-level TLS is off inside the tunnel; `sslmode` and
//!   `sslrootcert` are ignored and `channel_binding=require` fails. Use `wss`
//!   ([`WsOptions::use_secure_websocket`], the default) for encryption.
//! * **Round trips**: with `pipeline_connect=password` in the DSN (Neon's
//!   `pipelineConnect: "password"`), the cleartext password goes out with the
//!   StartupMessage, so a cleartext server (Neon's proxy) completes startup in
//!   one round trip after the WebSocket opens. Other servers are reconnected
//!   without pipelining.
//! * **No panics on network data**: this crate is built with `panic = "abort"`
//!   (profile `release-wasm`), so every byte from the peer goes through
//!   checked paths that return [`Error`].
//!
//! Everything here needs a JS host (`wasm32-unknown-unknown` with
//! wasm-bindgen); on other targets only the option and stream types compile
//! (so `cargo test --workspace` can build the crate natively).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod connector;
#[cfg(target_arch = "wasm32")]
mod edge;
/// The JS API's wasm-bindgen exports (wrapped by the npm package's glue).
#[cfg(target_arch = "wasm32")]
pub mod js;
/// JS exceptions as error causes (`error.cause` in JS), never Debug dumps.
// Used by the transports, which need a JS host; compiles everywhere.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub mod js_cause;
mod options;
#[cfg(target_arch = "wasm32")]
mod runtime;
// Used by the runtime and the WebSocket, which need a JS host.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod timer;
// Used by the connector, which needs a JS host; the URL tests run anywhere.
#[cfg(target_arch = "wasm32")]
mod socket;
#[cfg(target_arch = "wasm32")]
mod tcp;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod url;
mod websocket;

pub use edgepg_core::client::{Column, Connection, Params, PreparedStatement, Row, RowIndex, ServerVersion};
pub use edgepg_core::client::{FromRow, TypeTarget};
pub use edgepg_core::config::{self, Config};
pub use edgepg_core::protocol::backend::TransactionStatus;
pub use edgepg_core::sqlstate;
pub use edgepg_core::{types, DbError, Error, ErrorKind, ErrorPosition, Result, Severity, SqlState};
/// `#[derive(FromRow)]`, `#[derive(FromSql)]`, `#[derive(ToSql)]` (feature `derive`).
#[cfg(feature = "derive")]
pub use edgepg_derive::{FromRow, FromSql, ToSql};

#[cfg(target_arch = "wasm32")]
pub use connector::WsConnector;
#[cfg(target_arch = "wasm32")]
pub use edge::{EdgeConnector, EdgeStream};
pub use options::{UrlFn, WsLimits, WsOptions, WsProxy};
#[cfg(target_arch = "wasm32")]
pub use runtime::JsRuntime;
#[cfg(target_arch = "wasm32")]
pub use socket::{JsDuplex, SocketLimits, SocketStream};
#[cfg(target_arch = "wasm32")]
pub use tcp::{SocketFactory, TcpConnector, TcpOptions};
pub use websocket::WsStream;

/// Connects through a WebSocket using a libpq-style DSN (URI or key/value).
///
/// There is no environment on wasm: everything comes from the DSN. A DSN
/// without a host means `localhost`. Must run inside a JS event loop (the
/// connection's driver is started with `spawn_local`).
#[cfg(target_arch = "wasm32")]
pub async fn connect(dsn: &str, options: WsOptions) -> Result<Connection> {
    connect_with(Config::parse(dsn)?, options).await
}

/// Like [`connect`], but with `pipeline_connect=password` resolves as soon as
/// the WebSocket is open: the StartupMessage and password are queued and go
/// out together with the first query (connect + first result = one round
/// trip after the WebSocket opens, even for a statement-cache miss with
/// `Value` arguments). A wrong password fails that query (and every later
/// call) with the server's authentication error (SQLSTATE 28P01); a server
/// asking for SCRAM/MD5 is reconnected to without pipelining, transparently.
/// Without `pipeline_connect=password` this is [`connect`].
#[cfg(target_arch = "wasm32")]
pub async fn connect_pipelined(dsn: &str, options: WsOptions) -> Result<Connection> {
    connect_pipelined_with(Config::parse(dsn)?, options).await
}

/// [`connect_pipelined`] with a [`Config`]: the entry point for the JS
/// layer's `pipelineConnect: "password"` connections and one-shot queries.
#[cfg(target_arch = "wasm32")]
pub async fn connect_pipelined_with(config: Config, options: WsOptions) -> Result<Connection> {
    connect_pipelined_via(config, WsConnector::new(options).into()).await
}

/// [`connect_pipelined_with`] over any edge transport: a WebSocket or a
/// runtime's TCP sockets ([`TcpConnector`]).
#[cfg(target_arch = "wasm32")]
pub async fn connect_pipelined_via(mut config: Config, connector: EdgeConnector) -> Result<Connection> {
    install_nfkc();
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    let runtime: std::sync::Arc<dyn edgepg_core::client::Runtime> = std::sync::Arc::new(JsRuntime);
    edgepg_core::client::connect_pipelined(&config, &connector, runtime).await
}

/// Connects through a WebSocket with a [`Config`] (see [`connect`]).
#[cfg(target_arch = "wasm32")]
pub async fn connect_with(mut config: Config, options: WsOptions) -> Result<Connection> {
    install_nfkc();
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    let runtime: std::sync::Arc<dyn edgepg_core::client::Runtime> = std::sync::Arc::new(JsRuntime);
    edgepg_core::client::connect(&config, &WsConnector::new(options), runtime).await
}

/// SASLprep's Unicode normalisation from the JS host, for SCRAM passwords
/// when the `saslprep` feature (the `stringprep` crate's tables, ~70 KB
/// gzipped) is off, as in the npm package: `String.prototype.normalize`
/// exists in every JS runtime. Called by every connect of this crate; the
/// first call installs it.
#[cfg(target_arch = "wasm32")]
fn install_nfkc() {
    #[cfg(not(feature = "saslprep"))]
    {
        fn nfkc(s: &str) -> String {
            js_sys::JsString::from(s).normalize("NFKC").into()
        }
        edgepg_core::auth::saslprep::set_nfkc(nfkc);
    }
}
