//! The raw calls behind `edgepg/pg`, the node-postgres-shaped API in
//! `js/src/pg.js`: results statement by statement with their command tags
//! and field descriptions (core `query_results`), chosen columns as the
//! server's text for the caller's own type parsers, and pg-cursor's cursor
//! (`read(n)` until no rows, `close()`), which works outside a transaction
//! as pg-cursor does.

use std::cell::RefCell;
use std::rc::Rc;

use edgepg_core::client::{Column, Connection, Row, StatementResult, TextColumns};
use edgepg_core::protocol::backend::TransactionStatus;
use edgepg_core::types::{ToSql, Value};
use edgepg_core::Error;
use futures_channel::{mpsc, oneshot};
use futures_util::StreamExt;
use js_sys::{Array, Int32Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::connection::RawConnection;
use super::pool::RawPool;
use super::values::{self, Decode};
use super::{errors, js, promise};

/// Which columns the JS side parses itself from the server's text: `true`
/// for all of them, an array of type OIDs, or a function `(oid) => boolean`
/// (a query's own `types`, asked about the columns it actually has).
enum RawText {
    None,
    All,
    Types(Vec<u32>),
    Js(js_sys::Function),
}

/// A `flags` bit of `pgQuery`: `rawText` says which columns come as text.
/// Without it `rawText` is not looked at, which spares the common call
/// (no custom type parser) three calls into JS to learn it is `undefined`.
const RAW_TEXT_GIVEN: u32 = super::values::DecodeFlag::RawTextGiven as u32;

impl RawText {
    /// `rawText` as `pgQuery` got it, read only when `flags` says it is given.
    fn from_flags(flags: u32, v: &JsValue) -> RawText {
        if flags & RAW_TEXT_GIVEN == 0 {
            return RawText::None;
        }
        RawText::from_js(v)
    }

    fn from_js(v: &JsValue) -> RawText {
        if v.as_bool() == Some(true) {
            return RawText::All;
        }
        if let Some(f) = v.dyn_ref::<js_sys::Function>() {
            return RawText::Js(f.clone());
        }
        match v.dyn_ref::<Array>() {
            Some(a) => RawText::Types(a.iter().filter_map(|o| o.as_f64()).map(|o| o as u32).collect()),
            None => RawText::None,
        }
    }

    fn wants(&self, c: &Column) -> bool {
        match self {
            RawText::None => false,
            RawText::All => true,
            RawText::Types(oids) => oids.contains(&c.type_().oid()),
            // A throwing function counts as "no": the column is decoded.
            RawText::Js(f) => f.call1(&JsValue::NULL, &JsValue::from(c.type_().oid())).is_ok_and(|v| v.is_truthy()),
        }
    }
}

fn refs(p: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|v| v as _).collect()
}

/// One result as `[names, oids, count, columns, tag, fields, shape]`: the
/// packed rows of `values::result`, the command tag (or null; see
/// `tag_to_js`), an Int32Array of five numbers per column (table OID,
/// column number, type size, type modifier, format code) and the columns'
/// [`shape_id`]. When
/// the shape is `known` (the glue has this statement's names, OIDs and
/// fields from an earlier call: it passes their `shape` back), those three
/// are null: they cost most of a small result's conversion.
///
/// A result of exactly one row (no text column for a parser, not the
/// reference decode) comes as its values instead of packed columns, with an
/// eighth element: the columns the glue still converts (see
/// `values::row_values`), a `Uint32Array` (0 when none).
fn result_to_js(decode: Decode, raw: &RawText, r: &StatementResult, known: f64) -> Result<Array, JsValue> {
    let (columns, one_row) = match &r.rows[..] {
        [row] if matches!(raw, RawText::None) && !decode.reference => {
            let (values, fix) = js(values::row_values(decode, row))?;
            let fix = if fix.is_empty() { JsValue::from(0) } else { js_sys::Uint32Array::from(&fix[..]).into() };
            (values, Some(fix))
        }
        _ => (js(values::packed_columns(decode, &r.columns, &r.rows, &|c| raw.wants(c)))?, None),
    };
    let tag = r.tag.as_deref().map_or(JsValue::NULL, tag_to_js);
    let count = JsValue::from(r.rows.len() as u32);
    let shape = shape_id(&r.columns);
    let with_one_row = |parts: [JsValue; 7]| {
        let out = values::array(parts);
        if let Some(fix) = &one_row {
            out.set(7, fix.clone());
        }
        out
    };
    if shape == known {
        let null = || JsValue::NULL;
        return Ok(with_one_row([null(), null(), count, columns.into(), tag, null(), JsValue::from(shape)]));
    }
    let mut meta = Vec::with_capacity(r.columns.len() * 5);
    for c in r.columns.iter() {
        meta.extend_from_slice(&[
            c.table_oid().unwrap_or(0) as i32,
            i32::from(c.column_id().unwrap_or(0)),
            i32::from(c.type_size()),
            c.type_modifier(),
            i32::from(c.format().code()),
        ]);
    }
    let (names, oids) = (values::column_names(&r.columns).into(), values::column_types(&r.columns).into());
    let meta = Int32Array::from(&meta[..]).into();
    Ok(with_one_row([names, oids, count, columns.into(), tag, meta, JsValue::from(shape)]))
}

