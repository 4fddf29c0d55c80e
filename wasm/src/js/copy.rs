//! COPY for the JS API: `copyRecordsToTable`, `copyToTable` (data from a
//! pull function the glue makes of any JS source) and `copyFromTable` /
//! `copyFromQuery` as a [`RawCopyOut`] the glue reads on each `pull` of a
//! `ReadableStream` (so the server is read no faster than the consumer).

use std::cell::RefCell;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use edgepg_core::client::{CopyFormat, CopyOptions, CopyOutStream};
use edgepg_core::types::{ToSql, Value};
use edgepg_core::{Error, Result};
use futures_util::{FutureExt, StreamExt};
use js_sys::{Array, Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::connection::RawConnection;
use super::values;
use super::{errors, js, promise};

/// Chunks handed to JS are gathered up to about this size (one CopyData is
/// usually one row: a JS call per row would dominate).
const OUT_CHUNK: usize = 64 * 1024;

fn get(o: &JsValue, key: &str) -> Option<JsValue> {
    if !o.is_object() {
        return None;
    }
    Reflect::get(o, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined() && !v.is_null())
}

fn string(o: &JsValue, key: &str) -> Result<Option<String>> {
    match get(o, key) {
        None => Ok(None),
        Some(v) => {
            v.as_string().map(Some).ok_or_else(|| Error::interface(format!("COPY option {key} must be a string")))
        }
    }
}

fn boolean(o: &JsValue, key: &str) -> Result<Option<bool>> {
    match get(o, key) {
        None => Ok(None),
        Some(v) => {
            v.as_bool().map(Some).ok_or_else(|| Error::interface(format!("COPY option {key} must be a boolean")))
        }
    }
}

fn strings(o: &JsValue, key: &str) -> Result<Vec<String>> {
    let Some(v) = get(o, key) else { return Ok(Vec::new()) };
    let Some(a) = v.dyn_ref::<Array>() else {
        return Err(Error::interface(format!("COPY option {key} must be an array of column names")));
    };
    a.iter()
        .map(|s| {
            s.as_string().ok_or_else(|| Error::interface(format!("COPY option {key} must be an array of column names")))
        })
        .collect()
}

/// The JS options object (asyncpg's names in camelCase) → [`CopyOptions`].
pub(crate) fn copy_options(o: &JsValue) -> Result<CopyOptions> {
    let mut c = CopyOptions::new();
    c.schema_name = string(o, "schemaName")?;
    c.columns = strings(o, "columns")?;
    c.format = match string(o, "format")?.as_deref() {
        None => None,
        Some("text") => Some(CopyFormat::Text),
        Some("csv") => Some(CopyFormat::Csv),
        Some("binary") => Some(CopyFormat::Binary),
        Some(other) => {
            return Err(Error::interface(format!("COPY format must be \"text\", \"csv\" or \"binary\", not {other:?}")))
        }
    };
    c.delimiter = string(o, "delimiter")?;
    c.null = string(o, "null")?;
    c.header = boolean(o, "header")?;
    c.quote = string(o, "quote")?;
    c.escape = string(o, "escape")?;
    match get(o, "forceQuote") {
        Some(v) if v.as_bool() == Some(true) => c.force_quote_all = true,
        Some(v) if v.as_bool() == Some(false) => {}
        _ => c.force_quote = strings(o, "forceQuote")?,
    }
    c.force_not_null = strings(o, "forceNotNull")?;
    c.force_null = strings(o, "forceNull")?;
    c.encoding = string(o, "encoding")?;
    c.freeze = boolean(o, "freeze")?;
    c.where_clause = string(o, "where")?;
    Ok(c)
}

/// A JS rejection reason as a source error (the glue rethrows the original).
fn source_error(reason: JsValue) -> String {
    reason
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| reason.as_string())
        .unwrap_or_else(|| "the COPY source failed".to_owned())
}

/// Calls the glue's `next()`: a promise of the next item, or null/undefined at the end.
async fn pull(next: &Function) -> std::result::Result<Option<JsValue>, String> {
    let p = next.call0(&JsValue::UNDEFINED).map_err(source_error)?;
    let v = JsFuture::from(Promise::resolve(&p)).await.map_err(source_error)?;
    Ok((!v.is_undefined() && !v.is_null()).then_some(v))
}

fn bytes_of(v: &JsValue) -> std::result::Result<Bytes, String> {
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(Bytes::from(a.to_vec()));
    }
    if let Some(s) = v.as_string() {
        return Ok(Bytes::from(s));
    }
    Err("a COPY source must yield Uint8Array or string chunks".to_owned())
}

#[wasm_bindgen]
impl RawConnection {
    /// `copyRecordsToTable`: `records` is an array of records (arrays of
    /// values), or a `next()` function resolving to arrays of records (null
    /// at the end). Resolves to the row count.
    #[wasm_bindgen(js_name = copyRecordsToTable)]
    pub fn copy_records_to_table(&self, table: String, records: JsValue, options: JsValue, cancel: JsValue) -> Promise {
        let opts = copy_options(&options);
        if let Some(next) = records.dyn_ref::<Function>().cloned() {
            return self.call(cancel, move |c| async move {
                let opts = js(opts)?;
                let batches = futures_util::stream::unfold(Some(next), |next| async move {
                    let f = next?;
                    match pull(&f).await {
                        Ok(None) => None,
                        Ok(Some(batch)) => match values::param_rows(&batch) {
                            Ok(rows) => Some((Ok(rows), Some(f))),
                            Err(e) => Some((Err(e), None)),
                        },
                        Err(e) => Some((Err(Error::interface(format!("the COPY source failed: {e}"))), None)),
                    }
                });
                let records = batches.flat_map(|b: Result<Vec<Vec<Value>>>| match b {
                    Ok(rows) => futures_util::stream::iter(rows.into_iter().map(Ok).collect::<Vec<_>>()),
                    Err(e) => futures_util::stream::iter(vec![Err(e)]),
                });
                let n = js(c.copy_records_to_table_stream(&table, records, &opts).await)?;
                Ok(JsValue::from_f64(n as f64))
            });
        }
        let rows = values::param_rows(&records)
            .map_err(|_| Error::interface("records must be an array of records (arrays of values) or an iterable"));
        self.call(cancel, move |c| async move {
            let (opts, rows) = (js(opts)?, js(rows)?);
            let n = js(c.copy_records_to_table(&table, rows, &opts).await)?;
            Ok(JsValue::from_f64(n as f64))
        })
    }

