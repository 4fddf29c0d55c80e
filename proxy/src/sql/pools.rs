//! Connection pools of SQL over HTTP: one per (host, port, database, user,
//! options, password).
//!
//! The password is part of the key (as a salted SHA-256 digest, never kept
//! in clear beyond the pool's own connect function): a request whose password
//! is wrong gets a pool of its own, whose connection attempt fails, and never
//! a connection someone else authenticated. A pool whose connection failed
//! to authenticate is dropped at once, so wrong passwords do not pile up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgepg::config::SslMode;
use edgepg::{Config, Pool, PoolOptions, TokioConnector, TokioRuntime};
use edgepg_core::client::pool::{ConnectFn, Hook};
use edgepg_core::client::{BoxFuture, Connected, Connector, Runtime};
use edgepg_core::config::Host;
use sha2::{Digest, Sha256};

use crate::settings::{Settings, UpstreamTls};

/// What a connection string names, checked and reduced to what the proxy
/// passes on: nothing in it can make the proxy read a local file (`sslkey`,
/// `passfile`, ...) or reach a host other than the one checked against the
/// allow-list (`hostaddr`, several hosts, a Unix socket).
#[derive(Clone)]
pub struct Target {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database.
    pub dbname: String,
    /// Role.
    pub user: String,
    options: Option<String>,
    password: Option<Vec<u8>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// `user@host:port/db`: what a log line may say about a request.
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}:{}/{}", self.user, self.host, self.port, self.dbname)
    }
}

impl Target {
    /// Parses a `Neon-Connection-String`. Errors never repeat the string
    /// (it holds a password).
    pub fn parse(conn: &str) -> Result<Target, String> {
        let config = Config::parse(conn).map_err(|e| {
            // The parser's messages name the part that is wrong, not the
            // password; keep only the first line to be safe.
            format!("invalid connection string: {}", e.message().lines().next().unwrap_or(""))
        })?;
        let host = match config.get_hosts() {
            [Host::Tcp(h)] => h.clone(),
            [] => return Err("the connection string names no host".into()),
            [Host::Unix(_)] => return Err("the connection string names a Unix socket: use a TCP host".into()),
            _ => return Err("the connection string names several hosts: give one".into()),
        };
        if !config.get_hostaddrs().is_empty() {
            return Err("hostaddr is not supported: put the address in the host".into());
        }
        if config.get_ports().len() > 1 {
            return Err("the connection string names several ports: give one".into());
        }
        let user = config.get_user().ok_or("the connection string names no user")?.to_owned();
        let dbname = config.get_dbname().unwrap_or(&user).to_owned();
        Ok(Target {
            host: host.to_ascii_lowercase(),
            port: config.port_for(0),
            dbname,
            user,
            options: config.get_options().map(str::to_owned),
            password: config.get_password().map(<[u8]>::to_vec),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    host: String,
    port: u16,
    dbname: String,
    user: String,
    options: Option<String>,
    password: [u8; 32],
}

struct Entry {
    pool: Pool,
    last_used: Instant,
}

/// Every pool, by key.
pub struct Pools {
    map: Mutex<HashMap<Key, Entry>>,
    /// Makes the password digests useless outside this process.
    salt: [u8; 32],
    pool_size: usize,
    max_pools: usize,
    idle: Option<Duration>,
    connect_timeout: Option<Duration>,
    upstream: UpstreamTls,
}

/// Opens TCP/TLS like the native client, but never reads a password from the
/// proxy's own `~/.pgpass`: a request without a password must not borrow
/// the operator's.
#[derive(Clone, Default)]
struct NoPgpass(TokioConnector);

impl Connector for NoPgpass {
    type Stream = edgepg::Stream;

    fn connect<'a>(
        &'a self,
        host: &'a Host,
        port: u16,
        config: &'a Config,
    ) -> BoxFuture<'a, edgepg::Result<Connected<edgepg::Stream>>> {
        self.0.connect(host, port, config)
    }
}

/// Run on every connection given back: besides the pool's default clean-up
/// (`RESET ALL`, `UNLISTEN *`, `CLOSE ALL`, advisory locks), temporary tables
/// and sequence state go, and so do statements a request `PREPARE`d in SQL
/// (another request could otherwise `EXECUTE` them), so the next request
/// starts clean. Not `DEALLOCATE ALL`: the protocol-level statements of the
/// client's own cache (`from_sql` false) stay prepared for reuse.
const RESET_SQL: &str =
    "SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL; DISCARD TEMP; DISCARD SEQUENCES; \
     DO $$DECLARE n text; BEGIN FOR n IN SELECT name FROM pg_prepared_statements WHERE from_sql LOOP \
     EXECUTE format('DEALLOCATE %I', n); END LOOP; END$$;";

impl Pools {
    /// Empty pools with the settings' limits.
    pub fn new(settings: &Settings) -> Pools {
        let mut salt = [0u8; 32];
        // Without randomness the digest is still a one-way function of the
        // password; the salt only adds defence in depth.
        let _ = getrandom::getrandom(&mut salt);
        Pools {
            map: Mutex::new(HashMap::new()),
            salt,
            pool_size: settings.pool_size,
            max_pools: settings.max_pools,
            idle: settings.idle_timeout,
            connect_timeout: settings.connect_timeout,
            upstream: settings.upstream_tls,
        }
    }

