//! Parsing libpq connection strings into a [`Config`].
//!
//! Two forms, as in libpq:
//!
//! * **URI**: `postgres://` or `postgresql://`, then
//!   `[user[:password]@][host][:port][,host[:port]...][/dbname][?key=value&...]`.
//!   Every part is percent-decoded (`%2F` for `/`, `%40` for `@`, ...; `%00` is
//!   rejected). An IPv6 address goes in brackets: `[::1]:5432`. A host that
//!   decodes to a path starting with `/` is a Unix socket directory:
//!   `postgres://%2Fvar%2Frun%2Fpostgresql/db`. Query parameters are the
//!   key/value options below and override the parts before `?`;
//!   `ssl=true` means `sslmode=require` (JDBC compatibility, as libpq). The
//!   credentials end at the *last* `@` before the host list, so an unencoded
//!   `@` in a password still works (libpq stops at the first).
//! * **key/value**: `host=localhost port=5432 dbname=mydb`. Spaces may surround
//!   `=`. A value containing spaces is single-quoted; inside a value, `\`
//!   escapes the next character: `password='it\'s a secret'`.
//!
//! The same option given twice: the last one wins.

use super::keys;
use super::{Config, Host};
use crate::error::{Error, Result};

/// Parses `dsn` (URI or key/value form) into `config`.
pub(crate) fn parse_into(config: &mut Config, dsn: &str) -> Result<()> {
    if let Some(rest) = dsn.strip_prefix("postgresql://").or_else(|| dsn.strip_prefix("postgres://")) {
        parse_uri(config, rest)
    } else {
        parse_key_value(config, dsn)
    }
}

/// The error for a token that follows an unquoted password and does not parse:
/// it is most likely the rest of a password with a space or `&` in it, so it
/// must not be echoed.
fn after_password_error() -> Error {
    Error::config(
        "password",
        "malformed connection string after the password (quote or percent-encode a password with special characters)",
    )
}

// ---- key/value form ---------------------------------------------------------

fn is_space(c: u8) -> bool {
    // C isspace() in the "C" locale, as libpq uses.
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

fn parse_key_value(config: &mut Config, s: &str) -> Result<()> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut after_bare_password = false;
    loop {
        while b.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(());
        }
        // The option name runs to whitespace or '='.
        let start = i;
        while b.get(i).is_some_and(|&c| !is_space(c) && c != b'=') {
            i += 1;
        }
        let key = s.get(start..i).unwrap_or("");
        while b.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        let hide = after_bare_password;
        if b.get(i) != Some(&b'=') {
            if hide {
                return Err(after_password_error());
            }
            return Err(Error::config(key, "missing \"=\" after the option name"));
        }
        if key.is_empty() {
            return Err(Error::config("dsn", "missing option name before \"=\""));
        }
        if hide && !keys::is_known(key) {
            return Err(after_password_error());
        }
        i += 1;
        while b.get(i).is_some_and(|&c| is_space(c)) {
            i += 1;
        }
        let mut value = Vec::new();
        let quoted = b.get(i) == Some(&b'\'');
        if quoted {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(Error::config(key, "unterminated quoted value")),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        if let Some(&c) = b.get(i + 1) {
                            value.push(c);
                        }
                        i += 2;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(&c) = b.get(i) {
                if is_space(c) {
                    break;
                }
                if c == b'\\' {
                    // A trailing backslash escapes nothing and is dropped, as in libpq.
                    if let Some(&next) = b.get(i + 1) {
                        value.push(next);
                    }
                    i += 2;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
        }
        after_bare_password = key == "password" && !quoted;
        keys::set(config, key, &value, key)?;
    }
}

// ---- URI form -----------------------------------------------------------------

fn parse_uri(config: &mut Config, rest: &str) -> Result<()> {
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (before_query, None),
    };
    let hostlist = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            keys::set(config, "user", &percent_decode(user, "user")?, "user")?;
            if let Some(p) = password {
                keys::set(config, "password", &percent_decode(p, "password")?, "password")?;
            }
            hosts
        }
        None => authority,
    };
    parse_uri_hosts(config, hostlist)?;
    if let Some(path) = path {
        keys::set(config, "dbname", &percent_decode(path, "dbname")?, "dbname")?;
    }
    if let Some(query) = query {
        parse_uri_query(config, query)?;
    }
    Ok(())
}