    /// `copyToTable`: `source` is a `Uint8Array` or string (all the data),
    /// or a `next()` function resolving to the next `Uint8Array`/string
    /// chunk (null at the end). A rejected `next()` aborts the COPY
    /// (CopyFail: no row lands). Resolves to the row count.
    #[wasm_bindgen(js_name = copyToTable)]
    pub fn copy_to_table(&self, table: String, source: JsValue, options: JsValue, cancel: JsValue) -> Promise {
        let opts = copy_options(&options);
        if let Some(next) = source.dyn_ref::<Function>().cloned() {
            return self.call(cancel, move |c| async move {
                let opts = js(opts)?;
                let chunks = futures_util::stream::unfold(Some(next), |next| async move {
                    let f = next?;
                    match pull(&f).await.and_then(|v| v.map(|v| bytes_of(&v)).transpose()) {
                        Ok(None) => None,
                        Ok(Some(b)) => Some((Ok(b), Some(f))),
                        Err(e) => Some((Err(e), None)),
                    }
                });
                let n = js(c.copy_to_table(&table, chunks, &opts).await)?;
                Ok(JsValue::from_f64(n as f64))
            });
        }
        let data = bytes_of(&source).map_err(Error::interface);
        self.call(cancel, move |c| async move {
            let (opts, data) = (js(opts)?, js(data)?);
            let n = js(c.copy_to_table_from_bytes(&table, data, &opts).await)?;
            Ok(JsValue::from_f64(n as f64))
        })
    }

    /// `COPY table TO STDOUT`; resolves to a [`RawCopyOut`] once the COPY
    /// has started (a missing table fails here).
    #[wasm_bindgen(js_name = copyFromTable)]
    pub fn copy_from_table(&self, table: String, options: JsValue, cancel: JsValue) -> Promise {
        let opts = copy_options(&options);
        self.call(cancel, move |c| async move {
            let opts = js(opts)?;
            let stream = js(c.copy_from_table(&table, &opts).await)?;
            Ok(RawCopyOut::new(stream).into())
        })
    }

    /// `COPY (query) TO STDOUT` with `args` inlined as literals; resolves to
    /// a [`RawCopyOut`].
    #[wasm_bindgen(js_name = copyFromQuery)]
    pub fn copy_from_query(&self, sql: String, args: JsValue, options: JsValue, cancel: JsValue) -> Promise {
        let opts = copy_options(&options);
        let params = values::params(&args);
        self.call(cancel, move |c| async move {
            let (opts, params) = (js(opts)?, js(params)?);
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
            let stream = js(c.copy_from_query(&sql, &refs, &opts).await)?;
            Ok(RawCopyOut::new(stream).into())
        })
    }
}

/// The data of a COPY TO STDOUT, read on demand.
#[wasm_bindgen]
pub struct RawCopyOut {
    state: Rc<RefCell<Option<OutState>>>,
}

struct OutState {
    stream: CopyOutStream,
    /// An error met while gathering, reported by the next call.
    error: Option<Error>,
}

impl RawCopyOut {
    fn new(stream: CopyOutStream) -> RawCopyOut {
        RawCopyOut { state: Rc::new(RefCell::new(Some(OutState { stream, error: None }))) }
    }
}

#[wasm_bindgen]
impl RawCopyOut {
    /// The next chunk (`Uint8Array`, chunks already received are gathered up
    /// to 64 KiB), or `null` at the end. Nothing is read from the connection
    /// until this is called, beyond the driver's small channel.
    pub fn next(&self, cancel: JsValue) -> Promise {
        let Some(mut st) = self.state.borrow_mut().take() else {
            return Promise::resolve(&JsValue::NULL);
        };
        let slot = self.state.clone();
        promise(cancel, async move {
            if let Some(e) = st.error.take() {
                return Err(errors::to_js(&e));
            }
            let first = match st.stream.next().await {
                None => {
                    // Kept for `rows`.
                    *slot.borrow_mut() = Some(st);
                    return Ok(JsValue::NULL);
                }
                Some(Err(e)) => return Err(errors::to_js(&e)),
                Some(Ok(b)) => b,
            };
            let mut buf = BytesMut::from(&first[..]);
            while buf.len() < OUT_CHUNK {
                match st.stream.next().now_or_never() {
                    Some(Some(Ok(b))) => buf.extend_from_slice(&b),
                    Some(Some(Err(e))) => {
                        st.error = Some(e);
                        break;
                    }
                    // The end (the next call sees it again) or nothing ready.
                    Some(None) | None => break,
                }
            }
            *slot.borrow_mut() = Some(st);
            Ok(Uint8Array::from(&buf[..]).into())
        })
    }

    /// The number of rows copied, once the data has been read to its end.
    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> Option<f64> {
        self.state.borrow().as_ref().and_then(|s| s.stream.rows()).map(|n| n as f64)
    }

    /// Stops reading: the rest of the COPY is read and discarded by the
    /// connection, which stays usable.
    pub fn close(&self) {
        self.state.borrow_mut().take();
    }
}
