//! The startup and authentication exchange, as a sans-io state machine.
//!
//! ```text
//!            StartupMessage
//!   Start ─────────────────▶ Authenticating ──AuthenticationOk──▶ Settling ──ReadyForQuery──▶ Done
//!                              │  ▲                                 (ParameterStatus,
//!                              ▼  │ SASL continue/final               BackendKeyData,
//!                       password / MD5 / SCRAM                        NoticeResponse)
//! ```
//!
//! Feed it every backend message with [`Startup::handle`]; it writes what must
//! be sent into the output buffer and says when the session is ready. No I/O,
//! no clock: the same code runs over TCP, TLS and WebSocket.
//!
//! # Pipelined password (`pipeline_connect=password`)
//!
//! With [`StartupOptions::pipeline_password`] the cleartext PasswordMessage is
//! written right after the StartupMessage, before the server has asked for it,
//! so a server using `password` authentication (Neon's proxy over WebSocket)
//! answers the whole startup in one round trip. When the server then sends
//! AuthenticationCleartextPassword the password is not sent again; a wrong
//! password comes back as the server's ErrorResponse (SQLSTATE 28P01).
//!
//! If the server asks for anything else (SCRAM, MD5) or for nothing (trust), it
//! has taken, or will take, our PasswordMessage for something it is not: a
//! malformed SASL response, a wrong MD5 hash, or an invalid message after
//! startup. The exchange cannot recover, so [`Startup::handle`] fails with an
//! [`ErrorKind::Auth`](crate::ErrorKind::Auth) error and
//! [`Startup::pipeline_rejected`] turns true; the client's connect then opens
//! a new connection without pipelining (which costs the round trips pipelining
//! was meant to save, plus a failed-login line in the server's log).
//!
//! # `require_auth`
//!
//! With [`StartupOptions::require_auth`] every authentication request is
//! checked against the allowed methods *before* anything is answered, so no
//! password, hash or SCRAM message reaches a server that asked for a method
//! the user did not allow; an `AuthenticationOk` without any exchange counts
//! as the method `none`. A password is never pipelined when `password` is not
//! allowed.
//!
//! Independently of `require_auth`, once a SCRAM exchange has completed (the
//! server proved it knows the password) the server may only say
//! `AuthenticationOk`: asking for another method then (say, a cleartext
//! password) is refused, as libpq does, so a server cannot use a finished
//! SCRAM exchange to collect the password in another form.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use crate::auth::md5::md5_password;
use crate::auth::scram::{ChannelBinding, ScramSha256};
use crate::config::{AuthMethod, ChannelBindingMode, RequireAuth};
use crate::protocol::backend::{Message, TransactionStatus};
use crate::protocol::frontend;
use crate::{DbError, Error, Result};

/// What the startup exchange needs to know.
#[derive(Clone)]
pub struct StartupOptions {
    /// StartupMessage parameters (user, database, application_name, options, ...).
    pub params: Vec<(String, String)>,
    /// The role name, for MD5.
    pub user: String,
    /// The password, if any.
    pub password: Option<Vec<u8>>,
    /// Whether SCRAM channel binding may, must or must not be used.
    pub channel_binding: ChannelBindingMode,
    /// The `tls-server-end-point` hash of the server certificate, when the
    /// stream is TLS (enables SCRAM-SHA-256-PLUS).
    pub tls_server_end_point: Option<Vec<u8>>,
    /// Send the cleartext password right after the StartupMessage, without
    /// waiting for AuthenticationCleartextPassword (`pipeline_connect=password`).
    /// Ignored without a password, with `channel_binding=require`, or when
    /// `require_auth` does not allow `password`.
    pub pipeline_password: bool,
    /// `require_auth`: the methods the server may use; `None` allows all.
    pub require_auth: Option<RequireAuth>,
}

