//! The pool's bookkeeping: idle connections, FIFO waiters and the count of
//! slots in use. Everything here is synchronous and runs under the pool's
//! mutex; nothing awaits while it is held.
//!
//! A *slot* is one of the `max_size` places for a connection. It is taken
//! when a connection starts being opened and given back when that connection
//! is closed, so `size` counts open connections plus ones being opened.
//! What moves between acquirers is a [`Grant`]: an idle connection, or a
//! free slot to open one in.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_channel::oneshot;

use super::super::handle::{ConnInner, Connection};
use super::PoolInner;

/// What the pool remembers about a connection besides the handle.
#[derive(Debug, Clone, Copy)]
pub(super) struct Meta {
    /// Key in [`State::live`].
    pub(super) id: u64,
    /// The pool generation it was made in; older ones are replaced
    /// (`expire_connections`).
    pub(super) generation: u64,
    /// `init` finished: only such connections may be reused.
    pub(super) initialized: bool,
}

/// A connection owned by the pool (idle, or on its way somewhere).
pub(super) struct Pooled {
    pub(super) conn: Connection,
    pub(super) meta: Meta,
    /// When it was last released (runtime clock).
    pub(super) idle_since: Duration,
}

/// A connection lent to shortcut calls that may share it
/// (`PoolOptions::pipeline_depth` > 1): the pool keeps the connection while
/// it is lent, and the last call to finish returns it.
pub(super) struct SharedConn {
    pub(super) p: Pooled,
    /// Calls using it now (≥ 1 while it is in [`State::shared`]).
    pub(super) users: usize,
    /// When a call on it last finished (or sharing began): a connection
    /// that has not finished a call for [`STALLED`] is probably running a
    /// slow one, and a new call seated behind it would wait for it.
    pub(super) progress: Duration,
}

/// A shared connection that finished no call for this long takes no new
/// call: the caller waits for a release instead of queueing behind what is
/// probably a slow query. (A quick call on this pool takes well under a
/// millisecond; a call that runs longer than this is the slow one.)
pub(super) const STALLED: Duration = Duration::from_millis(50);

/// What a waiter is handed.
pub(super) enum Grant {
    /// A clean idle connection.
    Conn(Pooled),
    /// A free slot: open a new connection in it.
    Slot,
}

/// A [`Grant`] in transit to a waiter. If the waiter went away before
/// taking it (timeout, cancelled task), dropping it gives the grant back to
/// the pool, so neither a connection nor a slot can leak.
pub(super) struct Handoff {
    pool: Weak<PoolInner>,
    grant: Option<Grant>,
}

impl Handoff {
    pub(super) fn take(&mut self) -> Option<Grant> {
        self.grant.take()
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        if let (Some(grant), Some(pool)) = (self.grant.take(), self.pool.upgrade()) {
            pool.give_back(grant);
        }
    }
}

pub(super) struct State {
    /// Idle connections; the most recently released at the back (handed out
    /// first, so surplus connections age at the front and expire).
    pub(super) idle: VecDeque<Pooled>,
    /// Acquirers waiting, first come first served.
    pub(super) waiters: VecDeque<oneshot::Sender<Handoff>>,
    /// Slots in use: open connections plus ones being opened.
    pub(super) size: usize,
    pub(super) generation: u64,
    /// `close` or `terminate` was called: no new acquires.
    pub(super) closing: bool,
    /// Callers of `close` waiting for `size` to reach 0.
    pub(super) close_waiters: Vec<oneshot::Sender<()>>,
    /// Connections lent to shortcut calls that share them (see [`SharedConn`]).
    pub(super) shared: Vec<SharedConn>,
    /// Shortcut calls waiting for a seat on a shared connection to free up
    /// (every connection busy, every shared one full): one is woken each
    /// time a shared call ends or a connection comes back, and looks again.
    pub(super) seat_waiters: VecDeque<oneshot::Sender<()>>,
    /// Every open connection, so `terminate` can reach acquired ones too.
    pub(super) live: HashMap<u64, Arc<ConnInner>>,
    /// Dropped (set to `None`) to stop the idle reaper at once, so that its
    /// timer does not outlive a closed pool (on Node.js a pending timer
    /// keeps the process alive).
    pub(super) reaper_stop: Option<oneshot::Sender<()>>,
    /// The idle reaper's `max_inactive_connection_lifetime` until the reaper
    /// is started, with the pool's first connection (see `PoolInner::open`).
    pub(super) reaper_due: Option<Duration>,
    next_id: u64,
}