/// A command tag for the glue: `SELECT n` (most results) as the number n,
/// which spares a string's decode in JS per call; any other tag as its text.
fn tag_to_js(tag: &str) -> JsValue {
    match tag.strip_prefix("SELECT ").and_then(|n| n.parse::<u32>().ok()) {
        Some(n) => JsValue::from(n),
        None => JsValue::from_str(tag),
    }
}

/// A fingerprint of everything `result_to_js` describes a column with (name,
/// type, table, column number, size, modifier, format): 64-bit FNV-1a, kept
/// to 52 bits so that it is exact as a JS number, and never 0 (the glue's
/// "no shape known"). Two different shapes share one with a chance of
/// 2^-52.
fn shape_id(columns: &[Column]) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for c in columns {
        eat(c.name().as_bytes());
        eat(&[0xff]);
        eat(&c.type_().oid().to_le_bytes());
        eat(&c.table_oid().unwrap_or(0).to_le_bytes());
        eat(&c.column_id().unwrap_or(0).to_le_bytes());
        eat(&c.type_size().to_le_bytes());
        eat(&c.type_modifier().to_le_bytes());
        eat(&c.format().code().to_le_bytes());
    }
    ((h >> 12) | 1) as f64
}

/// The results of one call: a single result as it is (see `result_to_js`;
/// its third element, the row count, is a number), several (a script) or
/// none as an array of them. One statement is the common case, and it
/// then costs no array of its own.
fn results_to_js(decode: Decode, raw: &RawText, results: &[StatementResult], known: f64) -> Result<JsValue, JsValue> {
    if let [one] = results {
        return Ok(result_to_js(decode, raw, one, known)?.into());
    }
    let out = Array::new();
    for r in results {
        out.push(&result_to_js(decode, raw, r, 0.0)?.into());
    }
    Ok(out.into())
}

/// The work of `pgQuery` (connection and pool alike) once a connection is at hand.
#[allow(clippy::too_many_arguments)] // pgQuery's arguments, passed on one by one
async fn run_query(
    conn: &Connection,
    sql: &str,
    params: Vec<Value>,
    simple: bool,
    decode: Decode,
    raw: RawText,
    on_batch: JsValue,
    known: f64,
) -> Result<JsValue, JsValue> {
    // No column for a type parser and a batch callback: one statement's rows
    // go to JS batch by batch while the rest is on the way (as `fetchBatches`
    // does for edgepg's own API), its tag and fields with the end.
    if let (RawText::None, Some(on_batch)) = (&raw, on_batch.dyn_ref::<js_sys::Function>()) {
        let deliver = |rows: Vec<Row>| values::deliver_batch(decode, on_batch, &rows);
        let results = js(conn.query_results_streamed(sql, &refs(&params), simple, deliver).await)?;
        return results_to_js(decode, &raw, &results, known);
    }
    let columns = match &raw {
        RawText::None => TextColumns::Default,
        RawText::All => TextColumns::All,
        RawText::Types(oids) => TextColumns::Types(oids),
        RawText::Js(_) => TextColumns::Pick(&|c: &Column| raw.wants(c)),
    };
    let results = js(conn.query_results(sql, &refs(&params), simple, columns).await)?;
    results_to_js(decode, &raw, &results, known)
}

