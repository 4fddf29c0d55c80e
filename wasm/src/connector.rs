//! Opening WebSockets for the core client: the URL from [`WsOptions`], then a
//! [`WsStream`]. PostgreSQL-level TLS is never negotiated inside the tunnel
//! (no SSLRequest), whatever `sslmode` says: the WebSocket's `wss` is the
//! encryption, as with Neon's driver (`forceDisablePgSSL`). Neon's proxy
//! answers an SSLRequest with `N` anyway.

use edgepg_core::client::{BoxFuture, Connected, Connector};
use edgepg_core::config::{Config, Host};
use edgepg_core::{Error, Result};
use wasm_bindgen::JsValue;

use crate::options::{WsOptions, WsProxy};
use crate::url::{self, Target};
use crate::websocket::WsStream;

/// The core's [`Connector`] over WebSockets.
///
/// ```no_run
/// # async fn f() -> edgepg_wasm::Result<()> {
/// use std::sync::Arc;
/// use edgepg_wasm::{Config, JsRuntime, WsConnector, WsOptions};
/// let config = Config::parse("postgres://u:pw@ep-x.neon.tech/db")?;
/// let connector = WsConnector::new(WsOptions::default());
/// let conn = edgepg_core::client::connect(&config, &connector, Arc::new(JsRuntime)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct WsConnector {
    options: WsOptions,
}

impl WsConnector {
    /// A connector with these options.
    pub fn new(options: WsOptions) -> WsConnector {
        WsConnector { options }
    }

    /// The WebSocket URL for PostgreSQL at `host:port`.
    pub fn url_for(&self, host: &str, port: u16) -> Result<String> {
        let target = match &self.options.ws_proxy {
            None => Target::Default,
            Some(WsProxy::Url(prefix)) => Target::Prefix(prefix),
            Some(WsProxy::Fn(f)) => Target::Computed(f(host, port)),
            Some(WsProxy::Js(f)) => {
                let value = f.call2(&JsValue::NULL, &JsValue::from_str(host), &JsValue::from(port)).map_err(|e| {
                    let cause = crate::js_cause::JsCause::new(e);
                    Error::config("ws_proxy", format!("the wsProxy function threw: {}", cause.message()))
                        .with_source(cause)
                })?;
                Target::Computed(value.as_string().ok_or_else(|| {
                    Error::config("ws_proxy", "the wsProxy function must return a string (host:port/path)")
                })?)
            }
        };
        url::build(target, host, port, self.options.use_secure_websocket)
    }
}

impl Connector for WsConnector {
    type Stream = WsStream;

    fn connect<'a>(
        &'a self,
        host: &'a Host,
        port: u16,
        _config: &'a Config,
    ) -> BoxFuture<'a, Result<Connected<WsStream>>> {
        Box::pin(async move {
            let host = match host {
                Host::Tcp(name) => name,
                Host::Unix(dir) => {
                    return Err(Error::config(
                        "host",
                        format!("{dir} is a Unix socket directory; over WebSocket the host must be a name or address"),
                    ))
                }
            };
            let url = self.url_for(host, port)?;
            let stream =
                WsStream::connect_with_limits(&url, self.options.web_socket_constructor.as_ref(), self.options.limits)
                    .await?;
            Ok(Connected { stream, tls_server_end_point: None })
        })
    }
}
