//! `RawTransaction`: a transaction (or savepoint) object for the JS API.
//!
//! JS objects cannot hold a Rust borrow between calls, so this holds a
//! core `Transaction<'static>` from `TransactionBuilder::start_owned`: the
//! same guard as in Rust (a nested one is a savepoint; dropped unended, it
//! is rolled back before the connection's next request — here when the JS
//! object is garbage-collected or freed).

use std::cell::RefCell;
use std::rc::Rc;

use edgepg_core::client::{Isolation, Transaction, TransactionBuilder};
use edgepg_core::Error;
use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::connection::{Handle, RawConnection};
use super::{errors, js, promise};

/// `"read_committed"`... → [`Isolation`] (asyncpg's spellings).
fn isolation(name: Option<String>) -> Result<Option<Isolation>, JsValue> {
    let Some(name) = name else { return Ok(None) };
    Ok(Some(match name.as_str() {
        "read_uncommitted" => Isolation::ReadUncommitted,
        "read_committed" => Isolation::ReadCommitted,
        "repeatable_read" => Isolation::RepeatableRead,
        "serializable" => Isolation::Serializable,
        other => {
            return Err(errors::to_js(&Error::interface(format!(
                "isolation must be \"read_committed\", \"repeatable_read\", \"serializable\" or \
                 \"read_uncommitted\", not {other:?}"
            ))))
        }
    }))
}

/// Applies the JS options to a builder.
fn configure<'a>(
    mut b: TransactionBuilder<'a>,
    iso: Option<Isolation>,
    readonly: Option<bool>,
    deferrable: Option<bool>,
) -> TransactionBuilder<'a> {
    if let Some(i) = iso {
        b = b.isolation(i);
    }
    if let Some(r) = readonly {
        b = b.readonly(r);
    }
    if let Some(d) = deferrable {
        b = b.deferrable(d);
    }
    b
}

fn ended() -> JsValue {
    errors::to_js(&Error::interface("this transaction has already ended (committed or rolled back)"))
}

#[wasm_bindgen]
impl RawConnection {
    /// `BEGIN` with the given options; resolves to a [`RawTransaction`].
    /// `isolation` is one of asyncpg's names (`"serializable"`...).
    pub fn begin(
        &self,
        isolation_level: Option<String>,
        readonly: Option<bool>,
        deferrable: Option<bool>,
        cancel: JsValue,
    ) -> Promise {
        let iso = match isolation(isolation_level) {
            Ok(i) => i,
            Err(e) => return Promise::reject(&e),
        };
        self.call(cancel, move |h| {
            let start = configure(h.transaction(), iso, readonly, deferrable).start_owned();
            async move {
                let tx = js(start.await)?;
                Ok(RawTransaction { tx: RefCell::new(Some(tx)), conn: RefCell::new(Some(h)) }.into())
            }
        })
    }
}

/// An open transaction or savepoint.
#[wasm_bindgen]
pub struct RawTransaction {
    tx: RefCell<Option<Transaction<'static>>>,
    /// A pooled connection must not go back while a transaction uses it;
    /// let go once the transaction ends (not when the JS object is collected).
    conn: RefCell<Option<Rc<Handle>>>,
}

impl RawTransaction {
    /// Takes the transaction to end it, with the connection handle (held
    /// until the COMMIT/ROLLBACK is done, then let go).
    fn take(&self) -> Option<(Transaction<'static>, Option<Rc<Handle>>)> {
        let conn = self.conn.borrow_mut().take();
        self.tx.borrow_mut().take().map(|tx| (tx, conn))
    }
}

#[wasm_bindgen]
impl RawTransaction {
    /// A savepoint inside this transaction; its options may only repeat the
    /// outer transaction's. Resolves to a [`RawTransaction`].
    pub fn savepoint(
        &self,
        isolation_level: Option<String>,
        readonly: Option<bool>,
        deferrable: Option<bool>,
        cancel: JsValue,
    ) -> Promise {
        let iso = match isolation(isolation_level) {
            Ok(i) => i,
            Err(e) => return Promise::reject(&e),
        };
        let start = match &*self.tx.borrow() {
            Some(tx) => configure(tx.transaction(), iso, readonly, deferrable).start_owned(),
            None => return Promise::reject(&ended()),
        };
        let conn = self.conn.borrow().clone();
        promise(cancel, async move {
            let tx = js(start.await)?;
            Ok(RawTransaction { tx: RefCell::new(Some(tx)), conn: RefCell::new(conn) }.into())
        })
    }

    /// `COMMIT` (or `RELEASE SAVEPOINT`).
    pub fn commit(&self, cancel: JsValue) -> Promise {
        let Some((tx, conn)) = self.take() else { return Promise::reject(&ended()) };
        promise(cancel, async move {
            let result = tx.commit().await;
            drop(conn);
            js(result)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// `ROLLBACK` (or `ROLLBACK TO SAVEPOINT` + `RELEASE`).
    pub fn rollback(&self, cancel: JsValue) -> Promise {
        let Some((tx, conn)) = self.take() else { return Promise::reject(&ended()) };
        promise(cancel, async move {
            let result = tx.rollback().await;
            drop(conn);
            js(result)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// True until committed or rolled back.
    #[wasm_bindgen(getter, js_name = isActive)]
    pub fn is_active(&self) -> bool {
        self.tx.borrow().is_some()
    }

    /// True for a savepoint.
    #[wasm_bindgen(getter, js_name = isSavepoint)]
    pub fn is_savepoint(&self) -> bool {
        self.tx.borrow().as_ref().is_some_and(|t| t.is_savepoint())
    }
}
