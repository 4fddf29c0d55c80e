//! A runtime's TCP (or TLS) socket as the core's byte-stream [`Transport`].
//!
//! The JS side adapts each runtime's socket (`node:net`/`node:tls` in Node,
//! Bun and Deno; `cloudflare:sockets` in Workers; see `js/src/sockets/`) to
//! one small duplex contract, [`JsDuplex`]:
//!
//! ```text
//! write(bytes: Uint8Array) -> boolean   false: wait for onDrain before writing more
//!                        | Promise      or: the write is done when it settles (a
//!                                       rejection means these bytes were not written)
//! listen(onData(Uint8Array), onEnd(), onError(error), onDrain())
//! pause() / resume()                    stop / restart delivering data
//!                                       (with connect's `starttls`, the adapter stops
//!                                       after the first chunk until startTls/resume)
//! startTls(options) -> Promise          upgrade in place (after SSLRequest 'S')
//! peerCertificate() -> Uint8Array|null  the server certificate (DER) once TLS is up
//! close()
//! ```
//!
//! Everything PostgreSQL-specific stays in Rust: the SSLRequest exchange,
//! the sslmode decisions (`tcp`), authentication and the protocol (core). JS
//! only moves bytes.
//!
//! **Reading** queues the chunks the socket delivers and copies them into the
//! connection's receive buffer when the driver reads. Unlike a WebSocket, a
//! socket can be paused: above [`SocketLimits::pause_above`] queued bytes the
//! socket is paused (TCP flow control then slows the server), and it resumes
//! once the driver has read the queue. A slow row-stream or COPY-out consumer
//! therefore holds the server back instead of filling memory.
//!
//! **Writing** buffers what the driver writes and hands it to the socket once
//! per flush, as a JS-owned copy (see ARCHITECTURE.md, "Bytes handed to JS").
//! When `write` returns false, further writes wait for `onDrain`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use edgepg_core::client::Transport;
use edgepg_core::{Error, ErrorKind, Result};
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::js_cause::JsCause;

#[wasm_bindgen]
extern "C" {
    /// The JS duplex a runtime adapter returns (see the module docs).
    #[derive(Clone, Debug)]
    pub type JsDuplex;
    #[wasm_bindgen(method, catch)]
    fn write(this: &JsDuplex, data: &Uint8Array) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn listen(
        this: &JsDuplex,
        on_data: &js_sys::Function,
        on_end: &js_sys::Function,
        on_error: &js_sys::Function,
        on_drain: &js_sys::Function,
    ) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn pause(this: &JsDuplex) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn resume(this: &JsDuplex) -> std::result::Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = startTls)]
    fn start_tls(this: &JsDuplex, options: &JsValue) -> std::result::Result<Promise, JsValue>;
    #[wasm_bindgen(method, catch, js_name = peerCertificate)]
    fn peer_certificate(this: &JsDuplex) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &JsDuplex) -> std::result::Result<(), JsValue>;
}

/// Read-side buffering of a [`SocketStream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketLimits {
    /// Pause the socket when more than this many received bytes wait to be
    /// read by the driver; resume once they have been read.
    pub pause_above: usize,
}

impl Default for SocketLimits {
    fn default() -> SocketLimits {
        SocketLimits { pause_above: 1 << 20 }
    }
}

/// State shared by the stream and the callbacks the socket calls.
#[derive(Default)]
struct Shared {
    chunks: VecDeque<Uint8Array>,
    queued: usize,
    /// The socket was paused because `queued` passed the limit.
    paused: bool,
    ended: bool,
    /// The socket's error: its message and the JS exception.
    failure: Option<(String, JsCause)>,
    /// A `write` returned false and `onDrain` has not been called since.
    blocked: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Shared {
    /// The socket's failure as an error for one caller.
    fn failure(&self) -> Option<Error> {
        self.failure.as_ref().map(|(m, cause)| Error::new(ErrorKind::Io, m.clone()).with_source(cause.clone()))
    }
}

impl Shared {
    fn wake_all(this: &Rc<RefCell<Shared>>) {
        // Take the wakers first: never hold the borrow across foreign code.
        let (r, w) = {
            let mut s = this.borrow_mut();
            (s.reader.take(), s.writer.take())
        };
        r.into_iter().chain(w).for_each(Waker::wake);
    }
}

/// The callbacks handed to `listen`; they live as long as the stream.
struct Callbacks {
    _data: Closure<dyn FnMut(Uint8Array)>,
    _end: Closure<dyn FnMut()>,
    _error: Closure<dyn FnMut(JsValue)>,
    _drain: Closure<dyn FnMut()>,
}

/// A PostgreSQL byte stream over a JS socket.
pub struct SocketStream {
    socket: JsDuplex,
    /// `host:port`, for messages.
    peer: String,
    shared: Rc<RefCell<Shared>>,
    out: Vec<u8>,
    /// A write went out since the last completed flush: a failing write can
    /// no longer say that nothing of the batch was sent.
    sent_since_flush: bool,
    /// A write whose promise has not settled (adapters whose writes are
    /// promises: Workers' streams); the flush waits for it.
    pending: Option<JsFuture>,
    closed: bool,
    _callbacks: Callbacks,
}

impl std::fmt::Debug for SocketStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketStream").field("peer", &self.peer).finish()
    }
}

