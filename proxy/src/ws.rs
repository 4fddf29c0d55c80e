//! The WebSocket relay: one WebSocket, one TCP connection to PostgreSQL,
//! bytes copied both ways.
//!
//! Compatible with Neon's driver and `wsproxy`: the target is the `address`
//! query parameter (`/v1?address=host:port`) or else the `Host` header's name
//! with `--host-port` (`/v2`, the path Neon's driver uses by default). Frames
//! are binary and carry raw PostgreSQL protocol bytes: a message may span
//! frames and a frame may hold many messages, so the relay never looks at
//! message boundaries. A text frame is a protocol violation and closes the
//! WebSocket (code 1003). Either side closing closes the other.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, CONNECTION, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use crate::allow::split_host_port;
use crate::http::{self, Body};
use crate::server::State;
use crate::{log_info, log_request};

/// Bytes read from PostgreSQL per frame at most.
const READ_CHUNK: usize = 64 * 1024;

/// tungstenite's read buffer. It zero-fills the free part of this buffer
/// before every read of the client's socket (including reads that find
/// nothing), so its default of 128 KiB cost a 128 KiB memset per client
/// frame; PostgreSQL traffic from the client is mostly small messages, and a
/// large one (COPY FROM) just takes more reads.
const WS_READ_BUFFER: usize = 16 * 1024;

/// Most bytes of client frames gathered into one write to PostgreSQL.
const MAX_BATCH: usize = 256 * 1024;

/// Whether the request asks to become a WebSocket.
pub fn is_upgrade(req: &Request<Incoming>) -> bool {
    header_has_token(req, UPGRADE, "websocket")
}

fn header_has_token(req: &Request<Incoming>, name: hyper::header::HeaderName, token: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// Where a WebSocket request wants to go.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

/// The target of a request: `address=host:port` from the query string, or
/// the `Host` header's name and `default_port`.
pub fn target(query: Option<&str>, host_header: Option<&str>, default_port: u16) -> Result<Target, String> {
    let address = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("address=")).map(percent_decode));
    let (host, port) = match &address {
        Some(a) => {
            let (h, p) = split_host_port(a).ok_or_else(|| format!("address {a:?}: expected host:port"))?;
            (h.to_owned(), p.parse::<u16>().map_err(|_| format!("address {a:?}: bad port"))?)
        }
        None => {
            let h = host_header.ok_or("no address=host:port in the query string and no Host header")?;
            let name = match split_host_port(h) {
                Some((name, _)) => name,
                None => h,
            };
            (name.to_owned(), default_port)
        }
    };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(&host).to_owned();
    if host.is_empty() || port == 0 {
        return Err("empty host or port 0".into());
    }
    Ok(Target { host, port })
}

