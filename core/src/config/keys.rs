//! Applies one named option (`sslmode`, `port`, ...) to a [`Config`]: the one
//! place that knows every option name, shared by the DSN parser and the
//! environment.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use super::{
    ChannelBindingMode, Config, Host, LoadBalanceHosts, PipelineConnect, RequireAuth, SslMode, SslNegotiation,
    SslRootCert, TargetSessionAttrs, DEFAULT_MAX_CACHEABLE_STATEMENT_SIZE, DEFAULT_MAX_CACHED_STATEMENT_LIFETIME,
    DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PORT, DEFAULT_STATEMENT_CACHE_SIZE,
};
use crate::error::{Error, Result};

/// libpq options that only configure features edgepg does not have and that
/// are harmless to ignore (GSSAPI/Kerberos details, SSL compression, which no
/// TLS library still does, and SNI, which edgepg always sends).
const IGNORED: &[&str] = &["sslcompression", "sslsni", "gsslib", "krbsrvname", "gssdelegation"];

/// libpq options whose meaning edgepg cannot honour. Ignoring them could
/// weaken security or silently connect somewhere else, so they are errors.
const UNSUPPORTED: &[&str] = &[
    "sslcrl",
    "sslcrldir",
    "sslcertmode",
    "sslkeylogfile",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "requirepeer",
    "tcp_user_timeout",
    "min_protocol_version",
    "max_protocol_version",
    "scram_client_key",
    "scram_server_key",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

/// Every option name [`set`] accepts (including the ignored ones, not the
/// unsupported ones).
const KNOWN: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "fallback_application_name",
    "passfile",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslrootcert",
    "sslmode",
    "sslnegotiation",
    "channel_binding",
    "target_session_attrs",
    "load_balance_hosts",
    "requiressl",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "replication",
    "gssencmode",
    "client_encoding",
    "command_timeout",
    "statement_cache_size",
    "max_cached_statement_lifetime",
    "max_cacheable_statement_size",
    "max_message_size",
    "pipeline_connect",
    "require_auth",
    "service",
    "servicefile",
];

/// True when `key` is an option name edgepg accepts.
pub(crate) fn is_known(key: &str) -> bool {
    KNOWN.contains(&key) || IGNORED.contains(&key)
}

/// True when `key` (an option name) already has a value, so neither a service
/// file nor the environment may override it. Options that always hold a value
/// (the statement cache settings, `max_message_size`) count as set when they
/// differ from their default.
pub(crate) fn is_set(config: &Config, key: &str) -> bool {
    match key {
        "fallback_application_name" => config.fallback_application_name.is_some(),
        "requiressl" => config.ssl_mode.is_some() || config.require_ssl.is_some(),
        "sslpassword" => config.ssl_password.is_some(),
        "require_auth" => config.require_auth.is_some(),
        "service" => config.service.is_some(),
        "servicefile" => config.servicefile.is_some(),
        "keepalives" => config.keepalives.is_some(),
        "keepalives_idle" => config.keepalives_idle.is_some(),
        "keepalives_interval" => config.keepalives_interval.is_some(),
        "keepalives_count" => config.keepalives_count.is_some(),
        "command_timeout" => config.command_timeout.is_some(),
        "statement_cache_size" => config.statement_cache_size != DEFAULT_STATEMENT_CACHE_SIZE,
        "max_cached_statement_lifetime" => {
            config.max_cached_statement_lifetime != DEFAULT_MAX_CACHED_STATEMENT_LIFETIME
        }
        "max_cacheable_statement_size" => config.max_cacheable_statement_size != DEFAULT_MAX_CACHEABLE_STATEMENT_SIZE,
        "max_message_size" => config.max_message_size != DEFAULT_MAX_MESSAGE_SIZE,
        "host" => !config.hosts.is_empty(),
        "hostaddr" => !config.hostaddrs.is_empty(),
        "port" => !config.ports.is_empty(),
        "user" => config.user.is_some(),
        "password" => config.password.is_some(),
        "dbname" => config.dbname.is_some(),
        "options" => config.options.is_some(),
        "application_name" => config.application_name.is_some(),
        "sslmode" => config.ssl_mode.is_some() || config.require_ssl.is_some(),
        "sslrootcert" => config.ssl_root_cert.is_some(),
        "sslcert" => config.ssl_cert.is_some(),
        "sslkey" => config.ssl_key.is_some(),
        "sslnegotiation" => config.ssl_negotiation.is_some(),
        "channel_binding" => config.channel_binding.is_some(),
        "pipeline_connect" => config.pipeline_connect.is_some(),
        "connect_timeout" => config.connect_timeout.is_some(),
        "target_session_attrs" => config.target_session_attrs.is_some(),
        "load_balance_hosts" => config.load_balance_hosts.is_some(),
        "passfile" => config.passfile.is_some(),
        _ => false,
    }
}

