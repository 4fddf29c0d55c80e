//! `RawPool`: the core pool with connections made through WebSockets.

use std::sync::Arc;

use edgepg_core::client::pool::{ConnectFn, Pool, PoolOptions};
use edgepg_core::Result;
use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;

use super::connection::{FirstRowToJs, RawConnection};
use super::options::{self, count, millis};
use super::values::{self, Decode};
use super::{js, promise};

/// The default `maxSize` in Cloudflare Workers: one less than the 6
/// simultaneous outgoing connections a request may have.
pub(crate) const WORKERD_MAX_SIZE: usize = 5;

/// The default `pipelineDepth` in JS, as postgres.js queues callers on its
/// connections: once every connection is busy, a shortcut call
/// (`pool.fetch`...) of one plain statement is pipelined onto a busy
/// connection instead of waiting for a release. Each call still starts from a
/// clean session (the reset goes in between, in the same write), and a call
/// with a `signal` or `timeout` always gets a connection of its own (its
/// cancel must not hit another call). Edge pools are small (5 connections in
/// a Worker), which is where waiting for a release costs most.
pub(crate) const PIPELINE_DEPTH: usize = 8;

/// Creates the pool described by the JS options object.
pub(crate) async fn create(dsn: &str, opts: &JsValue) -> Result<RawPool> {
    let config = options::config(dsn, opts)?;
    let connector = options::connector(opts, &config)?;
    // On wasm32 the core's ConnectFn need not be Send + Sync, so it can hold
    // the connector (a JS constructor, a JS proxy function, a socket adapter) itself.
    #[allow(clippy::arc_with_non_send_sync)]
    // Lazily started connections (with `pipelineConnect: "password"`): the
    // pool's shortcuts (`pool.fetch`...) on a fresh pool then cost one flight
    // for connect + query. The core pool checks the password of the
    // `minSize` connections it opens up front itself.
    let connect: ConnectFn =
        Arc::new(move || Box::pin(crate::connect_pipelined_via(config.clone(), connector.clone())));
    // Lazy by default, like node-postgres and Neon: edge requests are short
    // and may open only a few connections (6 per request on Workers).
    let mut o = PoolOptions { min_size: 0, pipeline_depth: PIPELINE_DEPTH, ..PoolOptions::default() };
    if options::is_workerd() {
        // A Worker may have 6 connections open at once per request; keep
        // one for the CancelRequest of a timed-out or abandoned query.
        o.max_size = WORKERD_MAX_SIZE;
    }
    if let Some(n) = count(opts, "minSize")? {
        o.min_size = n;
    }
    if let Some(n) = count(opts, "maxSize")? {
        o.max_size = n;
    }
    if let Some(n) = count(opts, "pipelineDepth")? {
        o.pipeline_depth = n;
    }
    if let Some(n) = count(opts, "maxQueries")? {
        o.max_queries = n as u64;
    }
    if let Some(t) = millis(opts, "maxInactiveConnectionLifetime")? {
        o.max_inactive_connection_lifetime = (!t.is_zero()).then_some(t);
    }
    if let Some(t) = millis(opts, "acquireTimeout")? {
        o.acquire_timeout = (!t.is_zero()).then_some(t);
    }
    if let Some(t) = millis(opts, "healthCheckAfter")? {
        o.health_check_after = Some(t);
    }
    if let Some(t) = millis(opts, "releaseTimeout")? {
        o.release_timeout = t;
    }
    // `reset: false` skips the session reset on release (PgBouncer transaction mode).
    let reset = Reflect::get(opts, &JsValue::from_str("reset")).unwrap_or(JsValue::UNDEFINED);
    if reset.as_bool() == Some(false) {
        o.reset = None;
    }
    let runtime: Arc<dyn edgepg_core::client::Runtime> = Arc::new(crate::JsRuntime);
    Ok(RawPool { pool: Pool::new(runtime, connect, o).await? })
}

/// A pool of connections.
#[wasm_bindgen]
pub struct RawPool {
    pub(crate) pool: Pool,
}

type Params = Vec<edgepg_core::types::Value>;

impl RawPool {
    /// The first row of `sql` on a borrowed connection, made JS by `to_js`
    /// (one async body for `fetchrow` and `fetchval`).
    fn first_row(&self, sql: String, args: JsValue, flags: u32, cancel: JsValue, to_js: FirstRowToJs) -> Promise {
        let (pool, params) = (self.pool.clone(), values::params(&args));
        let own = cancellable(&cancel);
        promise(cancel, async move {
            let params = js(params)?;
            let (sql, params) = (&sql, &params);
            let row = js(pool.with_lease(sql, own, |c| async move { c.fetchrow(sql, &refs(params)).await }).await)?;
            js(to_js(Decode::from_flags(flags), row.as_ref()))
        })
    }
}

