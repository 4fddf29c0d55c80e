//! A WebSocket as the core's byte-stream [`Transport`].
//!
//! Binary frames carry raw PostgreSQL protocol bytes; a message may span
//! frames and a frame may hold many messages (as with Neon's proxy and
//! websockify). The event handlers only queue what arrives and wake the
//! reader; the reader copies each frame once, from a `Uint8Array` view of the
//! `ArrayBuffer` straight into the connection's receive buffer. Writes are
//! buffered and sent as ONE binary frame per flush (the client flushes once
//! per batch of requests), never per timer tick.
//!
//! Errors: a socket that closes before it opens is [`ErrorKind::Connect`]; a
//! clean close (code 1000) mid-stream is end of stream, which the client
//! reports as [`ErrorKind::Closed`]; any other close is [`ErrorKind::Io`]; a
//! text frame (a proxy speaking something else) is [`ErrorKind::Protocol`].
//!
//! There is no read backpressure: browsers' `WebSocket` cannot pause, so
//! frames queue here until the driver reads them.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use edgepg_core::client::Transport;
use edgepg_core::{Error, ErrorKind, Result};
use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

/// Where the socket is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Connecting,
    Open,
    /// Closed by the peer or the network: `code` and `reason` of the close event.
    Closed { code: u16, reason: String },
}

/// State shared by the stream and its event handlers.
struct Shared {
    phase: Phase,
    /// Frames not read yet, oldest first.
    frames: VecDeque<ArrayBuffer>,
    /// A protocol violation (text frame); reported after the frames before it.
    failure: Option<String>,
    /// The task waiting to read, or waiting for the socket to open.
    waker: Option<Waker>,
}