/// `%3A` → `:`; enough for host names and ports (anything undecodable stays).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            // Bytes, not a str slice: a multi-byte character after `%` must not panic.
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Answers an upgrade request: checks it, connects to the target, and only
/// then switches protocols, so a refused or unreachable target is an HTTP
/// error the client can read, not a WebSocket that closes at once.
pub async fn upgrade(state: Arc<State>, mut req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let settings = &state.settings;
    if req.method() != Method::GET || !header_has_token(&req, CONNECTION, "upgrade") {
        return http::error(StatusCode::BAD_REQUEST, "a WebSocket upgrade is a GET with Connection: Upgrade", None);
    }
    if req.headers().get(SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        let mut resp = http::error(StatusCode::UPGRADE_REQUIRED, "WebSocket version 13 only", None);
        resp.headers_mut().insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return resp;
    }
    let Some(key) = req.headers().get(SEC_WEBSOCKET_KEY).map(|k| derive_accept_key(k.as_bytes())) else {
        return http::error(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key", None);
    };
    let host_header = req.headers().get(HOST).and_then(|h| h.to_str().ok());
    let target = match target(req.uri().query(), host_header, settings.host_port) {
        Ok(t) => t,
        Err(msg) => return http::error(StatusCode::BAD_REQUEST, &msg, None),
    };
    if !settings.allow.allows(&target.host, target.port) {
        log_request!("{peer}: ws {}:{} refused (not allowed)", target.host, target.port);
        let msg = format!("{}:{} is not an allowed target of this proxy", target.host, target.port);
        return http::error(StatusCode::FORBIDDEN, &msg, None);
    }
    let connect = TcpStream::connect((target.host.as_str(), target.port));
    let tcp = match settings.connect_timeout {
        Some(t) => tokio::time::timeout(t, connect)
            .await
            .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connecting timed out"))),
        None => connect.await,
    };
    let tcp = match tcp {
        Ok(tcp) => tcp,
        Err(e) => {
            log_request!("{peer}: ws {}:{} connect failed: {e}", target.host, target.port);
            let status = if e.kind() == std::io::ErrorKind::TimedOut {
                StatusCode::GATEWAY_TIMEOUT
            } else {
                StatusCode::BAD_GATEWAY
            };
            let msg = format!("could not connect to {}:{}: {e}", target.host, target.port);
            return http::error(status, &msg, Some("08001"));
        }
    };
    let _ = tcp.set_nodelay(true);
    log_request!("{peer}: ws {}:{} open", target.host, target.port);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let max = settings.max_bytes;
    let idle = settings.idle_timeout;
    let mut stop = state.stop.clone();
    let relay = async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                log_request!("{peer}: ws upgrade failed: {e}");
                return;
            }
        };
        let config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max))
            .read_buffer_size(WS_READ_BUFFER);
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
        tokio::select! {
            end = relay(ws, tcp, idle) => log_request!("{peer}: ws closed: {end}"),
            _ = stop.wait_for(|s| *s) => log_request!("{peer}: ws closed by shutdown"),
        }
    };
    match state.relays.lock() {
        Ok(mut set) => {
            // Finished relays are reaped here so the set does not grow.
            while set.try_join_next().is_some() {}
            set.spawn(relay);
        }
        Err(_) => {
            log_info!("relay registry poisoned");
            tokio::spawn(relay);
        }
    }
    let mut resp = Response::new(Body::default());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&key) {
        h.insert(SEC_WEBSOCKET_ACCEPT, v);
    }
    resp
}

