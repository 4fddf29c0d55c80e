//! A `setTimeout`-backed sleep, for the runtime's timers and for the
//! WebSocket's send backpressure (which re-polls `bufferedAmount` on a timer).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    // Globals of every JS runtime; Node's returns a Timeout object, hence
    // JsValue. `catch`: workerd throws at a Worker's module scope, and a JS
    // exception must not unwind through the Rust frames polling this.
    #[wasm_bindgen(catch, js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
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

/// A `setTimeout`-backed sleep (not boxed, `Unpin`): the timer starts at the
/// first poll; dropping it clears the timer.
pub(crate) fn sleep(duration: Duration) -> Sleep {
    Sleep { duration, timer: None }
}

/// A `setTimeout`-backed sleep; dropping it clears the timer.
pub(crate) struct Sleep {
    duration: Duration,
    timer: Option<Timer>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let duration = self.duration;
        if self.timer.is_none() {
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
            match set_timeout(callback.as_ref().unchecked_ref(), ms) {
                Ok(id) => self.timer = Some(Timer { id, state, _callback: callback }),
                // Timers refused here (workerd at module scope): stay
                // pending, and try again at the next poll (the task's other
                // futures, e.g. a pool's stop signal, still wake it).
                Err(_) => return Poll::Pending,
            }
        }
        let Some(timer) = &self.timer else { return Poll::Pending };
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
