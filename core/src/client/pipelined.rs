//! Pipelined connect: [`connect_pipelined`] returns a
//! [`Connection`] as soon as the stream is open, and the driver task runs the
//! startup exchange itself, so "connect + first query" is one flight.
//!
//! ```text
//!  client ── StartupMessage + PasswordMessage + Parse/Describe/Bind/Execute/Sync ──▶ server
//!  client ◀── AuthOk, ParameterStatus…, BackendKeyData, ReadyForQuery, query response ── server
//! ```
//!
//! With `pipeline_connect=password` the cleartext password goes out right
//! behind the StartupMessage (see [`super::startup`]). The server reads
//! whatever follows only after it has checked the password, so the requests
//! queued on the handle before startup ends can be written in the *same*
//! write: the driver holds its startup bytes for a moment ([`HOLD`]) or until
//! the first request arrives, then writes everything at once. Their answers
//! follow the first ReadyForQuery, in order.
//!
//! What can go wrong, and what callers see:
//! * **Wrong password**: the server answers 28P01 and closes. Every request
//!   queued so far, and every later call, fails with that error (kind
//!   [`ErrorKind::Auth`](crate::ErrorKind::Auth), SQLSTATE kept) — never
//!   "connection closed". Nothing of the queued requests ran.
//! * **The server wants SCRAM, MD5 or trust** (pipelining rejected): the
//!   server read our PasswordMessage as a bad authentication response (or an
//!   invalid message) and closes, again without running anything queued. The
//!   connection **re-establishes itself**: the driver opens a new stream to
//!   the same server through the same connector, runs the normal exchange,
//!   and then writes the queued requests (their bytes were kept). Callers
//!   see nothing but the extra round trips. This was chosen over failing the
//!   requests with a retryable error because every caller (pool, JS one-shot,
//!   user code) would need the same retry loop, and replaying is safe here:
//!   the server provably executed none of them.
//! * **Network errors** during startup fail the queued requests like any
//!   broken connection. `connect_timeout` bounds opening the stream only; a
//!   slow startup is bounded by the first call's timeout.
//!
//! [`Connection::get_server_pid`] is 0 and cancel tokens do nothing until the
//! startup has finished. A first query that is a statement-cache miss is sent
//! as Parse + Describe + Bind + Execute + Sync in one go (see
//! `super::one_flight`), so it costs no extra round trip either.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;

use super::cancel::{BackendKey, ConnectorCancel, SendCancel};
use super::connect::{self, bounded, password_for, try_hosts};
use super::handle::Connection;
use super::pipelined_startup::{PipelinedStartup, Reopen, HOLD};
use super::runtime::{BoxFuture, MaybeSend, Runtime};
use super::session_attrs::Verdict;
use super::shared::Shared;
use super::startup::{Startup, StartupOptions};
use super::transport::Transport;
use super::transport::{Connected, Connector};
use crate::config::{Config, PipelineConnect, TargetSessionAttrs};
use crate::protocol::backend::TransactionStatus;
use crate::Result;