impl State {
    pub(super) fn new() -> State {
        State {
            idle: VecDeque::new(),
            waiters: VecDeque::new(),
            size: 0,
            generation: 0,
            closing: false,
            close_waiters: Vec::new(),
            shared: Vec::new(),
            seat_waiters: VecDeque::new(),
            live: HashMap::new(),
            reaper_stop: None,
            reaper_due: None,
            next_id: 0,
        }
    }

    /// A grant for a new acquirer, unless it has to wait. Waiters already in
    /// line go first (fairness), even when a connection is idle.
    pub(super) fn checkout(&mut self, max_size: usize) -> Option<Grant> {
        if !self.waiters.is_empty() {
            return None;
        }
        if let Some(p) = self.idle.pop_back() {
            return Some(Grant::Conn(p));
        }
        if self.size < max_size {
            self.size += 1;
            return Some(Grant::Slot);
        }
        None
    }

    /// Where a shortcut call of a shareable statement goes (see [`Seat`]).
    pub(super) fn seat_for_shortcut(&mut self, depth: usize, max_size: usize, now: Duration) -> Seat {
        // An idle connection or room for a new one comes first: sharing is
        // for when every connection is busy. Closing and waiters in line are
        // the acquire path's to handle.
        if self.closing || !self.idle.is_empty() || self.size < max_size {
            return Seat::Acquire;
        }
        if let Some((conn, id)) = self.join_shared(depth, now) {
            return Seat::Taken(conn, id);
        }
        // Every shared connection is full: wait for a call on one of them to
        // end, unless none is making progress (then wait in line for a release).
        if self.waiters.is_empty() && self.shared.iter().any(|s| Self::seats_calls(s, now)) {
            let (tx, rx) = oneshot::channel();
            self.seat_waiters.push_back(tx);
            return Seat::Wait(rx);
        }
        Seat::Acquire
    }

    /// Wakes the first shortcut call still waiting for a seat (a seat freed,
    /// or a connection came back).
    pub(super) fn wake_seat_waiter(&mut self) {
        while let Some(tx) = self.seat_waiters.pop_front() {
            if tx.send(()).is_ok() {
                return;
            }
        }
    }

    /// True when `s` may take more calls (when it has a free seat).
    fn seats_calls(s: &SharedConn, now: Duration) -> bool {
        now.saturating_sub(s.progress) < STALLED
            // A call with a timeout must be cancellable on the server, which
            // needs its request to run alone (see `cancel`): such
            // connections take no second call.
            && s.p.conn.inner.command_timeout.is_none()
            && !s.p.conn.is_closed()
            && !s.p.conn.is_starting()
    }

    /// A seat on a connection other shortcut calls are using, for one more
    /// call: the least busy one below `depth` that is open and started.
    /// None while anyone waits in line (a caller of `acquire` must not be
    /// starved by calls that keep a shared connection busy forever), and
    /// none when `depth` is 1.
    pub(super) fn join_shared(&mut self, depth: usize, now: Duration) -> Option<(Connection, u64)> {
        // Callers that gave up waiting (timeout, dropped future) leave their
        // sender behind until a grant passes by; they are not in line.
        self.waiters.retain(|tx| !tx.is_canceled());
        if !self.waiters.is_empty() || self.closing {
            return None;
        }
        let seat = self
            .shared
            .iter_mut()
            .filter(|s| s.users < depth && Self::seats_calls(s, now))
            // Least busy first; among those, the one that made progress last.
            .min_by_key(|s| (s.users, std::cmp::Reverse(s.progress)))?;
        seat.users += 1;
        Some((Connection { inner: seat.p.conn.inner.clone() }, seat.p.meta.id))
    }

    /// Starts sharing `p`, lent to one call so far.
    pub(super) fn share(&mut self, p: Pooled, now: Duration) {
        self.shared.push(SharedConn { p, users: 1, progress: now });
    }

    /// One call is done with shared connection `id`; the connection comes
    /// back when it was the last.
    pub(super) fn leave_shared(&mut self, id: u64, now: Duration) -> Option<Pooled> {
        let at = self.shared.iter().position(|s| s.p.meta.id == id)?;
        let seat = &mut self.shared[at];
        seat.users = seat.users.saturating_sub(1);
        seat.progress = now;
        let last = seat.users == 0;
        self.wake_seat_waiter();
        if !last {
            return None;
        }
        Some(self.shared.swap_remove(at).p)
    }