/// Sets option `key` to `value`. `part` names the source in errors: the option
/// name for a DSN, the variable name for the environment. An empty value resets
/// the option to "not given". Error messages never include a password.
pub(crate) fn set(config: &mut Config, key: &str, value: &[u8], part: &str) -> Result<()> {
    if key == "password" {
        // Passwords are bytes and are never inspected, so never echoed.
        config.password = if value.is_empty() { None } else { Some(value.to_vec()) };
        return Ok(());
    }
    let value = std::str::from_utf8(value).map_err(|_| Error::config(part, "value is not valid UTF-8"))?;
    let empty = value.is_empty();
    let text = || if empty { None } else { Some(value.to_owned()) };
    match key {
        "host" => config.hosts = if empty { Vec::new() } else { parse_hosts(value, part)? },
        "hostaddr" => config.hostaddrs = if empty { Vec::new() } else { parse_hostaddrs(value, part)? },
        "port" => config.ports = if empty { Vec::new() } else { parse_ports(value, part)? },
        "user" => config.user = text(),
        "dbname" => config.dbname = text(),
        "options" => config.options = text(),
        "application_name" => config.application_name = text(),
        "fallback_application_name" => config.fallback_application_name = text(),
        "passfile" => config.passfile = text(),
        "sslcert" => config.ssl_cert = text(),
        "sslkey" => config.ssl_key = text(),
        // Never echoed: it is a secret.
        "sslpassword" => config.ssl_password = text(),
        "require_auth" => config.require_auth = if empty { None } else { Some(RequireAuth::parse(value, part)?) },
        "service" => {
            config.service = text();
            config.service_loaded = false;
        }
        "servicefile" => config.servicefile = text(),
        "sslrootcert" => config.ssl_root_cert = (!empty).then(|| SslRootCert::parse(value)),
        "sslmode" => config.ssl_mode = parse_enum::<SslMode>(value, part, SslMode::ALL)?,
        "sslnegotiation" => config.ssl_negotiation = parse_enum::<SslNegotiation>(value, part, SslNegotiation::ALL)?,
        "channel_binding" => {
            config.channel_binding = parse_enum::<ChannelBindingMode>(value, part, ChannelBindingMode::ALL)?
        }
        "pipeline_connect" => {
            config.pipeline_connect = parse_enum::<PipelineConnect>(value, part, PipelineConnect::ALL)?
        }
        "target_session_attrs" => {
            config.target_session_attrs = parse_enum::<TargetSessionAttrs>(value, part, TargetSessionAttrs::ALL)?
        }
        "load_balance_hosts" => {
            config.load_balance_hosts = parse_enum::<LoadBalanceHosts>(value, part, LoadBalanceHosts::ALL)?
        }
        "requiressl" => {
            config.require_ssl = match value {
                "" => None,
                "0" => Some(false),
                "1" => Some(true),
                _ => return Err(invalid(part, value, "expected 0 or 1")),
            }
        }
        "connect_timeout" => {
            // libpq: an integer number of seconds; zero or negative means no limit.
            config.connect_timeout = match empty {
                true => None,
                false => Some(Duration::from_secs(parse_int::<i64>(value, part)?.max(0).unsigned_abs())),
            }
        }
        "keepalives" => {
            config.keepalives = (!empty).then(|| parse_int::<i64>(value, part)).transpose()?.map(|v| v != 0)
        }
        "keepalives_idle" => config.keepalives_idle = parse_secs_int(value, part)?,
        "keepalives_interval" => config.keepalives_interval = parse_secs_int(value, part)?,
        "keepalives_count" => config.keepalives_count = (!empty).then(|| parse_int::<u32>(value, part)).transpose()?,
        "replication" => match value {
            "" | "0" | "false" | "off" | "no" => {}
            _ => return Err(Error::config(part, "replication connections are not supported by edgepg")),
        },
        "gssencmode" => match value {
            "" | "disable" | "prefer" => {}
            "require" => return Err(Error::config(part, "GSSAPI encryption is not supported by edgepg")),
            _ => return Err(invalid(part, value, "expected one of: disable, prefer, require")),
        },
        "client_encoding" => {
            let utf8 = ["utf8", "utf-8", "unicode"].iter().any(|e| e.eq_ignore_ascii_case(value));
            if !empty && !utf8 {
                return Err(invalid(part, value, "edgepg always uses UTF8"));
            }
        }
        // edgepg (asyncpg-style) extensions.
        "command_timeout" => config.command_timeout = parse_secs_float(value, part)?.filter(|d| !d.is_zero()),
        "statement_cache_size" => {
            config.statement_cache_size = parse_usize(value, part)?.unwrap_or(DEFAULT_STATEMENT_CACHE_SIZE)
        }
        "max_cached_statement_lifetime" => {
            config.max_cached_statement_lifetime =
                parse_secs_float(value, part)?.unwrap_or(DEFAULT_MAX_CACHED_STATEMENT_LIFETIME)
        }
        "max_cacheable_statement_size" => {
            config.max_cacheable_statement_size =
                parse_usize(value, part)?.unwrap_or(DEFAULT_MAX_CACHEABLE_STATEMENT_SIZE)
        }
        "max_message_size" => {
            let size = parse_usize(value, part)?.unwrap_or(DEFAULT_MAX_MESSAGE_SIZE);
            // Smaller than this cannot even hold a typical ErrorResponse.
            if size < 4096 {
                return Err(Error::config(part, "must be at least 4096 bytes"));
            }
            config.max_message_size = size;
        }
        _ if IGNORED.contains(&key) => {}
        _ if UNSUPPORTED.contains(&key) => {
            return Err(Error::config(part, "this libpq option is not supported by edgepg"));
        }
        _ => {
            return Err(Error::config(
                part,
                "unknown option (server settings go in `options=-c name=value` or Config::server_setting)",
            ))
        }
    }
    Ok(())
}

