//! Connection options from the JS API's options object (Neon's names):
//! `wsProxy`, `useSecureWebSocket`, `webSocketConstructor`,
//! `pipelineConnect` (default `"password"` over `wss`), plus `connectTimeout`
//! (ms), `statementCacheSize` and `lazy`.
//! Everything else about the session comes from the DSN.

use std::time::Duration;

use edgepg_core::config::{Config, PipelineConnect};
use edgepg_core::{Error, Result};
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

use crate::options::{WsOptions, WsProxy};
use crate::tcp::{SocketFactory, TcpConnector, TcpOptions};
use crate::{EdgeConnector, WsConnector};

/// The option under which the entry point of each runtime (`js/src/node.js`,
/// `workerd.js`, ...) passes its socket adapter: `{ name, connect? }`.
const SOCKETS: &str = "__edgepgSockets";

/// Which transport a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    WebSocket,
    Tcp,
}

/// `transport` ("tcp" | "websocket"), or the default: WebSocket for Neon
/// hosts, when `wsProxy` is set, and where the runtime has no sockets
/// (browsers); TCP otherwise.
pub(crate) fn transport(options: &JsValue, config: &Config) -> Result<Transport> {
    let t = get(options, "transport");
    match t.as_string().as_deref() {
        Some("tcp") => Ok(Transport::Tcp),
        Some("websocket") => Ok(Transport::WebSocket),
        _ if present(&t) => Err(Error::config("transport", "must be \"tcp\" or \"websocket\"")),
        _ => {
            let neon = config.get_hosts().iter().any(|h| match h {
                edgepg_core::config::Host::Tcp(name) => name.ends_with(".neon.tech"),
                edgepg_core::config::Host::Unix(_) => false,
            });
            let websocket = neon || present(&get(options, "wsProxy")) || sockets(options).is_none();
            Ok(if websocket { Transport::WebSocket } else { Transport::Tcp })
        }
    }
}

/// The runtime's socket adapter, if it has sockets.
fn sockets(options: &JsValue) -> Option<SocketFactory> {
    let s = get(options, SOCKETS);
    get(&s, "connect").is_function().then(|| s.unchecked_into())
}

/// The connector the options and DSN ask for.
pub(crate) fn connector(options: &JsValue, config: &Config) -> Result<EdgeConnector> {
    match transport(options, config)? {
        Transport::WebSocket => Ok(WsConnector::new(ws_options(options)?).into()),
        Transport::Tcp => {
            let Some(factory) = sockets(options) else {
                let runtime = get(&get(options, SOCKETS), "name").as_string();
                return Err(Error::config(
                    "transport",
                    format!(
                        "\"tcp\" needs sockets, and {} has none: use transport \"websocket\" with a wsProxy",
                        runtime.as_deref().unwrap_or("this JavaScript runtime")
                    ),
                ));
            };
            let mut tcp = TcpOptions::default();
            for (key, slot) in
                [("sslrootcert", &mut tcp.ssl_root_cert), ("sslcert", &mut tcp.ssl_cert), ("sslkey", &mut tcp.ssl_key)]
            {
                let v = get(options, key);
                if let Some(text) = v.as_string() {
                    *slot = Some(text);
                } else if present(&v) {
                    return Err(Error::config(key, "must be a string: PEM text, or a file path"));
                }
            }
            Ok(TcpConnector::new(factory, tcp).into())
        }
    }
}

