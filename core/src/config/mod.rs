//! Connection configuration: libpq DSNs, `PG*` environment variables, pgpass,
//! and the asyncpg-style client options.
//!
//! A [`Config`] is built from a DSN ([`Config::parse`]), from the builder
//! setters, or both, and then completed from the environment
//! ([`Config::apply_env`]) where a platform has one. Core does no I/O: the
//! native transport passes `|k| std::env::var(k).ok()` to `apply_env`, reads the
//! pgpass file and hands its contents to [`pgpass::lookup`], and fills in the
//! operating-system user name when none was given.
//!
//! # Naming
//!
//! As in tokio-postgres, a setter is named after the option and takes
//! `&mut self` (`config.user("alice")`), and the getter has a `get_` prefix
//! (`config.get_user()`). Setters return `&mut Config` so they chain.
//!
//! # What the DSN accepts
//!
//! * URIs: `postgres://` or `postgresql://`
//!   `user:password@host1:port1,host2:port2/dbname?key=value&...`; every part
//!   is percent-decoded, IPv6 addresses go in brackets (`[::1]:5432`), and a
//!   host that decodes to a path (`%2Fvar%2Frun%2Fpostgresql`) is a Unix socket
//!   directory. Query parameters are options as below and override the parts
//!   before `?`; `ssl=true` means `sslmode=require` (as libpq). The
//!   credentials end at the *last* `@`, so an unencoded `@` in a password works.
//! * key/value strings: `host=localhost port=5432 dbname=x password='a b\'c'`:
//!   spaces may surround `=`, values with spaces are single-quoted, and `\`
//!   escapes the next character.
//! * The empty string: every option at its default.
//!
//! Option names are libpq's. Unknown names are a configuration error, as in
//! libpq (asyncpg instead sends unknown URI query parameters to the server as
//! settings; edgepg does not, so a typo cannot silently become a server
//! setting). Server settings are given with `options=-c name=value` (libpq's
//! way) or with [`Config::server_setting`]. A few libpq options that only make
//! sense with features edgepg lacks (`sslcrl`, `sslcertmode`, ...) are rejected
//! with a "not supported" error rather than ignored.
//!
//! `service` names a section of a connection service file (`pg_service.conf`,
//! see [`service`]); the transport reads the file and calls
//! [`Config::apply_service`] before [`Config::apply_env`], which gives libpq's
//! precedence: the DSN, then the service, then the environment.
//!
//! edgepg extensions, accepted in a DSN too: `command_timeout` (seconds),
//! `statement_cache_size`, `max_cached_statement_lifetime` (seconds),
//! `max_cacheable_statement_size` and `max_message_size` (bytes), and
//! `pipeline_connect` (`disable` or `password`, see [`PipelineConnect`]).
//!
//! An option given with an empty value (`host=` or `?sslmode=`) counts as not
//! given, so the environment and the defaults still apply.
//!
//! # Hosts and ports
//!
//! [`Config::get_hosts`] is empty when no host was given: the transport picks
//! the default (libpq uses the Unix socket directory, e.g. `/var/run/postgresql`
//! or `/tmp`, and `localhost` where there are no Unix sockets; the WebSocket
//! transport has no default). [`Config::get_ports`] holds either no port (5432
//! for every host), one port for every host, or one port per host;
//! [`Config::port_for`] resolves it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

mod dsn;
mod env;
mod keys;
mod options;
pub mod pgpass;
mod require_auth;
pub mod service;

pub use options::{
    ChannelBindingMode, Host, LoadBalanceHosts, PipelineConnect, SslMode, SslNegotiation, SslRootCert,
    TargetSessionAttrs,
};
pub use require_auth::{AuthMethod, RequireAuth};

/// The port used when none is given.
pub const DEFAULT_PORT: u16 = 5432;

/// How many prepared statements a connection caches by default (asyncpg's default).
pub const DEFAULT_STATEMENT_CACHE_SIZE: usize = 100;
/// How long a cached statement lives by default (asyncpg's default, 300 s).
pub const DEFAULT_MAX_CACHED_STATEMENT_LIFETIME: Duration = Duration::from_secs(300);
/// Queries longer than this (in bytes) are not cached by default (asyncpg's 15 KiB).
pub const DEFAULT_MAX_CACHEABLE_STATEMENT_SIZE: usize = 15 * 1024;
/// The largest backend message accepted by default: 1 GiB, PostgreSQL's own limit
/// for a field value.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 30;