impl Shared {
    fn wake(this: &Rc<RefCell<Shared>>) {
        // Take the waker before waking: never hold the borrow across foreign code.
        let waker = this.borrow_mut().waker.take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The event-handler closures; they live as long as the stream.
struct Handlers {
    _open: Closure<dyn FnMut(JsValue)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

/// A PostgreSQL byte stream over a WebSocket.
pub struct WsStream {
    ws: WebSocket,
    url: String,
    shared: Rc<RefCell<Shared>>,
    /// Bytes written since the last flush: sent as one frame.
    out: Vec<u8>,
    _handlers: Handlers,
}

impl std::fmt::Debug for WsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsStream").field("url", &self.url).field("phase", &self.shared.borrow().phase).finish()
    }
}

impl WsStream {
    /// Opens a WebSocket to `url` with `constructor` (a `WebSocket`-compatible
    /// class such as the `ws` package's) or the global `WebSocket`, and waits
    /// until it is open.
    ///
    /// Errors: [`ErrorKind::Connect`] when the socket cannot be created (no
    /// global `WebSocket`, blocked) or closes before opening (refused,
    /// unreachable, rejected upgrade); [`ErrorKind::Config`] for a URL the
    /// constructor rejects.
    pub async fn connect(url: &str, constructor: Option<&js_sys::Function>) -> Result<WsStream> {
        let ws = construct(url, constructor)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let shared = Rc::new(RefCell::new(Shared {
            phase: Phase::Connecting,
            frames: VecDeque::new(),
            failure: None,
            waker: None,
        }));

        let s = shared.clone();
        let open = Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
            {
                let mut s = s.borrow_mut();
                if s.phase == Phase::Connecting {
                    s.phase = Phase::Open;
                }
            }
            Shared::wake(&s);
        });
        let s = shared.clone();
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            on_message(&s, event.data());
            Shared::wake(&s);
        });
        let s = shared.clone();
        let close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            {
                let mut s = s.borrow_mut();
                s.phase = Phase::Closed { code: event.code(), reason: event.reason() };
            }
            Shared::wake(&s);
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        // `error` carries no detail in browsers and is always followed by
        // `close`, which is where failures are reported. It still needs a
        // listener: the `ws` package (Node) throws an uncaught exception when
        // it emits `error` with none, e.g. on a close while connecting.
        NOOP.with(|noop| ws.set_onerror(Some(noop.unchecked_ref())));

        let stream = WsStream {
            ws,
            url: url.to_owned(),
            shared,
            out: Vec::new(),
            _handlers: Handlers { _open: open, _message: message, _close: close },
        };
        // If this future is dropped (connect_timeout), Drop closes the socket.
        poll_fn(|cx| stream.poll_open(cx)).await?;
        Ok(stream)
    }

    fn poll_open(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut s = self.shared.borrow_mut();
        match &s.phase {
            Phase::Open => Poll::Ready(Ok(())),
            Phase::Closed { code, reason, .. } => Poll::Ready(Err(Error::new(
                ErrorKind::Connect,
                format!(
                    "could not open a WebSocket to {}: closed with code {code}{} before it opened \
                     (is the proxy running, and are ws_proxy/use_secure_websocket right?)",
                    self.url,
                    describe_reason(reason)
                ),
            ))),
            Phase::Connecting => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The error for a socket that is closed or failed, `None` while open.
    fn closed_error(&self) -> Option<io::Error> {
        closed_error(&self.shared.borrow(), &self.url)
    }
}

/// The error for a closed or failed socket, `None` while open. Typed edgepg
/// errors travel inside `io::Error` and come out of `Error::io` unchanged.
fn closed_error(s: &Shared, url: &str) -> Option<io::Error> {
    if let Some(message) = &s.failure {
        return Some(io::Error::other(Error::protocol(message.clone())));
    }
    match &s.phase {
        Phase::Closed { code, reason, .. } => Some(io::Error::other(Error::new(
            ErrorKind::Closed,
            format!("the WebSocket to {url} was closed (code {code}{})", describe_reason(reason)),
        ))),
        _ => None,
    }
}

/// Moves every queued frame into `buf` (one copy each, from a `Uint8Array`
/// view), or reports end of stream / the failure / `Pending`.
fn read_frames(shared: &RefCell<Shared>, url: &str, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
    let frames: Vec<ArrayBuffer> = shared.borrow_mut().frames.drain(..).collect();
    let mut total = 0;
    for frame in frames {
        let view = Uint8Array::new(&frame);
        let n = view.length() as usize;
        let start = buf.len();
        buf.resize(start + n, 0);
        // `copy_to` needs a destination of exactly the view's length.
        view.copy_to(&mut buf[start..start + n]);
        total += n;
    }
    // Zero-length frames are not end of stream.
    if total > 0 {
        return Poll::Ready(Ok(total));
    }
    let mut s = shared.borrow_mut();
    if s.failure.is_some() {
        return Poll::Ready(Err(closed_error(&s, url).unwrap_or_else(|| io::ErrorKind::Other.into())));
    }
    match &s.phase {
        // A clean close is the end of the stream (the client says "closed").
        Phase::Closed { code: 1000, .. } => Poll::Ready(Ok(0)),
        Phase::Closed { code, reason, .. } => Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("the WebSocket to {url} closed abnormally (code {code}{})", describe_reason(reason)),
        ))),
        _ => {
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

thread_local! {
    /// One shared do-nothing event handler, created once and kept for good.
    static NOOP: JsValue = Closure::<dyn FnMut(JsValue)>::new(|_event: JsValue| {}).into_js_value();
}

/// Queues a binary frame, or records a protocol failure for anything else.
fn on_message(shared: &Rc<RefCell<Shared>>, data: JsValue) {
    let mut s = shared.borrow_mut();
    if s.failure.is_some() {
        return;
    }
    if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
        s.frames.push_back(buffer.clone());
    } else if let Some(view) = data.dyn_ref::<Uint8Array>() {
        // A `ws` that ignored binaryType (Node Buffer is a Uint8Array): copy
        // just the view's bytes into a fresh ArrayBuffer.
        s.frames.push_back(view.slice(0, view.length()).buffer());
    } else if data.is_string() {
        s.failure = Some(
            "the WebSocket peer sent a text frame; a PostgreSQL WebSocket proxy sends only binary frames \
             (is ws_proxy pointing at the right service?)"
                .into(),
        );
    } else {
        s.failure = Some("the WebSocket delivered a message that is not an ArrayBuffer (Blob?)".into());
    }
}

fn describe_reason(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(", reason {reason:?}")
    }
}

