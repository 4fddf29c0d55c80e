//! The session engine's state while a pipelined connect's startup runs
//! ([`PipelinedStartup`]): the startup exchange finished inside the engine,
//! requests written behind the pipelined password (and kept for a replay),
//! the decision to reconnect without pipelining when the server rejects it.
//!
//! Sans-io like the rest of the engine (`super::session`): the hold timer is
//! a deadline on the engine's clock, and "open a new stream" is a request to
//! the driver ([`StartupEvent::Reopening`]), answered with
//! [`PipelinedStartup::reopened`]. See `super::pipelined` for the feature and
//! what callers see.

use std::time::Duration;

use bytes::BytesMut;

use super::cancel::BackendKey;
use super::runtime::{BoxFuture, MaybeSend, MaybeSync};
use super::shared::Shared;
use super::startup::{Startup, StartupOptions, Step};
use super::transport::Connected;
use crate::protocol::backend::{Message, TransactionStatus};
use crate::Result;

/// How long a pipelined-connect connection waits for its first request before
/// sending the startup bytes alone. Callers normally queue a request at once
/// (in the same task poll), so this only matters for a connection that sits
/// unused; it must stay well below the server's `authentication_timeout`.
pub(crate) const HOLD: Duration = Duration::from_millis(20);

/// Opens a new stream to the server a pipelined-connect connection talks to,
/// for the reconnect without pipelining (run by the driver when the engine
/// asks for it).
pub(crate) trait Reopen<S>: MaybeSend + MaybeSync {
    fn reopen(&self) -> BoxFuture<'static, Result<Connected<S>>>;
}

/// The engine's startup phase for a pipelined-connect connection.
pub(crate) struct PipelinedStartup {
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
    /// The driver can open a new stream (a connector is known).
    can_reopen: bool,
    /// A new stream was asked for and is not open yet.
    reopening: bool,
    /// Until this time on the engine's clock (and while no request arrived),
    /// the startup bytes wait so that the first request joins them in one write.
    hold_until: Option<Duration>,
    backend: BackendKey,
}

/// What a startup message did.
pub(crate) enum StartupEvent {
    /// More messages are needed.
    Continue,
    /// ReadyForQuery: call [`PipelinedStartup::finish`].
    Done,
    /// Pipelining was rejected and a new stream is needed: drop what was
    /// read and written on the old one, then call
    /// [`PipelinedStartup::reopened`] once it is open.
    Reopening,
}

impl PipelinedStartup {
    /// The state after `startup.start` queued the StartupMessage and the
    /// pipelined password; the bytes wait until `hold_until` (see [`HOLD`]).
    pub(crate) fn new(
        startup: Startup,
        options: StartupOptions,
        can_reopen: bool,
        hold_until: Option<Duration>,
        backend: BackendKey,
    ) -> PipelinedStartup {
        PipelinedStartup {
            startup,
            options,
            pipelined: true,
            replay: BytesMut::new(),
            held: BytesMut::new(),
            can_reopen,
            reopening: false,
            hold_until,
            backend,
        }
    }

    /// Routes a newly taken request: `true` when its bytes may be written
    /// now (behind the pipelined password), `false` when they were held.
    pub(crate) fn take_request(&mut self, bytes: &[u8]) -> bool {
        self.hold_until = None;
        if !self.may_append() {
            self.held.extend_from_slice(bytes);
            return false;
        }
        if self.can_reopen {
            self.replay.extend_from_slice(bytes);
        }
        true
    }

    /// Stops holding the startup bytes back (e.g. the connection is closing).
    pub(crate) fn release(&mut self) {
        self.hold_until = None;
    }

    /// Whether bytes may be written behind the startup now (else they belong in `held`).
    pub(crate) fn may_append(&self) -> bool {
        self.pipelined && !self.reopening
    }

    /// Appends held bytes (a Terminate while they must wait).
    pub(crate) fn hold_bytes(&mut self, bytes: &[u8]) {
        self.held.extend_from_slice(bytes);
    }

    /// Whether the stream may be written (and read) at time `now`.
    pub(crate) fn io_allowed(&self, now: Duration) -> bool {
        !self.reopening && self.hold_until.map_or(true, |until| now >= until)
    }

    /// The startup bytes are held back until a request or the hold deadline.
    pub(crate) fn holding(&self) -> bool {
        self.hold_until.is_some()
    }

    /// When the hold ends, while it has not (a deadline for the driver's timer).
    pub(crate) fn hold_deadline(&self, now: Duration) -> Option<Duration> {
        self.hold_until.filter(|until| *until > now)
    }

    /// True while a new stream is asked for and not open yet.
    pub(crate) fn is_reopening(&self) -> bool {
        self.reopening
    }

    /// Feeds one server message to the startup exchange; replies go to `out`.
    pub(crate) fn handle(&mut self, msg: Message, out: &mut BytesMut) -> Result<StartupEvent> {
        match self.startup.handle(msg, out) {
            Ok(Step::Continue) => Ok(StartupEvent::Continue),
            Ok(Step::Done) => Ok(StartupEvent::Done),
            Err(e) if self.startup.pipeline_rejected() => {
                if !self.can_reopen {
                    return Err(e);
                }
                // The server ran none of the requests behind our password:
                // they go again, in order, once the new session is ready.
                self.reopening = true;
                self.pipelined = false;
                let mut replay = std::mem::take(&mut self.replay);
                replay.extend_from_slice(&self.held);
                self.held = replay;
                Ok(StartupEvent::Reopening)
            }
            Err(e) => Err(e),
        }
    }

    /// The new stream is open: starts the exchange without pipelining on it
    /// (its first bytes go to `out`).
    pub(crate) fn reopened(&mut self, tls_server_end_point: Option<Vec<u8>>, out: &mut BytesMut) -> Result<()> {
        self.reopening = false;
        self.options.pipeline_password = false;
        self.options.tls_server_end_point = tls_server_end_point;
        self.startup = Startup::new(self.options.clone());
        self.startup.start(out)
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
