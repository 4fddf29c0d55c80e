//! State shared between a connection's handles and its driver task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use crate::protocol::backend::TransactionStatus;
use crate::{DbError, Error, ErrorKind, Result};

// The callback types are `Send + Sync` on native targets only: on wasm32
// (single-threaded) callbacks may hold JS values, which are neither.

/// A callback for server notices (NoticeResponse: WARNING, NOTICE, INFO, ...).
#[cfg(not(target_arch = "wasm32"))]
pub type LogListener = Arc<dyn Fn(&DbError) + Send + Sync>;
/// A callback for server notices (NoticeResponse: WARNING, NOTICE, INFO, ...).
#[cfg(target_arch = "wasm32")]
pub type LogListener = Arc<dyn Fn(&DbError)>;

/// One finished call, as given to a query logger.
#[derive(Debug, Clone, Copy)]
pub struct LoggedQuery<'a> {
    /// The SQL text.
    pub query: &'a str,
    /// How many arguments were bound (for `executemany`: how many rows).
    pub args: usize,
    /// Time from the call to its answer (the runtime's clock).
    pub elapsed: Duration,
    /// The error, if the call failed.
    pub error: Option<&'a Error>,
}

/// A query logger callback.
#[cfg(not(target_arch = "wasm32"))]
pub type QueryLogger = Arc<dyn for<'a> Fn(&LoggedQuery<'a>) + Send + Sync>;
/// A query logger callback.
#[cfg(target_arch = "wasm32")]
pub type QueryLogger = Arc<dyn for<'a> Fn(&LoggedQuery<'a>)>;

/// A NOTIFY received on a channel this connection listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Process ID of the backend that sent the NOTIFY.
    pub process_id: i32,
    /// The channel.
    pub channel: String,
    /// The payload (empty when none was given).
    pub payload: String,
}

/// The function behind a [`NotificationListener`].
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type NotificationFn = dyn Fn(&Notification) + Send + Sync;
#[cfg(target_arch = "wasm32")]
pub(crate) type NotificationFn = dyn Fn(&Notification);

/// A callback for notifications on one channel.
pub type NotificationListener = Arc<NotificationFn>;

/// A callback run once when the connection closes, for whatever reason.
#[cfg(not(target_arch = "wasm32"))]
pub type TerminationListener = Arc<dyn Fn() + Send + Sync>;
/// A callback run once when the connection closes, for whatever reason.
#[cfg(target_arch = "wasm32")]
pub type TerminationListener = Arc<dyn Fn()>;

pub(crate) struct Shared {
    closed: AtomicBool,
    /// A pipelined-connect connection whose startup exchange is not over yet
    /// (see `super::pipelined`): queries may then take the one-flight path.
    pipelined_startup: AtomicBool,
    /// Why a pipelined-connect connection's startup failed (e.g. the server's
    /// 28P01): every later call fails with this error, not "closed".
    startup_error: Mutex<Option<Error>>,
    /// Why the connection closed, to answer later calls with a precise error.
    close_reason: Mutex<Option<(ErrorKind, String)>>,
    tx_status: AtomicU8,
    parameters: Mutex<HashMap<String, String>>,
    log_listeners: Mutex<Vec<LogListener>>,
    pub(crate) query_loggers: Mutex<Vec<QueryLogger>>,
    /// Whether `query_loggers` is non-empty: checked on every call without locking.
    pub(crate) has_query_loggers: AtomicBool,
    notification_listeners: Mutex<Vec<(String, NotificationListener)>>,
    /// Callbacks for every notification, whatever its channel (they send no LISTEN).
    notification_observers: Mutex<Vec<NotificationListener>>,
    termination_listeners: Mutex<Vec<TerminationListener>>,
    /// Query requests handed to the driver, and those it has finished: when
    /// equal, nothing is queued or in flight and the transaction status from
    /// the last ReadyForQuery is current (the pool skips a round trip then).
    sent: AtomicU64,
    done: AtomicU64,
    /// Lease generation: bumped by a pool each time it takes the connection
    /// back. Handles that can outlive a lease (prepared statements, COPY
    /// streams, cursors, owned transactions) record it when made and refuse
    /// to run once it has moved on: the connection then serves someone else.
    /// Never bumped for a connection outside a pool.
    lease: AtomicU64,
    /// `Config::text_results`: statements ask for text-format results.
    text_results: AtomicBool,
}

