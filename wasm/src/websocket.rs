//! A WebSocket as the core's byte-stream [`Transport`].
//!
//! Binary frames carry raw PostgreSQL protocol bytes; a message may span
//! frames and a frame may hold many messages (as with Neon's proxy and
//! websockify). The event handlers only queue what arrives and wake the
//! reader; the reader copies each frame once, from a `Uint8Array` view of the
//! `ArrayBuffer` straight into the connection's receive buffer. Writes are
//! buffered and sent as ONE binary frame per flush (the client flushes once
//! per batch of requests), never per timer tick; a batch larger than
//! [`WsLimits::send_high_water`] goes out in frames of that size.
//!
//! Errors: a socket that closes before it opens is [`ErrorKind::Connect`]; a
//! clean close (code 1000) mid-stream is end of stream, which the client
//! reports as [`ErrorKind::Closed`]; any other close is [`ErrorKind::Io`]; a
//! text frame (a proxy speaking something else) is [`ErrorKind::Protocol`].
//!
//! Backpressure ([`WsLimits`]): `send` never blocks, so before each frame
//! the stream looks at `bufferedAmount`; above the high-water mark, writes
//! and flushes are `Pending` until it drops to the low-water mark. Browsers
//! have no "drained" event, so a short timer re-polls. Reading cannot be
//! paused (browsers' `WebSocket` has no such thing), so frames queue here
//! until the driver reads them, up to [`WsLimits::max_receive_queue`] bytes;
//! beyond that the queue is dropped and the stream fails with
//! [`ErrorKind::Io`] rather than growing without bound.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use edgepg_core::client::Transport;
use edgepg_core::{Error, ErrorKind, Result};
use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use crate::js_cause::JsCause;
use crate::options::WsLimits;
use crate::timer::{sleep, Sleep};

/// How often a send blocked on `bufferedAmount` looks again. Browsers have no
/// event for "the send buffer drained"; a few ms keeps a fast link busy
/// (1 MiB high water / 2 ms is ~500 MB/s) without spinning.
const SEND_RETRY: Duration = Duration::from_millis(2);

/// Where the socket is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Connecting,
    Open,
    /// Closed by the peer or the network: `code` and `reason` of the close event.
    Closed {
        code: u16,
        reason: String,
    },
}

/// State shared by the stream and its event handlers.
struct Shared {
    phase: Phase,
    /// Frames not read yet, oldest first.
    frames: VecDeque<ArrayBuffer>,
    /// Total bytes in `frames`.
    queued: usize,
    /// The most `queued` may reach ([`WsLimits::max_receive_queue`]).
    max_queued: usize,
    /// A protocol violation (text frame), reported after the frames before
    /// it, or a receive-queue overflow, reported at once.
    failure: Option<(ErrorKind, String)>,
    /// The task waiting to read, or waiting for the socket to open.
    waker: Option<Waker>,
}

impl Shared {
    fn new(phase: Phase, max_queued: usize) -> Shared {
        Shared { phase, frames: VecDeque::new(), queued: 0, max_queued, failure: None, waker: None }
    }

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
    _error: Closure<dyn FnMut(JsValue)>,
}