/// Connection settings for one logical database (possibly several hosts).
///
/// `Debug` output never shows the password.
///
/// ```
/// use edgepg_core::config::{Config, Host, SslMode};
///
/// let mut config = Config::parse("postgres://alice@db.example.com/app?sslmode=require")?;
/// config.application_name("billing").statement_cache_size(0);
/// assert_eq!(config.get_hosts(), &[Host::Tcp("db.example.com".into())]);
/// assert_eq!(config.get_ssl_mode(), SslMode::Require);
/// assert_eq!(config.port_for(0), 5432);
/// # Ok::<(), edgepg_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub(crate) hosts: Vec<Host>,
    pub(crate) hostaddrs: Vec<IpAddr>,
    pub(crate) ports: Vec<u16>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Vec<u8>>,
    pub(crate) dbname: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) application_name: Option<String>,
    pub(crate) fallback_application_name: Option<String>,
    pub(crate) ssl_mode: Option<SslMode>,
    /// The legacy `requiressl` option; only used when `sslmode` is not set.
    pub(crate) require_ssl: Option<bool>,
    pub(crate) ssl_root_cert: Option<SslRootCert>,
    pub(crate) ssl_cert: Option<String>,
    pub(crate) ssl_key: Option<String>,
    /// The passphrase of an encrypted `sslkey`; never shown by `Debug`.
    pub(crate) ssl_password: Option<String>,
    pub(crate) ssl_negotiation: Option<SslNegotiation>,
    pub(crate) channel_binding: Option<ChannelBindingMode>,
    pub(crate) pipeline_connect: Option<PipelineConnect>,
    /// `Some(ZERO)` records an explicit "no timeout" so the environment cannot override it.
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) keepalives: Option<bool>,
    pub(crate) keepalives_idle: Option<Duration>,
    pub(crate) keepalives_interval: Option<Duration>,
    pub(crate) keepalives_count: Option<u32>,
    pub(crate) target_session_attrs: Option<TargetSessionAttrs>,
    pub(crate) load_balance_hosts: Option<LoadBalanceHosts>,
    pub(crate) passfile: Option<String>,
    pub(crate) require_auth: Option<RequireAuth>,
    pub(crate) service: Option<String>,
    pub(crate) servicefile: Option<String>,
    /// [`Config::apply_service`] found and applied `service`.
    pub(crate) service_loaded: bool,
    pub(crate) command_timeout: Option<Duration>,
    pub(crate) statement_cache_size: usize,
    pub(crate) max_cached_statement_lifetime: Duration,
    pub(crate) max_cacheable_statement_size: usize,
    pub(crate) server_settings: Vec<(String, String)>,
    pub(crate) max_message_size: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config::new()
    }
}

impl Config {
    /// A configuration with every option at its default.
    pub fn new() -> Config {
        Config {
            hosts: Vec::new(),
            hostaddrs: Vec::new(),
            ports: Vec::new(),
            user: None,
            password: None,
            dbname: None,
            options: None,
            application_name: None,
            fallback_application_name: None,
            ssl_mode: None,
            require_ssl: None,
            ssl_root_cert: None,
            ssl_cert: None,
            ssl_key: None,
            ssl_password: None,
            ssl_negotiation: None,
            channel_binding: None,
            pipeline_connect: None,
            connect_timeout: None,
            keepalives: None,
            keepalives_idle: None,
            keepalives_interval: None,
            keepalives_count: None,
            target_session_attrs: None,
            load_balance_hosts: None,
            passfile: None,
            require_auth: None,
            service: None,
            servicefile: None,
            service_loaded: false,
            command_timeout: None,
            statement_cache_size: DEFAULT_STATEMENT_CACHE_SIZE,
            max_cached_statement_lifetime: DEFAULT_MAX_CACHED_STATEMENT_LIFETIME,
            max_cacheable_statement_size: DEFAULT_MAX_CACHEABLE_STATEMENT_SIZE,
            server_settings: Vec::new(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }

    /// Parses a libpq connection string: a `postgres://`/`postgresql://` URI or
    /// a `key=value` list (see the [module docs](self)). The same option given
    /// twice: the last one wins.
    ///
    /// Errors are [`ErrorKind::Config`](crate::ErrorKind::Config) and name the
    /// bad option or URI part; they never contain the password.
    ///
    /// ```
    /// use edgepg_core::config::{Config, Host, TargetSessionAttrs};
    ///
    /// let c = Config::parse(
    ///     "postgresql://bob:s%40cret@db1:5433,[2001:db8::1]:5434/shop?target_session_attrs=read-write",
    /// )?;
    /// assert_eq!(c.get_user(), Some("bob"));
    /// assert_eq!(c.get_password(), Some(&b"s@cret"[..]));
    /// assert_eq!(c.get_hosts(), &[Host::Tcp("db1".into()), Host::Tcp("2001:db8::1".into())]);
    /// assert_eq!(c.get_ports(), &[5433, 5434]);
    /// assert_eq!(c.get_dbname(), Some("shop"));
    /// assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::ReadWrite);
    ///
    /// let c = Config::parse(r"host=/var/run/postgresql dbname=app password='it\'s'")?;
    /// assert_eq!(c.get_hosts(), &[Host::Unix("/var/run/postgresql".into())]);
    ///
    /// let e = Config::parse("postgres://localhost/db?sslmod=require").unwrap_err();
    /// assert!(e.to_string().contains("sslmod"));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn parse(dsn: &str) -> Result<Config> {
        let mut config = Config::new();
        dsn::parse_into(&mut config, dsn)?;
        config.check(false)?;
        Ok(config)
    }

    /// Fills every option the DSN and the setters left unset from `PG*`
    /// environment variables, looked up with `lookup` (listed under *Environment*
    /// below). Empty variables count as unset. Afterwards the whole
    /// configuration is checked as by [`Config::validate`].
    ///
    /// ```
    /// use edgepg_core::config::Config;
    ///
    /// let mut c = Config::parse("postgres://localhost/app")?;
    /// c.apply_env(|k| match k {
    ///     "PGDATABASE" => Some("ignored: the DSN set it".into()),
    ///     "PGUSER" => Some("carol".into()),
    ///     _ => None,
    /// })?;
    /// assert_eq!(c.get_dbname(), Some("app"));
    /// assert_eq!(c.get_user(), Some("carol"));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    ///
    /// # Environment
    ///
    /// `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`,
    /// `PGOPTIONS`, `PGAPPNAME`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`,
    /// `PGSSLKEY`, `PGSSLNEGOTIATION`, `PGCHANNELBINDING`, `PGCONNECT_TIMEOUT`,
    /// `PGTARGETSESSIONATTRS`, `PGLOADBALANCEHOSTS`, `PGREQUIREAUTH` and `PGPASSFILE` (only
    /// stored: the transport reads the file).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<()> {
        env::apply(self, lookup)?;
        self.validate()
    }

