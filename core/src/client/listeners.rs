//! LISTEN/NOTIFY and connection-lifecycle callbacks.
//!
//! Notifications arrive at any time, between or inside responses; the driver
//! hands them to [`Shared`](super::shared) which calls the callbacks
//! registered for the channel. `LISTEN` is sent when a channel gets its first
//! callback and `UNLISTEN` when it loses its last one.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::mpsc;
use futures_core::Stream;

use super::handle::Connection;
use super::runtime::{MaybeSend, MaybeSync};
use super::shared::{Notification, NotificationListener, TerminationListener};
use crate::Result;

/// Quotes a channel name as an SQL identifier (`"my ""odd"" channel"`).
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The work of [`Connection::add_listener`], which delegates here.
pub(crate) async fn add_listener(
    conn: &Connection,
    channel: &str,
    callback: impl Fn(&Notification) + MaybeSend + MaybeSync + 'static,
) -> Result<NotificationListener> {
    let listener: NotificationListener = Arc::new(callback);
    let count = conn.inner.shared.add_notification_listener(channel, listener.clone());
    if count == 1 {
        if let Err(e) = conn.inner.simple_query(&format!("LISTEN {}", quote_ident(channel))).await {
            conn.inner.shared.remove_notification_listener(channel, &listener);
            return Err(e);
        }
    }
    Ok(listener)
}

/// The work of [`Connection::remove_listener`], which delegates here.
pub(crate) async fn remove_listener(conn: &Connection, channel: &str, listener: &NotificationListener) -> Result<()> {
    if conn.inner.shared.remove_notification_listener(channel, listener) == 0 {
        conn.inner.simple_query(&format!("UNLISTEN {}", quote_ident(channel))).await?;
    }
    Ok(())
}

/// The work of [`Connection::listen`], which delegates here.
pub(crate) async fn listen(conn: &Connection, channel: &str) -> Result<NotificationStream> {
    let (tx, rx) = mpsc::unbounded();
    let listener = conn
        .add_listener(channel, move |n| {
            let _ = tx.unbounded_send(n.clone());
        })
        .await?;
    // The stream ends when the connection closes: the driver then drops
    // every callback, and with it the sender.
    Ok(NotificationStream {
        rx,
        channel: channel.to_owned(),
        // Weak: the callback (and its sender) must die with the connection.
        listener: Arc::downgrade(&listener),
        conn: Some(conn.inner.clone()),
    })
}

/// The work of [`Connection::add_notification_observer`], which delegates here.
pub(crate) fn add_notification_observer(
    conn: &Connection,
    callback: impl Fn(&Notification) + MaybeSend + MaybeSync + 'static,
) -> NotificationListener {
    let l: NotificationListener = Arc::new(callback);
    conn.inner.shared.add_notification_observer(l.clone());
    l
}

/// The work of [`Connection::remove_notification_observer`], which delegates here.
pub(crate) fn remove_notification_observer(conn: &Connection, listener: &NotificationListener) {
    conn.inner.shared.remove_notification_observer(listener);
}

/// The work of [`Connection::add_termination_listener`], which delegates here.
pub(crate) fn add_termination_listener(
    conn: &Connection,
    callback: impl Fn() + MaybeSend + MaybeSync + 'static,
) -> TerminationListener {
    let l: TerminationListener = Arc::new(callback);
    if conn.is_closed() {
        l();
    } else {
        conn.inner.shared.add_termination_listener(l.clone());
    }
    l
}

/// The work of [`Connection::remove_termination_listener`], which delegates here.
pub(crate) fn remove_termination_listener(conn: &Connection, listener: &TerminationListener) {
    conn.inner.shared.remove_termination_listener(listener);
}

/// Notifications on one channel, from [`Connection::listen`].
pub struct NotificationStream {
    rx: mpsc::UnboundedReceiver<Notification>,
    channel: String,
    listener: std::sync::Weak<super::shared::NotificationFn>,
    conn: Option<Arc<super::handle::ConnInner>>,
}

impl std::fmt::Debug for NotificationStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationStream").field("channel", &self.channel).finish()
    }
}

impl Stream for NotificationStream {
    type Item = Notification;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Notification>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl Drop for NotificationStream {
    fn drop(&mut self) {
        if let (Some(conn), Some(listener)) = (self.conn.take(), self.listener.upgrade()) {
            if conn.shared.remove_notification_listener(&self.channel, &listener) == 0 {
                // Fire and forget: queued behind whatever is in flight.
                let mut buf = bytes::BytesMut::new();
                if crate::protocol::frontend::query(&format!("UNLISTEN {}", quote_ident(&self.channel)), &mut buf)
                    .is_ok()
                {
                    let _ = conn.send(super::request::Request::discard(buf, 1));
                }
            }
        }
    }
}
