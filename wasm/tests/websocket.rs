//! The WebSocket transport in headless Chromium, through websockify to the
//! test cluster (started by tests/cluster/start.sh; run by scripts/test.sh).
//!
//! The browser has no environment, so the ports are baked in at compile
//! time from `EDGEPG_TEST_PORT` and `EDGEPG_TEST_WS_PORT`.
#![cfg(target_arch = "wasm32")]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepg_core::client::{CopyOptions, Runtime};
use edgepg_wasm::{Connection, ErrorKind, JsRuntime, SqlState, WsLimits, WsOptions, WsProxy};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn ports() -> (&'static str, &'static str) {
    match (option_env!("EDGEPG_TEST_PORT"), option_env!("EDGEPG_TEST_WS_PORT")) {
        (Some(pg), Some(ws)) => (pg, ws),
        _ => panic!(
            "EDGEPG_TEST_PORT / EDGEPG_TEST_WS_PORT were not set at compile time: \
             source the cluster's env file (tests/cluster/start.sh) or run scripts/test.sh"
        ),
    }
}

/// websockify relays any path; this is the Neon-style `wsProxy` string form.
fn options() -> WsOptions {
    let (_, ws) = ports();
    WsOptions {
        ws_proxy: Some(WsProxy::Url(format!("127.0.0.1:{ws}/v1"))),
        use_secure_websocket: false,
        ..WsOptions::default()
    }
}

fn dsn(user: &str, password: &str, extra: &str) -> String {
    let (pg, _) = ports();
    format!("postgres://{user}:{password}@127.0.0.1:{pg}/edgepg_test?{extra}")
}

/// Fails instead of hanging (a no-hang guard, not a timing assertion).
async fn guard<T>(what: &str, f: impl Future<Output = T>) -> T {
    use futures_util::future::{select, Either};
    let f = std::pin::pin!(f);
    match select(f, JsRuntime.sleep(Duration::from_secs(15))).await {
        Either::Left((out, _)) => out,
        Either::Right(_) => panic!("{what}: no answer within 15 s"),
    }
}

async fn connect(user: &str, password: &str, extra: &str) -> edgepg_wasm::Result<Connection> {
    guard("connect", edgepg_wasm::connect(&dsn(user, password, extra), options())).await
}

#[wasm_bindgen_test]
async fn cleartext_queries_of_several_types() {
    let conn = connect("pw_user", "pw_pw", "").await.unwrap();
    let user: String = conn.fetchval("SELECT current_user::text", &[]).await.unwrap();
    assert_eq!(user, "pw_user");
    let row = conn
        .fetchrow(
            "SELECT $1::int4 + 1 AS i, $2::int8 AS big, 2.5::float8 AS f, true AS b, \
             'héllo'::text AS t, '\\x00ff'::bytea AS raw, NULL::int4 AS n, 12.50::numeric AS d",
            &[&41i32, &(i64::MAX)],
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<i32, _>("i").unwrap(), 42);
    assert_eq!(row.get::<i64, _>("big").unwrap(), i64::MAX);
    assert_eq!(row.get::<f64, _>("f").unwrap(), 2.5);
    assert!(row.get::<bool, _>("b").unwrap());
    assert_eq!(row.get::<&str, _>("t").unwrap(), "héllo");
    assert_eq!(row.get::<Vec<u8>, _>("raw").unwrap(), vec![0, 255]);
    assert_eq!(row.get::<Option<i32>, _>("n").unwrap(), None);
    #[cfg(feature = "decimal")]
    assert_eq!(row.get::<rust_decimal::Decimal, _>("d").unwrap().to_string(), "12.50");
    assert_eq!(row.get::<String, _>("d").unwrap(), "12.50");

    // A result spread over many frames, and many results in one.
    let rows = conn.fetch("SELECT g, repeat('x', 1000) FROM generate_series(1, 2000) g", &[]).await.unwrap();
    assert_eq!(rows.len(), 2000);
    assert_eq!(rows[1999].get::<i32, _>(0).unwrap(), 2000);
    conn.close().await.unwrap();
    assert!(conn.is_closed());
}

#[wasm_bindgen_test]
async fn scram_sha_256() {
    let conn = connect("scram_user", "scram_pw", "").await.unwrap();
    let user: String = conn.fetchval("SELECT current_user::text", &[]).await.unwrap();
    assert_eq!(user, "scram_user");
    conn.close().await.unwrap();
}

#[wasm_bindgen_test]
async fn transaction_with_begin_and_commit_strings() {
    let conn = connect("edgepg", "edgepg_pw", "").await.unwrap();
    conn.execute("CREATE TEMP TABLE wasm_tx (id int4)", &[]).await.unwrap();
    conn.execute("BEGIN", &[]).await.unwrap();
    assert!(conn.is_in_transaction());
    conn.execute("INSERT INTO wasm_tx VALUES ($1)", &[&1i32]).await.unwrap();
    conn.execute("COMMIT", &[]).await.unwrap();
    assert!(!conn.is_in_transaction());
    conn.execute("BEGIN", &[]).await.unwrap();
    conn.execute("INSERT INTO wasm_tx VALUES ($1)", &[&2i32]).await.unwrap();
    conn.execute("ROLLBACK", &[]).await.unwrap();
    let ids: Vec<i32> =
        conn.fetch("SELECT id FROM wasm_tx", &[]).await.unwrap().iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(ids, vec![1]);
    conn.close().await.unwrap();
}

