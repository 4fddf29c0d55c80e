//! The one error type of edgepg.
//!
//! Every failure is an [`Error`] with an [`ErrorKind`] saying *what part* failed
//! (configuration, network, TLS, authentication, the server, the protocol, a
//! timeout, a closed connection, a value conversion, or API misuse). Errors
//! reported by the server carry the whole ErrorResponse as a [`DbError`] and can
//! be matched by SQLSTATE:
//!
//! ```
//! use edgepg_core::{Error, ErrorKind, SqlState};
//!
//! fn is_duplicate(e: &Error) -> bool {
//!     e.code() == Some(SqlState::UNIQUE_VIOLATION)
//! }
//! let e = Error::config("port", "invalid port \"x\"");
//! assert_eq!(e.kind(), ErrorKind::Config);
//! assert!(!is_duplicate(&e));
//! ```
//!
//! Messages never contain a password: configuration errors name the bad *part*
//! of a DSN, not its value, when that part is a secret.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use crate::sqlstate::SqlState;

/// What part of talking to PostgreSQL failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A malformed DSN or an invalid option. The message names the bad part.
    Config,
    /// The server could not be reached (DNS, refused, unreachable, proxy failure).
    Connect,
    /// Reading or writing the established stream failed.
    Io,
    /// TLS could not be negotiated or the certificate was rejected.
    Tls,
    /// Authentication failed or the server asked for an unsupported method.
    /// When the server rejected the password, [`Error::code`] is `28P01`.
    Auth,
    /// The server reported an error (ErrorResponse); see [`Error::as_db_error`].
    Server,
    /// The peer sent bytes that are not valid PostgreSQL protocol. The
    /// connection is closed.
    Protocol,
    /// An operation did not finish within its timeout.
    Timeout,
    /// The connection is closed (by us, by the server, or after a fatal error).
    Closed,
    /// A value could not be converted to or from its PostgreSQL representation
    /// (wrong type, out of range, NULL into a non-`Option`, invalid UTF-8, ...).
    Conversion,
    /// The API was used in a way that cannot work (wrong number of parameters,
    /// unknown column name, a transaction finished twice, ...).
    Interface,
}

impl ErrorKind {
    /// A short lowercase name, e.g. `"config"`, used in messages and the JS `code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Connect => "connect",
            ErrorKind::Io => "io",
            ErrorKind::Tls => "tls",
            ErrorKind::Auth => "auth",
            ErrorKind::Server => "server",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Closed => "closed",
            ErrorKind::Conversion => "conversion",
            ErrorKind::Interface => "interface",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

type Source = Box<dyn StdError + Send + Sync + 'static>;
/// Shared so that copies of an error for several receivers keep the cause.
type SharedSource = std::sync::Arc<dyn StdError + Send + Sync + 'static>;

/// An error from edgepg. Cheap to move (one pointer).
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    db: Option<DbError>,
    source: Option<SharedSource>,
    /// Nothing of the request this error answers reached the server.
    unsent: bool,
}