impl SocketStream {
    /// Takes over a connected socket: registers the callbacks.
    pub fn new(socket: JsDuplex, peer: String, limits: SocketLimits) -> Result<SocketStream> {
        let shared = Rc::new(RefCell::new(Shared::default()));
        let s = shared.clone();
        let sock = socket.clone();
        let data = Closure::<dyn FnMut(Uint8Array)>::new(move |chunk: Uint8Array| {
            let pause = {
                let mut s = s.borrow_mut();
                if s.failure.is_some() {
                    return;
                }
                s.queued = s.queued.saturating_add(chunk.length() as usize);
                s.chunks.push_back(chunk);
                // The driver is not keeping up (a slow row or COPY consumer):
                // let TCP flow control hold the server back.
                let pause = !s.paused && s.queued > limits.pause_above;
                s.paused |= pause;
                pause
            };
            if pause {
                let _ = sock.pause();
            }
            Shared::wake_all(&s);
        });
        let s = shared.clone();
        let end = Closure::<dyn FnMut()>::new(move || {
            s.borrow_mut().ended = true;
            Shared::wake_all(&s);
        });
        let s = shared.clone();
        let who = peer.clone();
        let error = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            {
                let mut s = s.borrow_mut();
                if s.failure.is_none() {
                    let cause = JsCause::new(e);
                    s.failure = Some((format!("the connection to {who} failed: {}", cause.message()), cause));
                }
            }
            Shared::wake_all(&s);
        });
        let s = shared.clone();
        let drain = Closure::<dyn FnMut()>::new(move || {
            s.borrow_mut().blocked = false;
            Shared::wake_all(&s);
        });
        socket
            .listen(
                data.as_ref().unchecked_ref(),
                end.as_ref().unchecked_ref(),
                error.as_ref().unchecked_ref(),
                drain.as_ref().unchecked_ref(),
            )
            .map_err(|e| js_error(ErrorKind::Connect, &format!("could not use the socket to {peer}"), e))?;
        Ok(SocketStream {
            socket,
            peer,
            shared,
            out: Vec::new(),
            sent_since_flush: false,
            pending: None,
            closed: false,
            _callbacks: Callbacks { _data: data, _end: end, _error: error, _drain: drain },
        })
    }

    /// Upgrades the socket to TLS in place (the JS side keeps the callbacks).
    /// `options` is the object the runtime adapter's `startTls` takes.
    pub async fn start_tls(&mut self, options: &JsValue) -> Result<()> {
        if self.shared.borrow().queued > 0 {
            // CVE-2021-23222: bytes after the 'S' could be injected by a
            // man in the middle and would be read as if they came over TLS.
            return Err(Error::protocol(format!(
                "the server at {} sent data after agreeing to TLS, before the handshake",
                self.peer
            )));
        }
        let promise = self
            .socket
            .start_tls(options)
            .map_err(|e| js_error(ErrorKind::Tls, &format!("TLS with {} could not start", self.peer), e))?;
        JsFuture::from(promise)
            .await
            .map_err(|e| js_error(ErrorKind::Tls, &format!("the TLS handshake with {} failed", self.peer), e))?;
        Ok(())
    }

    /// Lets the socket deliver data again (after the SSLRequest answer when
    /// no TLS follows; see `tcp`).
    pub fn resume(&self) {
        let _ = self.socket.resume();
    }

    /// The server certificate (DER) once TLS is up, where the runtime shows it.
    pub fn peer_certificate(&self) -> Option<Vec<u8>> {
        let cert = self.socket.peer_certificate().ok()?;
        cert.dyn_ref::<Uint8Array>().map(|c| c.to_vec()).filter(|c| !c.is_empty())
    }

    /// Sends `out` (a JS-owned copy of it) when the socket has room.
    /// Waits for the write in progress, if its adapter returned a promise.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(write) = self.pending.as_mut() {
            let settled = std::task::ready!(std::pin::Pin::new(write).poll(cx));
            self.pending = None;
            match settled {
                Ok(_) => self.sent_since_flush = true,
                Err(e) => return Poll::Ready(Err(self.write_error(e))),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// A write that failed: these bytes were not written. If nothing of the
    /// batch went out before them, none of it reached the server (unsent).
    fn write_error(&self, e: JsValue) -> io::Error {
        let cause = JsCause::new(e);
        let error = if cause.message().contains("different request") {
            // Workers: an I/O object belongs to the request that opened it.
            Error::new(
                ErrorKind::Io,
                format!(
                    "could not write to {}: the socket was opened by another request, and Cloudflare Workers \
                     let only that request use it (nothing was sent; open connections inside the request, or use \
                     a pool, which replaces such connections)",
                    self.peer
                ),
            )
        } else {
            Error::new(ErrorKind::Io, format!("could not write to {}: {}", self.peer, cause.message()))
        };
        let error = error.with_source(cause);
        io::Error::other(if self.sent_since_flush { error } else { error.unsent() })
    }

    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_pending(cx))?;
        {
            let mut s = self.shared.borrow_mut();
            if let Some(e) = s.failure() {
                return Poll::Ready(Err(io::Error::other(e)));
            }
            if s.ended {
                return Poll::Ready(Err(io::Error::other(closed(&self.peer))));
            }
            if s.blocked {
                s.writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        let copy = Uint8Array::new_with_length(self.out.len() as u32);
        copy.copy_from(&self.out);
        self.out.clear();
        match self.socket.write(&copy) {
            Ok(written) => {
                if let Some(promise) = written.dyn_ref::<Promise>() {
                    // Done when it settles; the flush waits for it.
                    self.pending = Some(JsFuture::from(promise.clone()));
                } else {
                    self.sent_since_flush = true;
                    if written.as_bool() == Some(false) {
                        // Accepted, but the socket's buffer is full: later writes wait.
                        self.shared.borrow_mut().blocked = true;
                    }
                }
                Poll::Ready(Ok(()))
            }
            // A write that throws wrote nothing.
            Err(e) => Poll::Ready(Err(self.write_error(e))),
        }
    }
}

