//! Query loggers: a callback per finished call with the query text, how
//! many arguments it had, how long it took and how it ended (asyncpg's
//! `add_query_logger`). Arguments are counted, never shown: they may hold
//! secrets.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::handle::{ConnInner, Connection};
use super::shared::{lock, LoggedQuery, QueryLogger};
use crate::{Error, Result};

/// The work of [`Connection::add_query_logger`], which delegates here.
pub(crate) fn add_query_logger(
    conn: &Connection,
    logger: impl for<'a> Fn(&LoggedQuery<'a>) + super::MaybeSend + super::MaybeSync + 'static,
) -> QueryLogger {
    let l: QueryLogger = Arc::new(logger);
    let shared = &conn.inner.shared;
    let mut loggers = lock(&shared.query_loggers);
    loggers.push(l.clone());
    shared.has_query_loggers.store(true, Ordering::Release);
    l
}

/// The work of [`Connection::remove_query_logger`], which delegates here.
pub(crate) fn remove_query_logger(conn: &Connection, logger: &QueryLogger) {
    let shared = &conn.inner.shared;
    let mut loggers = lock(&shared.query_loggers);
    loggers.retain(|x| !Arc::ptr_eq(x, logger));
    shared.has_query_loggers.store(!loggers.is_empty(), Ordering::Release);
}

impl ConnInner {
    /// Runs `call`, then tells the query loggers (if there are any — without
    /// them this costs one atomic load).
    pub(crate) async fn logged<T>(&self, query: &str, args: usize, call: impl Future<Output = Result<T>>) -> Result<T> {
        if !self.shared.has_query_loggers.load(Ordering::Acquire) {
            return call.await;
        }
        let start = self.now();
        let result = call.await;
        self.log_query(query, args, start, result.as_ref().err());
        result
    }

    /// Like [`ConnInner::logged`] for `executemany`: the argument count is
    /// the number of rows `call` took from a [`Counting`] iterator over `count`.
    pub(crate) async fn logged_rows<T>(
        &self,
        query: &str,
        count: &AtomicUsize,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        if !self.shared.has_query_loggers.load(Ordering::Acquire) {
            return call.await;
        }
        let start = self.now();
        let result = call.await;
        self.log_query(query, count.load(Ordering::Relaxed), start, result.as_ref().err());
        result
    }

    pub(crate) fn log_query(&self, query: &str, args: usize, start: Duration, error: Option<&Error>) {
        let loggers: Vec<QueryLogger> = lock(&self.shared.query_loggers).clone();
        let entry = LoggedQuery { query, args, elapsed: self.now().saturating_sub(start), error };
        for l in loggers {
            l(&entry);
        }
    }
}

/// Counts the items taken from an iterator (the rows of `executemany`),
/// without collecting them.
pub(crate) struct Counting<'c, I> {
    pub(crate) iter: I,
    pub(crate) count: &'c AtomicUsize,
}

impl<I: Iterator> Iterator for Counting<'_, I> {
    type Item = I::Item;
    fn next(&mut self) -> Option<I::Item> {
        let item = self.iter.next();
        if item.is_some() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        item
    }
}
