//! The JS clock and timers as the core's [`Runtime`]: `setTimeout` for sleeps,
//! `performance.now()` (or `Date.now()` where there is no `performance`) for
//! the clock, `spawn_local` for the connection's driver task.
//!
//! Works in browsers, workers (Cloudflare, Vercel Edge), Deno, Bun and Node:
//! only globals that all of them have are used.

use std::time::Duration;

use edgepg_core::client::{BoxFuture, Runtime};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::timer::sleep;

#[wasm_bindgen]
extern "C" {
    /// `performance` (browsers, workers, Node ≥ 16, Deno, Bun).
    type Performance;
    #[wasm_bindgen(method)]
    fn now(this: &Performance) -> f64;
}

thread_local! {
    /// `globalThis.performance` if it has a `now` method.
    static PERFORMANCE: Option<Performance> = find_performance();
}

fn find_performance() -> Option<Performance> {
    let perf = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).ok()?;
    let now = js_sys::Reflect::get(&perf, &JsValue::from_str("now")).ok()?;
    now.is_function().then(|| perf.unchecked_into())
}

/// The core's [`Runtime`] on JS: `setTimeout`, `performance.now()`, `spawn_local`.
///
/// ```no_run
/// use std::sync::Arc;
/// use edgepg_wasm::JsRuntime;
/// let runtime: Arc<dyn edgepg_core::client::Runtime> = Arc::new(JsRuntime);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JsRuntime;

impl Runtime for JsRuntime {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(sleep(duration))
    }

    fn now(&self) -> Duration {
        let ms = PERFORMANCE.with(|p| p.as_ref().map(|p| p.now())).unwrap_or_else(js_sys::Date::now);
        // NaN or negative (a clock set backwards) must not panic.
        Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        wasm_bindgen_futures::spawn_local(future);
    }
}