/// Builds an edgepg error from a JS exception: `what` in words, then the
/// exception's message; the exception itself is the cause.
pub(crate) fn js_error(kind: ErrorKind, what: &str, e: JsValue) -> Error {
    let cause = JsCause::new(e);
    Error::new(kind, format!("{what}: {}", cause.message())).with_source(cause)
}

fn closed(peer: &str) -> Error {
    Error::new(ErrorKind::Closed, format!("the server at {peer} closed the connection"))
}

impl Transport for SocketStream {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        let (chunks, ended, failure, resume) = {
            let mut s = self.shared.borrow_mut();
            s.queued = 0;
            let chunks: Vec<Uint8Array> = s.chunks.drain(..).collect();
            if chunks.is_empty() && !s.ended && s.failure.is_none() {
                s.reader = Some(cx.waker().clone());
            }
            // The driver has taken everything: let the socket deliver again.
            let resume = std::mem::take(&mut s.paused);
            (chunks, s.ended, s.failure(), resume)
        };
        if resume {
            let _ = self.socket.resume();
        }
        let mut total = 0;
        for chunk in chunks {
            let n = chunk.length() as usize;
            let start = buf.len();
            buf.resize(start + n, 0);
            chunk.copy_to(&mut buf[start..start + n]);
            total += n;
        }
        if total > 0 {
            return Poll::Ready(Ok(total));
        }
        if let Some(e) = failure {
            return Poll::Ready(Err(io::Error::other(e)));
        }
        if ended {
            return Poll::Ready(Ok(0));
        }
        Poll::Pending
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        // Hand over what is buffered once a batch gets large, so a fast COPY
        // source is held back by the socket instead of filling memory.
        if self.out.len() >= WRITE_CHUNK {
            std::task::ready!(self.poll_send(cx))?;
        }
        let n = data.len().min(WRITE_CHUNK.saturating_sub(self.out.len()).max(1));
        self.out.extend_from_slice(&data[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.out.is_empty() {
            std::task::ready!(self.poll_send(cx))?;
        }
        std::task::ready!(self.poll_pending(cx))?;
        self.sent_since_flush = false;
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.closed = true;
        let _ = self.socket.close();
        Poll::Ready(Ok(()))
    }
}

/// Writes are handed to the socket in pieces of at most this size.
const WRITE_CHUNK: usize = 256 * 1024;

impl Drop for SocketStream {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.socket.close();
        }
    }
}