impl StartupOptions {
    /// The options for `config`, with the password and TLS channel binding
    /// data of this attempt.
    pub fn from_config(
        config: &crate::config::Config,
        password: Option<Vec<u8>>,
        tls_server_end_point: Option<Vec<u8>>,
        pipeline_password: bool,
    ) -> Result<StartupOptions> {
        let user = config
            .get_user()
            .ok_or_else(|| Error::config("user", "no user name given (set user in the DSN or PGUSER)"))?
            .to_owned();
        Ok(StartupOptions {
            params: config.startup_params().into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            user,
            password,
            channel_binding: config.get_channel_binding(),
            tls_server_end_point,
            pipeline_password,
            require_auth: config.get_require_auth().cloned(),
        })
    }
}

impl std::fmt::Debug for StartupOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartupOptions")
            .field("params", &self.params)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("channel_binding", &self.channel_binding)
            .field("tls", &self.tls_server_end_point.is_some())
            .field("pipeline_password", &self.pipeline_password)
            .field("require_auth", &self.require_auth.as_ref().map(|r| r.to_string()))
            .finish()
    }
}

/// What the server told us during startup.
#[derive(Debug, Default)]
pub struct SessionInfo {
    /// ParameterStatus values (server_version, TimeZone, ...).
    pub parameters: HashMap<String, String>,
    /// BackendKeyData: the backend's process ID.
    pub process_id: i32,
    /// BackendKeyData: the cancel key (4 bytes in protocol 3.0, up to 256 in 3.2).
    pub secret_key: Bytes,
    /// Transaction status from the first ReadyForQuery.
    pub status: Option<TransactionStatus>,
    /// Notices sent during startup.
    pub notices: Vec<DbError>,
    /// The authentication method the server used.
    pub auth_method: &'static str,
}

enum State {
    Start,
    Authenticating,
    Sasl(Box<ScramSha256>),
    /// The SCRAM exchange completed (server signature verified): only
    /// AuthenticationOk may follow.
    SaslDone,
    Settling,
    Done,
}

/// The startup state machine.
pub struct Startup {
    options: StartupOptions,
    state: State,
    info: SessionInfo,
    used_channel_binding: bool,
    /// The PasswordMessage went out with the StartupMessage and the server
    /// has not asked for it yet.
    password_in_flight: bool,
    /// The server asked for something other than the pipelined password.
    pipeline_rejected: bool,
    /// Tests: a fixed SCRAM nonce and user name, so an RFC 7677 exchange can be replayed.
    #[cfg(test)]
    scram_fixture: Option<(&'static str, &'static str)>,
}

impl std::fmt::Debug for Startup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Startup").field("options", &self.options).finish_non_exhaustive()
    }
}

/// Whether startup needs more messages.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send what was written (if anything) and feed the next message.
    Continue,
    /// The session is ready for queries.
    Done,
}

impl Startup {
    /// A new exchange.
    pub fn new(options: StartupOptions) -> Startup {
        Startup {
            options,
            state: State::Start,
            info: SessionInfo::default(),
            used_channel_binding: false,
            password_in_flight: false,
            pipeline_rejected: false,
            #[cfg(test)]
            scram_fixture: None,
        }
    }

    /// Writes the StartupMessage (and the PasswordMessage too when
    /// [`StartupOptions::pipeline_password`] is set and a password is known).
    pub fn start(&mut self, out: &mut BytesMut) -> Result<()> {
        frontend::startup_message(self.options.params.iter().map(|(k, v)| (k.as_str(), v.as_str())), out)?;
        // channel_binding=require must never reveal the password in cleartext.
        // Nor may a password go ahead when require_auth does not allow `password`.
        let pipeline = self.options.pipeline_password
            && self.options.channel_binding != ChannelBindingMode::Require
            && self.allows(AuthMethod::Password);
        if let (true, Some(password)) = (pipeline, self.options.password.as_deref()) {
            frontend::password_message(password, out)?;
            self.password_in_flight = true;
        }
        self.state = State::Authenticating;
        Ok(())
    }

