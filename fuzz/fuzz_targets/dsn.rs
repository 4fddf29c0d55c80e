//! Feeds arbitrary strings to the libpq URI and key/value DSN parsers
//! (`Config::parse`), then to everything that reads the parsed options:
//! validation, the StartupMessage parameters, `PG*` environment variables
//! and the `.pgpass` matcher. Any panic is a bug: a bad DSN is a Config error.
#![no_main]

use edgepg_core::config::{pgpass, Config, Host};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // `\x01` splits the input: the DSN, then `NAME=value` environment
    // variables, then a `.pgpass` file.
    let mut parts = text.split('\x01');
    let dsn = parts.next().unwrap_or_default();
    let env = parts.next().unwrap_or_default();
    let passfile = parts.next().unwrap_or_default();

    let Ok(mut config) = Config::parse(dsn) else { return };
    // Parsing already checked everything but the port count.
    let _ = config.validate();
    let _ = format!("{config:?}");
    let _ = config.startup_params();
    for i in 0..config.get_hosts().len().max(1) {
        let _ = config.port_for(i);
    }
    let _ = config.effective_user();
    let _ = config.effective_dbname();

    let vars: Vec<(&str, &str)> = env.split('\n').filter_map(|l| l.split_once('=')).collect();
    if config.apply_env(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())).is_ok() {
        // apply_env validates the whole configuration.
        assert!(config.validate().is_ok(), "apply_env accepted a configuration validate() rejects");
    }

    let port = config.port_for(0);
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h) | Host::Unix(h)) => h.clone(),
        None => String::new(),
    };
    let _ = pgpass::lookup(passfile, &host, port, config.get_dbname().unwrap_or(""), config.get_user().unwrap_or(""));
});