fn invalid(part: &str, value: &str, expected: &str) -> Error {
    Error::config(part, format!("invalid value {value:?} ({expected})"))
}

fn parse_enum<T>(value: &str, part: &str, all: &[T]) -> Result<Option<T>>
where
    T: FromStr + Copy + std::fmt::Display,
{
    if value.is_empty() {
        return Ok(None);
    }
    // Re-create the error so it names `part` (e.g. PGSSLMODE), not the option.
    value.parse::<T>().map(Some).map_err(|_| {
        let names: Vec<String> = all.iter().map(|v| v.to_string()).collect();
        invalid(part, value, &format!("expected one of: {}", names.join(", ")))
    })
}

/// Integers as libpq reads them: surrounding whitespace allowed.
fn parse_int<T: FromStr>(value: &str, part: &str) -> Result<T> {
    value.trim().parse::<T>().map_err(|_| invalid(part, value, "expected an integer"))
}

fn parse_usize(value: &str, part: &str) -> Result<Option<usize>> {
    (!value.is_empty()).then(|| parse_int::<usize>(value, part)).transpose()
}

fn parse_secs_int(value: &str, part: &str) -> Result<Option<Duration>> {
    (!value.is_empty()).then(|| parse_int::<u64>(value, part).map(Duration::from_secs)).transpose()
}

