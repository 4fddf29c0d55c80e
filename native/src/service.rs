//! Connection service files: finding and reading them. The format and the
//! precedence rules live in the core ([`edgepg_core::config::service`],
//! [`Config::apply_service`]).
//!
//! As in libpq, the service name is `service` (DSN) or else `PGSERVICE`; the
//! files searched, in order, until one has the section:
//!
//! 1. `servicefile` (DSN), else `PGSERVICEFILE`, else `~/.pg_service.conf`
//!    (`%APPDATA%\postgresql\.pg_service.conf` on Windows);
//! 2. `pg_service.conf` in `PGSYSCONFDIR`, else in `/etc/postgresql-common`
//!    (where Debian's and Ubuntu's libpq look).
//!
//! A file that does not exist is skipped (libpq does the same); a service found
//! in neither is a configuration error listing the files searched.

use std::path::{Path, PathBuf};

use edgepg_core::config::Config;
use edgepg_core::{Error, Result};

/// The system-wide directory when `PGSYSCONFDIR` is not set.
const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// Applies the service of `config` (or `PGSERVICE`) from the first file that
/// defines it. `env` looks up environment variables; `home` is the user's home
/// directory (`%APPDATA%` on Windows).
pub(crate) fn apply(config: &mut Config, env: impl Fn(&str) -> Option<String>, home: Option<&Path>) -> Result<()> {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let Some(name) = config.get_service().map(str::to_owned).or_else(|| env("PGSERVICE")) else {
        return Ok(());
    };
    let user_file = match config.get_servicefile().map(str::to_owned).or_else(|| env("PGSERVICEFILE")) {
        Some(file) => Some(PathBuf::from(file)),
        None if cfg!(windows) => home.map(|h| h.join("postgresql").join(".pg_service.conf")),
        None => home.map(|h| h.join(".pg_service.conf")),
    };
    let system_file = env("PGSYSCONFDIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_SYSCONFDIR));
    let system_file = system_file.join("pg_service.conf");

    let mut searched = Vec::new();
    for file in user_file.into_iter().chain(Some(system_file)) {
        let shown = file.display().to_string();
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                if config.apply_service(&name, &text, &shown)? {
                    return Ok(());
                }
                searched.push(format!("\"{shown}\""));
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound) => {
                searched.push(format!("\"{shown}\" (which does not exist)"));
            }
            Err(e) => return Err(Error::config("service", format!("cannot read service file \"{shown}\": {e}"))),
        }
    }
    Err(Error::config("service", format!("definition of service \"{name}\" not found in {}", searched.join(" or "))))
}

/// The home directory the service file lives in.
pub(crate) fn home_dir() -> Option<PathBuf> {
    let var = if cfg!(windows) { "APPDATA" } else { "HOME" };
    std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgepg_core::config::{Host, SslMode};
    use edgepg_core::ErrorKind;
    use std::collections::HashMap;

    struct Dir(PathBuf);

    impl Dir {
        fn new() -> Dir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "edgepg-service-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(dir.join("home")).unwrap();
            std::fs::create_dir_all(dir.join("etc")).unwrap();
            Dir(dir)
        }
        fn write(&self, name: &str, text: &str) -> String {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            path.to_string_lossy().into_owned()
        }
        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn run(dsn: &str, vars: &[(&str, &str)], dir: &Dir) -> Result<Config> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut c = Config::parse(dsn)?;
        apply(&mut c, |k| vars.get(k).cloned(), Some(&dir.path("home")))?;
        Ok(c)
    }

    #[test]
    fn no_service_reads_nothing() {
        let dir = Dir::new();
        let c = run("host=h", &[("PGSYSCONFDIR", "/nonexistent")], &dir).unwrap();
        assert!(!c.is_service_loaded() && c.get_service().is_none());
    }

    #[test]
    fn search_order_and_sources_of_the_name() {
        let dir = Dir::new();
        let etc = dir.path("etc").to_string_lossy().into_owned();
        dir.write("home/.pg_service.conf", "[home]\nhost=from-home\n[both]\nport=1111\n");
        dir.write("etc/pg_service.conf", "[sys]\nhost=from-sys\nsslmode=require\n[both]\nport=2222\n");
        let explicit = dir.write("explicit.conf", "[both]\nport=3333\n");
        let sys = [("PGSYSCONFDIR", etc.as_str())];

        let c = run("service=home", &sys, &dir).unwrap();
        assert_eq!(c.get_hosts(), &[Host::Tcp("from-home".into())]);
        // Not in the user file: the system file.
        let c = run("service=sys", &sys, &dir).unwrap();
        assert_eq!((c.get_hosts()[0].as_str(), c.get_ssl_mode()), ("from-sys", SslMode::Require));
        // The first file that has the section wins.
        assert_eq!(run("service=both", &sys, &dir).unwrap().get_ports(), &[1111]);
        // PGSERVICE names the service; servicefile / PGSERVICEFILE replace ~/.pg_service.conf.
        let c = run("", &[("PGSERVICE", "both"), ("PGSYSCONFDIR", &etc)], &dir).unwrap();
        assert_eq!((c.get_ports(), c.get_service()), (&[1111][..], Some("both")));
        let dsn = format!("service=both servicefile={explicit}");
        assert_eq!(run(&dsn, &sys, &dir).unwrap().get_ports(), &[3333]);
        let env = [("PGSERVICEFILE", explicit.as_str()), ("PGSYSCONFDIR", etc.as_str())];
        assert_eq!(run("service=both", &env, &dir).unwrap().get_ports(), &[3333]);
        // The DSN's service beats PGSERVICE.
        let env = [("PGSERVICE", "home"), ("PGSYSCONFDIR", etc.as_str())];
        assert_eq!(run("service=sys", &env, &dir).unwrap().get_hosts()[0].as_str(), "from-sys");
    }

    #[test]
    fn unknown_service_names_the_files_searched() {
        let dir = Dir::new();
        dir.write("home/.pg_service.conf", "[a]\nhost=x\n");
        let etc = dir.path("etc").to_string_lossy().into_owned();
        let e = run("service=nope", &[("PGSYSCONFDIR", &etc)], &dir).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let m = e.message();
        assert!(m.contains("`service`") && m.contains("\"nope\" not found"), "{m}");
        assert!(m.contains(".pg_service.conf\""), "{m}");
        assert!(m.contains("pg_service.conf\" (which does not exist)"), "{m}");
    }

    #[test]
    fn errors_in_the_file_name_it() {
        let dir = Dir::new();
        let file = dir.write("bad.conf", "[s]\nport=many\n");
        let e = run(&format!("service=s servicefile={file}"), &[("PGSYSCONFDIR", "/nonexistent")], &dir).unwrap_err();
        assert!(e.message().contains("`port`") && e.message().contains(&file), "{e}");
        // A directory where the file should be: a read error, not "not found".
        let e = run("service=s servicefile=/", &[("PGSYSCONFDIR", "/nonexistent")], &dir).unwrap_err();
        assert!(e.message().contains("cannot read service file \"/\""), "{e}");
    }
}
