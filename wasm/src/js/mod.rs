//! The JavaScript API's Rust half, exported with wasm-bindgen.
//!
//! These are the *raw* entry points: positional arguments, rows as arrays,
//! errors as plain objects. The hand-written glue in `js/src/` wraps them
//! into the public API (`connect`, `createPool`, `Connection`, `Pool`,
//! `PostgresError`...), builds row objects, and turns `{ signal, timeout }`
//! into the `cancel` promise every raw call takes.
//!
//! | module | concern |
//! |---|---|
//! | `connection` | `RawConnection`, `RawStatement`, listener and log streams |
//! | `transaction` | `RawTransaction` (`begin`, savepoints, commit/rollback) |
//! | `cursor` | `RawRowStream` (streamed cursor), `RawCursor` (`fetch`/`forward`) |
//! | `copy` | COPY in (`copyToTable`, `copyRecordsToTable`) and out (`RawCopyOut`) |
//! | `pool` | `RawPool` |
//! | `values` | PostgreSQL values ⇄ JS values (the BRIEF's type mapping) |
//! | `errors` | `edgepg_core::Error` → a plain object the glue makes an Error of |
//! | `options` | the options object of `connect`/`createPool` |
//!
//! Cancellation: `cancel` is `undefined` or a promise the glue resolves
//! (with the error to throw) when the caller's `AbortSignal` fires or its
//! `timeout` passes. The operation's future is then dropped, which the core
//! client handles safely (the driver reads and discards the response), and
//! the call rejects with that error.

mod connection;
mod copy;
mod cursor;
mod errors;
mod options;
mod pool;
mod transaction;
mod values;

use std::future::Future;

use futures_util::future::{select, Either};
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

pub use connection::{RawConnection, RawListener, RawLogStream, RawStatement};
pub use copy::RawCopyOut;
pub use cursor::{RawCursor, RawRowStream};
pub use pool::RawPool;
pub use transaction::RawTransaction;

/// Runs `fut` unless `cancel` settles first (then rejects with its value).
async fn guarded<F>(fut: F, cancel: JsValue) -> Result<JsValue, JsValue>
where
    F: Future<Output = Result<JsValue, JsValue>>,
{
    if !cancel.is_instance_of::<Promise>() {
        return fut.await;
    }
    let cancel = JsFuture::from(cancel.unchecked_into::<Promise>());
    match select(std::pin::pin!(fut), cancel).await {
        Either::Left((result, _)) => result,
        // The operation future is dropped here: that is the cancellation.
        Either::Right((reason, _)) => Err(reason.unwrap_or_else(|e| e)),
    }
}

/// A promise for `fut`, cancellable through `cancel`.
fn promise<F>(cancel: JsValue, fut: F) -> Promise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    boxed_promise(cancel, Box::pin(fut))
}

/// The one instance of `guarded` and `future_to_promise` (and of the
/// executor's task code they pull in): monomorphised per call site, they
/// weighed ~30 KB of the `.wasm`; one box per call costs nothing next to a
/// round trip.
#[inline(never)]
fn boxed_promise(cancel: JsValue, fut: std::pin::Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>) -> Promise {
    future_to_promise(guarded(fut, cancel))
}

/// Maps a core result's error to its JS form.
fn js<T>(r: edgepg_core::Result<T>) -> Result<T, JsValue> {
    r.map_err(|e| errors::to_js(&e))
}

/// Opens a connection: `dsn` (libpq URI or key/value), `options` (see
/// `js/src/index.d.ts` `ConnectOptions`). Resolves to a [`RawConnection`].
///
/// With `pipelineConnect: "password"` the connection starts lazily (core
/// `connect_pipelined`): the startup bytes wait for the first request so
/// both go out in one write. Without `lazy: true` the promise still resolves
/// only once the server accepted the password — a Sync rides in the startup
/// flight to learn it (so `connect()` costs one flight after the WebSocket
/// opens, and a wrong password rejects here). With `lazy: true` it resolves
/// as soon as the WebSocket is open and the first call reports any
/// authentication error (SQLSTATE 28P01).
#[wasm_bindgen(js_name = rawConnect)]
pub fn raw_connect(dsn: String, options: JsValue, cancel: JsValue) -> Promise {
    promise(cancel, async move {
        let config = js(options::config(&dsn, &options))?;
        let connector = js(options::connector(&options, &config))?;
        let lazy = js(options::lazy(&options))?;
        let limit = config.get_connect_timeout();
        let connecting = async move {
            let conn = crate::connect_pipelined_via(config, connector).await?;
            if !lazy && conn.is_starting() {
                conn.ready().await?;
            }
            Ok(conn)
        };
        let conn = match limit {
            // connect_timeout bounds opening the WebSocket *and* the startup
            // exchange, as it does for a connection that is not pipelined.
            Some(t) if !lazy => within(t, connecting).await.unwrap_or_else(|| {
                Err(edgepg_core::Error::timeout(format!(
                    "connecting timed out after {} ms (connectTimeout)",
                    t.as_millis()
                )))
            }),
            _ => connecting.await,
        };
        Ok(RawConnection::own(js(conn)?).into())
    })
}

/// `fut`, or `None` once `limit` has passed.
async fn within<F: Future>(limit: std::time::Duration, fut: F) -> Option<F::Output> {
    use edgepg_core::client::Runtime;
    match select(std::pin::pin!(fut), crate::JsRuntime.sleep(limit)).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}

/// Creates a pool (see [`RawPool`]); resolves once its first `minSize`
/// connections are open.
#[wasm_bindgen(js_name = rawCreatePool)]
pub fn raw_create_pool(dsn: String, options: JsValue, cancel: JsValue) -> Promise {
    promise(cancel, async move { Ok(js(pool::create(&dsn, &options).await)?.into()) })
}