    /// True when [`Startup::start`] wrote the PasswordMessage after the
    /// StartupMessage and the server has not asked for it yet: what follows
    /// in the same write is read by the server only once it has checked the
    /// password (the basis of `connect_pipelined`).
    pub fn password_pipelined(&self) -> bool {
        self.password_in_flight
    }

    /// True when startup failed because the server did not ask for the
    /// pipelined cleartext password: retry on a new connection without
    /// [`StartupOptions::pipeline_password`].
    pub fn pipeline_rejected(&self) -> bool {
        self.pipeline_rejected
    }

    /// Fails when a pipelined password is still unclaimed and the server asks
    /// for `method` instead: it has consumed (or will consume) our
    /// PasswordMessage as something else.
    fn check_pipeline(&mut self, method: &str) -> Result<()> {
        if !self.password_in_flight {
            return Ok(());
        }
        self.pipeline_rejected = true;
        Err(Error::auth(format!(
            "pipeline_connect=password requires cleartext password authentication, but the server asked for \
             {method}; it read the pipelined password message as a bad authentication response. \
             Connect without pipeline_connect (pipelineConnect: false) to this server"
        )))
    }

    /// Handles one server message, writing any reply into `out`.
    pub fn handle(&mut self, msg: Message, out: &mut BytesMut) -> Result<Step> {
        match (&mut self.state, msg) {
            (_, Message::ErrorResponse(fields)) => return Err(Error::db(fields.to_db_error()?)),
            (_, Message::NoticeResponse(fields)) => {
                if let Ok(notice) = fields.to_db_error() {
                    self.info.notices.push(notice);
                }
            }
            (State::Authenticating | State::SaslDone, Message::AuthenticationOk) => {
                // Trust: the unclaimed PasswordMessage would arrive after
                // startup as an invalid message and end the session.
                self.check_pipeline("no authentication (trust)")?;
                if self.info.auth_method.is_empty() {
                    self.require(AuthMethod::None, "let the connection in without authentication")?;
                    self.info.auth_method = "trust";
                }
                if self.options.channel_binding == ChannelBindingMode::Require && !self.used_channel_binding {
                    return Err(Error::auth(format!(
                        "channel_binding=require, but the server authenticated the connection with {} \
                         instead of SCRAM-SHA-256-PLUS; use TLS and scram-sha-256 in pg_hba.conf, or relax channel_binding",
                        self.info.auth_method
                    )));
                }
                self.state = State::Settling;
            }
            (State::SaslDone, m) if is_auth_request(&m) => {
                return Err(Error::auth(format!(
                    "the server asked for more authentication ({}) after SCRAM authentication had completed; \
                     nothing was sent (a server may only accept the connection at this point)",
                    m.name()
                )));
            }
            (State::Authenticating, Message::AuthenticationCleartextPassword) => {
                self.require(AuthMethod::Password, "asked for a cleartext password")?;
                self.refuse_without_binding("password")?;
                self.info.auth_method = "password";
                if self.password_in_flight {
                    // Already sent with the StartupMessage.
                    self.password_in_flight = false;
                } else {
                    frontend::password_message(self.password("password")?, out)?;
                }
            }
            (State::Authenticating, Message::AuthenticationMd5Password { salt }) => {
                self.require(AuthMethod::Md5, "asked for an MD5-hashed password")?;
                self.refuse_without_binding("md5")?;
                self.check_pipeline("md5")?;
                self.info.auth_method = "md5";
                let hash = md5_password(self.options.user.as_bytes(), self.password("md5")?, salt);
                frontend::password_message(hash.as_bytes(), out)?;
            }
            (State::Authenticating, Message::AuthenticationSasl(mechanisms)) => {
                self.require(AuthMethod::ScramSha256, "asked for SASL (SCRAM-SHA-256) authentication")?;
                self.check_pipeline("SCRAM-SHA-256 (SASL)")?;
                let mut scram = false;
                let mut scram_plus = false;
                for m in mechanisms.iter() {
                    match m {
                        ScramSha256::MECHANISM => scram = true,
                        ScramSha256::MECHANISM_PLUS => scram_plus = true,
                        _ => {}
                    }
                }
                let mode = self.options.channel_binding;
                let end_point =
                    self.options.tls_server_end_point.clone().filter(|_| mode != ChannelBindingMode::Disable);
                let binding = match (end_point, scram_plus) {
                    (Some(hash), true) => ChannelBinding::tls_server_end_point(hash),
                    (Some(_), false) => ChannelBinding::unsupported(),
                    (None, _) => ChannelBinding::unrequested(),
                };
                let is_plus = matches!(binding, ChannelBinding::TlsServerEndPoint(_));
                if mode == ChannelBindingMode::Require && !is_plus {
                    return Err(Error::auth(if self.options.tls_server_end_point.is_none() {
                        "channel_binding=require, but the connection is not using TLS; use sslmode=require or stricter"
                    } else {
                        "channel_binding=require, but the server did not offer SCRAM-SHA-256-PLUS"
                    }));
                }
                if !is_plus && !scram {
                    return Err(Error::auth("the server asked for SASL authentication without offering SCRAM-SHA-256"));
                }
                let password = self.password("scram-sha-256")?;
                #[cfg(test)]
                let s = match self.scram_fixture {
                    Some((nonce, user)) => ScramSha256::with_user(password, binding, nonce, user),
                    None => ScramSha256::new(password, binding)?,
                };
                #[cfg(not(test))]
                let s = ScramSha256::new(password, binding)?;
                frontend::sasl_initial_response(s.mechanism(), s.message(), out)?;
                self.used_channel_binding = is_plus;
                self.info.auth_method = if is_plus { "scram-sha-256-plus" } else { "scram-sha-256" };
                self.state = State::Sasl(Box::new(s));
            }
            (State::Sasl(s), Message::AuthenticationSaslContinue(data)) => {
                s.update(&data)?;
                frontend::sasl_response(s.message(), out)?;
            }
            (State::Sasl(s), Message::AuthenticationSaslFinal(data)) => {
                s.finish(&data)?;
                self.state = State::SaslDone;
            }
            (
                State::Authenticating,
                m @ (Message::AuthenticationKerberosV5
                | Message::AuthenticationGss
                | Message::AuthenticationSspi
                | Message::AuthenticationGssContinue(_)),
            ) => {
                match m {
                    Message::AuthenticationSspi => self.require(AuthMethod::Sspi, "asked for SSPI authentication")?,
                    Message::AuthenticationKerberosV5 => {}
                    _ => self.require(AuthMethod::Gss, "asked for GSSAPI authentication")?,
                }
                return Err(Error::auth(format!(
                    "the server asked for an authentication method edgepg does not support ({}); \
                     use scram-sha-256, md5 or password in pg_hba.conf",
                    method_name(&m)
                )));
            }
            (State::Settling, Message::BackendKeyData { process_id, secret_key }) => {
                self.info.process_id = process_id;
                self.info.secret_key = secret_key;
            }
            (State::Settling | State::Authenticating, Message::ParameterStatus { name, value }) => {
                self.info.parameters.insert(name, value);
            }
            (_, Message::NegotiateProtocolVersion { .. }) => {
                // We ask for 3.0 without protocol options, which every server
                // speaks; a server answering this way still continues startup.
            }
            (State::Settling, Message::ReadyForQuery { status }) => {
                self.info.status = Some(status);
                self.state = State::Done;
                return Ok(Step::Done);
            }
            (_, other) => {
                // The name, not `{:?}`: bounded text, and no Debug machinery for
                // every message body in the `.wasm`.
                return Err(Error::protocol(format!("unexpected {} during startup", other.name())));
            }
        }
        Ok(Step::Continue)
    }