#[wasm_bindgen]
impl RawConnection {
    /// Runs `sql` (the simple protocol when `simple` and no arguments, so a
    /// script gives one result per statement); resolves to an array of
    /// results (see `results_to_js`). `flags`: `Decode`'s bits, and
    /// `RAW_TEXT_GIVEN` when `rawText` (`true`, type OIDs or a function of
    /// the OID) picks columns that come as the server's text. `onBatch`
    /// (a function, used when no column comes as text): one statement's
    /// rows are handed to it as packed batches (`[names, oids, count,
    /// columns]`, see `values::result`) while they arrive, and its result
    /// then resolves without rows; an exception from it rejects the call.
    /// `known`: the `shape` of this statement's last result as the glue
    /// cached it (0: none), see `result_to_js`.
    #[wasm_bindgen(js_name = pgQuery)]
    // The arguments are the JS glue's, one by one: a struct would only add a JS object per call.
    #[allow(clippy::too_many_arguments)]
    pub fn pg_query(
        &self,
        sql: String,
        args: JsValue,
        simple: bool,
        flags: u32,
        raw_text: JsValue,
        on_batch: JsValue,
        known: f64,
        cancel: JsValue,
    ) -> Promise {
        let params = values::params(&args);
        let raw = RawText::from_flags(flags, &raw_text);
        self.call(cancel, move |c| async move {
            run_query(&c, &sql, js(params)?, simple, Decode::from_flags(flags), raw, on_batch, known).await
        })
    }

    /// A pg-cursor-style cursor over `sql`. Returns at once; the statement
    /// runs with the first `read`. Outside a transaction it opens one of its
    /// own (a portal lives until the transaction ends), committed on
    /// `close()` or at the end of the rows, rolled back after an error.
    #[wasm_bindgen(js_name = pgCursor)]
    pub fn pg_cursor(&self, sql: String, args: JsValue) -> Result<RawPgCursor, JsValue> {
        let params = js(values::params(&args))?;
        let h = self.handle()?;
        let (cmd_tx, mut cmd_rx) = mpsc::unbounded::<CursorCommand>();
        spawn_local(async move {
            let refs = refs(&params);
            // Decided on the status after everything sent before (a `BEGIN`
            // still in flight counts), so a cursor never opens a transaction
            // inside the caller's, nor commits it.
            let own_tx = match h.settled_transaction_status().await {
                Ok(TransactionStatus::Idle) => h.transaction().start_owned().await.map(Some),
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            };
            let opened = match &own_tx {
                Ok(Some(tx)) => tx.cursor(&sql, &refs).open().await.map_err(|e| errors::to_js(&e)),
                Ok(None) => h.cursor(&sql, &refs).open().await.map_err(|e| errors::to_js(&e)),
                Err(e) => Err(errors::to_js(e)),
            };
            // The first error is every later read's answer (as pg-cursor's).
            let mut failed: Option<JsValue> = opened.as_ref().err().cloned();
            let mut close_reply = None;
            while let Some(cmd) = cmd_rx.next().await {
                match cmd {
                    CursorCommand::Read(n, reply) => {
                        let result = match (&opened, &failed) {
                            (_, Some(e)) => Err(e.clone()),
                            (Ok(cursor), None) => cursor
                                .fetch(n)
                                .await
                                .map(|rows| (rows, cursor.columns().to_vec()))
                                .map_err(|e| errors::to_js(&e)),
                            (Err(e), None) => Err(e.clone()),
                        };
                        if let Err(e) = &result {
                            failed = Some(e.clone());
                        }
                        let _ = reply.send(result);
                    }
                    CursorCommand::Close(reply) => {
                        close_reply = Some(reply);
                        break;
                    }
                }
            }
            drop(opened);
            let ended = match own_tx {
                Ok(Some(tx)) if failed.is_none() => tx.commit().await,
                Ok(Some(tx)) => tx.rollback().await,
                _ => Ok(()),
            };
            if let Some(reply) = close_reply {
                let _ = reply.send(ended.map_err(|e| errors::to_js(&e)));
            }
        });
        Ok(RawPgCursor { cmd: RefCell::new(Some(cmd_tx)) })
    }
}

/// Every notification of one connection, whatever the channel (for pg's
/// `notification` event: the user runs `LISTEN` as a query).
#[wasm_bindgen]
pub struct RawNotifications {
    rx: Rc<RefCell<Option<mpsc::UnboundedReceiver<edgepg_core::client::Notification>>>>,
    listener: Option<edgepg_core::client::NotificationListener>,
    conn: Option<Rc<super::connection::Handle>>,
}

