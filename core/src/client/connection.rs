//! The connection handle and its asyncpg-shaped API.
//!
//! A [`Connection`] is a cheap handle to a driver task that owns the stream
//! (see [`super::driver`]). Every method encodes its messages, queues them and
//! awaits the answer, so calls made concurrently on one connection (e.g. with
//! `join!`) are pipelined and answered in order.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;
use futures_channel::oneshot;

use super::from_row::FromRow;
use super::handle::Connection;
use super::params::Params;
use super::prepared::PreparedStatement;
use super::request::Request;
use super::row::Row;
use super::shared::{lock, LogListener, ServerVersion};
use super::type_catalog::TypeTarget;
use crate::protocol::backend::TransactionStatus;
use crate::protocol::frontend;
use crate::types::{FromSqlOwned, ToSql};
use crate::{DbError, Result};

impl Connection {
    /// Runs a command and returns its status, e.g. `"INSERT 0 1"`.
    ///
    /// Without arguments it uses the simple query protocol, so a script of
    /// several `;`-separated statements works (the status of the last one is
    /// returned). With arguments it runs one statement through the extended
    /// protocol (and the statement cache).
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<String> {
        self.default_timeout().execute(sql, params).await
    }

    /// Runs one statement once per set of arguments, pipelined in a single
    /// round trip with one Sync at the end: all executions commit together
    /// or, when one fails, none does.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// conn.executemany("INSERT INTO t VALUES ($1, $2)", (0..100i64).map(|i| (i, format!("n{i}")))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn executemany<I, P>(&self, sql: &str, rows: I) -> Result<()>
    where
        I: IntoIterator<Item = P>,
        P: Params,
    {
        self.default_timeout().executemany(sql, rows).await
    }

    /// Runs a query and returns all its rows.
    pub async fn fetch(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.default_timeout().fetch(sql, params).await
    }

    /// Runs a query and returns its first row, if any (the server stops after one row).
    pub async fn fetchrow(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        self.default_timeout().fetchrow(sql, params).await
    }

    /// Runs a query and returns the first column of its first row.
    ///
    /// With no row, `Option<T>` gives `None` and any other `T` an error.
    pub async fn fetchval<T: FromSqlOwned>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<T> {
        self.default_timeout().fetchval(sql, params).await
    }

    /// Prepares a statement for repeated execution.
    pub async fn prepare(&self, sql: &str) -> Result<PreparedStatement> {
        self.default_timeout().prepare(sql).await
    }

