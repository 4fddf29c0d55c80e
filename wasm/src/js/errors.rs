//! Errors → plain JS objects the JS glue turns into `PostgresError` (a
//! server ErrorResponse, with every field) or another `EdgepgError`
//! subclass chosen by `kind` (see `js/src/errors.js`). Building the classes
//! in JS keeps their prototype chain and stack traces in the caller's realm.

use edgepg_core::{Error, ErrorPosition};
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

fn set(o: &Object, key: &str, value: JsValue) {
    // Setting a property on a fresh plain object cannot fail.
    let _ = Reflect::set(o, &JsValue::from_str(key), &value);
}

fn set_opt(o: &Object, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        set(o, key, JsValue::from_str(v));
    }
}

/// `{ edgepgError: true, kind, message, code?, severity?, detail?, ... }`.
pub(crate) fn to_js(e: &Error) -> JsValue {
    let o = Object::new();
    set(&o, "edgepgError", JsValue::TRUE);
    set(&o, "kind", JsValue::from_str(e.kind().as_str()));
    match e.as_db_error() {
        Some(db) => {
            set(&o, "message", JsValue::from_str(&db.message));
            set(&o, "code", JsValue::from_str(db.code.code()));
            set(&o, "severity", JsValue::from_str(db.severity_nonlocalized.as_deref().unwrap_or(&db.severity)));
            set_opt(&o, "detail", db.detail.as_deref());
            set_opt(&o, "hint", db.hint.as_deref());
            match &db.position {
                Some(ErrorPosition::Original(p)) => set(&o, "position", JsValue::from(*p)),
                Some(ErrorPosition::Internal { position, query }) => {
                    set(&o, "internalPosition", JsValue::from(*position));
                    set(&o, "internalQuery", JsValue::from_str(query));
                }
                None => {}
            }
            set_opt(&o, "where", db.where_.as_deref());
            set_opt(&o, "schema", db.schema.as_deref());
            set_opt(&o, "table", db.table.as_deref());
            set_opt(&o, "column", db.column.as_deref());
            set_opt(&o, "dataType", db.datatype.as_deref());
            set_opt(&o, "constraint", db.constraint.as_deref());
            set_opt(&o, "file", db.file.as_deref());
            if let Some(line) = db.line {
                set(&o, "line", JsValue::from(line));
            }
            set_opt(&o, "routine", db.routine.as_deref());
        }
        None => set(&o, "message", JsValue::from_str(e.message())),
    }
    // The JS exception behind the error, if any, as `error.cause`.
    if let Some(cause) = crate::js_cause::find(e) {
        set(&o, "cause", cause);
    }
    // Nothing of the call reached the server: safe to run again elsewhere.
    if e.is_unsent() {
        set(&o, "unsent", JsValue::TRUE);
    }
    o.into()
}