#[wasm_bindgen_test]
async fn notices_reach_log_listeners() {
    let conn = connect("edgepg", "edgepg_pw", "").await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    conn.add_log_listener(move |n| s.lock().unwrap().push(n.message.clone()));
    conn.execute("DO $$ BEGIN RAISE NOTICE 'hello from %', 'wasm'; END $$", &[]).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), vec!["hello from wasm".to_owned()]);
    conn.close().await.unwrap();
}

#[wasm_bindgen_test]
async fn wrong_password_is_an_auth_error() {
    for (user, extra) in [("pw_user", ""), ("pw_user", "pipeline_connect=password"), ("scram_user", "")] {
        let err = connect(user, "wrong-one", extra).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{user} {extra}: {err}");
        assert_eq!(err.code(), Some(SqlState::INVALID_PASSWORD), "{user} {extra}: {err}");
        assert!(!err.to_string().contains("wrong-one"), "password leaked: {err}");
    }
}

#[wasm_bindgen_test]
async fn pipeline_connect_password() {
    let conn = connect("pw_user", "pw_pw", "pipeline_connect=password").await.unwrap();
    let n: i32 = conn.fetchval("SELECT 7", &[]).await.unwrap();
    assert_eq!(n, 7);
    conn.close().await.unwrap();
    // A SCRAM server rejects the pipelined password; the client reconnects normally.
    let conn = connect("scram_user", "scram_pw", "pipeline_connect=password").await.unwrap();
    let user: String = conn.fetchval("SELECT current_user::text", &[]).await.unwrap();
    assert_eq!(user, "scram_user");
    conn.close().await.unwrap();
}