fn construct(url: &str, constructor: Option<&js_sys::Function>) -> Result<WebSocket> {
    let result = match constructor {
        Some(ctor) => js_sys::Reflect::construct(ctor, &js_sys::Array::of1(&JsValue::from_str(url)))
            .map(|ws| ws.unchecked_into::<WebSocket>()),
        None => {
            let has_global = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("WebSocket"))
                .map(|v| v.is_function())
                .unwrap_or(false);
            if !has_global {
                return Err(Error::new(
                    ErrorKind::Connect,
                    "this JavaScript runtime has no global WebSocket: pass a WebSocket constructor \
                     (web_socket_constructor / webSocketConstructor, e.g. the `ws` package on Node 20)",
                ));
            }
            WebSocket::new(url)
        }
    };
    result.map_err(|e| {
        let detail = e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| "unknown error".into());
        let name = e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.name())).unwrap_or_default();
        if name == "SyntaxError" {
            Error::config("ws_proxy", format!("the WebSocket URL {url} is invalid: {detail}"))
        } else {
            Error::new(ErrorKind::Connect, format!("could not create a WebSocket to {url}: {detail}"))
        }
    })
}

impl Transport for WsStream {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        read_frames(&self.shared, &self.url, cx, buf)
    }

    fn poll_write(&mut self, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(e) = self.closed_error() {
            return Poll::Ready(Err(e));
        }
        self.out.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.out.is_empty() {
            return Poll::Ready(Ok(()));
        }
        // A closed browser WebSocket drops sends silently: say so instead.
        if let Some(e) = self.closed_error() {
            return Poll::Ready(Err(e));
        }
        let sent = self.ws.send_with_u8_array(&self.out);
        // Don't keep a huge COPY batch's buffer around.
        if self.out.capacity() > 1 << 20 {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
        Poll::Ready(sent.map_err(|e| {
            io::Error::other(format!("WebSocket send failed: {}", e.as_string().unwrap_or_else(|| format!("{e:?}"))))
        }))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The close handshake finishes in the background; nothing is read after this.
        let _ = self.ws.close();
        Poll::Ready(Ok(()))
    }
}

impl Drop for WsStream {
    fn drop(&mut self) {
        // Detach the handlers (their closures are freed with us) and close.
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    //! The read path without a socket (run in Node by wasm-bindgen-test-runner).
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn shared() -> Rc<RefCell<Shared>> {
        Rc::new(RefCell::new(Shared { phase: Phase::Open, frames: VecDeque::new(), failure: None, waker: None }))
    }

    fn frame(bytes: &[u8]) -> JsValue {
        Uint8Array::from(bytes).buffer().into()
    }

    fn read(s: &Rc<RefCell<Shared>>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        read_frames(s, "ws://test", &mut Context::from_waker(futures_util::task::noop_waker_ref()), buf)
    }

    #[wasm_bindgen_test]
    fn frames_are_appended_in_order_and_empty_ones_are_not_eof() {
        let s = shared();
        let mut buf = BytesMut::from(&b"x"[..]);
        on_message(&s, frame(b"abc"));
        on_message(&s, frame(b""));
        on_message(&s, frame(b"de"));
        assert!(matches!(read(&s, &mut buf), Poll::Ready(Ok(5))));
        assert_eq!(&buf[..], b"xabcde");
        on_message(&s, frame(b""));
        assert!(read(&s, &mut buf).is_pending(), "an empty frame must not read as end of stream");
        assert!(s.borrow().waker.is_some());
    }

    #[wasm_bindgen_test]
    fn a_text_frame_is_a_protocol_error_after_the_frames_before_it() {
        let s = shared();
        let mut buf = BytesMut::new();
        on_message(&s, frame(b"R"));
        on_message(&s, JsValue::from_str("hello"));
        on_message(&s, frame(b"ignored"));
        assert!(matches!(read(&s, &mut buf), Poll::Ready(Ok(1))));
        let Poll::Ready(Err(e)) = read(&s, &mut buf) else { panic!("expected an error") };
        let e = Error::io(e);
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert!(e.to_string().contains("text frame"), "{e}");
    }

    #[wasm_bindgen_test]
    fn clean_close_is_eof_and_abnormal_close_is_an_io_error() {
        let s = shared();
        s.borrow_mut().phase = Phase::Closed { code: 1000, reason: String::new() };
        assert!(matches!(read(&s, &mut BytesMut::new()), Poll::Ready(Ok(0))));
        s.borrow_mut().phase = Phase::Closed { code: 1006, reason: String::new() };
        let Poll::Ready(Err(e)) = read(&s, &mut BytesMut::new()) else { panic!("expected an error") };
        let e = Error::io(e);
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("1006"), "{e}");
        // Writing to a closed socket says "closed".
        let e = Error::io(closed_error(&s.borrow(), "ws://test").unwrap());
        assert_eq!(e.kind(), ErrorKind::Closed);
    }
}