    /// Checks that the options fit together: host, `hostaddr` and port lists of
    /// matching lengths, `sslrootcert=system` only with `verify-full`, and
    /// `sslnegotiation=direct` only with `sslmode=require` or stronger.
    ///
    /// [`Config::parse`] runs the same checks except the port count when no host
    /// is given yet (the environment may still provide the hosts); transports
    /// call this before connecting.
    pub fn validate(&self) -> Result<()> {
        self.check(true)
    }

    fn check(&self, complete: bool) -> Result<()> {
        let nhosts = self.hosts.len().max(self.hostaddrs.len());
        if !self.hosts.is_empty() && !self.hostaddrs.is_empty() && self.hosts.len() != self.hostaddrs.len() {
            return Err(Error::config(
                "hostaddr",
                format!("{} host names but {} hostaddr values", self.hosts.len(), self.hostaddrs.len()),
            ));
        }
        let ports_ok = match self.ports.len() {
            0 | 1 => true,
            n if nhosts == 0 => !complete || n == 1,
            n => n == nhosts,
        };
        if !ports_ok {
            return Err(Error::config(
                "port",
                format!(
                    "{} ports given for {} hosts (give one port, or one per host)",
                    self.ports.len(),
                    nhosts.max(1)
                ),
            ));
        }
        if self.ssl_root_cert == Some(SslRootCert::System) {
            if let Some(mode) = self.ssl_mode.filter(|m| *m != SslMode::VerifyFull) {
                return Err(Error::config(
                    "sslmode",
                    format!("weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \"verify-full\")"),
                ));
            }
        }
        if complete && !self.service_loaded {
            if let Some(name) = &self.service {
                return Err(Error::config(
                    "service",
                    format!(
                        "service \"{name}\" was not loaded: this transport does not read connection service files \
                         (only the native one does); give the options in the connection string instead"
                    ),
                ));
            }
        }
        if self.get_ssl_negotiation() == SslNegotiation::Direct && !self.get_ssl_mode().requires_tls() {
            return Err(Error::config(
                "sslnegotiation",
                format!(
                    "sslnegotiation=direct needs sslmode require, verify-ca or verify-full (not \"{}\")",
                    self.get_ssl_mode()
                ),
            ));
        }
        Ok(())
    }

    // ---- builder setters -------------------------------------------------

    /// Adds a host to try. A value starting with `/` is a Unix socket directory.
    pub fn host(&mut self, host: &str) -> &mut Config {
        self.hosts.push(Host::parse(host));
        self
    }

    /// Adds a host to try, already classified.
    pub fn add_host(&mut self, host: Host) -> &mut Config {
        self.hosts.push(host);
        self
    }

    /// Adds a numeric address (`hostaddr`): connect there without resolving the
    /// host name, which is still used for TLS verification and pgpass.
    pub fn hostaddr(&mut self, addr: IpAddr) -> &mut Config {
        self.hostaddrs.push(addr);
        self
    }

    /// Adds a port: one for all hosts, or one per host in order.
    pub fn port(&mut self, port: u16) -> &mut Config {
        self.ports.push(port);
        self
    }

    /// Sets the user name.
    pub fn user(&mut self, user: &str) -> &mut Config {
        self.user = Some(user.to_owned());
        self
    }

    /// Sets the password (any bytes; PostgreSQL passwords need not be UTF-8).
    pub fn password(&mut self, password: impl AsRef<[u8]>) -> &mut Config {
        self.password = Some(password.as_ref().to_vec());
        self
    }

    /// Sets the database name (the server defaults it to the user name).
    pub fn dbname(&mut self, dbname: &str) -> &mut Config {
        self.dbname = Some(dbname.to_owned());
        self
    }

    /// Sets the command-line options sent to the server, e.g. `-c search_path=app`.
    pub fn options(&mut self, options: &str) -> &mut Config {
        self.options = Some(options.to_owned());
        self
    }

    /// Sets `application_name`.
    pub fn application_name(&mut self, name: &str) -> &mut Config {
        self.application_name = Some(name.to_owned());
        self
    }

    /// Sets the `application_name` used when none is given.
    pub fn fallback_application_name(&mut self, name: &str) -> &mut Config {
        self.fallback_application_name = Some(name.to_owned());
        self
    }

    /// Sets `sslmode`.
    pub fn ssl_mode(&mut self, mode: SslMode) -> &mut Config {
        self.ssl_mode = Some(mode);
        self
    }

