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

impl Connection {
    /// Calls `callback` for every NOTIFY on `channel` (sending `LISTEN` when
    /// this is the channel's first callback). Returns a handle for
    /// [`Connection::remove_listener`].
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// let handle = conn.add_listener("jobs", |n| println!("job {} from pid {}", n.payload, n.process_id)).await?;
    /// conn.execute("NOTIFY jobs, '42'", &[]).await?;
    /// conn.remove_listener("jobs", &handle).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_listener(
        &self,
        channel: &str,
        callback: impl Fn(&Notification) + MaybeSend + MaybeSync + 'static,
    ) -> Result<NotificationListener> {
        let listener: NotificationListener = Arc::new(callback);
        let count = self.inner.shared.add_notification_listener(channel, listener.clone());
        if count == 1 {
            if let Err(e) = self.inner.simple_query(&format!("LISTEN {}", quote_ident(channel))).await {
                self.inner.shared.remove_notification_listener(channel, &listener);
                return Err(e);
            }
        }
        Ok(listener)
    }

    /// Removes a callback added with [`Connection::add_listener`] (sending
    /// `UNLISTEN` when it was the channel's last one).
    pub async fn remove_listener(&self, channel: &str, listener: &NotificationListener) -> Result<()> {
        if self.inner.shared.remove_notification_listener(channel, listener) == 0 {
            self.inner.simple_query(&format!("UNLISTEN {}", quote_ident(channel))).await?;
        }
        Ok(())
    }

    /// Listens on `channel` and returns the notifications as a stream. The
    /// stream ends when the connection closes; dropping it stops listening
    /// (the `UNLISTEN` is sent with the next request).
    ///
    /// Notifications are buffered without bound until read, as PostgreSQL
    /// itself queues them: read the stream.
    pub async fn listen(&self, channel: &str) -> Result<NotificationStream> {
        let (tx, rx) = mpsc::unbounded();
        let listener = self
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
            conn: Some(self.inner.clone()),
        })
    }

    /// Calls `callback` for every notification this session receives,
    /// whatever its channel, without sending `LISTEN` (for callers that run
    /// `LISTEN` themselves, as node-postgres's users do). Returns a handle for
    /// [`Connection::remove_notification_observer`]. Dropped when the
    /// connection closes or its session is reset.
    pub fn add_notification_observer(
        &self,
        callback: impl Fn(&Notification) + MaybeSend + MaybeSync + 'static,
    ) -> NotificationListener {
        let l: NotificationListener = Arc::new(callback);
        self.inner.shared.add_notification_observer(l.clone());
        l
    }

    /// Removes a callback added with [`Connection::add_notification_observer`].
    pub fn remove_notification_observer(&self, listener: &NotificationListener) {
        self.inner.shared.remove_notification_observer(listener);
    }

    /// Calls `callback` once when the connection closes, whatever the reason
    /// (`close`, `terminate`, the server going away, a protocol error).
    pub fn add_termination_listener(
        &self,
        callback: impl Fn() + MaybeSend + MaybeSync + 'static,
    ) -> TerminationListener {
        let l: TerminationListener = Arc::new(callback);
        if self.is_closed() {
            l();
        } else {
            self.inner.shared.add_termination_listener(l.clone());
        }
        l
    }

    /// Removes a callback added with [`Connection::add_termination_listener`].
    pub fn remove_termination_listener(&self, listener: &TerminationListener) {
        self.inner.shared.remove_termination_listener(listener);
    }
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
