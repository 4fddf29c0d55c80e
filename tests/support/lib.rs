//! Support code for edgepg's integration tests.
//!
//! The tests run against a throwaway PostgreSQL cluster started by `tests/cluster/start.sh`
//! (`./scripts/test.sh` does that for you). The script writes everything a test needs to know
//! about the cluster as `EDGEPG_TEST_*` shell variables into `.edgepg-test/env`; [`env()`] reads
//! them. Nothing here uses the edgepg client itself, so a broken client cannot break the
//! harness that is meant to show it is broken.
//!
//! Tests never skip silently: without a cluster, [`env()`] panics and says how to start one.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The panic message when no cluster can be found.
pub const NO_CLUSTER: &str =
    "no test cluster: run ./scripts/test.sh (or tests/cluster/start.sh and source .edgepg-test/env)";

/// Where the test cluster runs and how to reach it, as written by `tests/cluster/start.sh`.
///
/// The cluster has these roles (see README.md, "Testing"): `edgepg`/`edgepg_pw` (superuser,
/// SCRAM), `trust_user` (superuser, no password), `md5_user`/`md5_pw` (MD5), `pw_user`/`pw_pw`
/// (cleartext `password`), `scram_user`/`scram_pw` (SCRAM-SHA-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestEnv {
    /// TCP host the server listens on (`127.0.0.1`).
    pub host: String,
    /// TCP port the server listens on.
    pub port: u16,
    /// Directory holding the server's Unix socket (`.s.PGSQL.<port>`).
    pub socket_dir: String,
    /// Test database (`edgepg_test`).
    pub db: String,
    /// PEM file of the CA that signed the server certificate (valid for `localhost` only).
    pub ca: String,
    /// PEM file of an unrelated CA, for tests that expect verification to fail.
    pub wrong_ca: String,
    /// The cluster's data directory.
    pub data_dir: String,
    /// Directory of the server binaries (`psql`, `pg_ctl`, ...).
    pub pgbin: String,
    /// OS user the server runs as.
    pub server_user: String,
    /// URI for the `edgepg` superuser over TCP, without TLS options.
    pub dsn: String,
}

/// Reads a required variable through `get`.
fn required(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<String, String> {
    match get(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("{name} is missing or empty")),
    }
}

impl TestEnv {
    /// Builds a `TestEnv` from `EDGEPG_TEST_*` variables looked up through `get`.
    ///
    /// Returns a message naming the first variable that is missing or malformed.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// let text = "export EDGEPG_TEST_HOST='127.0.0.1'\nexport EDGEPG_TEST_PORT='5433'\n\
    ///     export EDGEPG_TEST_SOCKET_DIR='/t/sock'\nexport EDGEPG_TEST_DB='edgepg_test'\n\
    ///     export EDGEPG_TEST_CA='/t/ca.crt'\nexport EDGEPG_TEST_WRONG_CA='/t/wrong-ca.crt'\n\
    ///     export EDGEPG_TEST_DATA='/t/data'\nexport EDGEPG_TEST_PGBIN='/usr/lib/postgresql/15/bin'\n\
    ///     export EDGEPG_TEST_SERVER_USER='postgres'\n\
    ///     export EDGEPG_TEST_DSN='postgres://edgepg:edgepg_pw@127.0.0.1:5433/edgepg_test'\n";
    /// let vars = edgepg_tests::parse_env_file(text);
    /// let env = edgepg_tests::TestEnv::from_vars(|k| vars.get(k).cloned()).unwrap();
    /// assert_eq!(env.port, 5433);
    /// assert_eq!(
    ///     env.dsn_for("md5_user", Some("md5_pw"), "sslmode=disable"),
    ///     "postgres://md5_user:md5_pw@127.0.0.1:5433/edgepg_test?sslmode=disable"
    /// );
    /// ```
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<TestEnv, String> {
        let port_text = required(&get, "EDGEPG_TEST_PORT")?;
        let port =
            port_text.parse::<u16>().map_err(|_| format!("EDGEPG_TEST_PORT is not a port number: {port_text:?}"))?;
        Ok(TestEnv {
            host: required(&get, "EDGEPG_TEST_HOST")?,
            port,
            socket_dir: required(&get, "EDGEPG_TEST_SOCKET_DIR")?,
            db: required(&get, "EDGEPG_TEST_DB")?,
            ca: required(&get, "EDGEPG_TEST_CA")?,
            wrong_ca: required(&get, "EDGEPG_TEST_WRONG_CA")?,
            data_dir: required(&get, "EDGEPG_TEST_DATA")?,
            pgbin: required(&get, "EDGEPG_TEST_PGBIN")?,
            server_user: required(&get, "EDGEPG_TEST_SERVER_USER")?,
            dsn: required(&get, "EDGEPG_TEST_DSN")?,
        })
    }

