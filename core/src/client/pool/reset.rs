//! Bringing a released connection back to a clean session, and checking an
//! idle one is still alive.
//!
//! A guard may be dropped while a request it started is still in flight (a
//! cancelled future): the driver still reads that response, in order. Every
//! step here is itself a request queued behind it, so once they are answered
//! the connection is idle and its transaction status is current.

use bytes::BytesMut;

use super::super::handle::{ConnInner, Connection};
use super::super::request::Request;
use super::options::{is_default_reset, Hook, DEFAULT_RESET_SQL};
use crate::protocol::backend::TransactionStatus;
use crate::protocol::frontend;
use crate::{Error, Result};

/// A lone Sync: the cheapest round trip. Its ReadyForQuery comes after the
/// answers to everything queued before it and carries the transaction status.
pub(super) async fn sync_round_trip(conn: &ConnInner) -> Result<()> {
    let mut buf = BytesMut::with_capacity(5);
    frontend::sync(&mut buf);
    conn.request(buf, 1, None).await.map(|_| ())
}

/// What [`clean_now`] found.
pub(super) enum CleanNow {
    /// Clean; with the default reset, clean once these bytes (the reset's
    /// simple query) have run — they must go out before anything else.
    Clean(Option<BytesMut>),
    /// It needs round trips: run [`clean`].
    NotNow,
}

/// The part of [`clean`] that needs no round trip: drops the session's
/// client-side callbacks and, when nothing is in flight and the last
/// ReadyForQuery said idle, decides at once — no reset hook means the
/// connection is known clean without asking the server, and the default
/// reset need not be waited for: queued in front of the next borrower's
/// requests (the connection answers in order), it runs before them.
///
/// Synchronous so that a release can do it on the spot, without a task.
pub(super) fn clean_now(conn: &Connection, reset: Option<&Hook>) -> CleanNow {
    let shared = &conn.inner.shared;
    shared.clear_notification_listeners();
    shared.clear_log_listeners();
    shared.clear_termination_listeners();
    if !(shared.is_quiet() && conn.transaction_status() == TransactionStatus::Idle && !conn.is_closed()) {
        return CleanNow::NotNow;
    }
    match reset {
        None => CleanNow::Clean(None),
        Some(hook) => match pipelined_reset(hook) {
            Some(bytes) => CleanNow::Clean(Some(bytes)),
            None => CleanNow::NotNow,
        },
    }
}

/// The reset as bytes to queue in front of other requests, when it can be
/// pipelined: the default reset is one simple query; a custom hook is code
/// that must run.
pub(super) fn pipelined_reset(reset: &Hook) -> Option<BytesMut> {
    if !is_default_reset(reset) {
        return None;
    }
    let mut buf = BytesMut::with_capacity(DEFAULT_RESET_SQL.len() + 6);
    // The SQL is a constant without NUL bytes: encoding it cannot fail.
    frontend::query(DEFAULT_RESET_SQL, &mut buf).ok()?;
    Some(buf)
}

/// Queues the reset bytes [`clean_now`] returned, to go out now.
pub(super) fn send_reset(conn: &Connection, reset: BytesMut) -> Result<()> {
    conn.inner.send(Request::discard(reset, 1))
}

/// Drops the session's client-side callbacks, rolls back any transaction and
/// runs `reset`. Ok means the connection is open, idle and clean.
pub(super) async fn clean(conn: &Connection, reset: Option<&Hook>) -> Result<()> {
    match clean_now(conn, reset) {
        CleanNow::Clean(None) => return Ok(()),
        CleanNow::Clean(Some(bytes)) => return send_reset(conn, bytes),
        CleanNow::NotNow => {}
    }
    // Twice at most: the status seen first may be stale (a dropped request,
    // e.g. a BEGIN, still in flight); the second pass starts from a current one.
    for _ in 0..2 {
        if conn.transaction_status() != TransactionStatus::Idle {
            conn.inner.simple_query("ROLLBACK").await?;
        }
        // The Sync goes out in the same write as the hook's first request; once
        // both are answered the status reflects everything sent so far, even when
        // a custom hook sends nothing.
        let hook = async {
            match reset {
                Some(hook) => hook(Connection { inner: conn.inner.clone() }).await,
                None => Ok(()),
            }
        };
        let (hooked, synced) = futures_util::future::join(hook, sync_round_trip(&conn.inner)).await;
        hooked?;
        synced?;
        if conn.is_closed() {
            return Err(conn.inner.shared.closed_error());
        }
        if conn.transaction_status() == TransactionStatus::Idle {
            return Ok(());
        }
    }
    Err(Error::interface("a released connection stayed inside a transaction after ROLLBACK and reset"))
}
