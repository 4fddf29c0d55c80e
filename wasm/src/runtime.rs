//! The JS clock and timers as the core's [`Runtime`]: `setTimeout` for sleeps,
//! `performance.now()` (or `Date.now()` where there is no `performance`) for
//! the clock, `spawn_local` for the connection's driver task.
//!
//! Works in browsers, workers (Cloudflare, Vercel Edge), Deno, Bun and Node:
//! only globals that all of them have are used.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use edgepg_core::client::{BoxFuture, Runtime};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    // Globals of every JS runtime; Node's returns a Timeout object, hence JsValue.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);

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
        Box::pin(Sleep { duration, timer: None })
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

/// Shared between a [`Sleep`] and its `setTimeout` callback.
#[derive(Default)]
struct TimerState {
    fired: bool,
    waker: Option<Waker>,
}

struct Timer {
    id: JsValue,
    state: Rc<RefCell<TimerState>>,
    // Kept alive until the timer fires or is cleared.
    _callback: Closure<dyn FnMut()>,
}

/// A `setTimeout`-backed sleep; dropping it clears the timer.
struct Sleep {
    duration: Duration,
    timer: Option<Timer>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let duration = self.duration;
        let timer = self.timer.get_or_insert_with(|| {
            let state = Rc::new(RefCell::new(TimerState::default()));
            let s = state.clone();
            let callback = Closure::<dyn FnMut()>::new(move || {
                let waker = {
                    let mut s = s.borrow_mut();
                    s.fired = true;
                    s.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            });
            // setTimeout clamps huge delays badly (> 2^31-1 ms fires at once): cap it.
            let ms = (duration.as_secs_f64() * 1000.0).min(f64::from(i32::MAX));
            let id = set_timeout(callback.as_ref().unchecked_ref(), ms);
            Timer { id, state, _callback: callback }
        });
        let mut state = timer.state.borrow_mut();
        if state.fired {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(timer) = &self.timer {
            if !timer.state.borrow().fired {
                clear_timeout(&timer.id);
            }
        }
    }
}