    /// Sets `sslrootcert`.
    pub fn ssl_root_cert(&mut self, root: SslRootCert) -> &mut Config {
        self.ssl_root_cert = Some(root);
        self
    }

    /// Sets `sslcert`, the client certificate file (read by the transport).
    pub fn ssl_cert(&mut self, path: &str) -> &mut Config {
        self.ssl_cert = Some(path.to_owned());
        self
    }

    /// Sets `sslkey`, the client key file (read by the transport).
    pub fn ssl_key(&mut self, path: &str) -> &mut Config {
        self.ssl_key = Some(path.to_owned());
        self
    }

    /// Sets `sslpassword`, the passphrase of an encrypted `sslkey` (used by the
    /// transport; never shown by `Debug` or in errors).
    pub fn ssl_password(&mut self, password: &str) -> &mut Config {
        self.ssl_password = Some(password.to_owned());
        self
    }

    /// Sets `require_auth`: the authentication methods the server may use.
    ///
    /// ```
    /// use edgepg_core::config::{AuthMethod, Config};
    /// let mut config = Config::parse("postgres://app@db.example.com/app")?;
    /// config.require_auth("scram-sha-256".parse()?);
    /// assert!(!config.get_require_auth().unwrap().allows(AuthMethod::Password));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn require_auth(&mut self, methods: RequireAuth) -> &mut Config {
        self.require_auth = Some(methods);
        self
    }

    /// Sets `service`, the section of the connection service file to use.
    pub fn service(&mut self, name: &str) -> &mut Config {
        self.service = Some(name.to_owned());
        self.service_loaded = false;
        self
    }

    /// Sets `servicefile`, the connection service file to read first.
    pub fn servicefile(&mut self, path: &str) -> &mut Config {
        self.servicefile = Some(path.to_owned());
        self
    }

    /// Fills the options still unset from section `[name]` of a connection
    /// service file whose text is `text` (`file` names it in errors), and
    /// records `name` as the service. Returns `false`, changing nothing, when
    /// the text has no such section (libpq then tries the next file).
    ///
    /// Call it before [`Config::apply_env`]: libpq's order is the DSN first,
    /// then the service file, then the environment. Errors are config errors
    /// naming the file and line (see [`service::lookup`]).
    ///
    /// ```
    /// use edgepg_core::config::{Config, Host};
    ///
    /// let text = "[shop]\nhost=db.example.com\nport=6432\ndbname=shop\nuser=ignored\n";
    /// let mut c = Config::parse("service=shop user=alice")?;
    /// assert!(c.apply_service("shop", text, "/home/alice/.pg_service.conf")?);
    /// c.apply_env(|_| None)?;
    /// assert_eq!(c.get_hosts(), &[Host::Tcp("db.example.com".into())]);
    /// assert_eq!((c.port_for(0), c.get_dbname(), c.get_user()), (6432, Some("shop"), Some("alice")));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn apply_service(&mut self, name: &str, text: &str, file: &str) -> Result<bool> {
        let Some(entries) = service::lookup(text, name, file)? else {
            return Ok(false);
        };
        for (key, value) in entries {
            // An option given in the DSN (or earlier in the section) wins.
            if keys::is_set(self, &key) {
                continue;
            }
            keys::set(self, &key, value.as_bytes(), &key).map_err(|e| {
                Error::new(
                    crate::ErrorKind::Config,
                    format!("{} (in service \"{name}\" of service file \"{file}\")", e.message()),
                )
            })?;
        }
        self.service = Some(name.to_owned());
        self.service_loaded = true;
        Ok(true)
    }

    /// Sets `sslnegotiation`.
    pub fn ssl_negotiation(&mut self, negotiation: SslNegotiation) -> &mut Config {
        self.ssl_negotiation = Some(negotiation);
        self
    }

    /// Sets `pipeline_connect`: send the cleartext password without waiting
    /// for the server to ask (see [`PipelineConnect`]).
    ///
    /// ```
    /// use edgepg_core::config::{Config, PipelineConnect};
    /// let mut config = Config::parse("postgres://u:pw@db.example.com/app")?;
    /// config.pipeline_connect(PipelineConnect::Password);
    /// assert_eq!(config.get_pipeline_connect(), PipelineConnect::Password);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn pipeline_connect(&mut self, mode: PipelineConnect) -> &mut Config {
        self.pipeline_connect = Some(mode);
        self
    }

    /// Sets `channel_binding`.
    pub fn channel_binding(&mut self, mode: ChannelBindingMode) -> &mut Config {
        self.channel_binding = Some(mode);
        self
    }

    /// Sets the time allowed to connect to *each* host; zero means no limit.
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Config {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Turns TCP keepalives on (the default) or off.
    pub fn keepalives(&mut self, on: bool) -> &mut Config {
        self.keepalives = Some(on);
        self
    }

    /// Sets the idle time before the first TCP keepalive probe.
    pub fn keepalives_idle(&mut self, idle: Duration) -> &mut Config {
        self.keepalives_idle = Some(idle);
        self
    }

    /// Sets the time between TCP keepalive probes.
    pub fn keepalives_interval(&mut self, interval: Duration) -> &mut Config {
        self.keepalives_interval = Some(interval);
        self
    }

    /// Sets how many unanswered keepalive probes close the connection.
    pub fn keepalives_count(&mut self, count: u32) -> &mut Config {
        self.keepalives_count = Some(count);
        self
    }

    /// Sets `target_session_attrs`.
    pub fn target_session_attrs(&mut self, attrs: TargetSessionAttrs) -> &mut Config {
        self.target_session_attrs = Some(attrs);
        self
    }

    /// Sets `load_balance_hosts`.
    pub fn load_balance_hosts(&mut self, mode: LoadBalanceHosts) -> &mut Config {
        self.load_balance_hosts = Some(mode);
        self
    }

    /// Sets the pgpass file the transport reads (`passfile`).
    pub fn passfile(&mut self, path: &str) -> &mut Config {
        self.passfile = Some(path.to_owned());
        self
    }

    /// Sets the default timeout of each query (asyncpg's `command_timeout`);
    /// zero means none.
    pub fn command_timeout(&mut self, timeout: Duration) -> &mut Config {
        self.command_timeout = Some(timeout).filter(|t| !t.is_zero());
        self
    }

    /// Sets how many prepared statements each connection caches; 0 turns the
    /// cache off (needed behind pgbouncer in transaction mode).
    pub fn statement_cache_size(&mut self, size: usize) -> &mut Config {
        self.statement_cache_size = size;
        self
    }

    /// Sets how long a cached statement may live; zero means forever.
    pub fn max_cached_statement_lifetime(&mut self, lifetime: Duration) -> &mut Config {
        self.max_cached_statement_lifetime = lifetime;
        self
    }

    /// Sets the longest query text (bytes) that is cached; 0 means no limit.
    pub fn max_cacheable_statement_size(&mut self, size: usize) -> &mut Config {
        self.max_cacheable_statement_size = size;
        self
    }

    /// Adds (or replaces) a server setting sent in the StartupMessage, e.g.
    /// `("search_path", "app")` or `("statement_timeout", "5s")`.
    ///
    /// `user`, `database`, `replication` and `client_encoding` are controlled
    /// by edgepg and ignored here; `application_name` and `options` given here
    /// replace the options of the same name.
    pub fn server_setting(&mut self, name: &str, value: &str) -> &mut Config {
        match self.server_settings.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = value.to_owned(),
            None => self.server_settings.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Sets the largest backend message accepted, in bytes.
    pub fn max_message_size(&mut self, size: usize) -> &mut Config {
        self.max_message_size = size;
        self
    }

    // ---- getters -----------------------------------------------------------

    /// The hosts to try, in order; empty means "the transport's default".
    pub fn get_hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The `hostaddr` values (empty, or one per host).
    pub fn get_hostaddrs(&self) -> &[IpAddr] {
        &self.hostaddrs
    }

    /// The ports as given: none, one for all hosts, or one per host.
    pub fn get_ports(&self) -> &[u16] {
        &self.ports
    }

    /// The port for the host at `index`: its own, the single shared one, or 5432.
    pub fn port_for(&self, index: usize) -> u16 {
        match self.ports.as_slice() {
            [] => DEFAULT_PORT,
            [one] => *one,
            many => many.get(index).copied().unwrap_or(DEFAULT_PORT),
        }
    }

    /// The user name, if one was given.
    pub fn get_user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The user to log in as, or a config error when none was given.
    ///
    /// The user comes from the DSN or [`Config::user`], else `PGUSER` (through
    /// [`Config::apply_env`]); where the platform has one, the native transport
    /// then sets the operating-system user name, as libpq does. Core cannot, so
    /// without any of these it is an error.
    pub fn effective_user(&self) -> Result<&str> {
        self.get_user().ok_or_else(|| Error::config("user", "no user given"))
    }

    /// The database name, if one was given.
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// The database the server will use: the given one, else the user name.
    /// This is what a pgpass lookup must use.
    pub fn effective_dbname(&self) -> Option<&str> {
        self.get_dbname().or_else(|| self.get_user())
    }

    /// The password bytes, if one was given.
    pub fn get_password(&self) -> Option<&[u8]> {
        self.password.as_deref()
    }

    /// The server command-line options (`options`).
    pub fn get_options(&self) -> Option<&str> {
        self.options.as_deref()
    }

    /// `application_name`, if given.
    pub fn get_application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }

    /// `fallback_application_name`, if given.
    pub fn get_fallback_application_name(&self) -> Option<&str> {
        self.fallback_application_name.as_deref()
    }

    /// The effective `sslmode`: as given; else `require` if the legacy
    /// `requiressl=1` was given; else `verify-full` with `sslrootcert=system`;
    /// else `prefer`.
    pub fn get_ssl_mode(&self) -> SslMode {
        if let Some(mode) = self.ssl_mode {
            return mode;
        }
        match (self.require_ssl, &self.ssl_root_cert) {
            (_, Some(SslRootCert::System)) => SslMode::VerifyFull,
            (Some(true), _) => SslMode::Require,
            _ => SslMode::Prefer,
        }
    }

    /// `sslrootcert`, if given.
    pub fn get_ssl_root_cert(&self) -> Option<&SslRootCert> {
        self.ssl_root_cert.as_ref()
    }

    /// `sslcert`, if given.
    pub fn get_ssl_cert(&self) -> Option<&str> {
        self.ssl_cert.as_deref()
    }

    /// `sslkey`, if given.
    pub fn get_ssl_key(&self) -> Option<&str> {
        self.ssl_key.as_deref()
    }

    /// `sslpassword`, if given: the passphrase of an encrypted `sslkey`.
    pub fn get_ssl_password(&self) -> Option<&str> {
        self.ssl_password.as_deref()
    }

    /// `require_auth`, if given; `None` allows every method.
    pub fn get_require_auth(&self) -> Option<&RequireAuth> {
        self.require_auth.as_ref()
    }

    /// `service`, if given (in the DSN, with [`Config::service`], or applied
    /// by [`Config::apply_service`]).
    pub fn get_service(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// `servicefile`, if given.
    pub fn get_servicefile(&self) -> Option<&str> {
        self.servicefile.as_deref()
    }

    /// True once [`Config::apply_service`] has applied the service.
    pub fn is_service_loaded(&self) -> bool {
        self.service_loaded
    }

    /// The effective `sslnegotiation` (default `postgres`).
    pub fn get_ssl_negotiation(&self) -> SslNegotiation {
        self.ssl_negotiation.unwrap_or_default()
    }

    /// The effective `pipeline_connect` (default `disable`).
    pub fn get_pipeline_connect(&self) -> PipelineConnect {
        self.pipeline_connect.unwrap_or_default()
    }

    /// The effective `channel_binding` (default `prefer`).
    pub fn get_channel_binding(&self) -> ChannelBindingMode {
        self.channel_binding.unwrap_or_default()
    }

    /// The per-host connect timeout; `None` means no limit.
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout.filter(|t| !t.is_zero())
    }

    /// Whether TCP keepalives are on (default: on).
    pub fn get_keepalives(&self) -> bool {
        self.keepalives.unwrap_or(true)
    }

    /// The keepalive idle time; `None` means the OS default.
    pub fn get_keepalives_idle(&self) -> Option<Duration> {
        self.keepalives_idle
    }

    /// The keepalive probe interval; `None` means the OS default.
    pub fn get_keepalives_interval(&self) -> Option<Duration> {
        self.keepalives_interval
    }

    /// The keepalive probe count; `None` means the OS default.
    pub fn get_keepalives_count(&self) -> Option<u32> {
        self.keepalives_count
    }

    /// The effective `target_session_attrs` (default `any`).
    pub fn get_target_session_attrs(&self) -> TargetSessionAttrs {
        self.target_session_attrs.unwrap_or_default()
    }

    /// The effective `load_balance_hosts` (default `disable`).
    pub fn get_load_balance_hosts(&self) -> LoadBalanceHosts {
        self.load_balance_hosts.unwrap_or_default()
    }

    /// The pgpass file to read, if given (`passfile`/`PGPASSFILE`); otherwise
    /// the transport uses `~/.pgpass` (`%APPDATA%\postgresql\pgpass.conf` on Windows).
    pub fn get_passfile(&self) -> Option<&str> {
        self.passfile.as_deref()
    }

    /// The default query timeout; `None` means none.
    pub fn get_command_timeout(&self) -> Option<Duration> {
        self.command_timeout
    }

    /// The statement cache size (default 100; 0 = no cache).
    pub fn get_statement_cache_size(&self) -> usize {
        self.statement_cache_size
    }

    /// How long a cached statement lives (default 300 s; zero = forever).
    pub fn get_max_cached_statement_lifetime(&self) -> Duration {
        self.max_cached_statement_lifetime
    }

    /// The longest cacheable query text in bytes (default 15 KiB; 0 = no limit).
    pub fn get_max_cacheable_statement_size(&self) -> usize {
        self.max_cacheable_statement_size
    }

    /// The extra server settings sent at startup.
    pub fn get_server_settings(&self) -> &[(String, String)] {
        &self.server_settings
    }

    /// The largest backend message accepted (default 1 GiB).
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The parameters of the StartupMessage, in order: `user`, `database`,
    /// `application_name` (or `fallback_application_name`), `options`,
    /// `client_encoding=UTF8` (edgepg always speaks UTF-8), then the server
    /// settings. This is what libpq sends, minus `replication`, which edgepg
    /// does not support. Options that are not set are left out, so the server
    /// applies its defaults (e.g. the database named like the user).
    ///
    /// Call [`Config::effective_user`] first: without a user, `user` is
    /// missing here and the server will refuse the connection.
    ///
    /// ```
    /// use edgepg_core::config::Config;
    ///
    /// let mut c = Config::parse("postgres://app@localhost/shop")?;
    /// c.server_setting("search_path", "shop,public");
    /// assert_eq!(
    ///     c.startup_params(),
    ///     [("user", "app"), ("database", "shop"), ("client_encoding", "UTF8"), ("search_path", "shop,public")]
    /// );
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn startup_params(&self) -> Vec<(&str, &str)> {
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(5 + self.server_settings.len());
        if let Some(user) = self.get_user() {
            params.push(("user", user));
        }
        if let Some(db) = self.get_dbname() {
            params.push(("database", db));
        }
        if let Some(app) = self.get_application_name().or(self.get_fallback_application_name()) {
            params.push(("application_name", app));
        }
        if let Some(options) = self.get_options() {
            params.push(("options", options));
        }
        params.push(("client_encoding", "UTF8"));
        for (name, value) in &self.server_settings {
            // Parameter names are case-insensitive on the server.
            let reserved = ["user", "database", "replication", "client_encoding"];
            if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                continue;
            }
            match params.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some(entry) => entry.1 = value,
                None => params.push((name, value)),
            }
        }
        params
    }
}

