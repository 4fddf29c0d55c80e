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

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use crate::auth::md5::md5_password;
use crate::auth::scram::{ChannelBinding, ScramSha256};
use crate::config::ChannelBindingMode;
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
}

impl std::fmt::Debug for StartupOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartupOptions")
            .field("params", &self.params)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("channel_binding", &self.channel_binding)
            .field("tls", &self.tls_server_end_point.is_some())
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
    Settling,
    Done,
}

/// The startup state machine.
pub struct Startup {
    options: StartupOptions,
    state: State,
    info: SessionInfo,
    used_channel_binding: bool,
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
        Startup { options, state: State::Start, info: SessionInfo::default(), used_channel_binding: false }
    }

    /// Writes the StartupMessage.
    pub fn start(&mut self, out: &mut BytesMut) -> Result<()> {
        frontend::startup_message(self.options.params.iter().map(|(k, v)| (k.as_str(), v.as_str())), out)?;
        self.state = State::Authenticating;
        Ok(())
    }

    /// Handles one server message, writing any reply into `out`.
    pub fn handle(&mut self, msg: Message, out: &mut BytesMut) -> Result<Step> {
        match (&mut self.state, msg) {
            (_, Message::ErrorResponse(fields)) => return Err(Error::db(fields.to_db_error()?)),
            (_, Message::NoticeResponse(fields)) => self.info.notices.push(fields.to_db_error()?),
            (State::Authenticating, Message::AuthenticationOk) => {
                if self.info.auth_method.is_empty() {
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
            (State::Authenticating, Message::AuthenticationCleartextPassword) => {
                self.refuse_without_binding("password")?;
                self.info.auth_method = "password";
                frontend::password_message(self.password("password")?, out)?;
            }
            (State::Authenticating, Message::AuthenticationMd5Password { salt }) => {
                self.refuse_without_binding("md5")?;
                self.info.auth_method = "md5";
                let hash = md5_password(self.options.user.as_bytes(), self.password("md5")?, salt);
                frontend::password_message(hash.as_bytes(), out)?;
            }
            (State::Authenticating, Message::AuthenticationSasl(mechanisms)) => {
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
                let end_point = self.options.tls_server_end_point.clone().filter(|_| mode != ChannelBindingMode::Disable);
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
                    return Err(Error::auth(
                        "the server asked for SASL authentication without offering SCRAM-SHA-256",
                    ));
                }
                let password = self.password("scram-sha-256")?;
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
                self.state = State::Authenticating;
            }
            (
                State::Authenticating,
                m @ (Message::AuthenticationKerberosV5
                | Message::AuthenticationGss
                | Message::AuthenticationSspi
                | Message::AuthenticationGssContinue(_)),
            ) => {
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
                return Err(Error::protocol(format!("unexpected message during startup: {other:?}")));
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

fn method_name(m: &Message) -> &'static str {
    match m {
        Message::AuthenticationKerberosV5 => "Kerberos V5",
        Message::AuthenticationSspi => "SSPI",
        _ => "GSSAPI",
    }
}
