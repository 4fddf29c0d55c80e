//! What the proxy is told: command-line flags, optionally completed by a
//! small TOML config file whose keys are the long flag names (`allow`,
//! `listen`, `tls-cert`, ...). A flag given on the command line wins over the
//! file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::allow::AllowList;

/// The default size limit of a request body, a response body and a
/// WebSocket message: 10 MiB, like Neon's proxy.
pub const DEFAULT_MAX_BYTES: usize = 10 << 20;

/// Command-line flags of `edgepg-proxy`.
#[derive(Debug, Parser, Default)]
#[command(
    name = "edgepg-proxy",
    version,
    about = "A self-hosted Neon-compatible gateway to PostgreSQL: a WebSocket relay (GET /v1?address=host:port, /v2) \
             and SQL over HTTP (POST /sql).",
    long_about = "A self-hosted Neon-compatible gateway to PostgreSQL.\n\n\
        WebSocket: GET /v1?address=HOST:PORT or /v2 (target from `address`, else the Host header's name and \
        --host-port) relays binary frames to one TCP connection per WebSocket.\n\
        SQL over HTTP: POST /sql with a Neon-Connection-String header and {query, params} or {queries: [...]} \
        (one transaction), answered with Neon's JSON.\n\n\
        Nothing is reachable until targets are allowed with --allow (or `allow = [...]` in --config). \
        Durations are in seconds; 0 turns a timeout off.",
    after_help = "Example: edgepg-proxy --listen 127.0.0.1:4444 --allow 127.0.0.1:5432 --allow localhost:5432"
)]
pub struct Flags {
    /// A TOML file with any of these options, keys spelt like the long flags
    /// (e.g. `listen = "0.0.0.0:443"`, `allow = ["db:5432"]`, `tls-cert = "cert.pem"`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:4444].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// A PostgreSQL server clients may reach: HOST:PORT, where HOST may be `*.domain` (any sub-domain) and
    /// PORT may be `*`. Repeat for more. Without any, every target is refused.
    #[arg(long, value_name = "HOST:PORT")]
    pub allow: Vec<String>,
    /// Port of the target when a WebSocket request names none (`/v2`: the Host header's name + this port)
    /// [default: 5432].
    #[arg(long, value_name = "PORT")]
    pub host_port: Option<u16>,
    /// PEM certificate chain: serve wss:// and https:// (needs --tls-key).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Largest request body, HTTP response and WebSocket message, in bytes [default: 10485760].
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<usize>,
    /// Most client connections open at once; more wait in the listen backlog [default: 1000].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds a client may take for TLS and the request head (slow clients are cut off) [default: 10].
    #[arg(long, value_name = "SECS")]
    pub handshake_timeout: Option<u64>,
    /// Seconds without traffic after which a WebSocket relay is closed, and an idle pooled PostgreSQL
    /// connection of SQL over HTTP [default: 300]. (A keep-alive HTTP connection that sends nothing is
    /// closed by --handshake-timeout.)
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Seconds one POST /sql may take (body, connecting and every query); it is cancelled and rolled back
    /// after [default: 15].
    #[arg(long, value_name = "SECS")]
    pub query_timeout: Option<u64>,
    /// Seconds to connect to PostgreSQL [default: 10].
    #[arg(long, value_name = "SECS")]
    pub connect_timeout: Option<u64>,
    /// Connections per pool of SQL over HTTP; one pool per (host, port, database, user, password)
    /// [default: 10].
    #[arg(long, value_name = "N")]
    pub pool_size: Option<usize>,
    /// Most pools at once; idle pools are dropped first [default: 100].
    #[arg(long, value_name = "N")]
    pub max_pools: Option<usize>,
    /// TLS from the proxy to PostgreSQL for SQL over HTTP: disable, prefer or require [default: prefer].
    #[arg(long, value_name = "MODE")]
    pub upstream_sslmode: Option<String>,
    /// Seconds running requests get to finish after SIGINT/SIGTERM [default: 30].
    #[arg(long, value_name = "SECS")]
    pub shutdown_timeout: Option<u64>,
    /// Worker threads; 1 runs everything on one thread (lowest latency on a small machine shared with
    /// PostgreSQL) [default: one per CPU].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Log one line per request (never a password or a query's text).
    #[arg(long)]
    pub verbose: bool,
}

/// The config file: the same options as [`Flags`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileSettings {
    listen: Option<SocketAddr>,
    #[serde(default)]
    allow: Vec<String>,
    host_port: Option<u16>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    max_bytes: Option<usize>,
    max_connections: Option<usize>,
    handshake_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    query_timeout: Option<u64>,
    connect_timeout: Option<u64>,
    pool_size: Option<usize>,
    max_pools: Option<usize>,
    upstream_sslmode: Option<String>,
    shutdown_timeout: Option<u64>,
    threads: Option<usize>,
    verbose: Option<bool>,
}

/// TLS from the proxy to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamTls {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it.
    Prefer,
    /// TLS or nothing (the certificate is not verified, as libpq's `require`).
    Require,
}

