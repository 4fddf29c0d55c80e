//! The byte stream a connection runs over ([`Transport`]), and how one is
//! opened ([`Connector`]: TCP/TLS/Unix on native, WebSocket on wasm).
//!
//! A small poll-based trait instead of `AsyncRead` so that transports can
//! append straight into the connection's receive buffer: tokio reads into the
//! spare capacity without zeroing it first, and the WebSocket transport copies
//! each frame's `Uint8Array` once. Any `futures::io::AsyncRead + AsyncWrite`
//! stream can be used through [`IoStream`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;

use super::runtime::{BoxFuture, MaybeSend, MaybeSync};
use crate::config::{Config, Host};
use crate::Result;

/// A bidirectional byte stream to a PostgreSQL server (or a proxy in front of one).
pub trait Transport: Unpin {
    /// Appends whatever bytes are available to `buf` (reserving as needed).
    /// `Ready(Ok(0))` means end of stream.
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>>;

    /// Writes some of `data`, returning how much was accepted.
    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>>;

    /// Flushes buffered writes to the peer. A WebSocket transport sends one
    /// frame per flush, so the client flushes once per batch of requests.
    ///
    /// A transport that knows that nothing written since the last successful
    /// flush reached the peer (the socket refused the write outright, as a
    /// Cloudflare Worker's socket does when used by another request) reports
    /// `io::Error::other(edgepg_error.unsent())` from `poll_write` or here:
    /// the requests not flushed yet then fail with
    /// [`Error::is_unsent`](crate::Error::is_unsent), and the pool runs them
    /// again on another connection.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Closes the stream (TLS close_notify, WebSocket close, TCP FIN).
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// An open stream to a server, ready for the StartupMessage.
#[derive(Debug)]
pub struct Connected<S> {
    /// The stream (TLS already negotiated if any).
    pub stream: S,
    /// `tls-server-end-point` channel binding data when the stream is TLS.
    pub tls_server_end_point: Option<Vec<u8>>,
}

/// Opens streams for the client: TCP/TLS/Unix on native, WebSocket on wasm.
pub trait Connector: MaybeSend + MaybeSync {
    /// The stream type.
    type Stream: Transport + MaybeSend + 'static;

    /// Opens a stream to `host:port`, including any TLS negotiation the
    /// configuration asks for. Errors should be [`ErrorKind::Connect`](crate::ErrorKind::Connect) (or
    /// [`ErrorKind::Tls`](crate::ErrorKind::Tls)) and name the address.
    fn connect<'a>(
        &'a self,
        host: &'a Host,
        port: u16,
        config: &'a Config,
    ) -> BoxFuture<'a, Result<Connected<Self::Stream>>>;

    /// A password for `host:port` when the configuration has none (the
    /// native crate reads `~/.pgpass` here). Default: none.
    fn password_for(&self, _host: &Host, _port: u16, _config: &Config) -> Option<Vec<u8>> {
        None
    }
}

/// Adapts any `futures::io::AsyncRead + AsyncWrite` stream to [`Transport`].
#[derive(Debug)]
pub struct IoStream<S>(pub S);

/// How much to read at a time through [`IoStream`].
const READ_CHUNK: usize = 16 * 1024;

impl<S> Transport for IoStream<S>
where
    S: futures_io::AsyncRead + futures_io::AsyncWrite + Unpin,
{
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        let start = buf.len();
        // AsyncRead needs an initialised slice; zeroing 16 KiB is cheap next to a syscall.
        buf.resize(start + READ_CHUNK, 0);
        let result = Pin::new(&mut self.0).poll_read(cx, &mut buf[start..]);
        let n = match &result {
            Poll::Ready(Ok(n)) => *n,
            _ => 0,
        };
        buf.truncate(start + n);
        result
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, data)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// Helpers to drive a [`Transport`] with `async`/`await` during startup,
/// before the driver task owns the stream.
pub(crate) mod io_ext {
    use super::*;
    use std::future::poll_fn;

    pub(crate) async fn read_buf<T: Transport>(t: &mut T, buf: &mut BytesMut) -> io::Result<usize> {
        poll_fn(|cx| t.poll_read_buf(cx, buf)).await
    }

    pub(crate) async fn write_all<T: Transport>(t: &mut T, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| t.poll_write(cx, data)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        poll_fn(|cx| t.poll_flush(cx)).await
    }
}