#[wasm_bindgen]
impl RawConnection {
    /// Starts collecting every notification (see [`RawNotifications`]).
    #[wasm_bindgen(js_name = notificationStream)]
    pub fn notification_stream(&self) -> Result<RawNotifications, JsValue> {
        let h = self.handle()?;
        let (tx, rx) = mpsc::unbounded();
        let listener = h.add_notification_observer(move |n| {
            let _ = tx.unbounded_send(n.clone());
        });
        Ok(RawNotifications { rx: Rc::new(RefCell::new(Some(rx))), listener: Some(listener), conn: Some(h) })
    }
}

#[wasm_bindgen]
impl RawNotifications {
    /// The next notification as `[pid, channel, payload]`, or `null` once closed.
    pub fn next(&self, cancel: JsValue) -> Promise {
        let Some(mut rx) = self.rx.borrow_mut().take() else {
            return Promise::resolve(&JsValue::NULL);
        };
        let slot = self.rx.clone();
        promise(cancel, async move {
            match rx.next().await {
                Some(n) => {
                    *slot.borrow_mut() = Some(rx);
                    Ok(super::connection::notification_to_js(&n))
                }
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Stops collecting.
    pub fn close(&mut self) {
        if let (Some(c), Some(l)) = (self.conn.take(), self.listener.take()) {
            c.remove_notification_observer(&l);
        }
        self.rx.borrow_mut().take();
    }
}

#[wasm_bindgen]
impl RawPool {
    /// [`RawConnection::pg_query`] on a connection borrowed for the call.
    #[wasm_bindgen(js_name = pgQuery)]
    #[allow(clippy::too_many_arguments)] // as RawConnection::pg_query
    pub fn pg_query(
        &self,
        sql: String,
        args: JsValue,
        simple: bool,
        flags: u32,
        raw_text: JsValue,
        on_batch: JsValue,
        known: f64,
        cancel: JsValue,
    ) -> Promise {
        let (pool, params) = (self.pool.clone(), values::params(&args));
        let raw = RawText::from_flags(flags, &raw_text);
        // pg's `query_timeout` (the only cancel a pg call has) needs a connection of its own.
        let own = super::pool::cancellable(&cancel);
        promise(cancel, async move {
            let params = js(params)?;
            let conn = js(pool.lease(&sql, own).await)?;
            run_query(&conn, &sql, params, simple, Decode::from_flags(flags), raw, on_batch, known).await
        })
    }
}

type Rows = (Vec<edgepg_core::client::Row>, Vec<Column>);

enum CursorCommand {
    Read(u32, oneshot::Sender<Result<Rows, JsValue>>),
    Close(oneshot::Sender<Result<(), JsValue>>),
}

/// A pg-cursor-style cursor (see [`RawConnection::pg_cursor`]).
#[wasm_bindgen]
pub struct RawPgCursor {
    cmd: RefCell<Option<mpsc::UnboundedSender<CursorCommand>>>,
}

fn closed_cursor() -> JsValue {
    errors::to_js(&Error::interface("this cursor is closed"))
}

#[wasm_bindgen]
impl RawPgCursor {
    /// The next `n` rows as one result (see `results_to_js`; an empty one
    /// at the end).
    pub fn read(&self, n: u32, flags: u32, cancel: JsValue) -> Promise {
        let (tx, rx) = oneshot::channel();
        let sent = self.cmd.borrow().as_ref().is_some_and(|c| c.unbounded_send(CursorCommand::Read(n, tx)).is_ok());
        if !sent {
            return Promise::reject(&closed_cursor());
        }
        promise(cancel, async move {
            let (rows, columns) = rx.await.map_err(|_| closed_cursor())??;
            let result = StatementResult { columns: columns.into(), rows, tag: None };
            Ok(result_to_js(Decode::from_flags(flags), &RawText::None, &result, 0.0)?.into())
        })
    }

    /// Closes the cursor (and commits the transaction it opened for itself);
    /// resolves when that is done.
    pub fn close(&self, cancel: JsValue) -> Promise {
        let Some(cmd) = self.cmd.borrow_mut().take() else {
            return Promise::resolve(&JsValue::UNDEFINED);
        };
        let (tx, rx) = oneshot::channel();
        if cmd.unbounded_send(CursorCommand::Close(tx)).is_err() {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        promise(cancel, async move {
            if let Ok(r) = rx.await {
                r?;
            }
            Ok(JsValue::UNDEFINED)
        })
    }
}