/// Shorthand for `Result<T, edgepg_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        Error(Box::new(Inner { kind, message: message.into(), db: None, source: None, unsent: false }))
    }

    /// Attaches an underlying cause (shown by [`std::error::Error::source`]).
    pub fn with_source(mut self, source: impl Into<Source>) -> Error {
        self.0.source = Some(SharedSource::from(source.into()));
        self
    }

    /// Marks the error as one that happened before any byte of the request
    /// reached the server (a transport refused the write outright), so the
    /// request may safely run again on another connection. The pool does that
    /// for its shortcuts; see [`is_unsent`](Error::is_unsent).
    ///
    /// ```
    /// use edgepg_core::{Error, ErrorKind};
    /// let e = Error::new(ErrorKind::Io, "the socket belongs to another request").unsent();
    /// assert!(e.is_unsent());
    /// assert!(!Error::closed().is_unsent());
    /// ```
    pub fn unsent(mut self) -> Error {
        self.0.unsent = true;
        self
    }

    /// True when nothing of the failed request reached the server (see
    /// [`unsent`](Error::unsent)): running it again cannot run it twice.
    pub fn is_unsent(&self) -> bool {
        self.0.unsent
    }

    /// A configuration error about the option or DSN part `part`.
    pub fn config(part: &str, message: impl fmt::Display) -> Error {
        Error::new(ErrorKind::Config, format!("invalid connection option `{part}`: {message}"))
    }

    /// The peer violated the protocol.
    pub fn protocol(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }

    /// A value conversion failed.
    pub fn conversion(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Conversion, message)
    }

    /// The API was misused.
    pub fn interface(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Interface, message)
    }

    /// Authentication failed on our side (unsupported method, bad server proof...).
    pub fn auth(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Auth, message)
    }

    /// The connection is closed.
    pub fn closed() -> Error {
        Error::new(ErrorKind::Closed, "the connection is closed")
    }

    /// A timeout of `what` expired.
    pub fn timeout(what: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Timeout, what)
    }

    /// An I/O error on an established stream.
    ///
    /// A transport can report a typed edgepg error through `io::Error` (the
    /// WebSocket transport turns a text frame into [`ErrorKind::Protocol`] and
    /// a clean close into [`ErrorKind::Closed`]): wrap it with
    /// `io::Error::other(error)` and it comes out here unchanged.
    ///
    /// ```
    /// use edgepg_core::{Error, ErrorKind};
    /// let wrapped = std::io::Error::other(Error::protocol("text frame"));
    /// assert_eq!(Error::io(wrapped).kind(), ErrorKind::Protocol);
    /// let plain = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    /// assert_eq!(Error::io(plain).kind(), ErrorKind::Io);
    /// ```
    pub fn io(e: std::io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(Ok(inner)) = e.into_inner().map(|b| b.downcast::<Error>()) {
                return *inner;
            }
            return Error::new(ErrorKind::Io, "I/O error");
        }
        Error::new(ErrorKind::Io, format!("I/O error: {e}")).with_source(e)
    }

    /// An error reported by the server. Authentication failures (SQLSTATE
    /// class 28) get [`ErrorKind::Auth`], everything else [`ErrorKind::Server`].
    pub fn db(db: DbError) -> Error {
        let kind = if db.code.class() == "28" { ErrorKind::Auth } else { ErrorKind::Server };
        let message = format!("{}: {}", db.severity, db.message);
        let mut e = Error::new(kind, message);
        e.0.db = Some(db);
        e
    }

    /// What part failed.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message, without the kind prefix.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The SQLSTATE, when the server reported this error.
    pub fn code(&self) -> Option<SqlState> {
        self.0.db.as_ref().map(|d| d.code)
    }

    /// The full server error, when the server reported this error.
    pub fn as_db_error(&self) -> Option<&DbError> {
        self.0.db.as_ref()
    }

    /// True when the connection cannot be used after this error.
    pub fn is_fatal(&self) -> bool {
        match self.0.kind {
            ErrorKind::Io | ErrorKind::Protocol | ErrorKind::Closed | ErrorKind::Connect | ErrorKind::Tls => true,
            _ => self.0.db.as_ref().is_some_and(|d| d.severity_kind().is_fatal()),
        }
    }

    /// A copy of this error for another receiver: same kind, message,
    /// server error (SQLSTATE and fields), source and unsent mark.
    pub(crate) fn duplicate(&self) -> Error {
        let mut e = Error::new(self.0.kind, self.0.message.clone());
        e.0.db = self.0.db.clone();
        e.0.source = self.0.source.clone();
        e.0.unsent = self.0.unsent;
        e
    }

    /// This error without the unsent mark (for a request that was sent).
    pub(crate) fn sent(mut self) -> Error {
        self.0.unsent = false;
        self
    }

    /// Prefixes the message with context, keeping kind, server error and source.
    pub fn context(mut self, context: impl fmt::Display) -> Error {
        self.0.message = format!("{context}: {}", self.0.message).into();
        self
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind).field("message", &self.0.message);
        if let Some(db) = &self.0.db {
            d.field("db", db);
        }
        if let Some(s) = &self.0.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} error: {}", self.0.kind, self.0.message)?;
        if let Some(db) = &self.0.db {
            write!(f, " (SQLSTATE {})", db.code)?;
            if let Some(d) = &db.detail {
                write!(f, "\nDETAIL: {d}")?;
            }
            if let Some(h) = &db.hint {
                write!(f, "\nHINT: {h}")?;
            }
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source.as_ref().map(|s| &**s as &(dyn StdError + 'static))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::io(e)
    }
}

/// The severity of a server message, from the non-localized `V` field
/// (falling back to `S`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Fatal,
    Panic,
    Warning,
    Notice,
    Debug,
    Info,
    Log,
    /// A severity this version does not know.
    Other,
}

impl Severity {
    /// Parses a non-localized severity such as `"ERROR"`.
    pub fn parse(s: &str) -> Severity {
        match s {
            "ERROR" => Severity::Error,
            "FATAL" => Severity::Fatal,
            "PANIC" => Severity::Panic,
            "WARNING" => Severity::Warning,
            "NOTICE" => Severity::Notice,
            "DEBUG" => Severity::Debug,
            "INFO" => Severity::Info,
            "LOG" => Severity::Log,
            _ => Severity::Other,
        }
    }

    /// FATAL and PANIC end the session.
    pub fn is_fatal(self) -> bool {
        matches!(self, Severity::Fatal | Severity::Panic)
    }
}

/// Where in a query an error points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorPosition {
    /// A 1-based character offset into the query the client sent.
    Original(u32),
    /// A position in an internally generated query (e.g. inside a PL/pgSQL function).
    Internal { position: u32, query: String },
}

/// Every field of a server ErrorResponse or NoticeResponse.
///
/// See <https://www.postgresql.org/docs/current/protocol-error-fields.html>.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbError {
    /// Localized severity (`S`), e.g. `ERROR` or `FEHLER`.
    pub severity: String,
    /// Non-localized severity (`V`, PostgreSQL 9.6+).
    pub severity_nonlocalized: Option<String>,
    /// SQLSTATE (`C`).
    pub code: SqlState,
    /// Primary message (`M`).
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub position: Option<ErrorPosition>,
    /// Context / call stack (`W`).
    pub where_: Option<String>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub datatype: Option<String>,
    pub constraint: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub routine: Option<String>,
}