/// Seconds as asyncpg takes them: a non-negative decimal number such as `2.5`.
fn parse_secs_float(value: &str, part: &str) -> Result<Option<Duration>> {
    if value.is_empty() {
        return Ok(None);
    }
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .map(Some)
        .ok_or_else(|| invalid(part, value, "expected a non-negative number of seconds"))
}

fn parse_hosts(value: &str, part: &str) -> Result<Vec<Host>> {
    value
        .split(',')
        .map(|h| match h {
            "" => Err(Error::config(part, "empty host name in a host list")),
            h => Ok(Host::parse(h)),
        })
        .collect()
}

fn parse_hostaddrs(value: &str, part: &str) -> Result<Vec<IpAddr>> {
    value
        .split(',')
        .map(|a| a.parse::<IpAddr>().map_err(|_| invalid(part, a, "expected a numeric IPv4 or IPv6 address")))
        .collect()
}

/// A comma-separated port list. An empty entry means the default port, as in
/// libpq. Values are not echoed: in a URI a misplaced `:` can put part of the
/// password here.
pub(crate) fn parse_ports(value: &str, part: &str) -> Result<Vec<u16>> {
    let count = value.split(',').count();
    value
        .split(',')
        .enumerate()
        .map(|(i, p)| match p {
            "" => Ok(DEFAULT_PORT),
            p => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                let which = if count == 1 { "the port".to_owned() } else { format!("port {} of {count}", i + 1) };
                Error::config(part, format!("invalid port number: {which} is not a number from 1 to 65535"))
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(key: &str, value: &str) -> Result<Config> {
        let mut c = Config::new();
        set(&mut c, key, value.as_bytes(), key)?;
        Ok(c)
    }

    fn err(key: &str, value: &str) -> String {
        apply(key, value).unwrap_err().message().to_owned()
    }

    #[test]
    fn ports() {
        assert_eq!(apply("port", "5433").unwrap().ports, [5433]);
        assert_eq!(apply("port", "1,,65535").unwrap().ports, [1, 5432, 65535]);
        for bad in ["0", "65536", "-1", "x", " 5432", "5432,abc"] {
            let m = err("port", bad);
            assert!(m.contains("`port`") && m.contains("invalid port"), "{bad}: {m}");
        }
        assert!(err("port", "1,x").contains("port 2 of 2"));
    }

    #[test]
    fn hosts_and_addrs() {
        let c = apply("host", "a,/tmp,::1").unwrap();
        assert_eq!(c.hosts, [Host::Tcp("a".into()), Host::Unix("/tmp".into()), Host::Tcp("::1".into())]);
        assert!(err("host", "a,,b").contains("empty host"));
        let c = apply("hostaddr", "127.0.0.1,::1").unwrap();
        assert_eq!(c.hostaddrs.len(), 2);
        assert!(err("hostaddr", "localhost").contains("`hostaddr`"));
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(apply("connect_timeout", "10").unwrap().get_connect_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(apply("connect_timeout", "0").unwrap().get_connect_timeout(), None);
        assert_eq!(apply("connect_timeout", "-5").unwrap().connect_timeout, Some(Duration::ZERO));
        assert!(err("connect_timeout", "1.5").contains("`connect_timeout`"));
        assert!(!apply("keepalives", "0").unwrap().get_keepalives());
        assert_eq!(apply("keepalives_idle", "30").unwrap().keepalives_idle, Some(Duration::from_secs(30)));
        assert_eq!(apply("keepalives_count", "4").unwrap().keepalives_count, Some(4));
        assert!(err("keepalives_count", "-1").contains("`keepalives_count`"));
        assert_eq!(apply("command_timeout", "2.5").unwrap().command_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(apply("command_timeout", "0").unwrap().command_timeout, None);
        for bad in ["-1", "nan", "inf", "x"] {
            assert!(err("command_timeout", bad).contains("`command_timeout`"), "{bad}");
        }
        assert_eq!(apply("statement_cache_size", "0").unwrap().statement_cache_size, 0);
        assert_eq!(apply("max_cached_statement_lifetime", "0").unwrap().max_cached_statement_lifetime, Duration::ZERO);
        assert_eq!(apply("max_cacheable_statement_size", "100").unwrap().max_cacheable_statement_size, 100);
        assert_eq!(apply("max_message_size", "1048576").unwrap().max_message_size, 1 << 20);
        assert!(err("max_message_size", "10").contains("at least"));
    }

    #[test]
    fn enums_name_the_part() {
        let mut c = Config::new();
        let e = set(&mut c, "sslmode", b"bogus", "PGSSLMODE").unwrap_err();
        assert!(e.message().contains("`PGSSLMODE`") && e.message().contains("verify-full"), "{}", e.message());
        for (key, value) in [
            ("sslnegotiation", "direct"),
            ("channel_binding", "require"),
            ("target_session_attrs", "standby"),
            ("load_balance_hosts", "random"),
        ] {
            apply(key, value).unwrap();
            assert!(err(key, "nope").contains(&format!("`{key}`")));
        }
    }

    #[test]
    fn legacy_and_special_options() {
        assert_eq!(apply("requiressl", "1").unwrap().get_ssl_mode(), SslMode::Require);
        assert_eq!(apply("requiressl", "0").unwrap().get_ssl_mode(), SslMode::Prefer);
        assert!(err("requiressl", "yes").contains("`requiressl`"));
        apply("replication", "false").unwrap();
        assert!(err("replication", "database").contains("not supported"));
        apply("gssencmode", "prefer").unwrap();
        apply("gssencmode", "disable").unwrap();
        assert!(err("gssencmode", "require").contains("not supported"));
        assert!(err("gssencmode", "x").contains("invalid value"));
        apply("client_encoding", "UTF8").unwrap();
        apply("client_encoding", "utf-8").unwrap();
        assert!(err("client_encoding", "LATIN1").contains("UTF8"));
        apply("sslcompression", "1").unwrap();
        assert!(err("sslcrl", "/crl.pem").contains("not supported"));
        assert!(err("sslcertmode", "require").contains("not supported"));
        assert!(err("bogus_key", "1").contains("unknown option"));
    }

    #[test]
    fn empty_value_resets() {
        let mut c = Config::new();
        set(&mut c, "user", b"a", "user").unwrap();
        set(&mut c, "user", b"", "user").unwrap();
        assert_eq!(c.user, None);
        set(&mut c, "password", b"x", "password").unwrap();
        set(&mut c, "password", b"", "password").unwrap();
        assert_eq!(c.password, None);
        set(&mut c, "statement_cache_size", b"5", "x").unwrap();
        set(&mut c, "statement_cache_size", b"", "x").unwrap();
        assert_eq!(c.statement_cache_size, DEFAULT_STATEMENT_CACHE_SIZE);
    }

    #[test]
    fn known_list_matches_set() {
        for key in KNOWN.iter().chain(IGNORED) {
            let mut c = Config::new();
            set(&mut c, key, b"", key).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert!(is_known(key));
        }
        for key in UNSUPPORTED {
            assert!(!is_known(key));
            assert!(err(key, "x").contains("not supported"), "{key}");
        }
        assert!(!is_known("sslmod"));
    }

    #[test]
    fn non_utf8() {
        let mut c = Config::new();
        set(&mut c, "password", &[0xff, 0x00, 0x41], "password").unwrap();
        assert_eq!(c.password.as_deref(), Some(&[0xff, 0x00, 0x41][..]));
        let e = set(&mut c, "user", &[0xff], "user").unwrap_err();
        assert!(e.message().contains("UTF-8"));
    }
}
