//! The driver's state while a pipelined connect's startup runs
//! ([`PipelinedStartup`]): the startup exchange finished inside the driver,
//! requests written behind the pipelined password (and kept for a replay),
//! the reconnect without pipelining when the server rejects it.
//!
//! See `super::pipelined` for the feature and what callers see.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;

use super::cancel::BackendKey;
use super::runtime::{BoxFuture, MaybeSend, MaybeSync};
use super::shared::Shared;
use super::startup::{Startup, StartupOptions, Step};
use super::transport::Connected;
use crate::protocol::backend::{Message, TransactionStatus};
use crate::{Error, Result};

/// How long a pipelined-connect connection waits for its first request before
/// sending the startup bytes alone. Callers normally queue a request at once
/// (in the same task poll), so this only matters for a connection that sits
/// unused; it must stay well below the server's `authentication_timeout`.
pub(crate) const HOLD: Duration = Duration::from_millis(20);

/// Opens a new stream to the server a pipelined-connect connection talks to,
/// for the reconnect without pipelining.
pub(crate) trait Reopen<S>: MaybeSend + MaybeSync {
    fn reopen(&self) -> BoxFuture<'static, Result<Connected<S>>>;
}

/// The driver's startup phase for a pipelined-connect connection.
pub(crate) struct PipelinedStartup<S> {
    startup: Startup,
    /// For a new attempt without pipelining.
    options: StartupOptions,
    /// The current attempt pipelined the password: requests may be written
    /// right behind it.
    pipelined: bool,
    /// Bytes of the requests written behind the pipelined password, replayed
    /// on a new stream if the server rejects pipelining (only kept when a
    /// new stream can be opened).
    replay: BytesMut,
    /// Request bytes that must wait for the end of startup (attempt without
    /// pipelining).
    held: BytesMut,
    reopen: Option<Arc<dyn Reopen<S>>>,
    /// Opening the new stream.
    reopening: Option<BoxFuture<'static, Result<Connected<S>>>>,
    /// While pending (and no request arrived), the startup bytes wait so that
    /// the first request joins them in one write.
    hold: Option<BoxFuture<'static, ()>>,
    backend: BackendKey,
}

/// What a startup message did.
pub(crate) enum StartupEvent {
    /// More messages are needed.
    Continue,
    /// ReadyForQuery: call [`PipelinedStartup::finish`].
    Done,
    /// Pipelining was rejected; a new stream is being opened: drop what was
    /// read and written on the old one.
    Reopening,
}

impl<S> PipelinedStartup<S> {
    /// The state after `startup.start` queued the StartupMessage and the
    /// pipelined password; `hold` delays writing them (see [`HOLD`]).
    pub(crate) fn new(
        startup: Startup,
        options: StartupOptions,
        reopen: Option<Arc<dyn Reopen<S>>>,
        hold: Option<BoxFuture<'static, ()>>,
        backend: BackendKey,
    ) -> PipelinedStartup<S> {
        PipelinedStartup {
            startup,
            options,
            pipelined: true,
            replay: BytesMut::new(),
            held: BytesMut::new(),
            reopen,
            reopening: None,
            hold,
            backend,
        }
    }

    /// Routes a newly taken request: `true` when its bytes may be written
    /// now (behind the pipelined password), `false` when they were held.
    pub(crate) fn take_request(&mut self, bytes: &[u8]) -> bool {
        self.hold = None;
        if !self.pipelined || self.reopening.is_some() {
            self.held.extend_from_slice(bytes);
            return false;
        }
        if self.reopen.is_some() {
            self.replay.extend_from_slice(bytes);
        }
        true
    }

    /// Stops holding the startup bytes back (e.g. the connection is closing).
    pub(crate) fn release(&mut self) {
        self.hold = None;
    }

    /// Whether a Terminate may be written now (else it belongs in `held`).
    pub(crate) fn may_append(&self) -> bool {
        self.pipelined && self.reopening.is_none()
    }

    /// Appends held bytes (a Terminate while they must wait).
    pub(crate) fn hold_bytes(&mut self, bytes: &[u8]) {
        self.held.extend_from_slice(bytes);
    }

    /// Whether the driver may write (and read) the stream now.
    pub(crate) fn poll_io_allowed(&mut self, cx: &mut Context<'_>) -> bool {
        if self.reopening.is_some() {
            return false;
        }
        if let Some(hold) = self.hold.as_mut() {
            if hold.as_mut().poll(cx).is_pending() {
                return false;
            }
            self.hold = None;
        }
        true
    }

    /// True while a new stream is being opened.
    pub(crate) fn is_reopening(&self) -> bool {
        self.reopening.is_some()
    }

    /// Feeds one server message to the startup exchange; replies go to `out`.
    pub(crate) fn handle(&mut self, msg: Message, out: &mut BytesMut) -> Result<StartupEvent> {
        match self.startup.handle(msg, out) {
            Ok(Step::Continue) => Ok(StartupEvent::Continue),
            Ok(Step::Done) => Ok(StartupEvent::Done),
            Err(e) if self.startup.pipeline_rejected() => {
                let Some(reopen) = &self.reopen else { return Err(e) };
                // The server ran none of the requests behind our password:
                // they go again, in order, once the new session is ready.
                self.reopening = Some(reopen.reopen());
                self.pipelined = false;
                let mut replay = std::mem::take(&mut self.replay);
                replay.extend_from_slice(&self.held);
                self.held = replay;
                Ok(StartupEvent::Reopening)
            }
            Err(e) => Err(e),
        }
    }

    /// Polls the new stream; once open, starts the exchange without
    /// pipelining on it (its first bytes go to `out`).
    pub(crate) fn poll_reopened(&mut self, cx: &mut Context<'_>, out: &mut BytesMut) -> Poll<Result<S>> {
        let Some(fut) = self.reopening.as_mut() else {
            return Poll::Ready(Err(Error::protocol("no reconnect in progress")));
        };
        let connected = match fut.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        self.reopening = None;
        let connected = connected.map_err(|e| e.context("reconnecting without pipeline_connect"))?;
        self.options.pipeline_password = false;
        self.options.tls_server_end_point = connected.tls_server_end_point;
        self.startup = Startup::new(self.options.clone());
        self.startup.start(out)?;
        Poll::Ready(Ok(connected.stream))
    }

    /// Startup is over: publishes what the server said and releases the
    /// held requests into `out`.
    pub(crate) fn finish(self, shared: &Shared, out: &mut BytesMut) {
        let info = self.startup.into_info();
        for (name, value) in info.parameters {
            shared.set_parameter(name, value);
        }
        shared.set_status(info.status.unwrap_or(TransactionStatus::Idle));
        for n in &info.notices {
            shared.notice(n);
        }
        let _ = self.backend.set((info.process_id, info.secret_key));
        out.extend_from_slice(&self.held);
        shared.set_pipelined_startup(false);
    }
}