/// Connects like [`connect`](super::connect), but returns as soon as the
/// stream is open and the StartupMessage + PasswordMessage are queued; the
/// driver finishes the startup exchange, and requests made meanwhile go out
/// in the same write (one round trip for connect + first query after the
/// stream opens).
///
/// This only applies with `pipeline_connect=password`, a password, and
/// `target_session_attrs=any` (checking the session needs a query first);
/// otherwise it is exactly [`connect`](super::connect). Hosts are tried in
/// order for *opening the stream*; authentication errors surface on the
/// first call (kind `Auth`, SQLSTATE 28P01 for a wrong password). A server
/// that does not use cleartext password authentication is reconnected to
/// without pipelining, transparently (see the module docs).
///
/// ```no_run
/// # async fn demo<C: edgepg_core::client::Connector + Clone + 'static>(
/// #     connector: C, runtime: std::sync::Arc<dyn edgepg_core::client::Runtime>,
/// # ) -> edgepg_core::Result<()> {
/// let config = edgepg_core::config::Config::parse("postgres://u:pw@db/app?pipeline_connect=password")?;
/// let conn = edgepg_core::client::connect_pipelined(&config, &connector, runtime).await?;
/// // Startup, password and this query travel together.
/// let n: i32 = conn.fetchval("SELECT 1", &[]).await?;
/// # Ok(()) }
/// ```
pub async fn connect_pipelined<C: Connector + Clone + 'static>(
    config: &Config,
    connector: &C,
    runtime: Arc<dyn Runtime>,
) -> Result<Connection> {
    if config.get_pipeline_connect() != PipelineConnect::Password
        || config.get_target_session_attrs() != TargetSessionAttrs::Any
    {
        return connect::connect(config, connector, runtime).await;
    }
    let shared_config = Arc::new(config.clone());
    try_hosts(config, &mut |host, port| {
        let runtime = runtime.clone();
        let opener = connect::opener(connector, &host, port, &shared_config);
        Box::pin(async move {
            // connect_timeout bounds opening the stream only: the startup
            // finishes later, inside the driver.
            let connected = bounded(&*runtime, config, &host, port, connector.connect(&host, port, config)).await?;
            let password = password_for(config, connector, &host, port);
            let cancel: Arc<dyn SendCancel> = opener.clone();
            let reopen: Arc<dyn Reopen<C::Stream>> = opener;
            let conn = start_pipelined(connected, config, password, runtime, Some(cancel), Some(reopen)).await?;
            Ok((conn, Verdict::Accept))
        })
    })
    .await
}

impl<C: Connector + Clone + 'static> Reopen<C::Stream> for ConnectorCancel<C> {
    fn reopen(&self) -> BoxFuture<'static, Result<Connected<C::Stream>>> {
        let connector = self.connector.clone();
        let (host, port, config) = (self.host.clone(), self.port, self.config.clone());
        Box::pin(async move { connector.connect(&host, port, &config).await })
    }
}

/// Queues the startup bytes on a new driver and returns the handle at once;
/// falls back to the normal exchange when the password cannot be pipelined.
async fn start_pipelined<S>(
    connected: Connected<S>,
    config: &Config,
    password: Option<Vec<u8>>,
    runtime: Arc<dyn Runtime>,
    cancel: Option<Arc<dyn SendCancel>>,
    reopen: Option<Arc<dyn Reopen<S>>>,
) -> Result<Connection>
where
    S: Transport + MaybeSend + 'static,
{
    let Connected { stream, tls_server_end_point } = connected;
    let options = StartupOptions::from_config(config, password, tls_server_end_point, true)?;
    let mut startup = Startup::new(options.clone());
    let mut first = BytesMut::with_capacity(256);
    startup.start(&mut first)?;
    if !startup.password_pipelined() {
        // No password, or channel_binding=require: nothing can go ahead of
        // the authentication exchange. Nothing was written yet.
        let connected = Connected { stream, tls_server_end_point: options.tls_server_end_point };
        return connect::startup_and_spawn_plain(connected, config, options.password, runtime, cancel).await;
    }
    let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
    shared.set_pipelined_startup(true);
    let backend: BackendKey = Arc::default();
    let hold_until = Some(runtime.now().saturating_add(HOLD));
    let phase = PipelinedStartup::new(startup, options, reopen.is_some(), hold_until, backend.clone());
    let rbuf = BytesMut::with_capacity(16 * 1024);
    Ok(connect::assemble(config, runtime, cancel, stream, rbuf, shared, backend, Some((phase, first, reopen))))
}

/// The work of [`Connection::ready`], which delegates here.
pub(crate) async fn ready(conn: &Connection) -> Result<()> {
    let mut buf = BytesMut::with_capacity(5);
    crate::protocol::frontend::sync(&mut buf);
    conn.inner.request(buf, 1, None).await.map(|_| ())
}

