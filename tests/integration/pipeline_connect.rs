//! `pipeline_connect=password`: the cleartext password goes out with the
//! StartupMessage. Against the real cluster (cleartext, wrong password, and the
//! fallback for SCRAM, MD5 and trust) and against a scripted server that checks
//! the password really arrives before it is asked for.

use std::time::Duration;

use edgepg::{ErrorKind, SqlState};
use edgepg_tests::dsn_for;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PIPELINE: &str = "sslmode=disable&pipeline_connect=password";

async fn whoami(dsn: &str) -> edgepg::Result<String> {
    let conn = edgepg::connect(dsn).await?;
    let user: String = conn.fetchval("SELECT current_user::text", &[]).await?;
    conn.close().await?;
    Ok(user)
}

#[tokio::test]
async fn cleartext_user_connects_with_a_pipelined_password() {
    assert_eq!(whoami(&dsn_for("pw_user", Some("pw_pw"), PIPELINE)).await.unwrap(), "pw_user");
    // Over TLS too (the password is pipelined after the TLS handshake).
    let tls = dsn_for("pw_user", Some("pw_pw"), "sslmode=require&pipeline_connect=password");
    assert_eq!(whoami(&tls).await.unwrap(), "pw_user");
}

#[tokio::test]
async fn wrong_pipelined_password_is_an_auth_error_28p01() {
    let secret = "Wr0ng-Pipelined";
    let err = whoami(&dsn_for("pw_user", Some(secret), PIPELINE)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.code(), Some(SqlState::INVALID_PASSWORD), "{err}");
    assert!(!format!("{err} {err:?}").contains(secret), "password leaked: {err:?}");
}

#[tokio::test]
async fn other_methods_fall_back_to_a_normal_connection() {
    for (user, pw) in [("scram_user", "scram_pw"), ("md5_user", "md5_pw"), ("trust_user", "unused")] {
        assert_eq!(whoami(&dsn_for(user, Some(pw), PIPELINE)).await.unwrap(), user, "{user}");
    }
    // The fallback still checks the password.
    let err = whoami(&dsn_for("scram_user", Some("nope"), PIPELINE)).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::INVALID_PASSWORD), "{err}");
}

/// Reads one frontend message (`untagged` for the StartupMessage) and returns its bytes.
async fn read_message(s: &mut tokio::net::TcpStream, untagged: bool) -> Vec<u8> {
    let mut head = vec![0u8; if untagged { 4 } else { 5 }];
    s.read_exact(&mut head).await.unwrap();
    let len = u32::from_be_bytes(head[head.len() - 4..].try_into().unwrap()) as usize;
    let mut body = vec![0u8; len - 4];
    s.read_exact(&mut body).await.unwrap();
    head.extend_from_slice(&body);
    head
}

#[tokio::test]
async fn the_password_is_sent_before_the_server_asks() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let startup = read_message(&mut s, true).await;
        assert_eq!(&startup[4..8], &[0, 3, 0, 0], "not a v3 StartupMessage");
        // Nothing sent yet: the password must arrive on its own (no-hang guard).
        let password = tokio::time::timeout(Duration::from_secs(10), read_message(&mut s, false))
            .await
            .expect("the password was not pipelined");
        assert_eq!(password, b"p\0\0\0\x0csecret1\0");
        // AuthenticationCleartextPassword, AuthenticationOk, BackendKeyData, ReadyForQuery.
        s.write_all(b"R\0\0\0\x08\0\0\0\x03R\0\0\0\x08\0\0\0\0K\0\0\0\x0c\0\0\0\x07\0\0\0\x09Z\0\0\0\x05I")
            .await
            .unwrap();
        // The client must not send the password a second time: next comes Terminate.
        let next = read_message(&mut s, false).await;
        assert_eq!(next[0], b'X', "expected Terminate, got {next:?}");
    });
    let dsn = format!("postgres://someone:secret1@127.0.0.1:{port}/db?{PIPELINE}");
    let conn = edgepg::connect(&dsn).await.unwrap();
    assert_eq!(conn.get_server_pid(), 7);
    conn.close().await.unwrap();
    server.await.unwrap();
}

// ------------------------------------------------------------ lazily started connections