/// A PostgreSQL byte stream over a WebSocket.
pub struct WsStream {
    ws: WebSocket,
    url: String,
    shared: Rc<RefCell<Shared>>,
    /// Bytes written since the last flush: sent as one frame.
    out: Vec<u8>,
    limits: WsLimits,
    /// Sending waits until `bufferedAmount` drops to the low-water mark.
    send_blocked: bool,
    /// The timer that re-polls a blocked send.
    retry: Option<Sleep>,
    /// A frame went out since the last completed flush (a large batch is
    /// sent in several frames): a failing send can no longer say that
    /// nothing of the batch was sent.
    sent_since_flush: bool,
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
        WsStream::connect_with_limits(url, constructor, WsLimits::default()).await
    }

    /// [`connect`](WsStream::connect) with these buffering limits instead of
    /// the defaults (see [`WsLimits`]).
    pub async fn connect_with_limits(
        url: &str,
        constructor: Option<&js_sys::Function>,
        limits: WsLimits,
    ) -> Result<WsStream> {
        let ws = construct(url, constructor)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let shared = Rc::new(RefCell::new(Shared::new(Phase::Connecting, limits.max_receive_queue)));

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
        // `error` carries no detail in browsers and is followed by `close`,
        // which is where failures are reported once open. While connecting,
        // though, Node 22's WebSocket (undici) emits only `error` for a
        // refused connection, never `close`: that ends the attempt here, or
        // connect would wait for its timeout. It also needs a listener for the
        // `ws` package (Node 20), which throws an uncaught exception when it
        // emits `error` with none.
        let s = shared.clone();
        let error = Closure::<dyn FnMut(JsValue)>::new(move |_event: JsValue| {
            {
                let mut s = s.borrow_mut();
                if s.phase == Phase::Connecting {
                    s.phase = Phase::Closed { code: 1006, reason: "an error event, no close event".into() };
                }
            }
            Shared::wake(&s);
        });
        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(close.as_ref().unchecked_ref()));
        ws.set_onerror(Some(error.as_ref().unchecked_ref()));

        let stream = WsStream {
            ws,
            url: url.to_owned(),
            shared,
            out: Vec::new(),
            limits,
            send_blocked: false,
            retry: None,
            sent_since_flush: false,
            _handlers: Handlers { _open: open, _message: message, _close: close, _error: error },
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

    /// Sends `out` as one frame once `bufferedAmount` allows it: `Pending`
    /// (with a timer to re-poll) while it is above the high-water mark, and
    /// then until it is down to the low-water mark.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A closed browser WebSocket drops sends silently: say so instead.
        if let Some(e) = self.closed_error() {
            return Poll::Ready(Err(e));
        }
        loop {
            if let Some(timer) = self.retry.as_mut() {
                ready!(Pin::new(timer).poll(cx));
                self.retry = None;
            }
            let buffered = self.ws.buffered_amount() as usize;
            let limit = if self.send_blocked { self.limits.send_low_water } else { self.limits.send_high_water };
            if buffered <= limit {
                self.send_blocked = false;
                break;
            }
            // Polled at the top of the loop, which registers the waker.
            self.send_blocked = true;
            self.retry = Some(sleep(SEND_RETRY));
        }
        // Hand the socket a copy that JS owns, never a view of wasm memory:
        // `send` may read its argument after returning (workerd does for
        // large frames), and by then `out` holds the next frame's bytes, or a
        // grown wasm memory has detached the view. See ARCHITECTURE.md,
        // "Bytes handed to JS".
        let sent = self.ws.send_with_array_buffer(&js_copy(&self.out));
        // Don't keep a huge batch's buffer around.
        if self.out.capacity() > 2 * self.limits.send_high_water.max(1 << 16) {
            self.out = Vec::new();
        } else {
            self.out.clear();
        }
        if sent.is_ok() {
            self.sent_since_flush = true;
        }
        let unsent = !self.sent_since_flush;
        Poll::Ready(sent.map_err(|e| {
            let cause = JsCause::new(e);
            let message = if cause.message().contains("different request") {
                // Workers: an I/O object belongs to the request that opened it.
                format!(
                    "could not send to the WebSocket to {}: it was opened by another request, and Cloudflare \
                     Workers let only that request use it (nothing was sent; open connections inside the \
                     request, or use a pool, which replaces such connections)",
                    self.url
                )
            } else {
                format!("could not send to the WebSocket to {}: {}", self.url, cause.message())
            };
            let error = Error::new(ErrorKind::Io, message).with_source(cause);
            // `send` throws before queueing anything: if no frame of this
            // batch went out before, none of it reached the server.
            io::Error::other(if unsent { error.unsent() } else { error })
        }))
    }
}

/// A fresh `ArrayBuffer` holding a copy of `bytes`: JS owns it, so nothing
/// wasm does afterwards (reusing the buffer, growing memory) can change it.
pub(crate) fn js_copy(bytes: &[u8]) -> ArrayBuffer {
    let copy = Uint8Array::new_with_length(bytes.len() as u32);
    copy.copy_from(bytes);
    copy.buffer()
}