    /// A `postgres://` URI for `user` (with `password`, if any) to this cluster's TCP address
    /// and test database, with `extra` as the query string (e.g. `"sslmode=require"`; empty
    /// for none). User and password are percent-encoded; `extra` is used as given.
    pub fn dsn_for(&self, user: &str, password: Option<&str>, extra: &str) -> String {
        let mut uri = format!("postgres://{}", percent_encode(user));
        if let Some(pw) = password {
            uri.push(':');
            uri.push_str(&percent_encode(pw));
        }
        uri.push_str(&format!("@{}:{}/{}", self.host, self.port, percent_encode(&self.db)));
        let extra = extra.strip_prefix('?').unwrap_or(extra);
        if !extra.is_empty() {
            uri.push('?');
            uri.push_str(extra);
        }
        uri
    }

    /// Path of the server's Unix socket file.
    pub fn socket_path(&self) -> PathBuf {
        PathBuf::from(&self.socket_dir).join(format!(".s.PGSQL.{}", self.port))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Parses the `export NAME='value'` lines that `tests/cluster/start.sh` writes.
///
/// Understands shell quoting as far as the script uses it: single-quoted parts (with the
/// `'\''` idiom for a quote inside), backslash escapes and bare words. Comments and blank
/// lines are skipped; `export` is optional.
///
/// ```
/// let vars = edgepg_tests::parse_env_file("# c\nexport A='x y'\nB='it'\\''s'\n");
/// assert_eq!(vars["A"], "x y");
/// assert_eq!(vars["B"], "it's");
/// ```
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((name, raw)) = line.split_once('=') else {
            continue;
        };
        vars.insert(name.trim().to_string(), shell_unquote(raw));
    }
    vars
}

/// Undoes shell quoting of one word (single quotes and backslashes).
fn shell_unquote(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    out.push(q);
                }
            }
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Where `tests/cluster/start.sh` writes the env file by default: `$EDGEPG_TEST_DIR/env`, else
/// `<repo>/.edgepg-test/env`.
pub fn env_file_path() -> PathBuf {
    match std::env::var_os("EDGEPG_TEST_DIR") {
        Some(dir) => PathBuf::from(dir).join("env"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.edgepg-test/env"),
    }
}

/// Finds the cluster: the process environment first, then the env file.
fn load() -> Result<TestEnv, String> {
    if std::env::var_os("EDGEPG_TEST_PORT").is_some() {
        return TestEnv::from_vars(|k| std::env::var(k).ok())
            .map_err(|e| format!("bad EDGEPG_TEST_* environment: {e}"));
    }
    let path = env_file_path();
    let text = std::fs::read_to_string(&path).map_err(|_| NO_CLUSTER.to_string())?;
    let vars = parse_env_file(&text);
    TestEnv::from_vars(|k| vars.get(k).cloned())
        .map_err(|e| format!("bad test cluster env file {}: {e}; {NO_CLUSTER}", path.display()))
}

/// The test cluster, read once per test binary.
///
/// Reads the `EDGEPG_TEST_*` variables; if they are missing (tests not started by
/// `scripts/test.sh`), loads `<repo>/.edgepg-test/env` if present.
///
/// # Panics
/// With [`NO_CLUSTER`] when neither is there: tests must never silently skip.
///
/// ```no_run
/// let env = edgepg_tests::env();
/// println!("cluster on {}:{}", env.host, env.port);
/// ```
pub fn env() -> &'static TestEnv {
    static ENV: OnceLock<TestEnv> = OnceLock::new();
    ENV.get_or_init(|| load().unwrap_or_else(|msg| panic!("{msg}")))
}

