//! Prepared statements and the per-connection statement cache.
//!
//! A statement is parsed once (Parse + Describe + Sync) and then executed
//! with Bind + Execute + Sync in a single round trip. Named statements are
//! closed on the server when the last handle to them goes away (the close is
//! queued behind whatever is in flight, so it never races a use).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;

use super::formats::{uses_map, wire_format};
use super::request::{Request, RequestSender};
use super::row::Column;
use super::shared::Shared;
use crate::protocol::{frontend, Format};
use crate::types::{Type, TypeMap};

/// The server's description of a prepared statement.
#[derive(Debug)]
pub(crate) struct StatementInner {
    /// Server-side name; empty for the unnamed statement.
    pub(crate) name: String,
    pub(crate) sql: String,
    pub(crate) params: Vec<Type>,
    pub(crate) columns: Arc<[Column]>,
    /// Result format codes for Bind: empty (all text), `[1]` (all binary) or one per column.
    pub(crate) result_formats: Vec<i16>,
    /// The user types and codecs the parameters or columns need, if any.
    pub(crate) types: Option<Arc<TypeMap>>,
    /// When the statement was prepared (runtime clock), for the cache lifetime.
    pub(crate) prepared_at: Duration,
    sender: RequestSender,
    shared: Arc<Shared>,
}

impl StatementInner {
    // Every argument is a distinct part of the description; a builder would only add noise.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: String,
        sql: String,
        params: Vec<Type>,
        mut columns: Vec<Column>,
        prepared_at: Duration,
        sender: RequestSender,
        shared: Arc<Shared>,
        type_map: Arc<TypeMap>,
    ) -> StatementInner {
        // Ask for binary where we can decode it, text for everything else
        // (extension types without a codec): every column stays readable. Text
        // for all when the config says so (`Config::text_results`).
        let text = shared.text_results();
        let mut types = None;
        for c in &mut columns {
            c.set_format(if text { Format::Text } else { wire_format(c.type_(), &type_map) });
            if uses_map(c.type_(), &type_map) {
                c.set_types(type_map.clone());
                types = Some(type_map.clone());
            }
        }
        if params.iter().any(|t| uses_map(*t, &type_map)) {
            types = Some(type_map.clone());
        }
        let result_formats = if columns.iter().all(|c| c.format() == Format::Binary) {
            if columns.is_empty() {
                Vec::new()
            } else {
                vec![Format::Binary.code()]
            }
        } else {
            columns.iter().map(|c| c.format().code()).collect()
        };
        StatementInner {
            name,
            sql,
            params,
            columns: columns.into(),
            result_formats,
            types,
            prepared_at,
            sender,
            shared,
        }
    }

    pub(crate) fn is_named(&self) -> bool {
        !self.name.is_empty()
    }
}

impl Drop for StatementInner {
    fn drop(&mut self) {
        if self.is_named() {
            let mut buf = BytesMut::with_capacity(self.name.len() + 16);
            if frontend::close(b'S', &self.name, &mut buf).is_ok() {
                frontend::sync(&mut buf);
                // If the connection is gone the statement is gone with it.
                self.shared.note_sent();
                let _ = self.sender.unbounded_send(Request::discard(buf, 1));
            }
        }
    }
}

/// A least-recently-used cache of prepared statements keyed by SQL text.
#[derive(Debug)]
pub(crate) struct StatementCache {
    capacity: usize,
    max_lifetime: Duration,
    max_sql_len: usize,
    tick: u64,
    entries: HashMap<String, (Arc<StatementInner>, u64)>,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize, max_lifetime: Duration, max_sql_len: usize) -> StatementCache {
        StatementCache { capacity, max_lifetime, max_sql_len, tick: 0, entries: HashMap::new() }
    }

    /// True when statements should be named and kept.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn cacheable(&self, sql: &str) -> bool {
        self.enabled() && (self.max_sql_len == 0 || sql.len() <= self.max_sql_len)
    }

    /// Looks `sql` up, dropping the entry when it outlived `max_lifetime`.
    pub(crate) fn get(&mut self, sql: &str, now: Duration) -> Option<Arc<StatementInner>> {
        self.tick += 1;
        let tick = self.tick;
        let expired = match self.entries.get_mut(sql) {
            None => return None,
            Some((stmt, last_used)) => {
                if !self.max_lifetime.is_zero() && now.saturating_sub(stmt.prepared_at) > self.max_lifetime {
                    true
                } else {
                    *last_used = tick;
                    return Some(stmt.clone());
                }
            }
        };
        if expired {
            self.entries.remove(sql);
        }
        None
    }

    /// Inserts a statement, evicting the least recently used one when full.
    pub(crate) fn insert(&mut self, stmt: Arc<StatementInner>) {
        if !self.cacheable(&stmt.sql) {
            return;
        }
        self.tick += 1;
        if !self.entries.contains_key(&stmt.sql) && self.entries.len() >= self.capacity {
            // O(n) scan: n is the cache size (100 by default) and this runs only on a miss,
            // which already costs a network round trip.
            if let Some(oldest) = self.entries.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| k.clone()) {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(stmt.sql.clone(), (stmt, self.tick));
    }

    /// Forgets one statement (after the server said its plan is stale).
    pub(crate) fn remove(&mut self, sql: &str) {
        self.entries.remove(sql);
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}