impl FromStr for Config {
    type Err = Error;

    /// Same as [`Config::parse`].
    fn from_str(s: &str) -> Result<Config> {
        Config::parse(s)
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written out by hand so the password can never reach a log.
        f.debug_struct("Config")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("options", &self.options)
            .field("application_name", &self.application_name)
            .field("fallback_application_name", &self.fallback_application_name)
            .field("ssl_mode", &self.get_ssl_mode())
            .field("ssl_root_cert", &self.ssl_root_cert)
            .field("ssl_cert", &self.ssl_cert)
            .field("ssl_key", &self.ssl_key)
            .field("ssl_password", &self.ssl_password.as_ref().map(|_| "<redacted>"))
            .field("ssl_negotiation", &self.get_ssl_negotiation())
            .field("channel_binding", &self.get_channel_binding())
            .field("pipeline_connect", &self.get_pipeline_connect())
            .field("connect_timeout", &self.get_connect_timeout())
            .field("keepalives", &self.get_keepalives())
            .field("keepalives_idle", &self.keepalives_idle)
            .field("keepalives_interval", &self.keepalives_interval)
            .field("keepalives_count", &self.keepalives_count)
            .field("target_session_attrs", &self.get_target_session_attrs())
            .field("load_balance_hosts", &self.get_load_balance_hosts())
            .field("passfile", &self.passfile)
            .field("require_auth", &self.require_auth.as_ref().map(|r| r.to_string()))
            .field("service", &self.service)
            .field("servicefile", &self.servicefile)
            .field("command_timeout", &self.command_timeout)
            .field("statement_cache_size", &self.statement_cache_size)
            .field("max_cached_statement_lifetime", &self.max_cached_statement_lifetime)
            .field("max_cacheable_statement_size", &self.max_cacheable_statement_size)
            .field("server_settings", &self.server_settings)
            .field("max_message_size", &self.max_message_size)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const SECRET: &str = "Sw0rdf1sh-XYZZY";

    #[test]
    fn debug_redacts_the_password() {
        let mut c = Config::new();
        c.user("u").password(SECRET);
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(SECRET), "{dbg}");
        assert!(dbg.contains("<redacted>"));
        assert!(format!("{:?}", Config::new()).contains("password: None"));
        let alt = format!("{c:#?}");
        assert!(!alt.contains(SECRET));
    }