/// `host[:port]` entries separated by commas. Nothing from here is echoed in
/// errors: a password with an unencoded `/` ends the authority early and lands
/// in this part.
fn parse_uri_hosts(config: &mut Config, list: &str) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    let mut empty_hosts = 0usize;
    for entry in list.split(',') {
        let (host, port) = if let Some(bracketed) = entry.strip_prefix('[') {
            let (inside, after) = bracketed
                .split_once(']')
                .ok_or_else(|| Error::config("host", "missing \"]\" after an IPv6 address in the URI"))?;
            let port = match after {
                "" => None,
                a => Some(a.strip_prefix(':').ok_or_else(|| {
                    Error::config("host", "unexpected characters after \"]\" of an IPv6 address in the URI")
                })?),
            };
            if inside.is_empty() {
                return Err(Error::config("host", "empty IPv6 address in the URI"));
            }
            (inside, port)
        } else {
            match entry.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (entry, None),
            }
        };
        let host = decode_utf8(host, "host")?;
        if host.is_empty() {
            empty_hosts += 1;
        } else {
            hosts.push(Host::parse(&host));
        }
        let port = decode_utf8(port.unwrap_or(""), "port")?;
        if port.contains(',') {
            return Err(Error::config("port", "invalid port number in the URI"));
        }
        ports.push(port);
    }
    if !hosts.is_empty() && empty_hosts > 0 {
        return Err(Error::config("host", "empty host name in the URI host list"));
    }
    config.hosts = hosts;
    config.ports =
        if ports.iter().all(|p| p.is_empty()) { Vec::new() } else { keys::parse_ports(&ports.join(","), "port")? };
    Ok(())
}

fn parse_uri_query(config: &mut Config, query: &str) -> Result<()> {
    let mut after_password = false;
    for param in query.split('&') {
        if param.is_empty() {
            continue;
        }
        let hide = after_password;
        let (raw_key, raw_value) = match param.split_once('=') {
            Some(kv) => kv,
            None if hide => return Err(after_password_error()),
            None => return Err(Error::config(&decode_utf8(param, "query")?, "missing \"=\" in URI query parameter")),
        };
        let key = decode_utf8(raw_key, "query")?;
        if hide && key != "ssl" && !keys::is_known(&key) {
            return Err(after_password_error());
        }
        if raw_value.contains('=') {
            if key == "password" {
                // An unencoded '=' in a password: harmless, keep it.
            } else {
                return Err(Error::config(&key, "extra \"=\" in URI query parameter (percent-encode it as %3D)"));
            }
        }
        let value = percent_decode(raw_value, &key)?;
        after_password = key == "password";
        if key == "ssl" {
            // JDBC compatibility, as libpq: `ssl=true` means sslmode=require.
            if value != b"true" {
                return Err(Error::config("ssl", "only ssl=true is accepted (it means sslmode=require)"));
            }
            keys::set(config, "sslmode", b"require", "ssl")?;
            continue;
        }
        keys::set(config, &key, &value, &key)?;
    }
    Ok(())
}

/// Decodes `%XX` escapes. `part` names the URI part in errors; the input is not
/// echoed because it may be (or contain) a password.
pub(crate) fn percent_decode(s: &str, part: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
        let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
            return Err(Error::config(part, "invalid percent-encoded sequence (expected % and two hex digits)"));
        };
        // Both digits are < 16, so this is at most 255.
        let byte = (hi * 16 + lo) as u8;
        if byte == 0 {
            return Err(Error::config(part, "percent-encoded NUL (%00) is not allowed"));
        }
        out.push(byte);
        i += 3;
    }
    Ok(out)
}

