//! The tokio implementation of the core's [`Runtime`].

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use edgepg_core::client::{BoxFuture, Runtime};

/// Timers and spawning on the current tokio runtime.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioRuntime;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

impl Runtime for TokioRuntime {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }

    fn now(&self) -> Duration {
        origin().elapsed()
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        // Outside a runtime (e.g. a pooled connection dropped while the
        // runtime shuts down) there is nowhere to run it: drop it rather than
        // panic, which closes whatever it owned.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(future);
        }
    }
}