/// A `postgres://` URI for `user` to the test cluster over TCP (see [`TestEnv::dsn_for`]).
///
/// ```no_run
/// let dsn = edgepg_tests::dsn_for("scram_user", Some("scram_pw"), "sslmode=disable");
/// assert!(dsn.starts_with("postgres://scram_user:scram_pw@127.0.0.1:"));
/// ```
pub fn dsn_for(user: &str, password: Option<&str>, extra: &str) -> String {
    env().dsn_for(user, password, extra)
}

/// Runs `sql` with the server's own `psql` over the Unix socket as `trust_user` (a superuser;
/// local connections are trusted for any OS user) in the test database, and returns its
/// output: unaligned, tuples only, one row per line, `|` between columns, without the final
/// newline. Several statements may be given; the rows of each follow one another
/// (PostgreSQL 15+ psql prints every result).
///
/// Use it to set up or inspect server state independently of the client under test.
///
/// # Panics
/// If psql cannot be run or the SQL fails (the message includes psql's stderr).
///
/// ```no_run
/// assert_eq!(edgepg_tests::psql("SELECT 1 + 1"), "2");
/// ```
pub fn psql(sql: &str) -> String {
    let env = env();
    let bin = PathBuf::from(&env.pgbin).join("psql");
    let mut cmd = Command::new(&bin);
    cmd.args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", &env.socket_dir, "-p", &env.port.to_string()])
        .args(["-U", "trust_user", "-d", &env.db, "-c", sql]);
    // The caller's PG* settings (PGSSLMODE, PGOPTIONS, ...) must not change what psql does.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    if !out.status.success() {
        panic!("psql failed ({}) for SQL {sql:?}:\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.strip_suffix('\n').unwrap_or(&stdout).to_string()
}

/// The port of the PgBouncer (transaction mode) that `tests/cluster/pgbouncer.sh start` runs in
/// front of the test cluster: `EDGEPG_TEST_PGBOUNCER_PORT` from the environment, else from the
/// env file.
///
/// # Panics
/// When neither has it: tests must never silently skip.
///
/// ```no_run
/// let port = edgepg_tests::pgbouncer_port();
/// assert!(port > 0);
/// ```
pub fn pgbouncer_port() -> u16 {
    const KEY: &str = "EDGEPG_TEST_PGBOUNCER_PORT";
    let value = std::env::var(KEY).ok().or_else(|| {
        let text = std::fs::read_to_string(env_file_path()).ok()?;
        parse_env_file(&text).remove(KEY)
    });
    match value.as_deref().map(str::parse::<u16>) {
        Some(Ok(port)) => port,
        _ => panic!("no PgBouncer for the test cluster: run ./scripts/test.sh (or tests/cluster/pgbouncer.sh start after start.sh)"),
    }
}

/// Any `EDGEPG_TEST_*` variable the cluster scripts write (e.g. `EDGEPG_TEST_CLIENT_CERTS`, the
/// directory of the client certificates for role `cert_user`, or
/// `EDGEPG_TEST_PGBOUNCER_SELF_SIGNED_CERT`): from the environment, else from the env file.
///
/// # Panics
/// When neither has it: tests must never silently skip.
pub fn cluster_var(key: &str) -> String {
    let value = std::env::var(key).ok().filter(|v| !v.is_empty()).or_else(|| {
        let text = std::fs::read_to_string(env_file_path()).ok()?;
        parse_env_file(&text).remove(key)
    });
    value.unwrap_or_else(|| panic!("{key} is not set by the test cluster scripts; {NO_CLUSTER}"))
}

/// A `postgres://` URI for the `edgepg` role through the test PgBouncer, with `extra` as the
/// query string.
pub fn pgbouncer_dsn(extra: &str) -> String {
    let env = env();
    let mut uri = format!("postgres://edgepg:edgepg_pw@{}:{}/{}", env.host, pgbouncer_port(), env.db);
    if !extra.is_empty() {
        uri.push('?');
        uri.push_str(extra);
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file exactly as start.sh writes it (paths with a quote and a space, to exercise the
    /// quoting the script does).
    const FIXTURE: &str = "# edgepg test cluster (tests/cluster/start.sh); source this file
export EDGEPG_TEST_HOST='127.0.0.1'
export EDGEPG_TEST_PORT='41234'
export EDGEPG_TEST_SOCKET_DIR='/tmp/it'\\''s here/sock'
export EDGEPG_TEST_DB='edgepg_test'
export EDGEPG_TEST_CA='/tmp/x/ca.crt'
export EDGEPG_TEST_WRONG_CA='/tmp/x/wrong-ca.crt'
export EDGEPG_TEST_DATA='/tmp/x/data'
export EDGEPG_TEST_PGBIN='/usr/lib/postgresql/15/bin'
export EDGEPG_TEST_SERVER_USER='postgres'
export EDGEPG_TEST_DSN='postgres://edgepg:edgepg_pw@127.0.0.1:41234/edgepg_test'
";

    fn fixture_env() -> TestEnv {
        let vars = parse_env_file(FIXTURE);
        TestEnv::from_vars(|k| vars.get(k).cloned()).expect("fixture parses")
    }

    #[test]
    fn parses_the_file_start_sh_writes() {
        let env = fixture_env();
        assert_eq!(env.host, "127.0.0.1");
        assert_eq!(env.port, 41234);
        assert_eq!(env.socket_dir, "/tmp/it's here/sock");
        assert_eq!(env.server_user, "postgres");
        assert_eq!(env.dsn, "postgres://edgepg:edgepg_pw@127.0.0.1:41234/edgepg_test");
        assert_eq!(env.socket_path(), PathBuf::from("/tmp/it's here/sock/.s.PGSQL.41234"));
    }

    #[test]
    fn unquotes_like_a_shell() {
        assert_eq!(shell_unquote("'a b'"), "a b");
        assert_eq!(shell_unquote("bare"), "bare");
        assert_eq!(shell_unquote(r"a\ b"), "a b");
        assert_eq!(shell_unquote(r"'it'\''s'"), "it's");
        assert_eq!(shell_unquote("''"), "");
        // An unterminated quote must not panic; it just ends the value.
        assert_eq!(shell_unquote("'open"), "open");
    }

    #[test]
    fn skips_comments_blank_and_malformed_lines() {
        let vars = parse_env_file("\n# export A='no'\nnot an assignment\nB=1\n");
        assert_eq!(vars.len(), 1);
        assert_eq!(vars["B"], "1");
    }

    #[test]
    fn reports_missing_and_bad_variables() {
        let mut vars = parse_env_file(FIXTURE);
        vars.remove("EDGEPG_TEST_CA");
        let err = TestEnv::from_vars(|k| vars.get(k).cloned()).unwrap_err();
        assert!(err.contains("EDGEPG_TEST_CA"), "{err}");

        let mut vars = parse_env_file(FIXTURE);
        vars.insert("EDGEPG_TEST_PORT".into(), "99999".into());
        let err = TestEnv::from_vars(|k| vars.get(k).cloned()).unwrap_err();
        assert!(err.contains("EDGEPG_TEST_PORT"), "{err}");

        let err = TestEnv::from_vars(|_| None).unwrap_err();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn builds_dsns() {
        let env = fixture_env();
        assert_eq!(env.dsn_for("trust_user", None, ""), "postgres://trust_user@127.0.0.1:41234/edgepg_test");
        assert_eq!(
            env.dsn_for("md5_user", Some("md5_pw"), "?sslmode=require"),
            "postgres://md5_user:md5_pw@127.0.0.1:41234/edgepg_test?sslmode=require"
        );
        // Reserved characters in credentials must not end up as URI syntax.
        assert_eq!(
            env.dsn_for("a@b", Some("p:w/d?#%"), "x=1&y=2"),
            "postgres://a%40b:p%3Aw%2Fd%3F%23%25@127.0.0.1:41234/edgepg_test?x=1&y=2"
        );
    }

    #[test]
    fn env_file_defaults_to_the_repo() {
        if std::env::var_os("EDGEPG_TEST_DIR").is_none() {
            let path = env_file_path();
            assert!(path.ends_with(".edgepg-test/env"), "{}", path.display());
            assert!(path.starts_with(env!("CARGO_MANIFEST_DIR")));
        }
    }
}