/// Copies until one side ends; returns why, for the log.
async fn relay<S>(ws: WebSocketStream<S>, tcp: TcpStream, idle: Option<std::time::Duration>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut sink, mut stream) = ws.split();
    let (mut rd, mut wr) = tcp.into_split();
    // Milliseconds since `base` of the last byte either way (both copies
    // and the watchdog run in this one task; an atomic keeps it Sync).
    let base = Instant::now();
    let last = AtomicU64::new(0);
    let touch = || last.store(base.elapsed().as_millis() as u64, Ordering::Relaxed);
    let to_server = async {
        // Frames the client sent together (a pipeline: edgepg sends each
        // query as it is issued) go to PostgreSQL in ONE write. PostgreSQL
        // then reads them at once and answers them back to back, so the
        // other direction reads several answers per wake-up and sends fewer,
        // larger frames: fewer wake-ups and messages for the client, the
        // relay and the server alike. Nothing waits for this: only frames
        // already received are gathered.
        let mut batch: Vec<u8> = Vec::new();
        loop {
            let Some(first) = stream.next().await else { return End::ClientClosed };
            let mut next = Some(first);
            let mut single: Option<bytes::Bytes> = None;
            let mut end = None;
            while let Some(msg) = next.take() {
                match msg {
                    Ok(Message::Binary(b)) => match single.take() {
                        // The usual case, one frame: written without a copy.
                        None if batch.is_empty() => single = Some(b),
                        prev => {
                            if let Some(p) = prev {
                                batch.extend_from_slice(&p);
                            }
                            batch.extend_from_slice(&b);
                        }
                    },
                    // What came before still goes to the server (e.g. a Terminate
                    // sent just before the close frame).
                    Ok(Message::Text(_)) => end = Some(End::TextFrame),
                    Ok(Message::Close(_)) => end = Some(End::ClientClosed),
                    Ok(_) => {} // ping/pong: tungstenite answers pings itself
                    // Over --max-bytes: refused with a close frame saying so.
                    Err(WsError::Capacity(e)) => end = Some(End::TooBig(e.to_string())),
                    Err(e) => end = Some(End::ClientError(e.to_string())),
                }
                if end.is_some() {
                    break;
                }
                // Bounded, so one client cannot make the relay buffer without limit.
                if batch.len() + single.as_ref().map_or(0, |b| b.len()) < MAX_BATCH {
                    // Polled with this task's own waker (never a no-op one: the
                    // WebSocket's read and write wakers are shared with the
                    // other direction's send, which must not lose its wake-up).
                    next = poll_fn(|cx| match stream.poll_next_unpin(cx) {
                        Poll::Ready(m) => Poll::Ready(m),
                        Poll::Pending => Poll::Ready(None),
                    })
                    .await;
                }
            }
            let bytes: &[u8] = match &single {
                Some(b) => b,
                None => &batch,
            };
            if !bytes.is_empty() {
                touch();
                if let Err(e) = wr.write_all(bytes).await {
                    return End::ServerError(e.to_string());
                }
            }
            if let Some(end) = end {
                return end;
            }
            batch.clear();
            if batch.capacity() > MAX_BATCH {
                batch.shrink_to(MAX_BATCH);
            }
        }
    };
    let to_client = async {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        loop {
            // `split()` hands the bytes read to the frame and keeps the rest of
            // the allocation: grow only when little of it is left.
            if buf.capacity() - buf.len() < READ_CHUNK / 16 {
                buf.reserve(READ_CHUNK);
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) => return End::ServerClosed,
                Ok(_) => {
                    touch();
                    if let Err(e) = sink.send(Message::Binary(buf.split().freeze())).await {
                        return End::ClientError(e.to_string());
                    }
                }
                Err(e) => return End::ServerError(e.to_string()),
            }
        }
    };
    let watchdog = async {
        let Some(idle) = idle else { return std::future::pending::<End>().await };
        loop {
            let due = base + std::time::Duration::from_millis(last.load(Ordering::Relaxed)) + idle;
            if Instant::now() >= due {
                return End::Idle;
            }
            tokio::time::sleep_until(due).await;
        }
    };
    let end = tokio::select! {
        e = to_server => e,
        e = to_client => e,
        e = watchdog => e,
    };
    // Tell the client why (a close frame), and PostgreSQL (FIN): dropping
    // the TCP halves closes the connection, and the server ends the session.
    let (code, reason) = match &end {
        End::TextFrame => (CloseCode::Unsupported, "text frames are not supported: send binary frames"),
        End::TooBig(_) => (CloseCode::Size, "message larger than the proxy's --max-bytes"),
        End::ServerClosed => (CloseCode::Normal, "the server closed the connection"),
        End::ServerError(_) => (CloseCode::Error, "connection to the server failed"),
        End::Idle => (CloseCode::Away, "idle timeout"),
        End::ClientClosed | End::ClientError(_) => (CloseCode::Normal, ""),
    };
    if !matches!(end, End::ClientError(_)) {
        let frame = CloseFrame { code, reason: reason.into() };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = wr.shutdown().await;
    end.to_string()
}

enum End {
    ClientClosed,
    ClientError(String),
    ServerClosed,
    ServerError(String),
    TextFrame,
    TooBig(String),
    Idle,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::ClientClosed => f.write_str("client closed"),
            End::ClientError(e) => write!(f, "client error: {e}"),
            End::ServerClosed => f.write_str("server closed"),
            End::ServerError(e) => write!(f, "server error: {e}"),
            End::TextFrame => f.write_str("client sent a text frame"),
            End::TooBig(e) => write!(f, "client message too big: {e}"),
            End::Idle => f.write_str("idle timeout"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |q: Option<&str>, h: Option<&str>| target(q, h, 5432);
        assert_eq!(t(Some("address=db:6543"), None).unwrap(), Target { host: "db".into(), port: 6543 });
        assert_eq!(t(Some("x=1&address=127.0.0.1%3A5433"), None).unwrap().port, 5433);
        assert_eq!(t(Some("address=[::1]:5432"), None).unwrap().host, "::1");
        assert_eq!(t(None, Some("localhost:4444")).unwrap(), Target { host: "localhost".into(), port: 5432 });
        assert_eq!(t(Some("other=1"), Some("db.example")).unwrap().host, "db.example");
        assert!(t(Some("address=db"), None).is_err());
        assert!(t(Some("address=db:0"), None).is_err());
        assert!(t(Some("address=db:99999"), None).is_err());
        assert!(t(None, None).is_err());
        assert_eq!(percent_decode("a%3a%zz%%é"), "a:%zz%%é");
    }
}
