//! How to reach PostgreSQL through a WebSocket: the options of Neon's
//! serverless driver (`wsProxy`, `useSecureWebSocket`, `webSocketConstructor`),
//! with the same meaning so its users can switch.

use std::fmt;
use std::rc::Rc;

/// A Rust function `(host, port) -> url` for [`WsProxy::Fn`].
pub type UrlFn = Rc<dyn Fn(&str, u16) -> String>;

/// Where the WebSocket for a PostgreSQL `host:port` goes (Neon's `wsProxy`).
///
/// URLs are written without a scheme (`ws://`/`wss://` is added from
/// [`WsOptions::use_secure_websocket`]); a URL that already has one is used as is.
#[derive(Clone)]
pub enum WsProxy {
    /// `host:port/path` of a proxy; `?address=<pghost>:<pgport>` is appended
    /// (websockify, Neon's `wsproxy`).
    Url(String),
    /// A Rust function `(host, port) -> url`.
    Fn(UrlFn),
    /// A JS function `(host, port) => url` (the JS API's `wsProxy`).
    Js(js_sys::Function),
}

impl fmt::Debug for WsProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsProxy::Url(u) => f.debug_tuple("Url").field(u).finish(),
            WsProxy::Fn(_) => f.write_str("Fn(..)"),
            WsProxy::Js(_) => f.write_str("Js(..)"),
        }
    }
}

/// WebSocket options for [`connect`](crate::connect).
///
/// The defaults suit Neon: `wss://<host>/v2`. For a self-hosted proxy such as
/// websockify set [`ws_proxy`](WsOptions::ws_proxy) (and
/// `use_secure_websocket = false` when it has no TLS).
///
/// ```
/// use edgepg_wasm::{WsOptions, WsProxy};
/// let options = WsOptions {
///     ws_proxy: Some(WsProxy::Url("127.0.0.1:8080/v1".into())),
///     use_secure_websocket: false,
///     ..WsOptions::default()
/// };
/// assert!(options.web_socket_constructor.is_none());
/// ```
#[derive(Clone, Debug)]
pub struct WsOptions {
    /// The proxy URL or URL function; `None` connects to `<host>/v2` (Neon).
    pub ws_proxy: Option<WsProxy>,
    /// `wss:` (default) or `ws:`. PostgreSQL-level TLS is never used inside
    /// the tunnel, so with `false` the traffic, password included, is in clear.
    pub use_secure_websocket: bool,
    /// The `WebSocket` class to use instead of the global one (Node 20: the
    /// `ws` package's `WebSocket`). Called as `new ctor(url)`.
    pub web_socket_constructor: Option<js_sys::Function>,
    /// How much the WebSocket may buffer in each direction (backpressure).
    pub limits: WsLimits,
}

impl Default for WsOptions {
    fn default() -> WsOptions {
        WsOptions {
            ws_proxy: None,
            use_secure_websocket: true,
            web_socket_constructor: None,
            limits: WsLimits::default(),
        }
    }
}

/// Buffering limits of the WebSocket transport.
///
/// **Sending**: `WebSocket.send` never blocks, so the transport watches
/// `bufferedAmount` (bytes handed to the browser but not yet on the wire).
/// Above [`send_high_water`](WsLimits::send_high_water) it stops sending
/// (and stops taking COPY data) until the amount drops to
/// [`send_low_water`](WsLimits::send_low_water). Browsers have no "drained"
/// event, so it re-checks on a short timer (a few milliseconds). Frames are
/// at most `send_high_water` bytes.
///
/// **Receiving**: a browser WebSocket cannot pause reading, so frames the
/// connection has not consumed yet (a slow row-stream or COPY-out consumer)
/// queue in memory. Past [`max_receive_queue`](WsLimits::max_receive_queue)
/// bytes the queued data is dropped and the connection fails with
/// [`ErrorKind::Io`](crate::ErrorKind::Io) ("consumer too slow") instead of
/// growing without bound.
///
/// ```
/// use edgepg_wasm::{WsLimits, WsOptions};
/// let options = WsOptions {
///     limits: WsLimits { max_receive_queue: 256 << 20, ..WsLimits::default() },
///     ..WsOptions::default()
/// };
/// assert_eq!(options.limits.send_high_water, 1 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WsLimits {
    /// Stop sending while `bufferedAmount` is above this many bytes; also the
    /// largest frame sent. Default 1 MiB.
    pub send_high_water: usize,
    /// Resume sending once `bufferedAmount` is at or below this. Default 256 KiB.
    pub send_low_water: usize,
    /// Fail the connection when more than this many received bytes wait to be
    /// read. Default 64 MiB.
    pub max_receive_queue: usize,
}

impl Default for WsLimits {
    fn default() -> WsLimits {
        WsLimits { send_high_water: 1 << 20, send_low_water: 256 << 10, max_receive_queue: 64 << 20 }
    }
}
