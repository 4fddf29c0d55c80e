//! Completing a [`Config`] from `PG*` environment variables.
//!
//! Core cannot read the environment (there is none on wasm32, and core does no
//! I/O), so the caller passes a lookup function; the native crate passes
//! `|k| std::env::var(k).ok()`.

use super::keys;
use super::Config;
use crate::error::Result;

/// The variables read, in order, and the option each one fills.
const VARS: &[(&str, &str)] = &[
    ("PGHOST", "host"),
    ("PGHOSTADDR", "hostaddr"),
    ("PGPORT", "port"),
    ("PGUSER", "user"),
    ("PGPASSWORD", "password"),
    ("PGDATABASE", "dbname"),
    ("PGOPTIONS", "options"),
    ("PGAPPNAME", "application_name"),
    ("PGSSLMODE", "sslmode"),
    ("PGSSLROOTCERT", "sslrootcert"),
    ("PGSSLCERT", "sslcert"),
    ("PGSSLKEY", "sslkey"),
    ("PGSSLNEGOTIATION", "sslnegotiation"),
    ("PGREQUIREAUTH", "require_auth"),
    ("PGCHANNELBINDING", "channel_binding"),
    ("PGCONNECT_TIMEOUT", "connect_timeout"),
    ("PGTARGETSESSIONATTRS", "target_session_attrs"),
    ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
    ("PGPASSFILE", "passfile"),
];