/// Everything the proxy runs with, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Reachable targets.
    pub allow: AllowList,
    /// Port for `/v2` targets taken from the Host header.
    pub host_port: u16,
    /// Certificate chain and key files, when TLS is on.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Size limit of bodies and WebSocket messages.
    pub max_bytes: usize,
    /// Client connections at once.
    pub max_connections: usize,
    /// TLS handshake + request head.
    pub handshake_timeout: Option<Duration>,
    /// Keep-alive and WebSocket idle limit.
    pub idle_timeout: Option<Duration>,
    /// One POST /sql, whole.
    pub query_timeout: Option<Duration>,
    /// Connecting to PostgreSQL.
    pub connect_timeout: Option<Duration>,
    /// Connections per SQL-over-HTTP pool.
    pub pool_size: usize,
    /// Pools at once.
    pub max_pools: usize,
    /// TLS to PostgreSQL.
    pub upstream_tls: UpstreamTls,
    /// Grace period of a shutdown.
    pub shutdown_timeout: Duration,
    /// Runtime worker threads (`None`: one per CPU; 1: a single-threaded runtime).
    pub threads: Option<usize>,
    /// One log line per request.
    pub verbose: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            listen: SocketAddr::from(([127, 0, 0, 1], 4444)),
            allow: AllowList::default(),
            host_port: 5432,
            tls: None,
            max_bytes: DEFAULT_MAX_BYTES,
            max_connections: 1000,
            handshake_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(300)),
            query_timeout: Some(Duration::from_secs(15)),
            connect_timeout: Some(Duration::from_secs(10)),
            pool_size: 10,
            max_pools: 100,
            upstream_tls: UpstreamTls::Prefer,
            shutdown_timeout: Duration::from_secs(30),
            threads: None,
            verbose: false,
        }
    }
}

fn secs(s: u64) -> Option<Duration> {
    (s > 0).then(|| Duration::from_secs(s))
}

impl Settings {
    /// Resolves flags and the config file they name.
    pub fn from_flags(flags: Flags) -> Result<Settings, String> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let d = Settings::default();
        let mut allow_rules = file.allow;
        allow_rules.extend(flags.allow);
        let allow = AllowList::parse(&allow_rules)?;
        let tls = match (flags.tls_cert.or(file.tls_cert), flags.tls_key.or(file.tls_key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        let upstream_tls = match flags.upstream_sslmode.or(file.upstream_sslmode).as_deref() {
            None | Some("prefer") => UpstreamTls::Prefer,
            Some("disable") => UpstreamTls::Disable,
            Some("require") => UpstreamTls::Require,
            Some(other) => return Err(format!("--upstream-sslmode {other:?}: expected disable, prefer or require")),
        };
        let max_bytes = flags.max_bytes.or(file.max_bytes).unwrap_or(d.max_bytes);
        if max_bytes < 1024 {
            return Err("--max-bytes must be at least 1024".into());
        }
        let timeout = |flag: Option<u64>, file: Option<u64>, default: Option<Duration>| match flag.or(file) {
            Some(s) => secs(s),
            None => default,
        };
        Ok(Settings {
            listen: flags.listen.or(file.listen).unwrap_or(d.listen),
            allow,
            host_port: flags.host_port.or(file.host_port).unwrap_or(d.host_port),
            tls,
            max_bytes,
            max_connections: flags.max_connections.or(file.max_connections).unwrap_or(d.max_connections).max(1),
            handshake_timeout: timeout(flags.handshake_timeout, file.handshake_timeout, d.handshake_timeout),
            idle_timeout: timeout(flags.idle_timeout, file.idle_timeout, d.idle_timeout),
            query_timeout: timeout(flags.query_timeout, file.query_timeout, d.query_timeout),
            connect_timeout: timeout(flags.connect_timeout, file.connect_timeout, d.connect_timeout),
            pool_size: flags.pool_size.or(file.pool_size).unwrap_or(d.pool_size).max(1),
            max_pools: flags.max_pools.or(file.max_pools).unwrap_or(d.max_pools).max(1),
            upstream_tls,
            shutdown_timeout: flags
                .shutdown_timeout
                .or(file.shutdown_timeout)
                .map(Duration::from_secs)
                .unwrap_or(d.shutdown_timeout),
            threads: flags.threads.or(file.threads).filter(|&n| n > 0),
            verbose: flags.verbose || file.verbose.unwrap_or(false),
        })
    }
}

fn read_file(path: &Path) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_allow_lists_add_up() {
        let dir = std::env::temp_dir().join(format!("edgepg-proxy-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("proxy.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:7000\"\nallow = [\"db:5432\"]\nquery-timeout = 3\npool-size = 4\n")
            .unwrap();
        let flags = Flags::try_parse_from([
            "edgepg-proxy",
            "--config",
            file.to_str().unwrap(),
            "--allow",
            "localhost:*",
            "--pool-size",
            "7",
        ])
        .unwrap();
        let s = Settings::from_flags(flags).unwrap();
        assert_eq!(s.listen, "127.0.0.1:7000".parse().unwrap());
        assert!(s.allow.allows("db", 5432) && s.allow.allows("localhost", 1) && !s.allow.allows("db", 5433));
        assert_eq!((s.query_timeout, s.pool_size), (Some(Duration::from_secs(3)), 7));
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let flags = Flags::try_parse_from(["edgepg-proxy", "--config", file.to_str().unwrap()]).unwrap();
        assert!(Settings::from_flags(flags).unwrap_err().contains("lisen"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn nothing_is_allowed_by_default_and_bad_values_are_refused() {
        let s = Settings::from_flags(Flags::try_parse_from(["edgepg-proxy"]).unwrap()).unwrap();
        assert!(!s.allow.allows("127.0.0.1", 5432));
        assert_eq!(s.max_bytes, DEFAULT_MAX_BYTES);
        let bad = |args: &[&str]| {
            let mut v = vec!["edgepg-proxy"];
            v.extend_from_slice(args);
            Settings::from_flags(Flags::try_parse_from(v).unwrap()).unwrap_err()
        };
        assert!(bad(&["--tls-cert", "c.pem"]).contains("--tls-key"));
        assert!(bad(&["--upstream-sslmode", "verify"]).contains("expected"));
        assert!(bad(&["--allow", "db"]).contains("HOST:PORT"));
    }
}