fn decode_utf8(s: &str, part: &str) -> Result<String> {
    String::from_utf8(percent_decode(s, part)?).map_err(|_| Error::config(part, "decodes to invalid UTF-8"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{
        ChannelBindingMode, LoadBalanceHosts, SslMode, SslNegotiation, SslRootCert, TargetSessionAttrs,
    };
    use crate::ErrorKind;

    fn parse(s: &str) -> Config {
        Config::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn tcp(h: &str) -> Host {
        Host::Tcp(h.into())
    }

    fn unix(h: &str) -> Host {
        Host::Unix(h.into())
    }

    /// Parses `s` expecting a config error that names `part`; returns the message.
    fn parse_err(s: &str, part: &str) -> String {
        let e = Config::parse(s).expect_err(s);
        assert_eq!(e.kind(), ErrorKind::Config, "{s:?}");
        let m = e.message().to_owned();
        assert!(m.contains(&format!("`{part}`")), "{s:?}: expected part `{part}` in {m:?}");
        m
    }

    #[test]
    fn empty_dsn_is_all_defaults() {
        assert_eq!(parse(""), Config::new());
        assert_eq!(parse("   \t\n"), Config::new());
        assert_eq!(parse("postgres://"), Config::new());
        assert_eq!(parse("postgresql://"), Config::new());
        assert_eq!(parse("postgresql:///"), Config::new());
        assert_eq!(parse("postgresql://?"), Config::new());
    }

    #[test]
    fn uri_table() {
        struct Case {
            uri: &'static str,
            user: Option<&'static str>,
            password: Option<&'static [u8]>,
            hosts: Vec<Host>,
            ports: Vec<u16>,
            dbname: Option<&'static str>,
        }
        let cases = [
            Case {
                uri: "postgresql://localhost",
                user: None,
                password: None,
                hosts: vec![tcp("localhost")],
                ports: vec![],
                dbname: None,
            },
            Case {
                uri: "postgres://u:p@h:5433/db",
                user: Some("u"),
                password: Some(b"p"),
                hosts: vec![tcp("h")],
                ports: vec![5433],
                dbname: Some("db"),
            },
            Case {
                uri: "postgresql://h1:1,h2:2,h3:3/d",
                user: None,
                password: None,
                hosts: vec![tcp("h1"), tcp("h2"), tcp("h3")],
                ports: vec![1, 2, 3],
                dbname: Some("d"),
            },
            Case {
                uri: "postgresql://h1,h2:6000",
                user: None,
                password: None,
                hosts: vec![tcp("h1"), tcp("h2")],
                ports: vec![5432, 6000],
                dbname: None,
            },
            Case {
                uri: "postgresql://[::1]:5433,[2001:db8::2]/x",
                user: None,
                password: None,
                hosts: vec![tcp("::1"), tcp("2001:db8::2")],
                ports: vec![5433, 5432],
                dbname: Some("x"),
            },
            Case {
                uri: "postgresql://[fe80::1%25eth0]",
                user: None,
                password: None,
                hosts: vec![tcp("fe80::1%eth0")],
                ports: vec![],
                dbname: None,
            },
            Case {
                uri: "postgresql://%2Fvar%2Frun%2Fpostgresql/db",
                user: None,
                password: None,
                hosts: vec![unix("/var/run/postgresql")],
                ports: vec![],
                dbname: Some("db"),
            },
            Case {
                uri: "postgresql://%2ftmp:6432",
                user: None,
                password: None,
                hosts: vec![unix("/tmp")],
                ports: vec![6432],
                dbname: None,
            },
            Case {
                uri: "postgresql:///db?host=/tmp&port=5434",
                user: None,
                password: None,
                hosts: vec![unix("/tmp")],
                ports: vec![5434],
                dbname: Some("db"),
            },
            Case {
                uri: "postgresql://:5433/db",
                user: None,
                password: None,
                hosts: vec![],
                ports: vec![5433],
                dbname: Some("db"),
            },
            Case {
                uri: "postgresql://us%65r:p%40ss%3Aw%2Fd@h/d%20b",
                user: Some("user"),
                password: Some(b"p@ss:w/d"),
                hosts: vec![tcp("h")],
                ports: vec![],
                dbname: Some("d b"),
            },
            Case {
                uri: "postgresql://u:a:b@h",
                user: Some("u"),
                password: Some(b"a:b"),
                hosts: vec![tcp("h")],
                ports: vec![],
                dbname: None,
            },
            Case {
                uri: "postgresql://u:p@ss@h",
                user: Some("u"),
                password: Some(b"p@ss"),
                hosts: vec![tcp("h")],
                ports: vec![],
                dbname: None,
            },
            Case {
                uri: "postgresql://:secret@h",
                user: None,
                password: Some(b"secret"),
                hosts: vec![tcp("h")],
                ports: vec![],
                dbname: None,
            },
            Case {
                uri: "postgresql://u@/db",
                user: Some("u"),
                password: None,
                hosts: vec![],
                ports: vec![],
                dbname: Some("db"),
            },
            Case {
                uri: "postgresql://h/?user=q&password=%C3%A9",
                user: Some("q"),
                password: Some("é".as_bytes()),
                hosts: vec![tcp("h")],
                ports: vec![],
                dbname: None,
            },
            Case {
                uri: "postgresql://h/d?dbname=other&&",
                user: None,
                password: None,
                hosts: vec![tcp("h")],
                ports: vec![],
                dbname: Some("other"),
            },
            Case {
                uri: "postgresql://h/?host=a,b&port=1,2",
                user: None,
                password: None,
                hosts: vec![tcp("a"), tcp("b")],
                ports: vec![1, 2],
                dbname: None,
            },
            Case {
                uri: "postgresql://u:p%00x@h",
                user: None,
                password: None,
                hosts: vec![],
                ports: vec![],
                dbname: None,
            },
        ];
        for case in &cases[..cases.len() - 1] {
            let c = parse(case.uri);
            assert_eq!(c.get_user(), case.user, "{}", case.uri);
            assert_eq!(c.get_password(), case.password, "{}", case.uri);
            assert_eq!(c.get_hosts(), case.hosts.as_slice(), "{}", case.uri);
            assert_eq!(c.get_ports(), case.ports.as_slice(), "{}", case.uri);
            assert_eq!(c.get_dbname(), case.dbname, "{}", case.uri);
        }
        // %00 is forbidden, as in libpq.
        parse_err(cases[cases.len() - 1].uri, "password");
    }

    #[test]
    fn uri_query_options() {
        let c = parse(
            "postgresql://h/db?sslmode=verify-full&sslrootcert=system&sslnegotiation=direct\
             &channel_binding=require&connect_timeout=10&application_name=my%20app\
             &fallback_application_name=fb&options=-c%20search_path%3Dx\
             &target_session_attrs=prefer-standby&load_balance_hosts=random\
             &keepalives=1&keepalives_idle=60&sslcert=%2Fc.pem&sslkey=%2Fk.pem\
             &passfile=%2Fpg.pass&hostaddr=10.0.0.1&gssencmode=disable&client_encoding=UTF8\
             &command_timeout=1.5&statement_cache_size=0&max_cached_statement_lifetime=0\
             &max_cacheable_statement_size=1024&max_message_size=65536",
        );
        assert_eq!(c.get_ssl_mode(), SslMode::VerifyFull);
        assert_eq!(c.get_ssl_root_cert(), Some(&SslRootCert::System));
        assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Direct);
        assert_eq!(c.get_channel_binding(), ChannelBindingMode::Require);
        assert_eq!(c.get_connect_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(c.get_application_name(), Some("my app"));
        assert_eq!(c.get_fallback_application_name(), Some("fb"));
        assert_eq!(c.get_options(), Some("-c search_path=x"));
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::PreferStandby);
        assert_eq!(c.get_load_balance_hosts(), LoadBalanceHosts::Random);
        assert!(c.get_keepalives());
        assert_eq!(c.get_keepalives_idle(), Some(Duration::from_secs(60)));
        assert_eq!(c.get_ssl_cert(), Some("/c.pem"));
        assert_eq!(c.get_ssl_key(), Some("/k.pem"));
        assert_eq!(c.get_passfile(), Some("/pg.pass"));
        assert_eq!(c.get_hostaddrs(), &["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]);
        assert_eq!(c.get_command_timeout(), Some(Duration::from_millis(1500)));
        assert_eq!(c.get_statement_cache_size(), 0);
        assert_eq!(c.get_max_cached_statement_lifetime(), Duration::ZERO);
        assert_eq!(c.get_max_cacheable_statement_size(), 1024);
        assert_eq!(c.get_max_message_size(), 65536);

        assert_eq!(parse("postgres://h?ssl=true").get_ssl_mode(), SslMode::Require);
        parse_err("postgres://h?ssl=false", "ssl");
        // Query parameters override the URI parts, and an empty value unsets.
        let c = parse("postgres://u@h:1/d?user=v&port=2&dbname=");
        assert_eq!((c.get_user(), c.get_ports(), c.get_dbname()), (Some("v"), &[2][..], None));
    }

    #[test]
    fn uri_errors_name_the_part() {
        let cases: &[(&str, &str)] = &[
            ("postgres://h:x", "port"),
            ("postgres://h:0", "port"),
            ("postgres://h:65536", "port"),
            ("postgres://h1:1,h2:abc", "port"),
            ("postgres://h:5432%2C1", "port"),
            ("postgres://[::1", "host"),
            ("postgres://[::1]x", "host"),
            ("postgres://[]", "host"),
            ("postgres://a,,b", "host"),
            ("postgres://a,:5433", "host"),
            ("postgres://h%zz", "host"),
            ("postgres://h%2", "host"),
            ("postgres://h%C3", "host"),
            ("postgres://u%g1@h", "user"),
            ("postgres://u:%@h", "password"),
            ("postgres://h/d%", "dbname"),
            ("postgres://h?sslmode=bogus", "sslmode"),
            ("postgres://h?sslmod=require", "sslmod"),
            ("postgres://h?port=1,2", "port"),
            ("postgres://h?connect_timeout=soon", "connect_timeout"),
            ("postgres://h?sslmode", "sslmode"),
            ("postgres://h?sslmode=require=x", "sslmode"),
            ("postgres://h?a%zz=1", "query"),
            ("postgres://h?replication=database", "replication"),
            ("postgres://h?gssencmode=require", "gssencmode"),
            ("postgres://h?sslcrl=x", "sslcrl"),
            ("postgres://h?sslrootcert=system&sslmode=require", "sslmode"),
            ("postgres://h?sslnegotiation=direct", "sslnegotiation"),
            ("postgres://h?client_encoding=LATIN1", "client_encoding"),
            ("postgres://h?statement_cache_size=-1", "statement_cache_size"),
        ];
        for &(uri, part) in cases {
            parse_err(uri, part);
        }
    }

    #[test]
    fn key_value_table() {
        let c = parse("host=localhost port=5432 dbname=mydb user=me");
        assert_eq!(c.get_hosts(), &[tcp("localhost")]);
        assert_eq!(c.get_ports(), &[5432]);
        assert_eq!(c.get_dbname(), Some("mydb"));
        assert_eq!(c.get_user(), Some("me"));

        let cases: &[(&str, &[u8])] = &[
            ("password=simple", b"simple"),
            ("password='a b'", b"a b"),
            (r"password='a b\'c'", b"a b'c"),
            (r"password='back\\slash'", b"back\\slash"),
            (r"password=un\ quoted", b"un quoted"),
            (r"password=trailing\", b"trailing"),
            ("password = 'spaced' ", b"spaced"),
            ("password=\t'tab'", b"tab"),
            ("password=''  password=last", b"last"),
            ("password='=&?'", b"=&?"),
            ("password='\u{e9}t\u{e9}'", "\u{e9}t\u{e9}".as_bytes()),
        ];
        for &(dsn, expected) in cases {
            assert_eq!(parse(dsn).get_password(), Some(expected), "{dsn:?}");
        }
        assert_eq!(parse("password=''").get_password(), None);

        let c = parse("  host = /tmp,db.example.com   port=1,2\nsslmode=require\tapplication_name='my app'");
        assert_eq!(c.get_hosts(), &[unix("/tmp"), tcp("db.example.com")]);
        assert_eq!(c.get_ports(), &[1, 2]);
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        assert_eq!(c.get_application_name(), Some("my app"));
        assert_eq!(parse("host=a host=b").get_hosts(), &[tcp("b")]);
        assert_eq!(parse("requiressl=1").get_ssl_mode(), SslMode::Require);
        assert_eq!(parse("host='' port=''").get_hosts(), &[]);
        // As in libpq, spaces after `=` are skipped, so this host is "port=".
        assert_eq!(parse("host= port=").get_hosts(), &[tcp("port=")]);
    }

    #[test]
    fn key_value_errors_name_the_part() {
        let cases: &[(&str, &str)] = &[
            ("host", "host"),
            ("host localhost", "host"),
            ("=x", "dsn"),
            ("password='unterminated", "password"),
            ("application_name='x", "application_name"),
            ("port=abc", "port"),
            ("port=-1", "port"),
            ("sslmode=always", "sslmode"),
            ("bogus=1", "bogus"),
            ("host=a port=1,2,3", "port"),
            ("host=a hostaddr=1.2.3.4,5.6.7.8", "hostaddr"),
            ("hostaddr=not-an-ip", "hostaddr"),
            ("target_session_attrs=master", "target_session_attrs"),
            ("load_balance_hosts=yes", "load_balance_hosts"),
            ("channel_binding=maybe", "channel_binding"),
            ("sslnegotiation=requiredirect", "sslnegotiation"),
        ];
        for &(dsn, part) in cases {
            parse_err(dsn, part);
        }
    }

    const SECRET: &str = "Hunter2-PLUGH";

    #[test]
    fn password_never_in_errors_or_debug() {
        let dsns = [
            format!("postgres://u:{SECRET}@h/db"),
            format!("postgres://u:{SECRET}%zz@h/db"),
            format!("postgres://u:{SECRET}%00@h"),
            format!("postgres://u:{SECRET}/x@h:5432/db"),
            format!("postgres://u:a/{SECRET}@h/db"),
            format!("postgres://u:{SECRET}:{SECRET}@h:x"),
            format!("postgres://h?password={SECRET}&{SECRET}"),
            format!("postgres://h?password={SECRET}&{SECRET}=1"),
            format!("postgres://h?password={SECRET}=x&sslmode=bad"),
            format!("postgres://h?password={SECRET}%"),
            format!("password={SECRET} {SECRET}"),
            format!("password={SECRET} {SECRET}=x"),
            format!("password='{SECRET}"),
            format!("password='{SECRET}' port=x"),
            format!("password={SECRET}\\ {SECRET} sslmode=bad"),
            format!("user=u password={SECRET} host=a port=1,2,3"),
        ];
        for dsn in &dsns {
            match Config::parse(dsn) {
                Ok(c) => {
                    let dbg = format!("{c:?} {c:#?}");
                    assert!(!dbg.contains(SECRET), "{dsn:?} -> {dbg}");
                }
                Err(e) => {
                    let shown = format!("{e} {e:?}");
                    assert!(!shown.contains(SECRET), "{dsn:?} -> {shown}");
                    // Also no fragment of it.
                    assert!(!shown.contains("PLUGH"), "{dsn:?} -> {shown}");
                }
            }
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2fc%2F", "x").unwrap(), b"a b/c/");
        assert_eq!(percent_decode("%ff", "x").unwrap(), [0xff]);
        assert_eq!(percent_decode("", "x").unwrap(), b"");
        for bad in ["%", "%2", "%g0", "%0g", "a%00b", "%%"] {
            let e = percent_decode(bad, "part").unwrap_err();
            assert!(e.message().contains("`part`"), "{bad}");
        }
        // Non-ASCII input passes through untouched.
        assert_eq!(percent_decode("\u{e9}", "x").unwrap(), "\u{e9}".as_bytes());
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let pieces = ["postgres://", "%", "[", "]", ":", "@", "/", "?", "&", "=", "'", "\\", " ", ",", "\u{e9}", "a"];
        // Every string of up to 4 pieces.
        let mut stack = vec![(String::new(), 0)];
        while let Some((s, depth)) = stack.pop() {
            let _ = Config::parse(&s);
            if depth < 4 {
                for p in pieces {
                    stack.push((format!("{s}{p}"), depth + 1));
                }
            }
        }
    }
}
