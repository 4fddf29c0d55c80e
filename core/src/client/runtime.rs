//! What the client needs from an async runtime: timers, a clock and a way to
//! spawn the connection's driver task.
//!
//! The core never touches tokio or JS directly; `edgepg` (native) implements
//! [`Runtime`] on tokio and `edgepg-wasm` on `setTimeout`/`performance.now()`.
//! On `wasm32` futures are not `Send` (JS values live in them), so the `Send`
//! bound is dropped there through [`MaybeSend`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// `Send` on native targets, nothing on wasm32 (single-threaded, JS values are `!Send`).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` on native targets, nothing on wasm32 (single-threaded, JS values are `!Send`).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, nothing on wasm32 (a connector there may hold JS
/// values such as a `WebSocket` constructor).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` on native targets, nothing on wasm32 (a connector there may hold JS
/// values such as a `WebSocket` constructor).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// A boxed future that is `Send` where the target has threads.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future that is `Send` where the target has threads.
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Timers, clock and task spawning, supplied by the transport crate.
pub trait Runtime: Send + Sync + 'static {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;

    /// Monotonic time since an arbitrary origin. Used for lifetimes and
    /// elapsed-time measurements, never compared across runtimes.
    fn now(&self) -> Duration;

    /// Runs `future` to completion in the background (the connection driver,
    /// cancel requests).
    fn spawn(&self, future: BoxFuture<'static, ()>);
}

/// Runs `future` with a deadline: `Err(())` when `duration` elapses first.
pub(crate) async fn timeout<F: Future>(rt: &dyn Runtime, duration: Duration, future: F) -> Result<F::Output, ()> {
    use futures_util::future::{select, Either};
    let future = std::pin::pin!(future);
    match select(future, rt.sleep(duration)).await {
        Either::Left((out, _)) => Ok(out),
        Either::Right(((), _)) => Err(()),
    }
}
