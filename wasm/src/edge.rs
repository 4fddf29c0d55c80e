//! The transport an edge connection runs over: a WebSocket through a proxy,
//! or a runtime's TCP socket. One enum each for the connector and the
//! stream, so the core client, pool and JS API are the same over both.

use std::io;
use std::task::{Context, Poll};

use bytes::BytesMut;
use edgepg_core::client::{BoxFuture, Connected, Connector, Transport};
use edgepg_core::config::{Config, Host};
use edgepg_core::Result;

use crate::connector::WsConnector;
use crate::socket::SocketStream;
use crate::tcp::TcpConnector;
use crate::websocket::WsStream;

/// Opens connections over a WebSocket or a runtime's TCP sockets.
#[derive(Clone, Debug)]
pub enum EdgeConnector {
    /// Through a WebSocket proxy (Neon, websockify, edgepg-proxy).
    WebSocket(WsConnector),
    /// Straight to PostgreSQL over the runtime's TCP sockets.
    Tcp(TcpConnector),
}

/// A stream opened by an [`EdgeConnector`].
#[derive(Debug)]
pub enum EdgeStream {
    /// A WebSocket.
    WebSocket(WsStream),
    /// A TCP (or TLS) socket.
    Tcp(SocketStream),
}

impl From<WsConnector> for EdgeConnector {
    fn from(c: WsConnector) -> EdgeConnector {
        EdgeConnector::WebSocket(c)
    }
}

impl From<TcpConnector> for EdgeConnector {
    fn from(c: TcpConnector) -> EdgeConnector {
        EdgeConnector::Tcp(c)
    }
}

impl Connector for EdgeConnector {
    type Stream = EdgeStream;

    fn connect<'a>(
        &'a self,
        host: &'a Host,
        port: u16,
        config: &'a Config,
    ) -> BoxFuture<'a, Result<Connected<EdgeStream>>> {
        Box::pin(async move {
            Ok(match self {
                EdgeConnector::WebSocket(c) => {
                    let Connected { stream, tls_server_end_point } = c.connect(host, port, config).await?;
                    Connected { stream: EdgeStream::WebSocket(stream), tls_server_end_point }
                }
                EdgeConnector::Tcp(c) => {
                    let Connected { stream, tls_server_end_point } = c.connect(host, port, config).await?;
                    Connected { stream: EdgeStream::Tcp(stream), tls_server_end_point }
                }
            })
        })
    }
}

impl Transport for EdgeStream {
    fn poll_read_buf(&mut self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        match self {
            EdgeStream::WebSocket(s) => s.poll_read_buf(cx, buf),
            EdgeStream::Tcp(s) => s.poll_read_buf(cx, buf),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            EdgeStream::WebSocket(s) => s.poll_write(cx, data),
            EdgeStream::Tcp(s) => s.poll_write(cx, data),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            EdgeStream::WebSocket(s) => s.poll_flush(cx),
            EdgeStream::Tcp(s) => s.poll_flush(cx),
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            EdgeStream::WebSocket(s) => s.poll_close(cx),
            EdgeStream::Tcp(s) => s.poll_close(cx),
        }
    }
}
