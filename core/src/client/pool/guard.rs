//! [`PoolConnection`]: a connection lent by the pool, returned on drop.

use std::ops::Deref;
use std::sync::Arc;

use super::super::handle::Connection;
use super::super::shared::lock;
use super::state::{Meta, Pooled};
use super::PoolInner;

/// A connection acquired from a [`Pool`](super::Pool). It dereferences to
/// [`Connection`]; dropping it gives the connection back to the pool, which
/// cleans it first (rollback, `reset`) in the background. A connection that
/// turns out broken or dirty is closed and replaced, never lent again.
///
/// Dropping it while a query is still running (a cancelled future) is safe:
/// the pool waits for the connection to be idle before reusing it.
///
/// Handles derived from it (prepared statements, COPY streams, cursors,
/// owned transactions) stop working when it is released — their methods
/// return an Interface error — because the connection will serve someone
/// else. Listener streams simply end.
///
/// ```no_run
/// # async fn demo(pool: edgepg_core::client::pool::Pool) -> edgepg_core::Result<()> {
/// let conn = pool.acquire().await?;
/// conn.execute("BEGIN", &[]).await?;
/// conn.execute("UPDATE accounts SET balance = balance - 1 WHERE id = $1", &[&1i64]).await?;
/// conn.execute("COMMIT", &[]).await?;
/// drop(conn); // back to the pool
/// # Ok(()) }
/// ```
pub struct PoolConnection {
    pub(super) pool: Arc<PoolInner>,
    pub(super) conn: Connection,
    pub(super) meta: Meta,
    /// Already given back (explicit release or discard): nothing to do on drop.
    pub(super) done: bool,
}

impl PoolConnection {
    pub(super) fn new(pool: Arc<PoolInner>, conn: Connection, meta: Meta) -> PoolConnection {
        PoolConnection { pool, conn, meta, done: false }
    }

    /// Takes the connection out of the guard without ending the lease: it
    /// goes on serving shortcut calls as a shared connection.
    pub(super) fn into_shared(mut self) -> Pooled {
        self.done = true;
        Pooled { conn: Connection { inner: self.conn.inner.clone() }, meta: self.meta, idle_since: Default::default() }
    }

    /// Takes the connection out of the guard, disarming its drop.
    pub(super) fn take(mut self) -> Pooled {
        self.done = true;
        // Handles made during this lease stop working now, before the
        // connection can be lent again.
        self.conn.inner.shared.end_lease();
        Pooled { conn: Connection { inner: self.conn.inner.clone() }, meta: self.meta, idle_since: Default::default() }
    }
}

impl Deref for PoolConnection {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl std::fmt::Debug for PoolConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolConnection").field("conn", &self.conn).finish()
    }
}

impl Drop for PoolConnection {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.conn.inner.shared.end_lease();
        let pooled = Pooled {
            conn: Connection { inner: self.conn.inner.clone() },
            meta: self.meta,
            idle_since: Default::default(),
        };
        self.pool.release_in_background(pooled);
    }
}

/// A seat on a connection that several shortcut calls use at once
/// (`PoolOptions::pipeline_depth`). Dropping the last seat gives the
/// connection back to the pool, cleaned as a [`PoolConnection`] is.
pub(super) struct SharedSeat {
    pub(super) pool: Arc<PoolInner>,
    pub(super) conn: Connection,
    pub(super) id: u64,
}

impl Drop for SharedSeat {
    fn drop(&mut self) {
        let now = self.pool.runtime.now();
        let last = lock(&self.pool.state).leave_shared(self.id, now);
        if let Some(pooled) = last {
            // Alone again: the release's own reset takes over.
            pooled.conn.inner.reset_between_calls(None);
            pooled.conn.inner.shared.end_lease();
            self.pool.release_in_background(pooled);
        }
    }
}

/// The connection a pool shortcut runs its one call on
/// ([`Pool::acquire_for`](super::Pool::acquire_for)): its own, or a seat on
/// one shared with other shortcut calls. It dereferences to [`Connection`];
/// dropping it gives the connection (or the seat) back.
pub struct Lease(pub(super) LeaseKind);

pub(super) enum LeaseKind {
    Own(PoolConnection),
    Shared(SharedSeat),
}

impl Lease {
    /// True when other calls may be pipelined on the same connection.
    pub fn is_shared(&self) -> bool {
        matches!(self.0, LeaseKind::Shared(_))
    }
}

impl Deref for Lease {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match &self.0 {
            LeaseKind::Own(c) => c,
            LeaseKind::Shared(s) => &s.conn,
        }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("shared", &self.is_shared()).field("conn", &**self).finish()
    }
}