    /// Registers a new connection made in a slot; returns its metadata.
    pub(super) fn register(&mut self, conn: &Connection) -> Meta {
        self.next_id = self.next_id.wrapping_add(1);
        self.live.insert(self.next_id, conn.inner.clone());
        Meta { id: self.next_id, generation: self.generation, initialized: false }
    }

    /// Gives `grant` to the first waiter still waiting; returns it when
    /// nobody is.
    pub(super) fn hand_to_waiter(&mut self, pool: &Weak<PoolInner>, mut grant: Grant) -> Option<Grant> {
        while let Some(tx) = self.waiters.pop_front() {
            match tx.send(Handoff { pool: pool.clone(), grant: Some(grant) }) {
                Ok(()) => return None,
                // That waiter gave up: take the grant back, try the next one.
                Err(mut back) => grant = back.take()?,
            }
        }
        Some(grant)
    }

    /// A slot was freed (its connection closed, or opening it failed).
    /// Returns what to do next outside the lock.
    pub(super) fn free_slot(&mut self, pool: &Weak<PoolInner>, id: Option<u64>) -> AfterFree {
        if let Some(id) = id {
            self.live.remove(&id);
        }
        self.size = self.size.saturating_sub(1);
        if self.closing {
            if self.size == 0 {
                return AfterFree::Closed(std::mem::take(&mut self.close_waiters));
            }
            return AfterFree::Nothing;
        }
        // The slot goes straight to the first waiter, who opens a connection in it.
        self.wake_seat_waiter();
        self.size += 1;
        match self.hand_to_waiter(pool, Grant::Slot) {
            None => AfterFree::Nothing,
            Some(_) => {
                self.size -= 1;
                AfterFree::Nothing
            }
        }
    }
}

/// Where [`State::seat_for_shortcut`] sends a shortcut call.
pub(super) enum Seat {
    /// A seat on this shared connection.
    Taken(Connection, u64),
    /// Every shared connection is full: wait on this, then look again.
    Wait(oneshot::Receiver<()>),
    /// Take the acquire path: an idle connection, a new one, or the line.
    Acquire,
}

/// Follow-up of [`State::free_slot`], done after the lock is released.
pub(super) enum AfterFree {
    Nothing,
    /// The pool is closed and empty: wake the `close` callers.
    Closed(Vec<oneshot::Sender<()>>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(g: Option<Grant>) -> bool {
        matches!(g, Some(Grant::Slot))
    }

    #[test]
    fn checkout_takes_slots_up_to_max() {
        let mut st = State::new();
        assert!(slot(st.checkout(2)));
        assert!(slot(st.checkout(2)));
        assert!(st.checkout(2).is_none());
        assert_eq!(st.size, 2);
    }

    #[test]
    fn freed_slot_goes_to_the_first_live_waiter() {
        let pool = Weak::new();
        let mut st = State::new();
        assert!(slot(st.checkout(1)));
        let (tx1, rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        let (tx3, mut rx3) = oneshot::channel();
        st.waiters.extend([tx1, tx2, tx3]);
        // The first waiter gave up (timed out).
        drop(rx1);
        // A new acquirer does not jump the queue.
        assert!(st.checkout(1).is_none());
        assert!(matches!(st.free_slot(&pool, None), AfterFree::Nothing));
        assert_eq!(st.size, 1, "the slot moved to a waiter");
        let mut got = rx2.try_recv().unwrap().expect("second waiter served");
        assert!(matches!(got.take(), Some(Grant::Slot)));
        assert!(rx3.try_recv().unwrap().is_none(), "third waiter still waits");
        assert_eq!(st.waiters.len(), 1);
    }

    #[test]
    fn freed_slot_without_waiters_shrinks_the_pool() {
        let pool = Weak::new();
        let mut st = State::new();
        assert!(slot(st.checkout(3)));
        st.free_slot(&pool, None);
        assert_eq!(st.size, 0);
    }

    #[test]
    fn closing_pool_reports_when_empty() {
        let pool = Weak::new();
        let mut st = State::new();
        assert!(slot(st.checkout(3)));
        assert!(slot(st.checkout(3)));
        st.closing = true;
        let (tx, _rx) = oneshot::channel();
        st.close_waiters.push(tx);
        assert!(matches!(st.free_slot(&pool, None), AfterFree::Nothing));
        match st.free_slot(&pool, None) {
            AfterFree::Closed(w) => assert_eq!(w.len(), 1),
            AfterFree::Nothing => panic!("the last slot should close the pool"),
        }
        // Never underflows.
        st.free_slot(&pool, None);
        assert_eq!(st.size, 0);
    }
}