    /// The collected session information (after [`Step::Done`]).
    pub fn into_info(self) -> SessionInfo {
        self.info
    }

    fn password(&self, method: &str) -> Result<&[u8]> {
        self.options.password.as_deref().ok_or_else(|| {
            Error::auth(format!(
                "the server requested {method} authentication but no password was given \
                 (set it in the DSN, PGPASSWORD or ~/.pgpass)"
            ))
        })
    }

    fn allows(&self, method: AuthMethod) -> bool {
        self.options.require_auth.as_ref().map_or(true, |r| r.allows(method))
    }

    /// Fails when `require_auth` does not allow `method`, which the server
    /// `did` (e.g. "asked for a cleartext password"). Called before anything
    /// is answered, so nothing has been sent.
    fn require(&self, method: AuthMethod, did: &str) -> Result<()> {
        match &self.options.require_auth {
            Some(r) if !r.allows(method) => Err(Error::auth(format!(
                "authentication method requirement require_auth={r} failed: the server {did} \
                 (method \"{method}\"), which require_auth does not allow; nothing was sent"
            ))),
            _ => Ok(()),
        }
    }

    fn refuse_without_binding(&self, method: &str) -> Result<()> {
        if self.options.channel_binding == ChannelBindingMode::Require {
            return Err(Error::auth(format!(
                "channel_binding=require, but the server asked for {method} authentication, which cannot bind \
                 to the TLS channel; the server must use scram-sha-256 over TLS"
            )));
        }
        Ok(())
    }
}

