//! Server-side cursors for the JS API: `RawRowStream` (behind
//! `for await (const row of conn.cursor(...))`) and `RawCursor` (behind
//! `await conn.cursor(...).open()`: `fetch(n)`, `forward(n)`).
//!
//! The core's cursors borrow the connection, the SQL text and the
//! arguments, which a JS object cannot hold between calls. So each cursor
//! runs in a small local task that owns all three and borrows them inside
//! its own future; the JS object talks to it through channels. Closing the
//! JS object (or dropping it, when it is garbage-collected) ends the task,
//! which drops the core cursor: its portal is closed before the
//! connection's next request.

use std::rc::Rc;

use edgepg_core::client::Row;
use edgepg_core::types::{ToSql, Value};
use edgepg_core::Result as CoreResult;
use futures_channel::{mpsc, oneshot};
use futures_util::future::{select, Either};
use futures_util::{SinkExt, StreamExt};
use js_sys::Promise;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use super::connection::{Handle, RawConnection};
use super::values::{self, Decode};
use super::{js, promise};

fn refs(p: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|v| v as _).collect()
}

#[wasm_bindgen]
impl RawConnection {
    /// Streams the rows of `sql` through a cursor, `prefetch` rows per round
    /// trip. Returns at once; errors (no transaction, bad SQL) come from the
    /// first `next`.
    #[wasm_bindgen(js_name = cursorStream)]
    pub fn cursor_stream(&self, sql: String, args: JsValue, prefetch: u32) -> Result<RawRowStream, JsValue> {
        let params = js(values::params(&args))?;
        let h = self.handle()?;
        let (mut tx, rx) = mpsc::channel::<CoreResult<Vec<Row>>>(0);
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        spawn_local(async move {
            let refs = refs(&params);
            let mut rows = h.cursor(&sql, &refs).prefetch(prefetch).ready_chunks(prefetch.max(1) as usize);
            loop {
                // Stop as soon as the JS side closes, even mid-fetch: dropping
                // the stream closes the portal.
                let batch = match select(rows.next(), &mut stop_rx).await {
                    Either::Left((Some(batch), _)) => batch,
                    Either::Left((None, _)) | Either::Right(_) => break,
                };
                let batch: CoreResult<Vec<Row>> = batch.into_iter().collect();
                let failed = batch.is_err();
                match select(tx.send(batch), &mut stop_rx).await {
                    Either::Left((Ok(()), _)) if !failed => {}
                    _ => break,
                }
            }
        });
        Ok(RawRowStream { rx: Rc::new(RefCell::new(Some(rx))), stop: RefCell::new(Some(stop_tx)) })
    }

    /// Declares a cursor (no rows yet) for `fetch`/`forward`; resolves to a
    /// [`RawCursor`].
    #[wasm_bindgen(js_name = cursorOpen)]
    pub fn cursor_open(&self, sql: String, args: JsValue, cancel: JsValue) -> Promise {
        let params = values::params(&args);
        self.call(cancel, move |h: Rc<Handle>| async move {
            let params = js(params)?;
            let (cmd_tx, mut cmd_rx) = mpsc::unbounded::<Command>();
            let (open_tx, open_rx) = oneshot::channel::<CoreResult<()>>();
            spawn_local(async move {
                let refs = refs(&params);
                let cursor = match h.cursor(&sql, &refs).open().await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = open_tx.send(Err(e));
                        return;
                    }
                };
                // The caller gave up (cancelled): drop the cursor at once.
                if open_tx.send(Ok(())).is_err() {
                    return;
                }
                while let Some(cmd) = cmd_rx.next().await {
                    match cmd {
                        Command::Fetch(n, reply) => {
                            let _ = reply.send(cursor.fetch(n).await);
                        }
                        Command::Forward(n, reply) => {
                            let _ = reply.send(cursor.forward(n).await);
                        }
                    }
                }
            });
            match open_rx.await {
                Ok(r) => js(r)?,
                Err(_) => return Err(super::errors::to_js(&edgepg_core::Error::interface("the cursor task ended"))),
            }
            Ok(RawCursor { cmd: RefCell::new(Some(cmd_tx)) }.into())
        })
    }
}

/// Batches of rows from a cursor task; taken while a `next` waits.
type Batches = Rc<RefCell<Option<mpsc::Receiver<CoreResult<Vec<Row>>>>>>;

/// Rows of a streamed cursor, batch by batch.
#[wasm_bindgen]
pub struct RawRowStream {
    rx: Batches,
    stop: RefCell<Option<oneshot::Sender<()>>>,
}

#[wasm_bindgen]
impl RawRowStream {
    /// The next batch of rows as `[names, oids, rows]`, or `null` at the end.
    pub fn next(&self, flags: u32, cancel: JsValue) -> Promise {
        let Some(mut rx) = self.rx.borrow_mut().take() else {
            return Promise::resolve(&JsValue::NULL);
        };
        let slot = self.rx.clone();
        promise(cancel, async move {
            match rx.next().await {
                Some(Ok(rows)) => {
                    *slot.borrow_mut() = Some(rx);
                    js(values::result(Decode::from_flags(flags), None, &rows))
                }
                Some(Err(e)) => Err(super::errors::to_js(&e)),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// Stops the stream: the portal is closed before the next request.
    pub fn close(&self) {
        self.stop.borrow_mut().take();
        self.rx.borrow_mut().take();
    }
}

enum Command {
    Fetch(u32, oneshot::Sender<CoreResult<Vec<Row>>>),
    Forward(u32, oneshot::Sender<CoreResult<u64>>),
}

/// An open cursor.
#[wasm_bindgen]
pub struct RawCursor {
    cmd: RefCell<Option<mpsc::UnboundedSender<Command>>>,
}

fn closed_cursor() -> JsValue {
    super::errors::to_js(&edgepg_core::Error::interface("this cursor is closed"))
}

impl RawCursor {
    fn ask<T: 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<CoreResult<T>>) -> Command,
    ) -> Result<oneshot::Receiver<CoreResult<T>>, JsValue> {
        let (tx, rx) = oneshot::channel();
        let cmd = self.cmd.borrow();
        let sender = cmd.as_ref().ok_or_else(closed_cursor)?;
        sender.unbounded_send(make(tx)).map_err(|_| closed_cursor())?;
        Ok(rx)
    }
}

#[wasm_bindgen]
impl RawCursor {
    /// The next `n` rows as `[names, oids, rows]` (fewer at the end).
    pub fn fetch(&self, n: u32, flags: u32, cancel: JsValue) -> Promise {
        let rx = match self.ask(|tx| Command::Fetch(n, tx)) {
            Ok(rx) => rx,
            Err(e) => return Promise::reject(&e),
        };
        promise(cancel, async move {
            let rows = rx.await.map_err(|_| closed_cursor())?.map_err(|e| super::errors::to_js(&e))?;
            js(values::result(Decode::from_flags(flags), None, &rows))
        })
    }

    /// Skips `n` rows; resolves to how many were skipped.
    pub fn forward(&self, n: u32, cancel: JsValue) -> Promise {
        let rx = match self.ask(|tx| Command::Forward(n, tx)) {
            Ok(rx) => rx,
            Err(e) => return Promise::reject(&e),
        };
        promise(cancel, async move {
            let skipped = rx.await.map_err(|_| closed_cursor())?.map_err(|e| super::errors::to_js(&e))?;
            Ok(JsValue::from_f64(skipped as f64))
        })
    }

    /// Closes the cursor (its portal is closed once pending calls are done).
    pub fn close(&self) {
        self.cmd.borrow_mut().take();
    }
}