    /// Runs a query and builds a `T` from every row (`#[derive(FromRow)]`, a
    /// tuple, or your own [`FromRow`] impl).
    ///
    /// ```no_run
    /// # async fn demo(conn: &edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// let pairs: Vec<(i32, String)> = conn.fetch_as("SELECT 1, 'a'", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_as<T: FromRow>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<T>> {
        self.fetch(sql, params).await?.iter().map(T::from_row).collect()
    }

    /// Runs a query and builds a `T` from its first row, if any.
    pub async fn fetchrow_as<T: FromRow>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<T>> {
        self.fetchrow(sql, params).await?.as_ref().map(T::from_row).transpose()
    }

    /// Registers a custom codec (asyncpg's `set_type_codec`) for a type given
    /// by name (`"hstore"`, `"public.mood"`: resolved by the server with
    /// `::regtype`) or OID. From then on columns of that type are requested
    /// in the codec's format and decode into a [`Value`](crate::types::Value)
    /// through it; [`Value`](crate::types::Value) parameters of that type are
    /// encoded by it. Typed Rust access (`row.get::<T>`) still uses `T`'s
    /// [`FromSql`](crate::types::FromSql), in the codec's wire format.
    /// Statements cached before are re-prepared.
    ///
    /// ```no_run
    /// # async fn demo(conn: &edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use std::sync::Arc;
    /// use edgepg_core::types::HstoreCodec;
    /// conn.execute("CREATE EXTENSION IF NOT EXISTS hstore", &[]).await?;
    /// conn.set_type_codec("hstore", Arc::new(HstoreCodec)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_type_codec<'t>(
        &self,
        type_: impl Into<TypeTarget<'t>>,
        codec: Arc<dyn crate::types::TypeCodec>,
    ) -> Result<()> {
        self.inner.set_type_codec(type_.into(), Some(codec)).await
    }

    /// Removes a codec set with [`Connection::set_type_codec`].
    pub async fn reset_type_codec<'t>(&self, type_: impl Into<TypeTarget<'t>>) -> Result<()> {
        self.inner.set_type_codec(type_.into(), None).await
    }

    /// Forgets what this connection learnt about user types and its cached
    /// statements (asyncpg's `reload_schema_state`): call it after
    /// `ALTER TYPE` changed a composite used before on this connection.
    pub fn reload_schema_state(&self) {
        self.inner.reload_types();
    }

    /// Closes the connection gracefully: requests already sent are answered,
    /// then Terminate is sent and the stream closed.
    pub async fn close(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.inner.sender.unbounded_send(Request::Terminate(Some(tx))).is_ok() {
            let _ = rx.await;
        }
        Ok(())
    }

    /// Closes the connection at once: requests in flight fail with a Closed error.
    pub fn terminate(&self) {
        self.inner.shared.mark_closed(None);
        let _ = self.inner.sender.unbounded_send(Request::Abort);
    }

    /// True once the connection is closed (by either side) or broken.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.is_closed()
    }

    /// True inside a transaction block (including a failed one).
    pub fn is_in_transaction(&self) -> bool {
        self.inner.shared.status() != TransactionStatus::Idle
    }

    /// The transaction status reported by the last ReadyForQuery.
    pub fn transaction_status(&self) -> TransactionStatus {
        self.inner.shared.status()
    }

    /// The transaction status once everything sent before this call is
    /// answered: the last ReadyForQuery's when nothing is in flight (no round
    /// trip), otherwise a lone Sync queued behind the pending requests asks
    /// the server. For deciding on a `BEGIN` while calls may still be in
    /// flight (the last status seen may be stale then).
    pub async fn settled_transaction_status(&self) -> Result<TransactionStatus> {
        if !self.inner.shared.is_quiet() {
            let mut buf = BytesMut::with_capacity(5);
            frontend::sync(&mut buf);
            self.inner.request(buf, 1, None).await?;
        }
        Ok(self.inner.shared.status())
    }

    /// The process ID of the server backend serving this connection (0
    /// while a lazily started connection, see [`super::connect_pipelined`],
    /// has not finished its startup).
    pub fn get_server_pid(&self) -> i32 {
        self.inner.backend.get().map_or(0, |k| k.0)
    }

    /// The cancel key of this connection's backend (protocol 3.2 allows up to
    /// 256 bytes; empty until startup has finished).
    pub fn secret_key(&self) -> &[u8] {
        self.inner.backend.get().map_or(&[][..], |k| &k.1[..])
    }

    /// The server version, parsed from `server_version`.
    pub fn get_server_version(&self) -> Option<ServerVersion> {
        self.inner.shared.parameter("server_version").and_then(|v| ServerVersion::parse(&v))
    }

    /// The server parameters reported so far (ParameterStatus), e.g.
    /// `server_version`, `TimeZone`, `application_name`, `is_superuser`.
    pub fn get_settings(&self) -> HashMap<String, String> {
        self.inner.shared.parameters()
    }

    /// One server parameter.
    pub fn get_setting(&self, name: &str) -> Option<String> {
        self.inner.shared.parameter(name)
    }

    /// Calls `listener` for every notice the server sends (WARNING, NOTICE,
    /// INFO, LOG, DEBUG). Returns a handle for [`Connection::remove_log_listener`].
    pub fn add_log_listener(
        &self,
        listener: impl Fn(&DbError) + super::MaybeSend + super::MaybeSync + 'static,
    ) -> LogListener {
        let l: LogListener = Arc::new(listener);
        self.inner.shared.add_log_listener(l.clone());
        l
    }

    /// Removes a listener added with [`Connection::add_log_listener`].
    pub fn remove_log_listener(&self, listener: &LogListener) {
        self.inner.shared.remove_log_listener(listener);
    }

    /// Number of statements currently in the statement cache.
    pub fn statement_cache_len(&self) -> usize {
        lock(&self.inner.cache).len()
    }

    /// Empties the statement cache (statements are closed on the server).
    pub fn clear_statement_cache(&self) {
        lock(&self.inner.cache).clear();
    }
}