fn get(options: &JsValue, key: &str) -> JsValue {
    if !options.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(options, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn present(v: &JsValue) -> bool {
    !v.is_undefined() && !v.is_null()
}

/// A duration in milliseconds; `None` when absent.
pub(crate) fn millis(options: &JsValue, key: &str) -> Result<Option<Duration>> {
    let v = get(options, key);
    if !present(&v) {
        return Ok(None);
    }
    let ms = v
        .as_f64()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .ok_or_else(|| Error::config(key, "must be a non-negative number of milliseconds"))?;
    // from_secs_f64 panics (and a panic aborts the module) past ~5.8e11 years.
    Duration::try_from_secs_f64(ms / 1000.0)
        .map(Some)
        .map_err(|_| Error::config(key, "is too large a number of milliseconds"))
}

/// A count; `None` when absent.
pub(crate) fn count(options: &JsValue, key: &str) -> Result<Option<usize>> {
    let v = get(options, key);
    if !present(&v) {
        return Ok(None);
    }
    v.as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= 1e9)
        .map(|n| Some(n as usize))
        .ok_or_else(|| Error::config(key, "must be a non-negative integer"))
}

/// The WebSocket options.
pub(crate) fn ws_options(options: &JsValue) -> Result<WsOptions> {
    let mut ws = WsOptions::default();
    let proxy = get(options, "wsProxy");
    if let Some(s) = proxy.as_string() {
        ws.ws_proxy = Some(WsProxy::Url(s));
    } else if let Some(f) = proxy.dyn_ref::<js_sys::Function>() {
        ws.ws_proxy = Some(WsProxy::Js(f.clone()));
    } else if present(&proxy) {
        return Err(Error::config("wsProxy", "must be a string (host:port/path) or a function (host, port) => url"));
    }
    let secure = get(options, "useSecureWebSocket");
    if let Some(b) = secure.as_bool() {
        ws.use_secure_websocket = b;
    } else if present(&secure) {
        return Err(Error::config("useSecureWebSocket", "must be a boolean"));
    }
    let ctor = get(options, "webSocketConstructor");
    if let Some(f) = ctor.dyn_ref::<js_sys::Function>() {
        ws.web_socket_constructor = Some(f.clone());
    } else if present(&ctor) {
        return Err(Error::config("webSocketConstructor", "must be a WebSocket class"));
    }
    Ok(ws)
}

/// True when the DSN itself chose `pipeline_connect` (it then wins over the
/// JS default). The core keeps "not given" apart from the default value, and
/// `Config` compares by value, so setting either mode shows whether it was set.
fn pipeline_connect_in_dsn(config: &Config) -> bool {
    [PipelineConnect::Password, PipelineConnect::Disable].into_iter().any(|mode| {
        let mut c = config.clone();
        c.pipeline_connect(mode);
        c == *config
    })
}

/// `useSecureWebSocket` (default true): whether the tunnel is `wss`.
fn secure_websocket(options: &JsValue) -> bool {
    get(options, "useSecureWebSocket").as_bool().unwrap_or(true)
}

/// Whether the caller asked for a lazily started connection (`lazy: true`):
/// resolved once the WebSocket is open, authentication checked by the first
/// call (which shares the startup flight).
pub(crate) fn lazy(options: &JsValue) -> Result<bool> {
    let v = get(options, "lazy");
    match v.as_bool() {
        Some(b) => Ok(b),
        None if !present(&v) => Ok(false),
        None => Err(Error::config("lazy", "must be a boolean")),
    }
}

/// `connectTimeout` in Cloudflare Workers when neither the DSN nor the
/// options set one.
pub(crate) const WORKERD_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The DSN with the options that override it.
pub(crate) fn config(dsn: &str, options: &JsValue) -> Result<Config> {
    let mut config = Config::parse(dsn)?;
    if config.get_hosts().is_empty() {
        config.host("localhost");
    }
    let pipeline = get(options, "pipelineConnect");
    let websocket = transport(options, &config)? == Transport::WebSocket;
    if !present(&pipeline) && !pipeline_connect_in_dsn(&config) && websocket && secure_websocket(options) {
        // The default, like Neon's driver: the password goes out with the
        // StartupMessage and the first query joins them (one flight after the
        // WebSocket opens). A server that wants SCRAM/MD5/trust is reconnected
        // to without pipelining (core `connect_pipelined`). Only over `wss`:
        // over plain `ws` it would hand a SCRAM server's password to anyone
        // on the path, so there it stays opt-in.
        config.pipeline_connect(PipelineConnect::Password);
    }
    match pipeline.as_string().as_deref() {
        Some("password") => {
            config.pipeline_connect(PipelineConnect::Password);
        }
        Some("disable") => {
            config.pipeline_connect(PipelineConnect::Disable);
        }
        _ if pipeline.as_bool() == Some(false) => {
            config.pipeline_connect(PipelineConnect::Disable);
        }
        _ if !present(&pipeline) => {}
        _ => return Err(Error::config("pipelineConnect", "must be \"password\", \"disable\" or false")),
    }
    if let Some(t) = millis(options, "connectTimeout")? {
        config.connect_timeout(t);
    } else if config.get_connect_timeout().is_none() && is_workerd() {
        // A Worker's 7th simultaneous connection waits until another one
        // closes: bound that wait so it fails clearly instead of hanging.
        config.connect_timeout(WORKERD_CONNECT_TIMEOUT);
    }
    if let Some(n) = count(options, "statementCacheSize")? {
        config.statement_cache_size(n);
    }
    Ok(config)
}

/// True inside Cloudflare Workers (workerd sets this user agent, as
/// node-postgres and postgres.js also check).
pub(crate) fn is_workerd() -> bool {
    let navigator = Reflect::get(&js_sys::global(), &JsValue::from_str("navigator")).unwrap_or(JsValue::UNDEFINED);
    if navigator.is_undefined() || navigator.is_null() {
        return false;
    }
    Reflect::get(&navigator, &JsValue::from_str("userAgent")).ok().and_then(|ua| ua.as_string()).as_deref()
        == Some("Cloudflare-Workers")
}
