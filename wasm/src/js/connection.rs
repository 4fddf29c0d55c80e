//! `RawConnection` (a connection of its own or one lent by a pool),
//! `RawStatement`, and the streams behind `addListener` and
//! `addLogListener`.

use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::rc::Rc;

use edgepg_core::client::pool::{Pool, PoolConnection};
use edgepg_core::client::{Connection, NotificationStream, PreparedStatement, Row};
use edgepg_core::{DbError, Error, ErrorKind};
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;

use super::values::{self, Decode};
use super::{errors, js, promise};

/// What a `RawConnection` holds.
pub(crate) enum Handle {
    Own(Connection),
    Pooled(PoolConnection, Pool),
}

impl Deref for Handle {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Handle::Own(c) => c,
            Handle::Pooled(c, _) => c,
        }
    }
}

/// A connection. In-flight calls keep their own reference, so `release`
/// or `close` never pulls the connection from under them.
#[wasm_bindgen]
pub struct RawConnection {
    handle: RefCell<Option<Rc<Handle>>>,
}

fn released() -> JsValue {
    errors::to_js(&Error::new(
        ErrorKind::Interface,
        "this connection was released to its pool (or closed); acquire a new one",
    ))
}

/// How `fetchrow` and `fetchval` make JS of the first row.
pub(crate) type FirstRowToJs = fn(Decode, Option<&Row>) -> edgepg_core::Result<JsValue>;

impl RawConnection {
    /// The first row of `sql`, made JS by `to_js` (one async body for
    /// `fetchrow` and `fetchval`).
    fn first_row(&self, sql: String, args: JsValue, flags: u32, cancel: JsValue, to_js: FirstRowToJs) -> Promise {
        let params = values::params(&args);
        self.call(cancel, move |c| async move {
            let params = js(params)?;
            let refs: Vec<&(dyn edgepg_core::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            let row = js(c.fetchrow(&sql, &refs).await)?;
            js(to_js(Decode::from_flags(flags), row.as_ref()))
        })
    }

    pub(crate) fn own(conn: Connection) -> RawConnection {
        RawConnection { handle: RefCell::new(Some(Rc::new(Handle::Own(conn)))) }
    }

    pub(crate) fn pooled(conn: PoolConnection, pool: Pool) -> RawConnection {
        RawConnection { handle: RefCell::new(Some(Rc::new(Handle::Pooled(conn, pool)))) }
    }

    pub(crate) fn handle(&self) -> Result<Rc<Handle>, JsValue> {
        self.handle.borrow().clone().ok_or_else(released)
    }

    /// Runs `f` with the connection, or rejects when it is gone.
    pub(crate) fn call<F, Fut>(&self, cancel: JsValue, f: F) -> Promise
    where
        F: FnOnce(Rc<Handle>) -> Fut,
        Fut: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        match self.handle() {
            Ok(h) => promise(cancel, f(h)),
            Err(e) => Promise::reject(&e),
        }
    }
}