/// The error for a closed or failed socket, `None` while open. Typed edgepg
/// errors travel inside `io::Error` and come out of `Error::io` unchanged.
fn closed_error(s: &Shared, url: &str) -> Option<io::Error> {
    if let Some((kind, message)) = &s.failure {
        return Some(io::Error::other(Error::new(*kind, message.clone())));
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
fn read_frames(
    shared: &RefCell<Shared>,
    url: &str,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    let frames: Vec<ArrayBuffer> = {
        let mut s = shared.borrow_mut();
        s.queued = 0;
        s.frames.drain(..).collect()
    };
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

/// Queues a binary frame, or records a failure: a protocol failure for
/// anything that is not binary, an I/O failure when the queue would pass its
/// limit.
fn on_message(shared: &Rc<RefCell<Shared>>, data: JsValue) {
    let mut s = shared.borrow_mut();
    if s.failure.is_some() {
        return;
    }
    let frame = if let Some(buffer) = data.dyn_ref::<ArrayBuffer>() {
        buffer.clone()
    } else if let Some(view) = data.dyn_ref::<Uint8Array>() {
        // A `ws` that ignored binaryType (Node Buffer is a Uint8Array): copy
        // just the view's bytes into a fresh ArrayBuffer.
        view.slice(0, view.length()).buffer()
    } else if data.is_string() {
        s.failure = Some((
            ErrorKind::Protocol,
            "the WebSocket peer sent a text frame; a PostgreSQL WebSocket proxy sends only binary frames \
             (is ws_proxy pointing at the right service?)"
                .into(),
        ));
        return;
    } else {
        s.failure =
            Some((ErrorKind::Protocol, "the WebSocket delivered a message that is not an ArrayBuffer (Blob?)".into()));
        return;
    };
    let queued = s.queued.saturating_add(frame.byte_length() as usize);
    if queued > s.max_queued {
        // The socket cannot be paused: rather than buffer without bound, drop
        // what is queued (the stream is dead anyway) and fail at the next read.
        let limit = s.max_queued;
        s.frames.clear();
        s.queued = 0;
        s.failure = Some((
            ErrorKind::Io,
            format!(
                "more than {limit} bytes received over the WebSocket are waiting to be read: the consumer \
                 (a row stream or COPY-out reader) is too slow, and a WebSocket cannot pause the server; \
                 read faster or raise WsLimits::max_receive_queue"
            ),
        ));
        return;
    }
    s.queued = queued;
    s.frames.push_back(frame);
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

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if let Some(e) = self.closed_error() {
            return Poll::Ready(Err(e));
        }
        // At most one frame's worth waits here: a full frame goes out (when
        // the socket has room) before more is taken, so a fast COPY source
        // is held back by `Pending` instead of filling memory.
        let frame_max = self.limits.send_high_water.max(1);
        if self.out.len() >= frame_max {
            if let Err(e) = ready!(self.poll_send(cx)) {
                return Poll::Ready(Err(e));
            }
        }
        let n = data.len().min(frame_max - self.out.len());
        self.out.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.out.is_empty() {
            ready!(self.poll_send(cx))?;
        }
        self.sent_since_flush = false;
        Poll::Ready(Ok(()))
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
        // Never none: the `ws` package throws on an `error` without a listener.
        NOOP.with(|noop| self.ws.set_onerror(Some(noop.unchecked_ref())));
        let _ = self.ws.close();
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    //! The read path without a socket (run in Node by wasm-bindgen-test-runner).
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn shared() -> Rc<RefCell<Shared>> {
        Rc::new(RefCell::new(Shared::new(Phase::Open, 1 << 20)))
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
    fn a_receive_queue_past_its_limit_fails_with_an_io_error_and_frees_the_queue() {
        let s = Rc::new(RefCell::new(Shared::new(Phase::Open, 10)));
        on_message(&s, frame(b"123456"));
        on_message(&s, frame(b"7890"));
        assert_eq!(s.borrow().queued, 10, "exactly at the limit is fine");
        let mut buf = BytesMut::new();
        assert!(matches!(read(&s, &mut buf), Poll::Ready(Ok(10))));
        assert_eq!(s.borrow().queued, 0, "reading empties the queue");
        on_message(&s, frame(b"abcdef"));
        on_message(&s, frame(b"ghijk"));
        assert!(s.borrow().frames.is_empty(), "the queue is dropped on overflow");
        on_message(&s, frame(b"more"));
        assert!(s.borrow().frames.is_empty(), "nothing is queued after the failure");
        let Poll::Ready(Err(e)) = read(&s, &mut buf) else { panic!("expected an error") };
        let e = Error::io(e);
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert!(e.to_string().contains("more than 10 bytes") && e.to_string().contains("too slow"), "{e}");
        assert_eq!(&buf[..], b"1234567890");
    }

    /// A stream over a stand-in for `WebSocket` (web-sys reaches its
    /// properties structurally) whose `bufferedAmount` the test sets.
    fn fake_stream(limits: WsLimits) -> (WsStream, js_sys::Object) {
        let fake: js_sys::Object = js_sys::Function::new_no_args(
            "return { bufferedAmount: 0, sent: [], \
                      send(d) { this.sent.push(d.byteLength); this.bufferedAmount += d.byteLength; }, \
                      close() {} };",
        )
        .call0(&JsValue::NULL)
        .unwrap()
        .unchecked_into();
        let stream = WsStream {
            ws: fake.clone().unchecked_into(),
            url: "ws://fake".into(),
            shared: shared(),
            out: Vec::new(),
            limits,
            send_blocked: false,
            retry: None,
            sent_since_flush: false,
            _handlers: Handlers {
                _open: Closure::new(|_: JsValue| {}),
                _message: Closure::new(|_: MessageEvent| {}),
                _close: Closure::new(|_: CloseEvent| {}),
                _error: Closure::new(|_: JsValue| {}),
            },
        };
        (stream, fake)
    }

    fn set(fake: &js_sys::Object, key: &str, value: f64) {
        js_sys::Reflect::set(fake, &key.into(), &value.into()).unwrap();
    }

    fn sent(fake: &js_sys::Object) -> Vec<f64> {
        let sent: js_sys::Array = js_sys::Reflect::get(fake, &"sent".into()).unwrap().unchecked_into();
        sent.iter().map(|v| v.as_f64().unwrap()).collect()
    }

    #[wasm_bindgen_test]
    async fn sends_wait_above_the_high_water_mark_until_the_low_water_mark() {
        let limits = WsLimits { send_high_water: 100, send_low_water: 20, max_receive_queue: 1 << 20 };
        let (mut ws, fake) = fake_stream(limits);
        let waker = futures_util::task::noop_waker_ref();
        let cx = &mut Context::from_waker(waker);

        // One write takes at most a frame (the high-water mark).
        assert!(matches!(ws.poll_write(cx, &[7; 250]), Poll::Ready(Ok(100))));
        // The frame is full: the next write sends it first (buffered 0 <= 100).
        assert!(matches!(ws.poll_write(cx, &[7; 150]), Poll::Ready(Ok(100))));
        assert_eq!(sent(&fake), vec![100.0]);
        // 100 buffered is not above the mark: the flush sends.
        assert!(matches!(ws.poll_flush(cx), Poll::Ready(Ok(()))));
        assert_eq!(sent(&fake), vec![100.0, 100.0]);
        assert!(matches!(ws.poll_write(cx, &[7; 50]), Poll::Ready(Ok(50))));
        // 200 buffered: above the mark, so flushing waits (and a timer is armed).
        assert!(ws.poll_flush(cx).is_pending());
        assert!(ws.retry.is_some());
        // Down to 50: below the high-water mark but not yet at the low one.
        set(&fake, "bufferedAmount", 50.0);
        crate::timer::sleep(Duration::from_millis(20)).await;
        assert!(ws.poll_flush(cx).is_pending(), "hysteresis: wait for the low-water mark");
        set(&fake, "bufferedAmount", 20.0);
        crate::timer::sleep(Duration::from_millis(20)).await;
        assert!(matches!(ws.poll_flush(cx), Poll::Ready(Ok(()))));
        assert_eq!(sent(&fake), vec![100.0, 100.0, 50.0]);
        assert!(!ws.send_blocked && ws.retry.is_none());
        // Nothing to flush is always ready, whatever is buffered.
        set(&fake, "bufferedAmount", 1e6);
        assert!(matches!(ws.poll_flush(cx), Poll::Ready(Ok(()))));
    }

    #[wasm_bindgen_test]
    async fn a_blocked_send_wakes_its_task_by_timer() {
        let limits = WsLimits { send_high_water: 10, send_low_water: 5, max_receive_queue: 1 << 20 };
        let (mut ws, fake) = fake_stream(limits);
        set(&fake, "bufferedAmount", 11.0);
        assert!(matches!(poll_fn(|cx| ws.poll_write(cx, b"hello")).await, Ok(5)));
        let f = fake.clone();
        // Drains later, with no event: only the retry timer can notice.
        let drain = Closure::once_into_js(move || set(&f, "bufferedAmount", 0.0));
        let set_timeout: js_sys::Function =
            js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into()).unwrap().unchecked_into();
        set_timeout.call2(&JsValue::NULL, &drain, &JsValue::from(30)).unwrap();
        poll_fn(|cx| ws.poll_flush(cx)).await.unwrap();
        assert_eq!(sent(&fake), vec![5.0]);
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