/// A call with a `signal` or `timeout` (its `cancel` is a promise) runs on a
/// connection of its own: cancelling it on the server is only safe when
/// nothing else is pipelined behind it (see core `cancel`).
pub(super) fn cancellable(cancel: &JsValue) -> bool {
    cancel.is_instance_of::<Promise>()
}

fn refs(p: &Params) -> Vec<&(dyn edgepg_core::types::ToSql + Sync)> {
    p.iter().map(|v| v as _).collect()
}

#[wasm_bindgen]
impl RawPool {
    /// Borrows a connection (resolves to a [`RawConnection`]). A new,
    /// lazily started one is lent once its password was accepted unless
    /// `lazy` (then its first call reports any authentication error and
    /// shares the startup flight).
    pub fn acquire(&self, lazy: bool, cancel: JsValue) -> Promise {
        let pool = self.pool.clone();
        promise(cancel, async move {
            let conn = js(if lazy { pool.acquire_lazy().await } else { pool.acquire().await })?;
            Ok(RawConnection::pooled(conn, pool).into())
        })
    }

    /// `execute` on a borrowed connection.
    pub fn execute(&self, sql: String, args: JsValue, cancel: JsValue) -> Promise {
        let (pool, params) = (self.pool.clone(), values::params(&args));
        let own = cancellable(&cancel);
        promise(cancel, async move {
            let params = js(params)?;
            let (sql, params) = (&sql, &params);
            let done = pool.with_lease(sql, own, |c| async move { c.execute(sql, &refs(params)).await }).await;
            Ok(JsValue::from_str(&js(done)?))
        })
    }

    /// `executemany` on a borrowed connection.
    pub fn executemany(&self, sql: String, rows: JsValue, cancel: JsValue) -> Promise {
        let (pool, rows) = (self.pool.clone(), values::param_rows(&rows));
        promise(cancel, async move {
            js(pool.executemany(&sql, js(rows)?).await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `fetch` on a borrowed connection.
    pub fn fetch(&self, sql: String, args: JsValue, flags: u32, cancel: JsValue) -> Promise {
        let (pool, params) = (self.pool.clone(), values::params(&args));
        let own = cancellable(&cancel);
        promise(cancel, async move {
            let params = js(params)?;
            let (sql, params) = (&sql, &params);
            let rows = js(pool.with_lease(sql, own, |c| async move { c.fetch(sql, &refs(params)).await }).await)?;
            js(values::result(Decode::from_flags(flags), None, &rows))
        })
    }

    /// `fetchrow` on a borrowed connection.
    pub fn fetchrow(&self, sql: String, args: JsValue, flags: u32, cancel: JsValue) -> Promise {
        self.first_row(sql, args, flags, cancel, values::first_row)
    }

    /// `fetchval` on a borrowed connection.
    pub fn fetchval(&self, sql: String, args: JsValue, flags: u32, cancel: JsValue) -> Promise {
        self.first_row(sql, args, flags, cancel, values::first_value)
    }

    /// Closes idle connections now and the others when released.
    pub fn close(&self, cancel: JsValue) -> Promise {
        let pool = self.pool.clone();
        promise(cancel, async move {
            js(pool.close().await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes every connection at once.
    pub fn terminate(&self) {
        self.pool.terminate();
    }

    /// Replaces every connection (idle ones now, busy ones on release).
    #[wasm_bindgen(js_name = expireConnections)]
    pub fn expire_connections(&self) -> Promise {
        let pool = self.pool.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            pool.expire_connections().await;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Open connections.
    #[wasm_bindgen(js_name = getSize)]
    pub fn get_size(&self) -> usize {
        self.pool.get_size()
    }
    /// Idle connections.
    #[wasm_bindgen(js_name = getIdleSize)]
    pub fn get_idle_size(&self) -> usize {
        self.pool.get_idle_size()
    }
    /// `minSize`.
    #[wasm_bindgen(js_name = getMinSize)]
    pub fn get_min_size(&self) -> usize {
        self.pool.get_min_size()
    }
    /// `maxSize`.
    #[wasm_bindgen(js_name = getMaxSize)]
    pub fn get_max_size(&self) -> usize {
        self.pool.get_max_size()
    }
}