/// A TCP relay in front of the test server that counts flights: a flight is a
/// client→server burst (data after the server last spoke, or the first data).
struct Relay {
    port: u16,
    flights: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Relay {
    async fn start() -> Relay {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Arc;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let flights = Arc::new(AtomicUsize::new(0));
        let counter = flights.clone();
        let env = edgepg_tests::env();
        let target = format!("{}:{}", env.host, env.port);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let server = tokio::net::TcpStream::connect(&target).await.unwrap();
                let flights = counter.clone();
                // true: the client spoke last.
                let up = Arc::new(AtomicBool::new(false));
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up2 = up.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if !up.swap(true, Ordering::SeqCst) {
                            flights.fetch_add(1, Ordering::SeqCst);
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        up2.store(false, Ordering::SeqCst);
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Relay { port, flights }
    }

    fn dsn(&self, user: &str, password: &str) -> String {
        let env = edgepg_tests::env();
        format!("postgres://{user}:{password}@127.0.0.1:{}/{}?{PIPELINE}", self.port, env.db)
    }

    fn take(&self) -> usize {
        self.flights.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn connect_and_first_query_are_one_flight() {
    let relay = Relay::start().await;
    let conn = edgepg::connect_pipelined(&relay.dsn("pw_user", "pw_pw")).await.unwrap();
    assert!(conn.is_starting() || conn.get_server_pid() != 0);
    // A statement-cache miss with a result: Parse/Describe/Bind/Execute ride with the startup.
    let rows = conn.fetch("SELECT current_user::text AS u, 41 + 1 AS n, '\\x0102'::bytea AS b", &[]).await.unwrap();
    assert_eq!(relay.take(), 1, "startup + password + first query");
    assert_eq!(rows[0].get::<String, _>(0).unwrap(), "pw_user");
    assert_eq!(rows[0].get::<i32, _>(1).unwrap(), 42);
    assert_eq!(rows[0].get::<Vec<u8>, _>(2).unwrap(), vec![1, 2]);
    assert!(!conn.is_starting());
    assert_ne!(conn.get_server_pid(), 0);
    assert!(conn.get_setting("server_version").is_some());
    // The statement was cached by the first flight: the second call is one
    // flight too, with binary results.
    let rows = conn.fetch("SELECT current_user::text AS u, 41 + 1 AS n, '\\x0102'::bytea AS b", &[]).await.unwrap();
    assert_eq!(relay.take(), 1);
    assert_eq!(rows[0].get::<i32, _>(1).unwrap(), 42);
    assert_eq!(rows[0].get::<Vec<u8>, _>(2).unwrap(), vec![1, 2]);
    assert_eq!(conn.statement_cache_len(), 1);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn value_arguments_ride_in_the_first_flight() {
    use edgepg::types::Value;
    let relay = Relay::start().await;
    let conn = edgepg::connect_pipelined(&relay.dsn("pw_user", "pw_pw")).await.unwrap();
    let args: [&(dyn edgepg::types::ToSql + Sync); 3] = [&Value::Int4(41), &Value::Text("x".into()), &Value::Null];
    let row = conn.fetchrow("SELECT $1::int4 + 1, $2 || 'y', $3::int8 IS NULL", &args).await.unwrap().unwrap();
    assert_eq!(relay.take(), 1);
    assert_eq!(row.get::<Value, _>(0).unwrap(), Value::Int4(42));
    assert_eq!(row.get::<Value, _>(1).unwrap(), Value::Text("xy".into()));
    assert_eq!(row.get::<Value, _>(2).unwrap(), Value::Bool(true));
    conn.close().await.unwrap();
}

#[tokio::test]
async fn typed_arguments_take_two_flights_but_work() {
    let relay = Relay::start().await;
    let conn = edgepg::connect_pipelined(&relay.dsn("pw_user", "pw_pw")).await.unwrap();
    let n: i64 = conn.fetchval("SELECT $1::int8 + 1", &[&41i64]).await.unwrap();
    assert_eq!(n, 42);
    assert_eq!(relay.take(), 2, "startup + Parse/Describe, then Bind/Execute");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn wrong_password_fails_every_queued_query_with_28p01() {
    let secret = "Wr0ng-Lazy";
    let conn = edgepg::connect_pipelined(&dsn_for("pw_user", Some(secret), PIPELINE)).await.unwrap();
    let (a, b) = tokio::join!(conn.fetch("SELECT 1", &[]), conn.execute("SELECT 2", &[]));
    for err in [a.unwrap_err(), b.unwrap_err()] {
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        assert_eq!(err.code(), Some(SqlState::INVALID_PASSWORD), "{err}");
        assert!(!format!("{err} {err:?}").contains(secret), "password leaked: {err:?}");
    }
    // Later calls too, not "connection closed".
    let err = conn.fetch("SELECT 3", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::INVALID_PASSWORD), "{err}");
    assert!(conn.is_closed());
    // ready() reports it as well.
    let conn = edgepg::connect_pipelined(&dsn_for("pw_user", Some(secret), PIPELINE)).await.unwrap();
    assert_eq!(conn.ready().await.unwrap_err().code(), Some(SqlState::INVALID_PASSWORD));
}

#[tokio::test]
async fn lazily_started_connections_reconnect_without_pipelining_for_other_methods() {
    for (user, pw) in [("scram_user", "scram_pw"), ("md5_user", "md5_pw"), ("trust_user", "unused")] {
        let conn = edgepg::connect_pipelined(&dsn_for(user, Some(pw), PIPELINE)).await.unwrap();
        let (me, two) = tokio::join!(
            conn.fetchval::<String>("SELECT current_user::text", &[]),
            conn.fetchval::<i32>("SELECT 2", &[])
        );
        assert_eq!(me.unwrap(), user);
        assert_eq!(two.unwrap(), 2);
        assert_ne!(conn.get_server_pid(), 0);
        conn.close().await.unwrap();
    }
    // The reconnect still checks the password.
    let conn = edgepg::connect_pipelined(&dsn_for("scram_user", Some("nope"), PIPELINE)).await.unwrap();
    let err = conn.fetch("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::INVALID_PASSWORD), "{err}");
}

#[tokio::test]
async fn a_dropped_first_query_leaves_the_connection_usable() {
    let conn = edgepg::connect_pipelined(&dsn_for("pw_user", Some("pw_pw"), PIPELINE)).await.unwrap();
    {
        let fut = conn.fetch("SELECT pg_sleep(0.05)", &[]);
        let mut fut = std::pin::pin!(fut);
        // Poll once (the request is queued with the startup), then drop it.
        assert!(futures_util::poll!(fut.as_mut()).is_pending());
    }
    let n: i32 = tokio::time::timeout(Duration::from_secs(20), conn.fetchval("SELECT 7", &[])).await.unwrap().unwrap();
    assert_eq!(n, 7);
    assert!(!conn.is_in_transaction());
    conn.close().await.unwrap();
}

#[tokio::test]
async fn first_flight_text_results_decode_like_binary_ones() {
    use edgepg::types::Value;
    let sql = "SELECT true, 1::int2, 2::int4, 3::int8, 1.5::float4, 2.25::float8, 12.340::numeric, 'é'::text, \
               '\\xdead'::bytea, '{\"a\": [1]}'::jsonb, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, \
               '2024-02-29'::date, '13:14:15.5'::time, '2024-02-29 13:14:15.123456'::timestamp, \
               '2024-02-29 13:14:15.5+02'::timestamptz, '1 year 2 mons 3 days 04:05:06.5'::interval, \
               ARRAY[1, NULL, 3]::int4[], ARRAY['a b', 'c\"d', NULL]::text[], '{{1,2},{3,4}}'::int8[], \
               '2000-01-01 00:00:00 BC'::timestamp, 'infinity'::date, '-1 days -00:00:01'::interval, \
               '10.1.2.3/8'::inet, 'NaN'::float8, '1999-12-31 23:59:59.999999-08:30'::timestamptz, \
               '00:00:00+05:30'::timetz";
    // The same query on a normal connection (binary results) and as the first flight (text).
    let normal = edgepg::connect(&dsn_for("pw_user", Some("pw_pw"), "sslmode=disable")).await.unwrap();
    let expected = normal.fetchrow(sql, &[]).await.unwrap().unwrap();
    let lazy = edgepg::connect_pipelined(&dsn_for("pw_user", Some("pw_pw"), PIPELINE)).await.unwrap();
    let got = lazy.fetchrow(sql, &[]).await.unwrap().unwrap();
    assert_eq!(got.len(), expected.len());
    for i in 0..got.len() {
        let (a, b) = (got.get::<Value, _>(i).unwrap(), expected.get::<Value, _>(i).unwrap());
        // Debug, not ==: NaN is not equal to itself.
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "column {i}");
    }
    normal.close().await.unwrap();
    lazy.close().await.unwrap();
}

#[tokio::test]
async fn a_pool_fetch_on_an_empty_pool_is_one_flight() {
    let relay = Relay::start().await;
    let pool =
        edgepg::create_pool(&relay.dsn("pw_user", "pw_pw"), edgepg::PoolOptions { min_size: 0, ..Default::default() })
            .await
            .unwrap();
    let rows = pool.fetch("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(rows[0].get::<i32, _>(0).unwrap(), 1);
    assert_eq!(relay.take(), 1, "connect + query");
    pool.close().await.unwrap();
    // min_size > 0 still checks the password when the pool is created.
    let err =
        edgepg::create_pool(&relay.dsn("pw_user", "nope"), edgepg::PoolOptions { min_size: 1, ..Default::default() })
            .await
            .unwrap_err();
    assert_eq!(err.code(), Some(SqlState::INVALID_PASSWORD), "{err}");
}