impl DbError {
    /// Builds a `DbError` from `(field type, value)` pairs as they appear in an
    /// ErrorResponse/NoticeResponse body. Unknown field types are ignored (the
    /// protocol says clients must). Decoding is lenient, because the message is
    /// worth more than strictness (poolers and proxies write errors of their
    /// own): a missing severity reads as `ERROR`, a missing or malformed
    /// SQLSTATE as `XX000`, a missing message as empty, and an unparsable
    /// position or line is dropped.
    pub fn from_fields<'a, I>(fields: I) -> Result<DbError>
    where
        I: IntoIterator<Item = (u8, &'a str)>,
    {
        let mut severity = None;
        let mut severity_nl = None;
        let mut code = None;
        let mut message = None;
        let mut e = DbError {
            severity: String::new(),
            severity_nonlocalized: None,
            code: SqlState::INTERNAL_ERROR,
            message: String::new(),
            detail: None,
            hint: None,
            position: None,
            where_: None,
            schema: None,
            table: None,
            column: None,
            datatype: None,
            constraint: None,
            file: None,
            line: None,
            routine: None,
        };
        let mut position = None;
        let mut internal_position = None;
        let mut internal_query = None;
        for (ty, value) in fields {
            let v = || value.to_owned();
            match ty {
                b'S' => severity = Some(v()),
                b'V' => severity_nl = Some(v()),
                b'C' => code = SqlState::from_code(value),
                b'M' => message = Some(v()),
                b'D' => e.detail = Some(v()),
                b'H' => e.hint = Some(v()),
                b'P' => position = value.parse().ok(),
                b'p' => internal_position = value.parse().ok(),
                b'q' => internal_query = Some(v()),
                b'W' => e.where_ = Some(v()),
                b's' => e.schema = Some(v()),
                b't' => e.table = Some(v()),
                b'c' => e.column = Some(v()),
                b'd' => e.datatype = Some(v()),
                b'n' => e.constraint = Some(v()),
                b'F' => e.file = Some(v()),
                b'L' => e.line = value.parse().ok(),
                b'R' => e.routine = Some(v()),
                _ => {}
            }
        }
        e.severity = severity.or_else(|| severity_nl.clone()).unwrap_or_else(|| "ERROR".to_owned());
        e.severity_nonlocalized = severity_nl;
        e.code = code.unwrap_or(SqlState::INTERNAL_ERROR);
        e.message = message.unwrap_or_default();
        e.position = match (position, internal_position) {
            (Some(p), _) => Some(ErrorPosition::Original(p)),
            (None, Some(p)) => Some(ErrorPosition::Internal { position: p, query: internal_query.unwrap_or_default() }),
            (None, None) => None,
        };
        Ok(e)
    }

    /// The severity, parsed from the non-localized field when present.
    pub fn severity_kind(&self) -> Severity {
        Severity::parse(self.severity_nonlocalized.as_deref().unwrap_or(&self.severity))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (SQLSTATE {})", self.severity, self.message, self.code)
    }
}

impl StdError for DbError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_error_from_fields() {
        let fields = [
            (b'S', "ERROR"),
            (b'V', "ERROR"),
            (b'C', "23505"),
            (b'M', "duplicate key value violates unique constraint \"t_pkey\""),
            (b'D', "Key (id)=(1) already exists."),
            (b's', "public"),
            (b't', "t"),
            (b'n', "t_pkey"),
            (b'L', "664"),
            (b'Z', "ignored unknown field"),
        ];
        let db = DbError::from_fields(fields).unwrap();
        assert_eq!(db.code, SqlState::UNIQUE_VIOLATION);
        assert_eq!(db.constraint.as_deref(), Some("t_pkey"));
        assert_eq!(db.line, Some(664));
        let e = Error::db(db);
        assert_eq!(e.kind(), ErrorKind::Server);
        assert_eq!(e.code(), Some(SqlState::UNIQUE_VIOLATION));
        assert!(e.to_string().contains("SQLSTATE 23505"));
    }

    #[test]
    fn auth_failure_is_auth_kind() {
        let db =
            DbError::from_fields([(b'S', "FATAL"), (b'C', "28P01"), (b'M', "password authentication failed")]).unwrap();
        let e = Error::db(db);
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.is_fatal());
    }

    #[test]
    fn incomplete_errors_keep_what_they_have() {
        // A proxy's error without a code still reaches the user with its message.
        let db = DbError::from_fields([(b'M', "proxy: endpoint is disabled")]).unwrap();
        assert_eq!(
            (db.severity.as_str(), db.code, db.message.as_str()),
            ("ERROR", SqlState::INTERNAL_ERROR, "proxy: endpoint is disabled")
        );
        let db =
            DbError::from_fields([(b'S', "ERROR"), (b'C', "2350"), (b'M', "x"), (b'P', "-1"), (b'L', "x")]).unwrap();
        assert_eq!(db.code, SqlState::INTERNAL_ERROR);
        assert_eq!((db.position.clone(), db.line), (None, None));
    }
}