/// Locks a mutex, ignoring poisoning: every critical section here leaves the
/// data consistent, and a user callback that panicked must not wedge the connection.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("closed", &self.is_closed())
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Set once, from the config, before the connection runs any statement.
    pub(crate) fn set_text_results(&self, text: bool) {
        self.text_results.store(text, Ordering::Relaxed);
    }

    pub(crate) fn text_results(&self) -> bool {
        self.text_results.load(Ordering::Relaxed)
    }

    pub(crate) fn new(parameters: HashMap<String, String>, status: TransactionStatus) -> Shared {
        let s = Shared {
            closed: AtomicBool::new(false),
            pipelined_startup: AtomicBool::new(false),
            startup_error: Mutex::new(None),
            close_reason: Mutex::new(None),
            tx_status: AtomicU8::new(0),
            parameters: Mutex::new(parameters),
            log_listeners: Mutex::new(Vec::new()),
            query_loggers: Mutex::new(Vec::new()),
            has_query_loggers: AtomicBool::new(false),
            notification_listeners: Mutex::new(Vec::new()),
            notification_observers: Mutex::new(Vec::new()),
            termination_listeners: Mutex::new(Vec::new()),
            sent: AtomicU64::new(0),
            done: AtomicU64::new(0),
            lease: AtomicU64::new(0),
            text_results: AtomicBool::new(false),
        };
        s.set_status(status);
        s
    }

    /// Counts a query request about to be handed to the driver.
    pub(crate) fn note_sent(&self) {
        self.sent.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts a query request the driver finished (answered, failed or dropped).
    pub(crate) fn note_done(&self) {
        self.done.fetch_add(1, Ordering::AcqRel);
    }

    /// True when every query request sent so far has been answered.
    pub(crate) fn is_quiet(&self) -> bool {
        self.done.load(Ordering::Acquire) >= self.sent.load(Ordering::Acquire)
    }

    /// The current lease generation (see the field's comment).
    pub(crate) fn lease(&self) -> u64 {
        self.lease.load(Ordering::Acquire)
    }

    /// Ends the current lease: every handle recorded under it stops working.
    /// Called by the pool when a lent connection is given back.
    pub(crate) fn end_lease(&self) {
        self.lease.fetch_add(1, Ordering::AcqRel);
    }

    /// Fails with an Interface error when `lease` (recorded by a handle at
    /// its creation) is no longer the connection's current lease.
    pub(crate) fn check_lease(&self, lease: u64, what: &str) -> Result<()> {
        if self.lease() == lease {
            Ok(())
        } else {
            Err(Error::interface(format!(
                "this {what} belongs to a pooled connection that was released; \
                 {}",
                match what {
                    "prepared statement" => "prepare it again on the connection you hold",
                    _ => "make a new one on the connection you hold",
                }
            )))
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the connection closed; the first reason given wins.
    pub(crate) fn mark_closed(&self, reason: Option<&Error>) {
        let mut r = lock(&self.close_reason);
        if r.is_none() {
            *r = Some(match reason {
                Some(e) => (e.kind(), e.message().to_owned()),
                None => (ErrorKind::Closed, "the connection is closed".to_owned()),
            });
        }
        self.closed.store(true, Ordering::Release);
    }

    /// True while a pipelined-connect connection has not finished its startup.
    pub(crate) fn in_pipelined_startup(&self) -> bool {
        self.pipelined_startup.load(Ordering::Acquire)
    }

    pub(crate) fn set_pipelined_startup(&self, on: bool) {
        self.pipelined_startup.store(on, Ordering::Release);
    }

    /// Records why the startup of a pipelined-connect connection failed.
    pub(crate) fn set_startup_error(&self, e: &Error) {
        lock(&self.startup_error).get_or_insert_with(|| e.duplicate());
    }

    /// The error to give a caller whose request could not be answered.
    pub(crate) fn closed_error(&self) -> Error {
        if let Some(e) = &*lock(&self.startup_error) {
            return e.duplicate();
        }
        match &*lock(&self.close_reason) {
            Some((kind, msg)) if *kind != ErrorKind::Closed => {
                Error::new(ErrorKind::Closed, format!("the connection is closed: {msg}"))
            }
            _ => Error::closed(),
        }
    }

    pub(crate) fn set_status(&self, status: TransactionStatus) {
        let v = match status {
            TransactionStatus::Idle => 0,
            TransactionStatus::InTransaction => 1,
            TransactionStatus::Failed => 2,
        };
        self.tx_status.store(v, Ordering::Release);
    }

    pub(crate) fn status(&self) -> TransactionStatus {
        match self.tx_status.load(Ordering::Acquire) {
            0 => TransactionStatus::Idle,
            1 => TransactionStatus::InTransaction,
            _ => TransactionStatus::Failed,
        }
    }

    pub(crate) fn set_parameter(&self, name: String, value: String) {
        lock(&self.parameters).insert(name, value);
    }

    pub(crate) fn parameter(&self, name: &str) -> Option<String> {
        lock(&self.parameters).get(name).cloned()
    }

    pub(crate) fn parameters(&self) -> HashMap<String, String> {
        lock(&self.parameters).clone()
    }

    pub(crate) fn add_log_listener(&self, l: LogListener) {
        lock(&self.log_listeners).push(l);
    }

    pub(crate) fn remove_log_listener(&self, l: &LogListener) {
        lock(&self.log_listeners).retain(|x| !Arc::ptr_eq(x, l));
    }

    /// Forgets every log callback and query logger (the connection goes back to a pool).
    pub(crate) fn clear_log_listeners(&self) {
        lock(&self.log_listeners).clear();
        lock(&self.query_loggers).clear();
        self.has_query_loggers.store(false, Ordering::Release);
    }

    pub(crate) fn notice(&self, notice: &DbError) {
        // Call outside the lock so a listener may add or remove listeners.
        let listeners: Vec<LogListener> = lock(&self.log_listeners).clone();
        for l in listeners {
            l(notice);
        }
    }

    /// Registers a notification callback; returns how many callbacks the
    /// channel has now.
    pub(crate) fn add_notification_listener(&self, channel: &str, l: NotificationListener) -> usize {
        let mut ls = lock(&self.notification_listeners);
        ls.push((channel.to_owned(), l));
        ls.iter().filter(|(c, _)| c == channel).count()
    }

    /// Removes a notification callback; returns how many the channel has left.
    pub(crate) fn remove_notification_listener(&self, channel: &str, l: &NotificationListener) -> usize {
        let mut ls = lock(&self.notification_listeners);
        ls.retain(|(c, x)| !(c == channel && Arc::ptr_eq(x, l)));
        ls.iter().filter(|(c, _)| c == channel).count()
    }

    /// Forgets every notification callback (the session was reset).
    pub(crate) fn clear_notification_listeners(&self) {
        lock(&self.notification_listeners).clear();
        lock(&self.notification_observers).clear();
    }

    pub(crate) fn add_notification_observer(&self, l: NotificationListener) {
        lock(&self.notification_observers).push(l);
    }

    pub(crate) fn remove_notification_observer(&self, l: &NotificationListener) {
        lock(&self.notification_observers).retain(|x| !Arc::ptr_eq(x, l));
    }

    pub(crate) fn notification(&self, process_id: i32, channel: &str, payload: &str) {
        let mut listeners: Vec<NotificationListener> =
            lock(&self.notification_listeners).iter().filter(|(c, _)| c == channel).map(|(_, l)| l.clone()).collect();
        listeners.extend(lock(&self.notification_observers).iter().cloned());
        if listeners.is_empty() {
            return;
        }
        let n = Notification { process_id, channel: channel.to_owned(), payload: payload.to_owned() };
        for l in listeners {
            l(&n);
        }
    }

    pub(crate) fn add_termination_listener(&self, l: TerminationListener) {
        lock(&self.termination_listeners).push(l);
    }

    pub(crate) fn remove_termination_listener(&self, l: &TerminationListener) {
        lock(&self.termination_listeners).retain(|x| !Arc::ptr_eq(x, l));
    }

    /// Forgets every termination callback (the connection goes back to a pool).
    pub(crate) fn clear_termination_listeners(&self) {
        lock(&self.termination_listeners).clear();
    }

    /// Runs the termination callbacks, once, and drops the notification
    /// callbacks (which ends every `listen` stream).
    pub(crate) fn terminated(&self) {
        lock(&self.notification_listeners).clear();
        lock(&self.notification_observers).clear();
        let listeners = std::mem::take(&mut *lock(&self.termination_listeners));
        for l in listeners {
            l();
        }
    }
}

/// The server's version, from the `server_version` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
    /// Third component for servers before 10 (e.g. 9.6.**24**), 0 otherwise.
    pub micro: u32,
}

impl ServerVersion {
    /// Parses `server_version` values such as `15.18 (Debian 15.18-0+deb12u1)`,
    /// `9.6.24` or `17beta1`.
    pub fn parse(s: &str) -> Option<ServerVersion> {
        let head = s.split(|c: char| !(c.is_ascii_digit() || c == '.')).next()?;
        let mut parts = head.split('.').filter(|p| !p.is_empty()).map(|p| p.parse::<u32>());
        let major = parts.next()?.ok()?;
        let minor = parts.next().and_then(|r| r.ok()).unwrap_or(0);
        let micro = parts.next().and_then(|r| r.ok()).unwrap_or(0);
        Some(ServerVersion { major, minor, micro })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_works_only_during_its_lease() {
        let shared = Shared::new(HashMap::new(), TransactionStatus::Idle);
        let lease = shared.lease();
        assert!(shared.check_lease(lease, "prepared statement").is_ok());
        shared.end_lease();
        let e = shared.check_lease(lease, "prepared statement").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Interface);
        assert_eq!(
            e.message(),
            "this prepared statement belongs to a pooled connection that was released; \
             prepare it again on the connection you hold"
        );
        assert!(shared.check_lease(shared.lease(), "cursor").is_ok());
        assert!(shared.check_lease(lease, "cursor").unwrap_err().message().contains("make a new one"));
    }

    #[test]
    fn server_version_parse() {
        assert_eq!(
            ServerVersion::parse("15.18 (Debian 15.18-0+deb12u1)"),
            Some(ServerVersion { major: 15, minor: 18, micro: 0 })
        );
        assert_eq!(ServerVersion::parse("9.6.24"), Some(ServerVersion { major: 9, minor: 6, micro: 24 }));
        assert_eq!(ServerVersion::parse("17beta1"), Some(ServerVersion { major: 17, minor: 0, micro: 0 }));
        assert_eq!(ServerVersion::parse("garbage"), None);
    }
}