    #[test]
    fn debug_redacts_the_ssl_password() {
        let c = Config::parse(&format!("sslkey=/k.pem sslpassword={SECRET}")).unwrap();
        assert_eq!(c.get_ssl_password(), Some(SECRET));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(SECRET), "{dbg}");
        assert!(dbg.contains("ssl_password: Some(\"<redacted>\")"), "{dbg}");
    }

    const SERVICES: &str = "[shop]\nhost=svc-host\nport=6001\ndbname=svc-db\nuser=svc-user\n\
                            sslmode=require\nstatement_cache_size=0\napplication_name=svc app\n\
                            host=second host line is ignored\n\
                            [broken]\nport=x\n";

    #[test]
    fn service_fills_what_the_dsn_left_unset_and_beats_the_environment() {
        let mut c = Config::parse("service=shop user=dsn-user port=7000").unwrap();
        assert!(!c.is_service_loaded());
        assert!(c.apply_service("shop", SERVICES, "/s.conf").unwrap());
        assert!(c.is_service_loaded());
        c.apply_env(|k| match k {
            "PGHOST" => Some("env-host".into()),
            "PGDATABASE" => Some("env-db".into()),
            "PGAPPNAME" => Some("env-app".into()),
            "PGCONNECT_TIMEOUT" => Some("9".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("svc-host".into())]);
        assert_eq!(c.get_ports(), &[7000]);
        assert_eq!(c.get_user(), Some("dsn-user"));
        assert_eq!(c.get_dbname(), Some("svc-db"));
        assert_eq!(c.get_application_name(), Some("svc app"));
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        assert_eq!(c.get_statement_cache_size(), 0);
        assert_eq!(c.get_connect_timeout(), Some(Duration::from_secs(9)));
        assert_eq!(c.get_service(), Some("shop"));
    }

    #[test]
    fn service_does_not_override_dsn_values_that_have_defaults() {
        let mut c = Config::parse("statement_cache_size=5 requiressl=0").unwrap();
        c.apply_service("shop", SERVICES, "/s.conf").unwrap();
        assert_eq!(c.get_statement_cache_size(), 5);
        // requiressl counts as an explicit sslmode, as in the environment.
        assert_eq!(c.get_ssl_mode(), SslMode::Prefer);
    }

    #[test]
    fn missing_service_changes_nothing() {
        let mut c = Config::parse("service=nope").unwrap();
        let before = c.clone();
        assert!(!c.apply_service("nope", SERVICES, "/s.conf").unwrap());
        assert_eq!(c, before);
    }

    #[test]
    fn bad_service_values_name_the_service_and_file() {
        let mut c = Config::new();
        let e = c.apply_service("broken", SERVICES, "/s.conf").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("`port`"), "{e}");
        assert!(e.message().contains("service \"broken\" of service file \"/s.conf\""), "{e}");
    }

    #[test]
    fn an_unloaded_service_fails_validation() {
        let mut c = Config::parse("host=h service=shop").unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.message().contains("`service`") && e.message().contains("\"shop\""), "{e}");
        c.apply_service("shop", SERVICES, "/s.conf").unwrap();
        c.validate().unwrap();
        // Setting another service needs loading again.
        c.service("other");
        assert!(c.validate().is_err());
    }

    #[test]
    fn defaults() {
        let c = Config::new();
        assert!(c.get_hosts().is_empty());
        assert_eq!(c.port_for(0), 5432);
        assert_eq!(c.get_ssl_mode(), SslMode::Prefer);
        assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Postgres);
        assert_eq!(c.get_channel_binding(), ChannelBindingMode::Prefer);
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::Any);
        assert_eq!(c.get_load_balance_hosts(), LoadBalanceHosts::Disable);
        assert_eq!(c.get_connect_timeout(), None);
        assert!(c.get_keepalives());
        assert_eq!(c.get_statement_cache_size(), 100);
        assert_eq!(c.get_max_cached_statement_lifetime(), Duration::from_secs(300));
        assert_eq!(c.get_max_cacheable_statement_size(), 15 * 1024);
        assert_eq!(c.get_max_message_size(), 1 << 30);
        assert_eq!(c.get_command_timeout(), None);
        assert_eq!(Config::default(), c);
    }

    #[test]
    fn builder() {
        let mut c = Config::new();
        c.host("a")
            .host("/tmp")
            .port(1)
            .port(2)
            .user("u")
            .dbname("d")
            .ssl_mode(SslMode::VerifyFull)
            .connect_timeout(Duration::from_secs(3))
            .command_timeout(Duration::ZERO)
            .keepalives(false);
        assert_eq!(c.get_hosts(), &[Host::Tcp("a".into()), Host::Unix("/tmp".into())]);
        assert_eq!((c.port_for(0), c.port_for(1), c.port_for(7)), (1, 2, 5432));
        assert_eq!(c.get_connect_timeout(), Some(Duration::from_secs(3)));
        assert_eq!(c.get_command_timeout(), None);
        assert!(!c.get_keepalives());
        c.validate().unwrap();
        c.port(3);
        assert_eq!(c.validate().unwrap_err().kind(), ErrorKind::Config);
    }

    #[test]
    fn port_count_rules() {
        let mut c = Config::new();
        c.port(1).port(2);
        // No host yet: parse-time check passes, full check fails.
        c.check(false).unwrap();
        let e = c.validate().unwrap_err();
        assert!(e.message().contains("`port`"), "{}", e.message());
        c.host("a").host("b");
        c.validate().unwrap();
        let mut c = Config::new();
        c.host("a").hostaddr([127, 0, 0, 1].into()).hostaddr([127, 0, 0, 2].into());
        assert!(c.validate().unwrap_err().message().contains("`hostaddr`"));
    }

    #[test]
    fn ssl_mode_resolution() {
        let mut c = Config::new();
        c.require_ssl = Some(true);
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        c.ssl_mode(SslMode::Disable);
        assert_eq!(c.get_ssl_mode(), SslMode::Disable);

        let mut c = Config::new();
        c.ssl_root_cert(SslRootCert::System);
        assert_eq!(c.get_ssl_mode(), SslMode::VerifyFull);
        c.validate().unwrap();
        c.ssl_mode(SslMode::Require);
        assert!(c.validate().unwrap_err().message().contains("sslrootcert=system"));

        let mut c = Config::new();
        c.ssl_negotiation(SslNegotiation::Direct);
        assert!(c.validate().unwrap_err().message().contains("`sslnegotiation`"));
        c.ssl_mode(SslMode::Require);
        c.validate().unwrap();
    }

    #[test]
    fn effective_user_and_db() {
        let mut c = Config::new();
        let e = c.effective_user().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("no user given"));
        assert_eq!(c.effective_dbname(), None);
        c.user("joe");
        assert_eq!(c.effective_user().unwrap(), "joe");
        assert_eq!(c.effective_dbname(), Some("joe"));
        c.dbname("x");
        assert_eq!(c.effective_dbname(), Some("x"));
    }

    #[test]
    fn startup_params_order_and_overrides() {
        let mut c = Config::new();
        c.user("u")
            .fallback_application_name("fallback")
            .options("-c geqo=off")
            .server_setting("search_path", "a")
            .server_setting("search_path", "b")
            .server_setting("client_encoding", "LATIN1")
            .server_setting("USER", "evil")
            .server_setting("TimeZone", "UTC");
        assert_eq!(
            c.startup_params(),
            [
                ("user", "u"),
                ("application_name", "fallback"),
                ("options", "-c geqo=off"),
                ("client_encoding", "UTF8"),
                ("search_path", "b"),
                ("TimeZone", "UTC"),
            ]
        );
        c.application_name("app").server_setting("application_name", "override");
        let p = c.startup_params();
        assert!(p.contains(&("application_name", "override")));
        assert_eq!(p.iter().filter(|(n, _)| *n == "application_name").count(), 1);
    }
}