#[wasm_bindgen_test]
async fn unreachable_proxy_is_a_connect_error() {
    // Nothing listens on port 2 (and Chromium does not block it as unsafe).
    let dead = WsOptions { ws_proxy: Some(WsProxy::Url("127.0.0.1:2/v1".into())), ..options() };
    let err = guard("dead proxy", edgepg_wasm::connect(&dsn("pw_user", "pw_pw", ""), dead)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    // A TCP server that is not a WebSocket server (PostgreSQL itself) refuses the upgrade.
    let (pg, _) = ports();
    let not_ws = WsOptions { ws_proxy: Some(WsProxy::Url(format!("127.0.0.1:{pg}/v1"))), ..options() };
    let err =
        guard("non-WebSocket server", edgepg_wasm::connect(&dsn("pw_user", "pw_pw", ""), not_ws)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
}

#[wasm_bindgen_test]
async fn url_function_and_closed_connection() {
    let (_, ws) = ports();
    let opts = WsOptions {
        ws_proxy: Some(WsProxy::Fn(std::rc::Rc::new(move |host: &str, port: u16| {
            format!("ws://127.0.0.1:{ws}/custom?address={host}:{port}")
        }))),
        ..options()
    };
    let conn = guard("connect", edgepg_wasm::connect(&dsn("pw_user", "pw_pw", ""), opts)).await.unwrap();
    let pid = conn.get_server_pid();
    // Kill the backend from another connection: the next query gets a typed error, no hang.
    let admin = connect("edgepg", "edgepg_pw", "").await.unwrap();
    let killed: bool = admin.fetchval("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    assert!(killed);
    let err = guard("query on a killed connection", conn.fetchval::<i32>("SELECT 1", &[])).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Closed | ErrorKind::Io | ErrorKind::Server),
        "unexpected error kind: {err}"
    );
    admin.close().await.unwrap();
}

#[wasm_bindgen_test]
async fn js_clock_and_timers() {
    let rt = JsRuntime;
    let t0 = rt.now();
    rt.sleep(Duration::from_millis(20)).await;
    assert!(rt.now() >= t0 + Duration::from_millis(15));
}

/// Backpressure limits low enough that a few MB trip them many times.
fn small_limits() -> WsOptions {
    WsOptions {
        limits: WsLimits { send_high_water: 64 << 10, send_low_water: 16 << 10, ..WsLimits::default() },
        ..options()
    }
}

#[wasm_bindgen_test]
async fn large_copy_in_and_query_text_under_send_backpressure() {
    let conn = guard("connect", edgepg_wasm::connect(&dsn("edgepg", "edgepg_pw", ""), small_limits())).await.unwrap();
    conn.execute("CREATE TEMP TABLE wasm_bulk (id int4, note text)", &[]).await.unwrap();
    // ~12 MB of COPY data from a source that is always ready.
    const ROWS: usize = 12_000;
    let pad = "y".repeat(1000);
    let lines = (1..=ROWS).map(move |i| Ok::<_, std::io::Error>(format!("{i}\t{pad}\n").into_bytes()));
    let n = guard("copy in", conn.copy_to_table("wasm_bulk", futures_util::stream::iter(lines), &CopyOptions::new()))
        .await
        .unwrap();
    assert_eq!(n, ROWS as u64);
    let row = conn
        .fetchrow("SELECT count(*)::int8, sum(id)::int8, sum(length(note))::int8 FROM wasm_bulk", &[])
        .await
        .unwrap()
        .unwrap();
    let expected_sum = (ROWS * (ROWS + 1) / 2) as i64;
    assert_eq!(row.get::<i64, _>(0).unwrap(), ROWS as i64);
    assert_eq!(row.get::<i64, _>(1).unwrap(), expected_sum);
    assert_eq!(row.get::<i64, _>(2).unwrap(), (ROWS * 1000) as i64);

    // One query text of 3 MB: sent as many frames of at most the high-water mark.
    let text = "z".repeat(3 << 20);
    let len: i32 = guard("big query", conn.fetchval(&format!("SELECT length('{text}')"), &[])).await.unwrap();
    assert_eq!(len, 3 << 20);
    // The connection still works after all that.
    let n: i32 = conn.fetchval("SELECT 7", &[]).await.unwrap();
    assert_eq!(n, 7);
    conn.close().await.unwrap();
}

/// Issue #16: large values must arrive byte-identical. Each value the client
/// sends is hashed by the SERVER (`sha256(...)`) and compared with the
/// client's own hash; each value the server sends is hashed by both. Sizes
/// straddle the transport's 1 MiB frames (a value spans several frames).
#[wasm_bindgen_test]
async fn large_values_arrive_byte_identical_in_both_directions() {
    use sha2::{Digest, Sha256};
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let conn = connect("pw_user", "pw_pw", "").await.unwrap();
    conn.execute("CREATE TEMP TABLE integrity (id int, b bytea, t text)", &[]).await.unwrap();
    for (i, size) in [0usize, (1 << 20) - 1, (1 << 20) + 1, 3 << 20, 16 << 20].into_iter().enumerate() {
        // Not a repeating pattern: a frame sent twice or out of order changes the hash.
        let mut state = 0x9e37_79b9_u32.wrapping_add(i as u32);
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        let ours = hex(&Sha256::digest(&bytes));
        let id = i as i32;
        let theirs: String = guard(
            "insert",
            conn.fetchval("INSERT INTO integrity VALUES ($1, $2) RETURNING encode(sha256(b), 'hex')", &[&id, &bytes]),
        )
        .await
        .unwrap();
        assert_eq!(theirs, ours, "parameter of {size} bytes");
        let row =
            guard("select", conn.fetchrow("SELECT b, encode(sha256(b), 'hex') FROM integrity WHERE id = $1", &[&id]))
                .await
                .unwrap()
                .unwrap();
        let back: Vec<u8> = row.get(0).unwrap();
        assert_eq!(hex(&Sha256::digest(&back)), row.get::<String, _>(1).unwrap(), "result of {size} bytes");
        let copied = guard(
            "copy",
            conn.copy_records_to_table(
                "integrity",
                [(id + 100, bytes.clone())],
                &CopyOptions::default().columns(["id", "b"]),
            ),
        )
        .await
        .unwrap();
        assert_eq!(copied, 1);
        let theirs: String = conn
            .fetchval("SELECT encode(sha256(b), 'hex') FROM integrity WHERE id = $1", &[&(id + 100)])
            .await
            .unwrap();
        assert_eq!(theirs, ours, "binary COPY of {size} bytes");

        // COPY FROM STDIN (text format) and COPY TO STDOUT of a text value of `size` bytes.
        let text: String = bytes.iter().map(|b| char::from(b'a' + b % 26)).collect();
        let text_hash = hex(&Sha256::digest(text.as_bytes()));
        let line = format!("{}\t{text}\n", id + 200);
        let options = CopyOptions::default().columns(["id", "t"]);
        guard("copy in", conn.copy_to_table_from_bytes("integrity", line.into_bytes(), &options)).await.unwrap();
        let theirs: String = conn
            .fetchval(
                "SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex') FROM integrity WHERE id = $1",
                &[&(id + 200)],
            )
            .await
            .unwrap();
        assert_eq!(theirs, text_hash, "COPY FROM STDIN of {size} bytes");
        let mut out = Vec::new();
        let mut stream = guard(
            "copy out",
            conn.copy_from_query("SELECT t FROM integrity WHERE id = $1", &[&(id + 200)], &CopyOptions::default()),
        )
        .await
        .unwrap();
        while let Some(chunk) = guard("copy out chunk", futures_util::StreamExt::next(&mut stream)).await {
            out.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(out.pop(), Some(b'\n'));
        assert_eq!(hex(&Sha256::digest(&out)), text_hash, "COPY TO STDOUT of {size} bytes");
    }
    conn.close().await.unwrap();
}
