//! Password lookup in the password file (`PGPASSFILE` or `~/.pgpass`).
//!
//! The file format and matching rules live in the core
//! (`edgepg_core::config::pgpass`); this module only finds and reads the file.
//! Like libpq, a file readable by group or others is ignored.

use edgepg_core::config::{pgpass, Config, Host};

pub(crate) fn password_for(host: &Host, port: u16, config: &Config) -> Option<Vec<u8>> {
    let path = match config.get_passfile() {
        Some(p) => std::path::PathBuf::from(p),
        None => std::path::PathBuf::from(std::env::var_os("HOME")?).join(".pgpass"),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&path).ok()?;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return None;
        }
    }
    let contents = std::fs::read_to_string(&path).ok()?;
    let host_name = match host {
        Host::Tcp(h) => h.as_str(),
        // libpq matches socket connections against "localhost" for the default socket directory.
        Host::Unix(dir) => dir.as_str(),
    };
    let user = config.get_user()?;
    let db = config.get_dbname().unwrap_or(user);
    pgpass::lookup(&contents, host_name, port, db, user).map(String::into_bytes)
}