    fn key(&self, t: &Target) -> Key {
        let mut h = Sha256::new();
        h.update(self.salt);
        match &t.password {
            Some(p) => {
                h.update([1]);
                h.update(p);
            }
            None => h.update([0]),
        }
        Key {
            host: t.host.clone(),
            port: t.port,
            dbname: t.dbname.clone(),
            user: t.user.clone(),
            options: t.options.clone(),
            password: h.finalize().into(),
        }
    }

    /// The pool for `target`, made on first use.
    pub async fn get(&self, target: &Target) -> edgepg::Result<Pool> {
        let key = self.key(target);
        {
            let mut map = lock(&self.map);
            if let Some(e) = map.get_mut(&key) {
                e.last_used = Instant::now();
                return Ok(e.pool.clone());
            }
        }
        let pool = self.make(target).await?;
        let (pool, evicted) = {
            let mut map = lock(&self.map);
            let evicted = if map.len() >= self.max_pools && !map.contains_key(&key) {
                // The least recently used pool makes room.
                let oldest = map.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone());
                oldest.and_then(|k| map.remove(&k))
            } else {
                None
            };
            let entry = map.entry(key).or_insert(Entry { pool: pool.clone(), last_used: Instant::now() });
            (entry.pool.clone(), evicted)
        };
        if let Some(e) = evicted {
            tokio::spawn(async move { e.pool.close().await });
        }
        Ok(pool)
    }

    /// Drops the pool of `target` (after its connection failed to
    /// authenticate), unless it has connections that did.
    pub fn forget(&self, target: &Target) {
        let key = self.key(target);
        let mut map = lock(&self.map);
        if map.get(&key).is_some_and(|e| e.pool.get_size() == 0) {
            map.remove(&key);
        }
    }

    /// Closes every pool (shutdown).
    pub async fn close(&self) {
        let pools: Vec<Pool> = lock(&self.map).drain().map(|(_, e)| e.pool).collect();
        for p in pools {
            p.terminate();
        }
    }

    /// How many pools exist (for tests and diagnostics).
    pub fn len(&self) -> usize {
        lock(&self.map).len()
    }

    /// Whether there is no pool.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn make(&self, t: &Target) -> edgepg::Result<Pool> {
        let mut config = Config::new();
        config.host(&t.host).port(t.port).user(&t.user).dbname(&t.dbname).application_name("edgepg-proxy");
        config.text_results(true);
        config.ssl_mode(match self.upstream {
            UpstreamTls::Disable => SslMode::Disable,
            UpstreamTls::Prefer => SslMode::Prefer,
            UpstreamTls::Require => SslMode::Require,
        });
        if let Some(p) = &t.password {
            config.password(p);
        }
        if let Some(o) = &t.options {
            config.options(o);
        }
        if let Some(d) = self.connect_timeout {
            config.connect_timeout(d);
        }
        let runtime: Arc<dyn Runtime> = Arc::new(TokioRuntime);
        let connect: ConnectFn = {
            let runtime = runtime.clone();
            Arc::new(move || {
                let config = config.clone();
                let runtime = runtime.clone();
                Box::pin(async move { edgepg_core::client::connect(&config, &NoPgpass::default(), runtime).await })
            })
        };
        let reset: Hook = Arc::new(|conn| {
            Box::pin(async move {
                conn.execute(RESET_SQL, &[]).await?;
                Ok(())
            })
        });
        let options = PoolOptions {
            min_size: 0,
            max_size: self.pool_size,
            max_inactive_connection_lifetime: self.idle,
            acquire_timeout: self.connect_timeout,
            reset: Some(reset),
            ..Default::default()
        };
        Pool::new(runtime, connect, options).await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings() {
        let t = Target::parse("postgresql://alice:s3cret@DB.example:6543/app?options=-c%20search_path%3Dx").unwrap();
        assert_eq!(t.to_string(), "alice@db.example:6543/app");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert_eq!(Target::parse("postgres://bob@db").unwrap().dbname, "bob");
        let err = |s: &str| Target::parse(s).unwrap_err();
        assert!(err("postgres://a:pw@h1,h2/db").contains("several hosts"));
        assert!(err("postgres://a:pw@%2Ftmp/db").contains("Unix socket"));
        assert!(err("postgres://a:pw@h/db?hostaddr=10.0.0.1").contains("hostaddr"));
        assert!(err("postgres://h/db").contains("no user"));
        let e = err("postgres://a:topsecret@h/db?sslmode=bogus");
        assert!(e.starts_with("invalid connection string") && !e.contains("topsecret"), "{e}");
    }

    #[test]
    fn the_password_is_part_of_the_key() {
        let pools = Pools::new(&Settings::default());
        let a = Target::parse("postgres://u:one@h/db").unwrap();
        let b = Target::parse("postgres://u:two@h/db").unwrap();
        let c = Target::parse("postgres://u@h/db").unwrap();
        assert_eq!(pools.key(&a), pools.key(&a.clone()));
        assert_ne!(pools.key(&a), pools.key(&b));
        assert_ne!(pools.key(&c), pools.key(&Target::parse("postgres://u:x@h/db").unwrap()));
    }
}