/// The work of [`Connection::is_starting`], which delegates here.
pub(crate) fn is_starting(conn: &Connection) -> bool {
    conn.inner.shared.in_pipelined_startup()
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::future::Future;
    use std::io;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};

    use futures_channel::oneshot;

    use super::*;
    use crate::client::request::{Request, RequestSender, Response};
    use crate::config::ChannelBindingMode;
    use crate::{ErrorKind, SqlState};
    use std::task::{Context, Poll};
    use std::time::Duration;

    use futures_channel::mpsc;

    use crate::client::driver::Driver;

    /// A scripted stream: records each write, serves queued server bytes.
    #[derive(Clone, Default)]
    struct Mock {
        writes: Arc<Mutex<Vec<Vec<u8>>>>,
        input: Arc<Mutex<VecDeque<u8>>>,
    }

    impl Mock {
        fn serve(&self, bytes: &[u8]) {
            self.input.lock().unwrap().extend(bytes);
        }
        fn writes(&self) -> Vec<Vec<u8>> {
            std::mem::take(&mut *self.writes.lock().unwrap())
        }
    }

    impl Transport for Mock {
        fn poll_read_buf(&mut self, _: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
            let mut input = self.input.lock().unwrap();
            if input.is_empty() {
                return Poll::Pending;
            }
            let n = input.len();
            buf.extend(input.drain(..));
            Poll::Ready(Ok(n))
        }
        fn poll_write(&mut self, _: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            self.writes.lock().unwrap().push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    struct MockReopen(Mock);

    impl Reopen<Mock> for MockReopen {
        fn reopen(&self) -> BoxFuture<'static, Result<Connected<Mock>>> {
            let stream = self.0.clone();
            Box::pin(async move { Ok(Connected { stream, tls_server_end_point: None }) })
        }
    }

    const AUTH_OK: &[u8] = b"R\0\0\0\x08\0\0\0\0";
    const AUTH_CLEARTEXT: &[u8] = b"R\0\0\0\x08\0\0\0\x03";
    const AUTH_SASL: &[u8] = b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0";
    const KEY_DATA: &[u8] = b"K\0\0\0\x0c\0\0\x30\x39\xde\xad\xbe\xef";
    const READY: &[u8] = b"Z\0\0\0\x05I";
    const PASSWORD: &[u8] = b"p\0\0\0\x0apw_pw\0";
    /// `Query("SELECT 1")`.
    const QUERY: &[u8] = b"Q\0\0\0\x0dSELECT 1\0";
    /// CommandComplete("SELECT 1") + ReadyForQuery.
    const ANSWER: &[u8] = b"C\0\0\0\x0dSELECT 1\0Z\0\0\0\x05I";

    /// A backend message: tag, length (including itself), body.
    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    fn startup_bytes() -> Vec<u8> {
        let body = b"\0\x03\0\0user\0pw_user\0\0";
        let mut v = (body.len() as u32 + 4).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    /// A pipelined-startup driver over `mock`, its request sender and shared state.
    fn driver(mock: &Mock, reopen: Option<Mock>) -> (Pin<Box<Driver<Mock>>>, RequestSender, Arc<Shared>, BackendKey) {
        let options = StartupOptions {
            params: vec![("user".into(), "pw_user".into())],
            user: "pw_user".into(),
            password: Some(b"pw_pw".to_vec()),
            channel_binding: ChannelBindingMode::Prefer,
            tls_server_end_point: None,
            pipeline_password: true,
            require_auth: None,
        };
        let mut startup = Startup::new(options.clone());
        let mut first = BytesMut::new();
        startup.start(&mut first).unwrap();
        assert!(startup.password_pipelined());
        let backend: BackendKey = Arc::default();
        let reopen = reopen.map(|m| Arc::new(MockReopen(m)) as Arc<dyn Reopen<Mock>>);
        // Held until a request arrives (no runtime: the hold never ends by itself).
        let phase = PipelinedStartup::new(startup, options, reopen.is_some(), Some(Duration::MAX), backend.clone());
        let shared = Arc::new(Shared::new(HashMap::new(), TransactionStatus::Idle));
        shared.set_pipelined_startup(true);
        let (tx, rx) = mpsc::unbounded();
        let d = Driver::new(mock.clone(), BytesMut::new(), rx, shared.clone(), 1 << 20)
            .with_pipelined_startup(phase, first, reopen);
        (Box::pin(d), tx, shared, backend)
    }

    fn poll(d: &mut Pin<Box<Driver<Mock>>>) -> Poll<()> {
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        d.as_mut().poll(&mut cx)
    }

    fn query(tx: &RequestSender) -> oneshot::Receiver<Result<Response>> {
        let (rtx, rrx) = oneshot::channel();
        tx.unbounded_send(Request::collect(BytesMut::from(QUERY), 1, None, rtx)).unwrap();
        rrx
    }

    #[test]
    fn startup_password_and_queued_requests_go_out_in_one_write() {
        let mock = Mock::default();
        let (mut d, tx, shared, backend) = driver(&mock, None);
        // Nothing is written while the driver waits for a first request.
        assert!(poll(&mut d).is_pending());
        assert!(mock.writes().is_empty());
        let mut a = query(&tx);
        let mut b = query(&tx);
        assert!(poll(&mut d).is_pending());
        assert_eq!(mock.writes(), vec![[startup_bytes(), PASSWORD.to_vec(), QUERY.to_vec(), QUERY.to_vec()].concat()]);
        // The whole answer in one read: startup, then both responses.
        mock.serve(
            &[AUTH_CLEARTEXT, AUTH_OK, &msg(b'S', b"server_version\x0016.4\0"), KEY_DATA, READY, ANSWER, ANSWER]
                .concat(),
        );
        assert!(poll(&mut d).is_pending());
        for rx in [&mut a, &mut b] {
            let r = rx.try_recv().unwrap().unwrap().unwrap();
            assert_eq!(r.last_tag(), Some("SELECT 1"));
        }
        assert!(mock.writes().is_empty(), "nothing more to write (the password was not sent twice)");
        assert!(!shared.in_pipelined_startup());
        assert_eq!(shared.parameter("server_version").as_deref(), Some("16.4"));
        assert_eq!(backend.get().map(|k| k.0), Some(12345));
    }

    #[test]
    fn a_wrong_password_fails_every_queued_request_with_28p01() {
        let mock = Mock::default();
        let (mut d, tx, shared, _) = driver(&mock, None);
        let mut a = query(&tx);
        assert!(poll(&mut d).is_pending());
        let mut b = query(&tx); // queued after the first write
        mock.serve(
            &[
                AUTH_CLEARTEXT,
                &msg(b'E', b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"pw_user\"\0\0"),
            ]
            .concat(),
        );
        assert!(poll(&mut d).is_ready());
        for rx in [&mut a, &mut b] {
            let e = rx.try_recv().unwrap().unwrap().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
            assert_eq!(e.code(), Some(SqlState::INVALID_PASSWORD), "{e}");
        }
        // Later calls see the same error.
        assert_eq!(shared.closed_error().code(), Some(SqlState::INVALID_PASSWORD));
        assert!(tx.unbounded_send(Request::Abort).is_err());
    }

    #[test]
    fn rejected_pipelining_reconnects_and_replays_the_requests() {
        let first = Mock::default();
        let second = Mock::default();
        let (mut d, tx, shared, _) = driver(&first, Some(second.clone()));
        let mut a = query(&tx);
        assert!(poll(&mut d).is_pending());
        assert_eq!(first.writes().len(), 1);
        // The server wants SCRAM: it took our password for a SASL response.
        first.serve(AUTH_SASL);
        assert!(poll(&mut d).is_pending());
        // A new stream: StartupMessage alone, no password, no query yet.
        assert_eq!(second.writes(), vec![startup_bytes()]);
        let mut b = query(&tx); // queued during the reconnect: held too
        assert!(poll(&mut d).is_pending());
        assert!(second.writes().is_empty());
        // Trust on the new stream; then the held requests go out, in order.
        second.serve(&[AUTH_OK, KEY_DATA, READY].concat());
        assert!(poll(&mut d).is_pending());
        assert_eq!(second.writes(), vec![[QUERY, QUERY].concat()]);
        second.serve(&[ANSWER, ANSWER].concat());
        assert!(poll(&mut d).is_pending());
        for rx in [&mut a, &mut b] {
            assert_eq!(rx.try_recv().unwrap().unwrap().unwrap().last_tag(), Some("SELECT 1"));
        }
        assert!(!shared.in_pipelined_startup());
    }
}
