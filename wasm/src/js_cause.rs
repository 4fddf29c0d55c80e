//! JS exceptions as causes of edgepg errors, without Debug dumps.
//!
//! A JS exception (a `send` that throws, a socket that rejects) must not
//! leak into an error message as `JsValue(Error: … stack …)`: the message
//! says in words what failed, and the JS error itself goes to the JS caller
//! as `error.cause`. Core errors must be `Send + Sync`, which a `JsValue` is
//! not, so the exception waits in a small per-thread table and the error
//! carries a [`JsCause`]: the table key plus the exception's message. When an
//! error crosses back into JS (`js::errors::to_js`), [`find`] finds the
//! `JsCause` in its source chain and hands out the original JS value (to
//! every copy of the error: a broken connection fails all its callers).
//!
//! The table keeps the most recent [`KEEP`] exceptions: an error that never
//! reaches JS (swallowed by a retry, say) cannot make it grow.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;

use wasm_bindgen::{JsCast, JsValue};

/// How many JS exceptions wait for their error to reach JS.
const KEEP: usize = 32;

thread_local! {
    static TABLE: RefCell<VecDeque<(u32, JsValue)>> = const { RefCell::new(VecDeque::new()) };
    static NEXT: Cell<u32> = const { Cell::new(0) };
}

/// A JS exception behind an edgepg error (its `source`). Displays as the
/// exception's message only — never its stack.
#[derive(Debug, Clone)]
pub struct JsCause {
    id: u32,
    message: String,
}

impl JsCause {
    /// Keeps `value` for [`take`] and describes it.
    pub fn new(value: JsValue) -> JsCause {
        let message = describe(&value);
        let id = NEXT.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1));
            id
        });
        TABLE.with(|t| {
            let mut t = t.borrow_mut();
            if t.len() == KEEP {
                t.pop_front();
            }
            t.push_back((id, value));
        });
        JsCause { id, message }
    }

    /// The exception's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for JsCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsCause {}

/// The JS exception behind `error`, if one of its sources is a [`JsCause`]
/// still in the table.
pub fn find(error: &(dyn std::error::Error + 'static)) -> Option<JsValue> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(cause) = e.downcast_ref::<JsCause>() {
            return TABLE.with(|t| t.borrow().iter().find(|(id, _)| *id == cause.id).map(|(_, v)| v.clone()));
        }
        next = e.source();
    }
    None
}

/// A JS exception in words: an `Error`'s `message` (its name when that is
/// not plain "Error"), a thrown string as is, anything else by its type.
pub fn describe(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        let name = String::from(e.name());
        let message = String::from(e.message());
        return if name.is_empty() || name == "Error" { message } else { format!("{name}: {message}") };
    }
    if let Some(s) = value.as_string() {
        return s;
    }
    if value.is_undefined() || value.is_null() {
        return "no reason given".into();
    }
    format!("a thrown {}", value.js_typeof().as_string().unwrap_or_else(|| "value".into()))
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use edgepg_core::{Error, ErrorKind};
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn a_cause_is_described_without_its_stack_and_found_in_the_chain() {
        let js = js_sys::Error::new("Cannot perform I/O on behalf of a different request");
        let e = Error::new(ErrorKind::Io, "could not send").with_source(JsCause::new(js.clone().into()));
        assert_eq!(e.to_string().matches("different request").count(), 0, "the message is the caller's");
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(source.to_string(), "Cannot perform I/O on behalf of a different request");
        let found = find(&e).expect("the JS error");
        assert!(js_sys::Object::is(&found, &js));
        let wrapped = Error::io(std::io::Error::other(e));
        assert!(js_sys::Object::is(&find(&wrapped).expect("through io::Error"), &js));
    }

    #[wasm_bindgen_test]
    fn the_table_is_bounded() {
        let first = JsCause::new(JsValue::from_str("first"));
        for i in 0..KEEP {
            let _ = JsCause::new(JsValue::from(i as u32));
        }
        let e = Error::new(ErrorKind::Io, "x").with_source(first);
        assert!(find(&e).is_none(), "the oldest exception was dropped");
        assert!(TABLE.with(|t| t.borrow().len()) <= KEEP);
    }

    #[wasm_bindgen_test]
    fn describe_names_errors_strings_and_others() {
        assert_eq!(describe(&js_sys::TypeError::new("bad").into()), "TypeError: bad");
        assert_eq!(describe(&JsValue::from_str("plain")), "plain");
        assert_eq!(describe(&JsValue::from(3)), "a thrown number");
        assert_eq!(describe(&JsValue::UNDEFINED), "no reason given");
    }
}