#[wasm_bindgen]
impl RawConnection {
    /// Command status of `sql` (simple protocol without arguments: scripts work).
    pub fn execute(&self, sql: String, args: JsValue, cancel: JsValue) -> Promise {
        let params = values::params(&args);
        self.call(cancel, move |c| async move {
            let params = js(params)?;
            let refs: Vec<&(dyn edgepg_core::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            Ok(JsValue::from_str(&js(c.execute(&sql, &refs).await)?))
        })
    }

    /// Runs `sql` once per argument array, pipelined with one Sync.
    pub fn executemany(&self, sql: String, rows: JsValue, cancel: JsValue) -> Promise {
        let rows = values::param_rows(&rows);
        self.call(cancel, move |c| async move {
            let rows = js(rows)?;
            js(c.executemany(&sql, rows).await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// All rows, handed to `on_batch` as packed batches (`[names, oids,
    /// count, columns]`, see `values::result`) while they arrive, one batch
    /// per read from the socket, so the glue builds rows while the rest is
    /// still on the way. Resolves to `undefined` after the last batch; an
    /// exception from `on_batch` stops the query and rejects with it as the cause.
    #[wasm_bindgen(js_name = fetchBatches)]
    pub fn fetch_batches(
        &self,
        sql: String,
        args: JsValue,
        flags: u32,
        on_batch: js_sys::Function,
        cancel: JsValue,
    ) -> Promise {
        let params = values::params(&args);
        self.call(cancel, move |c| async move {
            let params = js(params)?;
            let refs: Vec<&(dyn edgepg_core::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            let decode = Decode::from_flags(flags);
            let deliver = |rows: Vec<Row>| values::deliver_batch(decode, &on_batch, &rows);
            js(c.fetch_batches(&sql, &refs, deliver).await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The first row only (the server stops after it): null, or its values
    /// and then its column names (see `values::first_row`).
    pub fn fetchrow(&self, sql: String, args: JsValue, flags: u32, cancel: JsValue) -> Promise {
        self.first_row(sql, args, flags, cancel, values::first_row)
    }

    /// The first column of the first row (null without one), as JS.
    pub fn fetchval(&self, sql: String, args: JsValue, flags: u32, cancel: JsValue) -> Promise {
        self.first_row(sql, args, flags, cancel, values::first_value)
    }

    /// Prepares a statement.
    pub fn prepare(&self, sql: String, cancel: JsValue) -> Promise {
        self.call(cancel, move |c| async move {
            let stmt = js(c.prepare(&sql).await)?;
            Ok(RawStatement { stmt, _conn: c }.into())
        })
    }

    /// Closes the connection gracefully; a pooled one is released instead.
    pub fn close(&self, cancel: JsValue) -> Promise {
        let Some(h) = self.handle.borrow_mut().take() else {
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        promise(cancel, async move {
            match Rc::try_unwrap(h) {
                Ok(Handle::Own(c)) => js(c.close().await)?,
                Ok(Handle::Pooled(c, pool)) => js(pool.release(c).await)?,
                // Calls still in flight hold it: a pooled connection goes back when
                // the last one ends; an own connection is closed after them.
                Err(h) => {
                    if let Handle::Own(c) = &*h {
                        js(c.close().await)?;
                    }
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Closes at once: calls in flight fail.
    pub fn terminate(&self) {
        if let Some(h) = self.handle.borrow_mut().take() {
            h.terminate();
        }
    }

    /// True once closed, broken or released.
    #[wasm_bindgen(js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.handle.borrow().as_ref().map_or(true, |h| h.is_closed())
    }

    /// True inside a transaction block.
    #[wasm_bindgen(js_name = isInTransaction)]
    pub fn is_in_transaction(&self) -> bool {
        self.handle.borrow().as_ref().is_some_and(|h| h.is_in_transaction())
    }

    /// The backend's process ID.
    #[wasm_bindgen(js_name = getServerPid)]
    pub fn get_server_pid(&self) -> i32 {
        self.handle.borrow().as_ref().map_or(0, |h| h.get_server_pid())
    }

    /// A server parameter (`server_version`, `TimeZone`...).
    #[wasm_bindgen(js_name = getSetting)]
    pub fn get_setting(&self, name: String) -> Option<String> {
        self.handle.borrow().as_ref().and_then(|h| h.get_setting(&name))
    }

    /// All server parameters reported so far, as an object.
    #[wasm_bindgen(js_name = getSettings)]
    pub fn get_settings(&self) -> JsValue {
        let o = Object::new();
        if let Some(h) = self.handle.borrow().as_ref() {
            for (k, v) in h.get_settings() {
                let _ = Reflect::set(&o, &JsValue::from_str(&k), &JsValue::from_str(&v));
            }
        }
        o.into()
    }

    /// LISTENs on `channel`; resolves to a [`RawListener`].
    pub fn listen(&self, channel: String, cancel: JsValue) -> Promise {
        self.call(cancel, move |c| async move {
            let stream = js(c.listen(&channel).await)?;
            Ok(RawListener { stream: Rc::new(RefCell::new(Some(stream))) }.into())
        })
    }

    /// Resolves when the connection closes, for whatever reason.
    #[wasm_bindgen(js_name = waitClosed)]
    pub fn wait_closed(&self) -> Promise {
        let Ok(h) = self.handle() else { return Promise::resolve(&JsValue::UNDEFINED) };
        let (tx, rx) = oneshot::channel::<()>();
        // Callbacks need not be Send + Sync on wasm32: a Cell will do.
        let tx = Cell::new(Some(tx));
        let listener = h.add_termination_listener(move || {
            if let Some(tx) = tx.take() {
                let _ = tx.send(());
            }
        });
        wasm_bindgen_futures::future_to_promise(async move {
            // Cancelled (connection dropped without closing) counts as closed.
            let _ = rx.await;
            h.remove_termination_listener(&listener);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Server notices (WARNING, NOTICE, ...), as a [`RawLogStream`].
    #[wasm_bindgen(js_name = logStream)]
    pub fn log_stream(&self) -> Result<RawLogStream, JsValue> {
        let h = self.handle()?;
        let (tx, rx) = mpsc::unbounded::<DbError>();
        let listener = h.add_log_listener(move |db| {
            let _ = tx.unbounded_send(db.clone());
        });
        Ok(RawLogStream { rx: Rc::new(RefCell::new(Some(rx))), listener: Some(listener), conn: Some(h) })
    }
}

/// A prepared statement.
#[wasm_bindgen]
pub struct RawStatement {
    stmt: PreparedStatement,
    // A pooled connection must not go back while a statement uses it.
    _conn: Rc<Handle>,
}

/// How a statement's `fetchrow` and `fetchval` make JS of the first row.
type StatementRowToJs = fn(Decode, &[edgepg_core::client::Column], Option<&Row>) -> edgepg_core::Result<JsValue>;

impl RawStatement {
    /// The statement's first row, made JS by `to_js` (one async body for
    /// `fetchrow` and `fetchval`).
    fn first_row(&self, args: JsValue, flags: u32, cancel: JsValue, to_js: StatementRowToJs) -> Promise {
        let params = values::params(&args);
        let stmt = self.stmt.clone();
        promise(cancel, async move {
            let params = js(params)?;
            let refs: Vec<&(dyn edgepg_core::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            let row = js(stmt.fetchrow(&refs).await)?;
            js(to_js(Decode::from_flags(flags), stmt.columns(), row.as_ref()))
        })
    }
}

#[wasm_bindgen]
impl RawStatement {
    /// All rows, as `[names, oids, rows]`.
    pub fn fetch(&self, args: JsValue, flags: u32, cancel: JsValue) -> Promise {
        let params = values::params(&args);
        let stmt = self.stmt.clone();
        promise(cancel, async move {
            let params = js(params)?;
            let refs: Vec<&(dyn edgepg_core::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            let rows = js(stmt.fetch(&refs).await)?;
            js(values::result(Decode::from_flags(flags), Some(stmt.columns()), &rows))
        })
    }

    /// The first row: null, or its values and then its column names (see
    /// `values::first_row`).
    pub fn fetchrow(&self, args: JsValue, flags: u32, cancel: JsValue) -> Promise {
        self.first_row(args, flags, cancel, |decode, _, row| values::first_row(decode, row))
    }

    /// The first column of the first row (null without one), as JS.
    pub fn fetchval(&self, args: JsValue, flags: u32, cancel: JsValue) -> Promise {
        self.first_row(args, flags, cancel, |decode, _, row| values::first_value(decode, row))
    }

    /// Command status.
    pub fn execute(&self, args: JsValue, cancel: JsValue) -> Promise {
        let params = values::params(&args);
        let stmt = self.stmt.clone();
        promise(cancel, async move {
            let params = js(params)?;
            let refs: Vec<&(dyn edgepg_core::types::ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            Ok(JsValue::from_str(&js(stmt.execute(&refs).await)?))
        })
    }

    /// Once per argument array, in one round trip.
    pub fn executemany(&self, rows: JsValue, cancel: JsValue) -> Promise {
        let rows = values::param_rows(&rows);
        let stmt = self.stmt.clone();
        promise(cancel, async move {
            js(stmt.executemany(js(rows)?).await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The SQL text.
    #[wasm_bindgen(getter)]
    pub fn query(&self) -> String {
        self.stmt.query().to_owned()
    }

    /// Parameter type OIDs.
    #[wasm_bindgen(getter)]
    pub fn parameters(&self) -> Array {
        self.stmt.parameters().iter().map(|t| JsValue::from(t.oid())).collect()
    }

    /// `[names, oids]` of the result columns.
    #[wasm_bindgen(getter)]
    pub fn columns(&self) -> Array {
        let cols = self.stmt.columns();
        Array::of2(&values::column_names(cols), &values::column_types(cols))
    }
}

/// A notification as the glue's `[pid, channel, payload]`.
pub(crate) fn notification_to_js(n: &edgepg_core::client::Notification) -> JsValue {
    Array::of3(&JsValue::from(n.process_id), &JsValue::from_str(&n.channel), &JsValue::from_str(&n.payload)).into()
}

/// Notifications of one LISTEN.
#[wasm_bindgen]
pub struct RawListener {
    stream: Rc<RefCell<Option<NotificationStream>>>,
}

#[wasm_bindgen]
impl RawListener {
    /// The next notification as `[pid, channel, payload]`, or `null` once the
    /// connection closed. When `cancel` settles, the listener is closed
    /// (UNLISTEN when it was the channel's last one).
    pub fn next(&self, cancel: JsValue) -> Promise {
        let Some(mut stream) = self.stream.borrow_mut().take() else {
            return Promise::resolve(&JsValue::NULL);
        };
        let slot = self.stream.clone();
        promise(cancel, async move {
            match stream.next().await {
                Some(n) => {
                    *slot.borrow_mut() = Some(stream);
                    Ok(notification_to_js(&n))
                }
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Stops listening (when not waiting in `next`).
    pub fn close(&self) {
        self.stream.borrow_mut().take();
    }
}

/// Server notices of one connection.
#[wasm_bindgen]
pub struct RawLogStream {
    rx: Rc<RefCell<Option<mpsc::UnboundedReceiver<DbError>>>>,
    listener: Option<edgepg_core::client::LogListener>,
    conn: Option<Rc<Handle>>,
}

#[wasm_bindgen]
impl RawLogStream {
    /// The next notice as an error-like object, or `null` when closed.
    pub fn next(&self, cancel: JsValue) -> Promise {
        let Some(mut rx) = self.rx.borrow_mut().take() else {
            return Promise::resolve(&JsValue::NULL);
        };
        let slot = self.rx.clone();
        promise(cancel, async move {
            match rx.next().await {
                Some(db) => {
                    *slot.borrow_mut() = Some(rx);
                    Ok(errors::to_js(&Error::db(db)))
                }
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Removes the log listener.
    pub fn close(&mut self) {
        if let (Some(c), Some(l)) = (self.conn.take(), self.listener.take()) {
            c.remove_log_listener(&l);
        }
        self.rx.borrow_mut().take();
    }
}