/// Sets every option that is still unset from its variable, if that variable is
/// set and not empty. Errors name the variable.
pub(crate) fn apply(config: &mut Config, lookup: impl Fn(&str) -> Option<String>) -> Result<()> {
    for &(var, key) in VARS {
        if keys::is_set(config, key) {
            continue;
        }
        match lookup(var) {
            Some(value) if !value.is_empty() => keys::set(config, key, value.as_bytes(), var)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use crate::config::{
        ChannelBindingMode, Config, Host, LoadBalanceHosts, SslMode, SslNegotiation, SslRootCert, TargetSessionAttrs,
    };
    use crate::ErrorKind;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    fn full_env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("PGHOST", "envhost1,envhost2"),
            ("PGPORT", "7001,7002"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envpass"),
            ("PGDATABASE", "envdb"),
            ("PGOPTIONS", "-c geqo=off"),
            ("PGAPPNAME", "envapp"),
            ("PGSSLMODE", "verify-ca"),
            ("PGSSLROOTCERT", "/env/root.pem"),
            ("PGSSLCERT", "/env/cert.pem"),
            ("PGSSLKEY", "/env/key.pem"),
            ("PGSSLNEGOTIATION", "direct"),
            ("PGREQUIREAUTH", "!password"),
            ("PGCHANNELBINDING", "require"),
            ("PGCONNECT_TIMEOUT", "7"),
            ("PGTARGETSESSIONATTRS", "read-only"),
            ("PGLOADBALANCEHOSTS", "random"),
            ("PGPASSFILE", "/env/pgpass"),
        ]
    }

    #[test]
    fn env_fills_everything_unset() {
        let mut c = Config::new();
        c.apply_env(env(&full_env())).unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("envhost1".into()), Host::Tcp("envhost2".into())]);
        assert_eq!(c.get_ports(), &[7001, 7002]);
        assert_eq!(c.get_user(), Some("envuser"));
        assert_eq!(c.get_password(), Some(&b"envpass"[..]));
        assert_eq!(c.get_dbname(), Some("envdb"));
        assert_eq!(c.get_options(), Some("-c geqo=off"));
        assert_eq!(c.get_application_name(), Some("envapp"));
        assert_eq!(c.get_ssl_mode(), SslMode::VerifyCa);
        assert_eq!(c.get_ssl_root_cert(), Some(&SslRootCert::File("/env/root.pem".into())));
        assert_eq!(c.get_ssl_cert(), Some("/env/cert.pem"));
        assert_eq!(c.get_ssl_key(), Some("/env/key.pem"));
        assert_eq!(c.get_ssl_negotiation(), SslNegotiation::Direct);
        assert_eq!(c.get_require_auth().map(|r| r.to_string()).as_deref(), Some("!password"));
        assert_eq!(c.get_channel_binding(), ChannelBindingMode::Require);
        assert_eq!(c.get_connect_timeout(), Some(Duration::from_secs(7)));
        assert_eq!(c.get_target_session_attrs(), TargetSessionAttrs::ReadOnly);
        assert_eq!(c.get_load_balance_hosts(), LoadBalanceHosts::Random);
        assert_eq!(c.get_passfile(), Some("/env/pgpass"));
    }

    #[test]
    fn dsn_wins_over_env() {
        let mut c = Config::parse(
            "postgres://dsnuser:dsnpass@dsnhost:1/dsndb?sslmode=disable&application_name=dsnapp\
             &connect_timeout=0&target_session_attrs=any&options=x&channel_binding=disable\
             &sslnegotiation=postgres&load_balance_hosts=disable&passfile=/p&sslcert=/c&sslkey=/k\
             &sslrootcert=/r&require_auth=md5",
        )
        .unwrap();
        let before = c.clone();
        c.apply_env(env(&full_env())).unwrap();
        assert_eq!(c, before);
        assert_eq!(c.get_connect_timeout(), None);
    }

    #[test]
    fn partial_precedence() {
        let mut c = Config::parse("host=dsnhost user=dsnuser").unwrap();
        c.apply_env(env(&[("PGHOST", "envhost"), ("PGUSER", "envuser"), ("PGDATABASE", "envdb"), ("PGPORT", "6000")]))
            .unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("dsnhost".into())]);
        assert_eq!(c.get_user(), Some("dsnuser"));
        assert_eq!(c.get_dbname(), Some("envdb"));
        assert_eq!(c.get_ports(), &[6000]);
        // The builder counts as set too.
        let mut c = Config::new();
        c.user("builder");
        c.apply_env(env(&[("PGUSER", "envuser")])).unwrap();
        assert_eq!(c.get_user(), Some("builder"));
    }

    #[test]
    fn empty_variables_are_unset() {
        let mut c = Config::new();
        c.apply_env(env(&[("PGHOST", ""), ("PGPASSWORD", ""), ("PGSSLMODE", "")])).unwrap();
        assert_eq!(c, Config::new());
    }

    #[test]
    fn requiressl_blocks_pgsslmode() {
        let mut c = Config::parse("requiressl=1").unwrap();
        c.apply_env(env(&[("PGSSLMODE", "disable")])).unwrap();
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, value) in [
            ("PGPORT", "x"),
            ("PGSSLMODE", "bogus"),
            ("PGCONNECT_TIMEOUT", "soon"),
            ("PGTARGETSESSIONATTRS", "master"),
            ("PGHOSTADDR", "host.name"),
            ("PGCHANNELBINDING", "x"),
            ("PGREQUIREAUTH", "kerberos"),
        ] {
            let e = Config::new().apply_env(env(&[(var, value)])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.message().contains(&format!("`{var}`")), "{var}: {}", e.message());
        }
    }

    #[test]
    fn validates_after_env() {
        // Two DSN ports, one host from the environment.
        let mut c = Config::parse("port=1,2").unwrap();
        let e = c.apply_env(env(&[("PGHOST", "a")])).unwrap_err();
        assert!(e.message().contains("`port`"));
        let mut c = Config::parse("port=1,2").unwrap();
        c.apply_env(env(&[("PGHOST", "a,b")])).unwrap();
        // No hosts at all and two ports cannot work either.
        let mut c = Config::parse("port=1,2").unwrap();
        assert!(c.apply_env(env(&[])).is_err());
    }

    #[test]
    fn env_password_not_in_debug() {
        let mut c = Config::new();
        c.apply_env(env(&[("PGPASSWORD", "Env-Secret-QUUX")])).unwrap();
        assert!(!format!("{c:?}").contains("QUUX"));
    }
}