/// True for the messages by which a server asks for (more) authentication.
fn is_auth_request(m: &Message) -> bool {
    matches!(
        m,
        Message::AuthenticationCleartextPassword
            | Message::AuthenticationMd5Password { .. }
            | Message::AuthenticationSasl(_)
            | Message::AuthenticationSaslContinue(_)
            | Message::AuthenticationSaslFinal(_)
            | Message::AuthenticationKerberosV5
            | Message::AuthenticationGss
            | Message::AuthenticationSspi
            | Message::AuthenticationGssContinue(_)
    )
}

fn method_name(m: &Message) -> &'static str {
    match m {
        Message::AuthenticationKerberosV5 => "Kerberos V5",
        Message::AuthenticationSspi => "SSPI",
        _ => "GSSAPI",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::backend;
    use crate::{ErrorKind, SqlState};

    /// A backend message: tag, big-endian length (including itself), body.
    fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        v.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    const AUTH_OK: &[u8] = b"R\0\0\0\x08\0\0\0\0";
    const AUTH_CLEARTEXT: &[u8] = b"R\0\0\0\x08\0\0\0\x03";
    const AUTH_MD5: &[u8] = b"R\0\0\0\x0c\0\0\0\x05\x01\x02\x03\x04";
    const AUTH_SASL: &[u8] = b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0";
    const KEY_DATA: &[u8] = b"K\0\0\0\x0c\0\0\x30\x39\xde\xad\xbe\xef";
    const READY_IDLE: &[u8] = b"Z\0\0\0\x05I";
    /// `PasswordMessage("pw_pw")`.
    const PASSWORD: &[u8] = b"p\0\0\0\x0apw_pw\0";

    fn options(pipeline: bool, password: Option<&[u8]>) -> StartupOptions {
        StartupOptions {
            params: vec![("user".into(), "pw_user".into()), ("database".into(), "db".into())],
            user: "pw_user".into(),
            password: password.map(|p| p.to_vec()),
            channel_binding: ChannelBindingMode::Prefer,
            tls_server_end_point: None,
            pipeline_password: pipeline,
            require_auth: None,
        }
    }

    /// The StartupMessage `start` writes for [`options`].
    fn startup_bytes() -> Vec<u8> {
        let body = b"\0\x03\0\0user\0pw_user\0database\0db\0\0";
        let mut v = (body.len() as u32 + 4).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    /// Feeds `bytes` (whole messages) to `startup`; returns the last step and what was written.
    fn feed(startup: &mut Startup, bytes: &[u8]) -> (Result<Step>, Vec<u8>) {
        let mut buf = BytesMut::from(bytes);
        let mut out = BytesMut::new();
        let mut step = Ok(Step::Continue);
        while let Some(m) = backend::next_message(&mut buf, 1 << 20).unwrap() {
            step = startup.handle(m, &mut out);
            if step.is_err() {
                break;
            }
        }
        (step, out.to_vec())
    }

    fn started(pipeline: bool) -> (Startup, Vec<u8>) {
        let mut s = Startup::new(options(pipeline, Some(b"pw_pw")));
        let mut out = BytesMut::new();
        s.start(&mut out).unwrap();
        (s, out.to_vec())
    }

    #[test]
    fn pipelined_password_follows_the_startup_message() {
        let (_, out) = started(true);
        assert_eq!(out, [startup_bytes(), PASSWORD.to_vec()].concat());
    }

    #[test]
    fn without_pipelining_only_the_startup_message_goes_out() {
        let (mut s, out) = started(false);
        assert_eq!(out, startup_bytes());
        let (step, out) = feed(&mut s, AUTH_CLEARTEXT);
        assert_eq!(step.unwrap(), Step::Continue);
        assert_eq!(out, PASSWORD);
    }

    #[test]
    fn pipelined_password_is_not_sent_twice_and_startup_completes() {
        let (mut s, _) = started(true);
        let reply = [AUTH_CLEARTEXT, AUTH_OK, &msg(b'S', b"server_version\x0016.4\0"), KEY_DATA, READY_IDLE].concat();
        let (step, out) = feed(&mut s, &reply);
        assert_eq!(step.unwrap(), Step::Done);
        assert!(out.is_empty(), "the password went out twice: {out:?}");
        assert!(!s.pipeline_rejected());
        let info = s.into_info();
        assert_eq!(info.auth_method, "password");
        assert_eq!(info.process_id, 12345);
        assert_eq!(info.parameters["server_version"], "16.4");
    }

    #[test]
    fn wrong_pipelined_password_is_an_auth_error_with_its_sqlstate() {
        let (mut s, _) = started(true);
        let error = msg(b'E', b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"pw_user\"\0\0");
        let (step, _) = feed(&mut s, &[AUTH_CLEARTEXT, &error].concat());
        let e = step.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.code(), Some(SqlState::INVALID_PASSWORD));
        assert!(!s.pipeline_rejected());
    }

    #[test]
    fn pipelined_password_rejected_by_scram_md5_and_trust() {
        for (request, method) in [(AUTH_SASL, "SCRAM"), (AUTH_MD5, "md5"), (AUTH_OK, "trust")] {
            let (mut s, _) = started(true);
            let (step, out) = feed(&mut s, request);
            let e = step.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Auth, "{method}");
            assert!(e.to_string().contains("pipeline_connect=password"), "{e}");
            assert!(e.to_string().contains(method), "{e}");
            assert!(!e.to_string().contains("pw_pw"), "password leaked: {e}");
            assert!(s.pipeline_rejected(), "{method}");
            assert!(out.is_empty(), "{method}: replied {out:?}");
        }
    }

    #[test]
    fn scram_and_md5_still_work_without_pipelining() {
        let (mut s, _) = started(false);
        let (step, out) = feed(&mut s, AUTH_SASL);
        assert_eq!(step.unwrap(), Step::Continue);
        assert!(out.starts_with(b"p") && out.windows(13).any(|w| w == b"SCRAM-SHA-256"));
        let (mut s, _) = started(false);
        let (step, out) = feed(&mut s, AUTH_MD5);
        assert_eq!(step.unwrap(), Step::Continue);
        assert!(out.starts_with(b"p\0\0\0\x28md5"), "{out:?}");
    }

    #[test]
    fn nothing_is_pipelined_without_a_password_or_with_channel_binding_required() {
        let mut s = Startup::new(options(true, None));
        let mut out = BytesMut::new();
        s.start(&mut out).unwrap();
        assert_eq!(out.to_vec(), startup_bytes());

        let mut o = options(true, Some(b"pw_pw"));
        o.channel_binding = ChannelBindingMode::Require;
        let mut s = Startup::new(o);
        let mut out = BytesMut::new();
        s.start(&mut out).unwrap();
        assert_eq!(out.to_vec(), startup_bytes());
    }

    fn with_require_auth(require: &str, password: &[u8], pipeline: bool) -> (Startup, Vec<u8>) {
        let mut o = options(pipeline, Some(password));
        o.require_auth = Some(require.parse().unwrap());
        let mut s = Startup::new(o);
        let mut out = BytesMut::new();
        s.start(&mut out).unwrap();
        (s, out.to_vec())
    }

    #[test]
    fn require_auth_refuses_a_method_before_answering() {
        for (require, request, method) in [
            ("scram-sha-256", AUTH_CLEARTEXT, "password"),
            ("scram-sha-256", AUTH_MD5, "md5"),
            ("password", AUTH_MD5, "md5"),
            ("md5", AUTH_SASL, "scram-sha-256"),
            ("!password", AUTH_CLEARTEXT, "password"),
            ("!md5,!password", AUTH_MD5, "md5"),
            ("!scram-sha-256", AUTH_SASL, "scram-sha-256"),
            ("none", AUTH_CLEARTEXT, "password"),
            ("password", b"R\0\0\0\x08\0\0\0\x07", "gss"),
            ("password", b"R\0\0\0\x08\0\0\0\x09", "sspi"),
        ] {
            let (mut s, _) = with_require_auth(require, b"pw_pw", false);
            let (step, out) = feed(&mut s, request);
            let e = step.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Auth, "{require}");
            assert!(e.message().contains(&format!("require_auth={require} failed")), "{e}");
            assert!(e.message().contains(&format!("\"{method}\"")), "{require}: {e}");
            assert!(out.is_empty(), "{require}: something was sent: {out:?}");
            assert!(!e.message().contains("pw_pw"));
        }
    }

    #[test]
    fn require_auth_lets_allowed_methods_through() {
        for (require, request) in [
            ("password", AUTH_CLEARTEXT),
            ("md5,password", AUTH_MD5),
            ("scram-sha-256", AUTH_SASL),
            ("!md5", AUTH_CLEARTEXT),
            ("!password,!md5", AUTH_SASL),
        ] {
            let (mut s, _) = with_require_auth(require, b"pw_pw", false);
            let (step, out) = feed(&mut s, request);
            assert_eq!(step.unwrap(), Step::Continue, "{require}");
            assert!(out.starts_with(b"p"), "{require}: {out:?}");
        }
    }

    #[test]
    fn require_auth_and_servers_that_skip_authentication() {
        // Trust (AuthenticationOk straight away) is the method "none".
        for (require, ok) in
            [("none", true), ("!md5", true), ("scram-sha-256,none", true), ("password", false), ("!none", false)]
        {
            let (mut s, _) = with_require_auth(require, b"pw_pw", false);
            let (step, _) = feed(&mut s, &[AUTH_OK, READY_IDLE].concat());
            match step {
                Ok(step) => assert!(ok && step == Step::Done, "{require}"),
                Err(e) => {
                    assert!(!ok, "{require}: {e}");
                    assert!(e.message().contains("without authentication"), "{e}");
                    assert!(e.message().contains("\"none\""), "{e}");
                }
            }
        }
        // After a password exchange, AuthenticationOk is fine even when "none" is not allowed.
        let (mut s, _) = with_require_auth("password", b"pw_pw", false);
        let (step, _) = feed(&mut s, &[AUTH_CLEARTEXT, AUTH_OK, READY_IDLE].concat());
        assert_eq!(step.unwrap(), Step::Done);
    }

    #[test]
    fn require_auth_without_password_keeps_the_password_back() {
        let (s, out) = with_require_auth("scram-sha-256", b"pw_pw", true);
        assert_eq!(out, startup_bytes());
        assert!(!s.password_pipelined());
        let (s, out) = with_require_auth("password", b"pw_pw", true);
        assert_eq!(out, [startup_bytes(), PASSWORD.to_vec()].concat());
        assert!(s.password_pipelined());
    }

    // RFC 7677's SCRAM-SHA-256 exchange (password "pencil", user "user").
    const RFC_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const RFC_SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const RFC_SERVER_FINAL: &[u8] = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn auth(code: u32, data: &[u8]) -> Vec<u8> {
        msg(b'R', &[&code.to_be_bytes()[..], data].concat())
    }

    /// A startup that has finished the RFC 7677 SCRAM exchange.
    fn after_scram(require: Option<&str>) -> Startup {
        let mut o = options(false, Some(b"pencil"));
        o.require_auth = require.map(|r| r.parse().unwrap());
        let mut s = Startup::new(o);
        s.scram_fixture = Some((RFC_NONCE, "user"));
        s.start(&mut BytesMut::new()).unwrap();
        let (step, out) = feed(&mut s, AUTH_SASL);
        assert_eq!(step.unwrap(), Step::Continue);
        assert!(out.ends_with(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"), "{out:?}");
        let (step, out) = feed(&mut s, &auth(11, RFC_SERVER_FIRST));
        assert_eq!(step.unwrap(), Step::Continue);
        assert!(out.ends_with(b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="), "{out:?}");
        let (step, out) = feed(&mut s, &auth(12, RFC_SERVER_FINAL));
        assert_eq!(step.unwrap(), Step::Continue);
        assert!(out.is_empty());
        s
    }

    #[test]
    fn after_scram_completes_only_authentication_ok_may_follow() {
        let mut s = after_scram(None);
        let (step, out) = feed(&mut s, &[AUTH_OK, KEY_DATA, READY_IDLE].concat());
        assert_eq!(step.unwrap(), Step::Done);
        assert!(out.is_empty());
        assert_eq!(s.into_info().auth_method, "scram-sha-256");

        for (request, name) in [
            (AUTH_CLEARTEXT.to_vec(), "AuthenticationCleartextPassword"),
            (AUTH_MD5.to_vec(), "AuthenticationMD5Password"),
            (AUTH_SASL.to_vec(), "AuthenticationSASL"),
            (auth(11, RFC_SERVER_FIRST), "AuthenticationSASLContinue"),
            (auth(12, RFC_SERVER_FINAL), "AuthenticationSASLFinal"),
        ] {
            for require in [None, Some("scram-sha-256,password,md5")] {
                let mut s = after_scram(require);
                let (step, out) = feed(&mut s, &request);
                let e = step.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Auth, "{name}");
                assert!(e.message().contains("after SCRAM authentication had completed"), "{e}");
                assert!(e.message().contains(name), "{name}: {e}");
                assert!(out.is_empty(), "{name}: answered {out:?}");
            }
        }
    }

    #[test]
    fn authentication_ok_in_the_middle_of_scram_is_refused() {
        let (mut s, _) = started(false);
        let (step, _) = feed(&mut s, &[AUTH_SASL, AUTH_OK].concat());
        assert!(step.is_err());
    }

    #[test]
    fn debug_output_hides_the_password() {
        let (s, _) = started(true);
        let text = format!("{s:?}");
        assert!(!text.contains("pw_pw") && text.contains("pipeline_password: true"), "{text}");
    }
}
