//! The native byte streams (TCP, Unix socket, TLS over TCP) as one
//! [`Transport`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use edgepg_core::client::Transport;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio_rustls::client::TlsStream;

/// A connected stream to a server.
#[derive(Debug)]
pub enum Stream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// A Unix-domain socket.
    #[cfg(unix)]
    Unix(UnixStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn io(&mut self) -> Pin<&mut dyn AsyncReadWrite> {
        match self {
            Stream::Tcp(s) => Pin::new(s),
            #[cfg(unix)]
            Stream::Unix(s) => Pin::new(s),
            Stream::Tls(s) => Pin::new(&mut **s),
        }
    }
}

trait AsyncReadWrite: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> AsyncReadWrite for T {}

impl Transport for Stream {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        // Reads straight into the spare capacity, no zeroing.
        match tokio_util::io::poll_read_buf(self.io(), cx, buf) {
            Poll::Ready(Err(e)) if matches!(self, Stream::Tls(_)) => {
                Poll::Ready(Err(crate::tls::explain_read_error(e)))
            }
            other => other,
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.io().poll_write(cx, data)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io().poll_shutdown(cx)
    }
}
