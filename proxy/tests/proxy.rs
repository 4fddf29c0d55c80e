//! edgepg-proxy against the real test cluster: SQL over HTTP and the
//! WebSocket relay, with the bad inputs of issue #11. HTTP and WebSocket are
//! spoken by hand here (raw HTTP/1.1, tungstenite's client, PostgreSQL
//! messages written byte by byte) so that every byte on the wire is the
//! test's; Neon's own driver runs against the proxy in js/test/proxy.test.mjs.

use std::net::SocketAddr;
use std::time::Duration;

use edgepg_proxy::allow::AllowList;
use edgepg_proxy::server::Proxy;
use edgepg_proxy::settings::Settings;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

fn pg() -> &'static edgepg_tests::TestEnv {
    edgepg_tests::env()
}

/// Starts a proxy on a free port that allows the cluster; `tweak` adjusts
/// the settings first.
async fn start(tweak: impl FnOnce(&mut Settings)) -> SocketAddr {
    let mut s = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        allow: AllowList::parse(&[format!("{}:{}", pg().host, pg().port)]).unwrap(),
        ..Settings::default()
    };
    tweak(&mut s);
    let proxy = Proxy::bind(s).await.unwrap();
    let addr = proxy.local_addr();
    tokio::spawn(proxy.run(std::future::pending()));
    addr
}

fn conn_string(user: &str, password: &str) -> String {
    format!("postgresql://{user}:{password}@{}:{}/{}", pg().host, pg().port, pg().db)
}

struct Reply {
    status: u16,
    headers: String,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).await.unwrap();
    // A body the server refuses early may not be read at all.
    let _ = s.write_all(body).await;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("no HTTP response: {:?}", String::from_utf8_lossy(raw));
    });
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers.split(' ').nth(1).unwrap().parse().unwrap();
    Reply { status, headers: headers.to_ascii_lowercase(), body: raw[split + 4..].to_vec() }
}

async fn sql(addr: SocketAddr, conn: &str, extra: &[(&str, &str)], body: Value) -> Reply {
    let mut headers = vec![("Neon-Connection-String", conn)];
    headers.extend_from_slice(extra);
    request(addr, "POST", "/sql", &headers, body.to_string().as_bytes()).await
}

async fn admin() -> edgepg::Connection {
    edgepg::connect(&pg().dsn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_query_types_and_modes() {
    let addr = start(|_| {}).await;
    let conn = conn_string("edgepg", "edgepg_pw");
    let q = json!({
        "query": "SELECT $1::int4 AS i, $2::text AS t, $3::int8 AS big, $4::bool AS b, $5::jsonb AS j, \
                  $6::int4[] AS arr, NULL::text AS n, 1.5::float8 AS f, 'NaN'::float8 AS nan, 2.50::numeric AS num, \
                  '2024-01-02 03:04:05+00'::timestamptz AS ts, '\\x0102'::bytea AS by",
        "params": [7, "x\"y", "9007199254740993", true, {"a": [1, "b"]}, [1, null, 3]]
    });
    let r = sql(addr, &conn, &[], q.clone()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.headers.contains("access-control-allow-origin: *"));
    let v = r.json();
    assert_eq!(v["command"], "SELECT");
    assert_eq!(v["rowCount"], 1);
    assert_eq!(v["rowAsArray"], false);
    let row = &v["rows"][0];
    assert_eq!(row["i"], 7);
    assert_eq!(row["t"], "x\"y");
    assert_eq!(row["big"], "9007199254740993");
    assert_eq!(row["b"], true);
    assert_eq!(row["j"], json!({"a": [1, "b"]}));
    assert_eq!(row["arr"], json!([1, null, 3]));
    assert_eq!(row["n"], Value::Null);
    assert_eq!(row["f"], 1.5);
    assert_eq!(row["nan"], "NaN");
    assert_eq!(row["num"], "2.50");
    assert_eq!(row["by"], "\\x0102");
    assert!(row["ts"].as_str().unwrap().starts_with("2024-01-02"), "{}", row["ts"]);
    let fields = v["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 12);
    assert_eq!(
        fields[0],
        json!({"name": "i", "dataTypeID": 23, "tableID": 0, "columnID": 0, "dataTypeSize": 4, "dataTypeModifier": -1, "format": "text"})
    );
    assert_eq!(fields[2]["dataTypeID"], 20);

    // Raw text and array mode: every value as the server printed it.
    let r = sql(addr, &conn, &[("Neon-Raw-Text-Output", "true"), ("Neon-Array-Mode", "true")], q).await;
    let v = r.json();
    assert_eq!(v["rowAsArray"], true);
    assert_eq!(v["rows"][0][0], "7");
    assert_eq!(v["rows"][0][3], "t");
    assert_eq!(v["rows"][0][5], "{1,NULL,3}");
    assert_eq!(v["rows"][0][6], Value::Null);

    // No rows: the fields are still there; DML has a row count; DDL has none.
    let v = sql(addr, &conn, &[], json!({"query": "SELECT 1 AS one WHERE false"})).await.json();
    assert_eq!((v["rows"].as_array().unwrap().len(), v["fields"][0]["name"].clone()), (0, json!("one")));
    assert_eq!(v["rowCount"], 0);
    let v = sql(addr, &conn, &[], json!({"query": "CREATE TEMP TABLE t (x int)"})).await.json();
    assert_eq!((v["command"].clone(), v["rowCount"].clone()), (json!("CREATE"), Value::Null));
    // The pool resets a connection before reuse: the temp table is gone.
    let r = sql(addr, &conn, &[], json!({"query": "SELECT * FROM t"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("42P01")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_transactions_commit_roll_back_and_take_options() {
    let addr = start(|_| {}).await;
    let conn = conn_string("edgepg", "edgepg_pw");
    let admin = admin().await;
    admin.execute("DROP TABLE IF EXISTS proxy_tx; CREATE TABLE proxy_tx (id int PRIMARY KEY)", &[]).await.unwrap();
    let batch = |ids: &[i32]| {
        let queries: Vec<Value> = ids
            .iter()
            .map(|i| json!({"query": "INSERT INTO proxy_tx VALUES ($1) RETURNING id", "params": [i]}))
            .collect();
        json!({ "queries": queries })
    };
    let v = sql(addr, &conn, &[], batch(&[1, 2])).await.json();
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    assert_eq!(v["results"][1]["rows"][0]["id"], 2);
    assert_eq!(v["results"][0]["command"], "INSERT");
    // The third statement fails (duplicate key): the whole batch rolls back.
    let r = sql(addr, &conn, &[], batch(&[3, 4, 1])).await;
    assert_eq!(r.status, 400);
    let e = r.json();
    assert_eq!(e["code"], "23505");
    assert_eq!(e["constraint"], "proxy_tx_pkey");
    assert_eq!(e["table"], "proxy_tx");
    assert_eq!(e["severity"], "ERROR");
    assert!(e["detail"].as_str().unwrap().contains("(id)=(1)"));
    let n: i64 = admin.fetchval("SELECT count(*) FROM proxy_tx", &[]).await.unwrap();
    assert_eq!(n, 2);

    let opts = [
        ("Neon-Batch-Isolation-Level", "Serializable"),
        ("Neon-Batch-Read-Only", "true"),
        ("Neon-Batch-Deferrable", "true"),
    ];
    let q = json!({"queries": [
        {"query": "SHOW transaction_isolation"},
        {"query": "SHOW transaction_read_only", "arrayMode": true},
        {"query": "SHOW transaction_deferrable"}
    ]});
    let r = sql(addr, &conn, &opts, q).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.headers.contains("neon-batch-isolation-level: serializable"), "{}", r.headers);
    let v = r.json();
    assert_eq!(v["results"][0]["rows"][0]["transaction_isolation"], "serializable");
    assert_eq!(v["results"][1]["rows"][0][0], "on");
    assert_eq!(v["results"][1]["rowAsArray"], true);
    assert_eq!(v["results"][2]["rows"][0]["transaction_deferrable"], "on");
    let r = sql(addr, &conn, &[("Neon-Batch-Read-Only", "true")], batch(&[9])).await;
    assert_eq!(r.json()["code"], "25006");
    let r = sql(addr, &conn, &[("Neon-Batch-Isolation-Level", "Chaos")], batch(&[9])).await;
    assert_eq!(r.status, 400);
    assert_eq!(sql(addr, &conn, &[], json!({"queries": []})).await.json(), json!({"results": []}));
    admin.execute("DROP TABLE proxy_tx", &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_bad_input_gets_clear_errors_and_the_proxy_keeps_serving() {
    let addr = start(|s| s.max_bytes = 64 * 1024).await;
    let conn = conn_string("edgepg", "edgepg_pw");
    let post = |headers: Vec<(&'static str, String)>, body: Vec<u8>| async move {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        request(addr, "POST", "/sql", &h, &body).await
    };
    let cs = |s: &str| vec![("Neon-Connection-String", s.to_owned())];

    let r = post(cs(&conn), b"{\"query\": ".to_vec()).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("not valid JSON"));
    let r = post(vec![], br#"{"query":"SELECT 1"}"#.to_vec()).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("Neon-Connection-String"));
    let r = post(cs("postgresql://u:hunter2@[bad"), br#"{"query":"SELECT 1"}"#.to_vec()).await;
    assert_eq!(r.status, 400);
    assert!(!String::from_utf8_lossy(&r.body).contains("hunter2"));
    let elsewhere = format!("postgresql://edgepg:edgepg_pw@10.255.255.1:{}/x", pg().port);
    let r = post(cs(&elsewhere), br#"{"query":"SELECT 1"}"#.to_vec()).await;
    assert_eq!(r.status, 403);
    let other_port = format!("postgresql://edgepg:edgepg_pw@{}:1/x", pg().host);
    assert_eq!(post(cs(&other_port), br#"{"query":"SELECT 1"}"#.to_vec()).await.status, 403);
    let big = format!(r#"{{"query":"SELECT $1","params":["{}"]}}"#, "x".repeat(70 * 1024));
    assert_eq!(post(cs(&conn), big.into_bytes()).await.status, 413);
    // A response over the limit: 507.
    let r = post(cs(&conn), br#"{"query":"SELECT repeat('x', 100000)"}"#.to_vec()).await;
    assert_eq!(r.status, 507);
    let r = request(addr, "GET", "/sql", &[], b"").await;
    assert_eq!(r.status, 405);
    let r = request(addr, "OPTIONS", "/sql", &[("Origin", "https://app.example")], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.headers.contains("neon-connection-string") && r.headers.contains("access-control-max-age: 86400"));
    let r = post(
        vec![("Neon-Connection-String", conn.clone()), ("Authorization", "Bearer x".into())],
        br#"{"query":"SELECT 1"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("JWT"));
    // After all that, a good request still works.
    let r = post(cs(&conn), br#"{"query":"SELECT 42 AS n"}"#.to_vec()).await;
    assert_eq!(r.json()["rows"][0]["n"], 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_wrong_password_never_borrows_an_authenticated_connection() {
    let addr = start(|_| {}).await;
    for (user, good) in [("scram_user", "scram_pw"), ("pw_user", "pw_pw"), ("md5_user", "md5_pw")] {
        let q = json!({"query": "SELECT current_user AS u"});
        // Warm the pool with the right password...
        let r = sql(addr, &conn_string(user, good), &[], q.clone()).await;
        assert_eq!(r.json()["rows"][0]["u"], user);
        // ...then a wrong one must fail, not ride on the pooled connection.
        for _ in 0..2 {
            let r = sql(addr, &conn_string(user, "wrong"), &[], q.clone()).await;
            assert_eq!(r.status, 400, "{user}");
            assert_eq!(r.json()["code"], "28P01", "{user}: {}", String::from_utf8_lossy(&r.body));
        }
        let r = sql(addr, &conn_string(user, good), &[], q.clone()).await;
        assert_eq!(r.json()["rows"][0]["u"], user);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_timeout_cancels_and_rolls_back() {
    let addr = start(|s| s.query_timeout = Some(Duration::from_secs(1))).await;
    let conn = conn_string("edgepg", "edgepg_pw");
    let admin = admin().await;
    admin.execute("DROP TABLE IF EXISTS proxy_slow; CREATE TABLE proxy_slow (id int)", &[]).await.unwrap();
    let started = std::time::Instant::now();
    let r = sql(
        addr,
        &conn,
        &[],
        json!({"queries": [{"query": "INSERT INTO proxy_slow VALUES (1)"}, {"query": "SELECT pg_sleep(30)"}]}),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("57014")));
    let n: i64 = admin.fetchval("SELECT count(*) FROM proxy_slow", &[]).await.unwrap();
    assert_eq!(n, 0, "the timed-out transaction was rolled back");
    // The pool's connection is usable (or replaced) for the next request.
    let r = sql(addr, &conn, &[], json!({"query": "SELECT count(*)::int AS n FROM proxy_slow"})).await;
    assert_eq!(r.json()["rows"][0]["n"], 0);
    admin.execute("DROP TABLE proxy_slow", &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_server_side_disconnect_fails_once_then_recovers() {
    // What a PostgreSQL restart does to the pool: every backend goes away.
    let addr = start(|_| {}).await;
    let conn = conn_string("pw_user", "pw_pw");
    let q = json!({"query": "SELECT pg_backend_pid() AS pid"});
    let first = sql(addr, &conn, &[], q.clone()).await.json()["rows"][0]["pid"].as_i64().unwrap();
    let admin = admin().await;
    admin.execute("SELECT pg_terminate_backend($1)", &[&(first as i32)]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut ok = 0;
    for _ in 0..3 {
        let r = sql(addr, &conn, &[], q.clone()).await;
        match r.status {
            200 => {
                assert_ne!(r.json()["rows"][0]["pid"].as_i64().unwrap(), first);
                ok += 1;
            }
            // A typed error, never a hang or a proxy crash.
            s => assert!(s == 400 || s == 502, "{s}: {}", String::from_utf8_lossy(&r.body)),
        }
    }
    assert!(ok >= 2, "later requests succeed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let addr = start(|s| s.handshake_timeout = Some(Duration::from_millis(500))).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /sql HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut buf = [0u8; 512];
    let started = std::time::Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await.expect("closed by the proxy");
    assert!(started.elapsed() < Duration::from_secs(3));
    // hyper answers 408 or just closes.
    let n = n.unwrap_or(0);
    assert!(n == 0 || buf.starts_with(b"HTTP/1.1 408"), "{:?}", String::from_utf8_lossy(&buf[..n]));
    let r = request(addr, "GET", "/health", &[], b"").await;
    assert_eq!(r.status, 200);
}

// ------------------------------------------------------------------ WebSocket

/// StartupMessage for `user` on the test database.
fn startup(user: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196608u32.to_be_bytes());
    for (k, v) in [("user", user), ("database", pg().db.as_str())] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    msg
}

/// A simple Query message.
fn query(sql: &str) -> Vec<u8> {
    let mut msg = vec![b'Q'];
    msg.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
    msg.extend_from_slice(sql.as_bytes());
    msg.push(0);
    msg
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn ws_open(addr: SocketAddr, path: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}{path}");
    tokio_tungstenite::client_async(url, tcp).await.map(|(ws, _)| ws)
}

/// Reads frames until a ReadyForQuery has arrived; returns every byte.
async fn until_ready(ws: &mut Ws) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        let msg =
            tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("reply").expect("open").unwrap();
        if let Message::Binary(b) = msg {
            got.extend_from_slice(&b);
        }
        // ReadyForQuery: 'Z', length 5, status; the last message of a reply.
        if got.len() >= 6 && got[got.len() - 6] == b'Z' && got[got.len() - 5..got.len() - 1] == [0, 0, 0, 5] {
            return got;
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_relays_postgres_bytes_split_and_merged() {
    let addr = start(|_| {}).await;
    let path = format!("/v1?address={}:{}", pg().host, pg().port);
    let mut ws = ws_open(addr, &path).await.unwrap();
    // The StartupMessage split across two frames...
    let s = startup("trust_user");
    ws.send(Message::Binary(s[..5].to_vec().into())).await.unwrap();
    ws.send(Message::Binary(s[5..].to_vec().into())).await.unwrap();
    let reply = until_ready(&mut ws).await;
    assert_eq!(reply[0], b'R', "AuthenticationOk first");
    // ...and two queries in one frame.
    let mut two = query("SELECT 'first-' || 1");
    two.extend(query("SELECT 'second-' || 2"));
    ws.send(Message::Binary(two.into())).await.unwrap();
    let mut got = until_ready(&mut ws).await;
    if !contains(&got, b"second-2") {
        got.extend(until_ready(&mut ws).await);
    }
    assert!(contains(&got, b"first-1") && contains(&got, b"second-2"));
    // A large result crosses many frames intact.
    ws.send(Message::Binary(query("SELECT repeat('y', 300000)").into())).await.unwrap();
    let got = until_ready(&mut ws).await;
    assert!(contains(&got, &[b'y'; 300000]));
    // Terminate: the server closes, the proxy closes the WebSocket.
    ws.send(Message::Binary(vec![b'X', 0, 0, 0, 4].into())).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Close(f)) = m {
                return f.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(end, Some(1000));

    // /v2 takes the target from the Host header.
    let addr2 = start(|s| {
        s.host_port = pg().port;
        s.allow = AllowList::parse(&[format!("localhost:{}", pg().port)]).unwrap();
    })
    .await;
    let tcp = TcpStream::connect(addr2).await.unwrap();
    let req = tokio_tungstenite::tungstenite::http::Request::builder()
        .uri(format!("ws://{addr2}/v2"))
        .header("Host", format!("localhost:{}", addr2.port()))
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", tokio_tungstenite::tungstenite::handshake::client::generate_key())
        .body(())
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    ws.send(Message::Binary(startup("trust_user").into())).await.unwrap();
    assert_eq!(until_ready(&mut ws).await[0], b'R');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_refuses_bad_targets_and_text_frames() {
    let addr = start(|_| {}).await;
    let status = |e: tokio_tungstenite::tungstenite::Error| match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => r.status().as_u16(),
        other => panic!("{other}"),
    };
    // Not allowed (another port of the same host, another host): 403, nothing connected.
    let e = ws_open(addr, &format!("/v1?address={}:1", pg().host)).await.unwrap_err();
    assert_eq!(status(e), 403);
    let e = ws_open(addr, "/v2").await.unwrap_err(); // Host 127.0.0.1:<proxy> → port 5432: not allowed
    assert_eq!(status(e), 403);
    let e = ws_open(addr, "/v1?address=nonsense").await.unwrap_err();
    assert_eq!(status(e), 400);
    // Allowed but nothing listens: 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let addr3 = start(move |s| s.allow = AllowList::parse(&[format!("127.0.0.1:{port}")]).unwrap()).await;
    let e = ws_open(addr3, &format!("/v1?address=127.0.0.1:{port}")).await.unwrap_err();
    assert_eq!(status(e), 502);

    let mut ws = ws_open(addr, &format!("/v1?address={}:{}", pg().host, pg().port)).await.unwrap();
    ws.send(Message::Text("SELECT 1".into())).await.unwrap();
    let code = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(m) = ws.next().await {
            if let Ok(Message::Close(f)) = m {
                return f.map(|f| u16::from(f.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1003));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_client_vanishing_mid_transaction_rolls_back() {
    let addr = start(|_| {}).await;
    let admin = admin().await;
    admin.execute("DROP TABLE IF EXISTS proxy_ws_tx; CREATE TABLE proxy_ws_tx (id int)", &[]).await.unwrap();
    admin.execute("GRANT ALL ON proxy_ws_tx TO trust_user", &[]).await.unwrap();
    let mut ws = ws_open(addr, &format!("/v1?address={}:{}", pg().host, pg().port)).await.unwrap();
    ws.send(Message::Binary(startup("trust_user").into())).await.unwrap();
    until_ready(&mut ws).await;
    ws.send(Message::Binary(query("BEGIN; INSERT INTO proxy_ws_tx VALUES (1);").into())).await.unwrap();
    until_ready(&mut ws).await;
    // The client's network dies: no close frame, the TCP connection just drops.
    drop(ws);
    let mut n: i64 = -1;
    for _ in 0..50 {
        // The backend is gone once the proxy closed its side.
        let live: i64 = admin
            .fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'trust_user' AND state LIKE 'idle in%'",
                &[],
            )
            .await
            .unwrap();
        n = admin.fetchval("SELECT count(*) FROM proxy_ws_tx", &[]).await.unwrap();
        if live == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(n, 0);
    admin.execute("DROP TABLE proxy_ws_tx", &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_termination_serves_https_and_wss() {
    // The cluster's certificate (for DNS:localhost) and key, signed by its CA.
    let dir = std::path::Path::new(&pg().ca).parent().unwrap().to_owned();
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let addr = start(move |s| s.tls = Some((cert, key))).await;
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_file_iter(&pg().ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let body = json!({"query": "SELECT 'over tls' AS s"}).to_string();
    let head = format!(
        "POST /sql HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nNeon-Connection-String: {}\r\nContent-Length: {}\r\n\r\n{body}",
        conn_string("edgepg", "edgepg_pw"),
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let r = parse_reply(&raw);
    assert_eq!(r.json()["rows"][0]["s"], "over tls");
    // Plain HTTP to the TLS port gets nowhere.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), plain.read_to_end(&mut buf)).await;
    assert!(!buf.starts_with(b"HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_reachable_without_an_allow_list() {
    let addr = start(|s| s.allow = AllowList::default()).await;
    let r = sql(addr, &conn_string("edgepg", "edgepg_pw"), &[], json!({"query": "SELECT 1"})).await;
    assert_eq!(r.status, 403);
    let e = ws_open(addr, &format!("/v1?address={}:{}", pg().host, pg().port)).await.unwrap_err();
    assert!(matches!(e, tokio_tungstenite::tungstenite::Error::Http(ref r) if r.status() == 403), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_a_running_query_finish() {
    let s = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        allow: AllowList::parse(&[format!("{}:{}", pg().host, pg().port)]).unwrap(),
        ..Settings::default()
    };
    let proxy = Proxy::bind(s).await.unwrap();
    let addr = proxy.local_addr();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(proxy.run(async {
        let _ = rx.await;
    }));
    let slow = tokio::spawn(sql(
        addr,
        Box::leak(conn_string("edgepg", "edgepg_pw").into_boxed_str()),
        &[],
        json!({"query": "SELECT pg_sleep(1)::text AS done"}),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send(()).unwrap();
    let r = slow.await.unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    tokio::time::timeout(Duration::from_secs(10), server).await.unwrap().unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "no longer listening");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_client_vanishing_mid_transaction_rolls_back() {
    let addr = start(|_| {}).await;
    let admin = admin().await;
    admin.execute("DROP TABLE IF EXISTS proxy_gone; CREATE TABLE proxy_gone (id int)", &[]).await.unwrap();
    let body = json!({"queries": [{"query": "INSERT INTO proxy_gone VALUES (1)"}, {"query": "SELECT pg_sleep(2)"}]})
        .to_string();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /sql HTTP/1.1\r\nHost: x\r\nNeon-Connection-String: {}\r\nContent-Length: {}\r\n\r\n{body}",
        conn_string("edgepg", "edgepg_pw"),
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(s);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let n: i64 = admin.fetchval("SELECT count(*) FROM proxy_gone", &[]).await.unwrap();
    assert_eq!(n, 0, "the transaction of a client that went away is rolled back");
    // Its pooled connection was reset or dropped: nothing is left open in a
    // transaction, and the next request is served normally.
    let open: i64 = admin
        .fetchval("SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'", &[])
        .await
        .unwrap();
    assert_eq!(open, 0);
    let r = sql(
        addr,
        &conn_string("edgepg", "edgepg_pw"),
        &[],
        json!({"query": "SELECT count(*)::int AS n FROM proxy_gone"}),
    )
    .await;
    assert_eq!(r.json()["rows"][0]["n"], 0);
    admin.execute("DROP TABLE proxy_gone", &[]).await.unwrap();
}

/// A TCP forwarder to PostgreSQL that can go down (every connection cut, the
/// port refusing) and come back on the same port: a server restart, as the
/// proxy sees it, without restarting the cluster other tests share.
struct Flaky {
    port: u16,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    /// TCP connections accepted so far (connection attempts the proxy made).
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Flaky {
    async fn up(port: u16) -> Flaky {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::watch::channel(false);
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let mut stop = rx.clone();
                let (mut client, _) = tokio::select! {
                    c = listener.accept() => c.unwrap(),
                    _ = stop.wait_for(|s| *s) => return,
                };
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut stop = rx.clone();
                tokio::spawn(async move {
                    let mut server = TcpStream::connect((pg().host.as_str(), pg().port)).await.unwrap();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                });
            }
        });
        Flaky { port, stop: Some(tx), accepted }
    }

    fn down(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_survives_a_server_restart() {
    let mut flaky = Flaky::up(0).await;
    let port = flaky.port;
    let addr = start(move |s| s.allow = AllowList::parse(&[format!("127.0.0.1:{port}")]).unwrap()).await;
    let conn = format!("postgresql://edgepg:edgepg_pw@127.0.0.1:{port}/{}", pg().db);
    let q = json!({"query": "SELECT 1 AS one"});
    assert_eq!(sql(addr, &conn, &[], q.clone()).await.json()["rows"][0]["one"], 1);
    // Down: pooled connections are cut and the port refuses.
    flaky.down();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..2 {
        let r = sql(addr, &conn, &[], q.clone()).await;
        assert_eq!(r.status, 502, "{}", String::from_utf8_lossy(&r.body));
        let code = r.json()["code"].as_str().unwrap().to_owned();
        assert!(code.starts_with("08"), "a connection-class SQLSTATE: {code}");
    }
    // The proxy still serves other targets meanwhile.
    assert_eq!(request(addr, "GET", "/health", &[], b"").await.status, 200);
    // Back on the same port: requests succeed again.
    let _flaky = Flaky::up(port).await;
    let mut ok = false;
    for _ in 0..3 {
        let r = sql(addr, &conn, &[], q.clone()).await;
        if r.status == 200 {
            ok = true;
            break;
        }
    }
    assert!(ok, "requests succeed once the server is back");
}

/// Waits for the close frame of a WebSocket; its code, or None if the
/// connection ended without one.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(f)) => return f.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the proxy closes the WebSocket")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_many_frames_at_once_arrive_whole_and_in_order() {
    // The relay gathers frames received together into one write to the
    // server: 200 queries sent as 200 frames in one burst (one of them split
    // across two frames) must all be answered, in order.
    let addr = start(|_| {}).await;
    let mut ws = ws_open(addr, &format!("/v1?address={}:{}", pg().host, pg().port)).await.unwrap();
    ws.send(Message::Binary(startup("trust_user").into())).await.unwrap();
    until_ready(&mut ws).await;
    for i in 0..200 {
        let q = query(&format!("SELECT 'n{i:03}-'"));
        if i == 100 {
            ws.feed(Message::Binary(q[..3].to_vec().into())).await.unwrap();
            ws.feed(Message::Binary(q[3..].to_vec().into())).await.unwrap();
        } else {
            ws.feed(Message::Binary(q.into())).await.unwrap();
        }
    }
    ws.flush().await.unwrap();
    let mut got = Vec::new();
    let mut ready = 0;
    while ready < 200 {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("reply").unwrap().unwrap();
        if let Message::Binary(b) = m {
            got.extend_from_slice(&b);
            ready = got.windows(6).filter(|w| w[0] == b'Z' && w[1..5] == [0, 0, 0, 5]).count();
        }
    }
    let text = String::from_utf8_lossy(&got);
    let order: Vec<usize> = (0..200).map(|i| text.find(&format!("n{i:03}-")).expect("every answer")).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "answers in the order of the queries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_oversized_message_is_refused_and_the_proxy_keeps_serving() {
    let addr = start(|s| s.max_bytes = 64 * 1024).await;
    let path = format!("/v1?address={}:{}", pg().host, pg().port);
    let mut ws = ws_open(addr, &path).await.unwrap();
    ws.send(Message::Binary(startup("trust_user").into())).await.unwrap();
    until_ready(&mut ws).await;
    let _ = ws.send(Message::Binary(query(&"x".repeat(100 * 1024)).into())).await;
    assert_eq!(close_code(&mut ws).await, Some(1009), "message too big");
    // Others are served meanwhile, and after.
    let mut ws = ws_open(addr, &path).await.unwrap();
    ws.send(Message::Binary(startup("trust_user").into())).await.unwrap();
    assert_eq!(until_ready(&mut ws).await[0], b'R');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_silent_client_is_closed_after_the_idle_timeout() {
    // Slowloris on the WebSocket path: the upgrade is done, then nothing.
    let addr = start(|s| s.idle_timeout = Some(Duration::from_secs(1))).await;
    let mut ws = ws_open(addr, &format!("/v1?address={}:{}", pg().host, pg().port)).await.unwrap();
    let started = std::time::Instant::now();
    assert_eq!(close_code(&mut ws).await, Some(1001));
    assert!(started.elapsed() < Duration::from_secs(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_slow_body_is_cut_off() {
    // Slowloris on the body: the head arrives, the body trickles then stops.
    let addr = start(|s| s.query_timeout = Some(Duration::from_secs(1))).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /sql HTTP/1.1\r\nHost: x\r\nNeon-Connection-String: {}\r\nContent-Length: 100\r\n\r\n{{\"query\"",
        conn_string("edgepg", "edgepg_pw")
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(8), s.read_to_end(&mut raw)).await.expect("cut off").unwrap();
    assert!(started.elapsed() < Duration::from_secs(6));
    if !raw.is_empty() {
        let r = parse_reply(&raw);
        assert!(r.status == 408 || r.status == 400, "{}: {}", r.status, String::from_utf8_lossy(&r.body));
    }
    assert_eq!(request(addr, "GET", "/health", &[], b"").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_client_vanishing_mid_query_rolls_back() {
    let addr = start(|_| {}).await;
    let admin = admin().await;
    admin.execute("DROP TABLE IF EXISTS proxy_ws_q; CREATE TABLE proxy_ws_q (id int)", &[]).await.unwrap();
    admin.execute("GRANT ALL ON proxy_ws_q TO trust_user", &[]).await.unwrap();
    let mut ws = ws_open(addr, &format!("/v1?address={}:{}", pg().host, pg().port)).await.unwrap();
    ws.send(Message::Binary(startup("trust_user").into())).await.unwrap();
    until_ready(&mut ws).await;
    ws.send(Message::Binary(query("BEGIN; INSERT INTO proxy_ws_q VALUES (1);").into())).await.unwrap();
    until_ready(&mut ws).await;
    // A query still running when the client's network dies.
    ws.send(Message::Binary(query("SELECT pg_sleep(1)").into())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(ws);
    let mut live = -1i64;
    for _ in 0..60 {
        live = admin
            .fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'trust_user' AND query LIKE '%pg_sleep(1)%'",
                &[],
            )
            .await
            .unwrap();
        if live == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live, 0, "the backend ends once the query is over");
    let n: i64 = admin.fetchval("SELECT count(*) FROM proxy_ws_q", &[]).await.unwrap();
    assert_eq!(n, 0, "the transaction was rolled back");
    admin.execute("DROP TABLE proxy_ws_q", &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_server_restart_closes_the_websocket_and_later_ones_work() {
    let mut flaky = Flaky::up(0).await;
    let port = flaky.port;
    let addr = start(move |s| s.allow = AllowList::parse(&[format!("127.0.0.1:{port}")]).unwrap()).await;
    let path = format!("/v1?address=127.0.0.1:{port}");
    let mut ws = ws_open(addr, &path).await.unwrap();
    ws.send(Message::Binary(startup("trust_user").into())).await.unwrap();
    until_ready(&mut ws).await;
    flaky.down();
    // The server went away: the client is told with a close frame, not left hanging.
    assert_eq!(close_code(&mut ws).await, Some(1000));
    // While it is down: a clear HTTP error for a new WebSocket.
    let e = ws_open(addr, &path).await.unwrap_err();
    assert!(matches!(e, tokio_tungstenite::tungstenite::Error::Http(ref r) if r.status() == 502), "{e}");
    // Back: new WebSockets work.
    let _flaky = Flaky::up(port).await;
    let mut ws = ws_open(addr, &path).await.unwrap();
    ws.send(Message::Binary(startup("trust_user").into())).await.unwrap();
    assert_eq!(until_ready(&mut ws).await[0], b'R');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_wrong_password_is_one_attempt_not_a_retry_storm() {
    let flaky = Flaky::up(0).await;
    let port = flaky.port;
    let addr = start(move |s| s.allow = AllowList::parse(&[format!("127.0.0.1:{port}")]).unwrap()).await;
    let q = json!({"query": "SELECT 1 AS one"});
    for (user, i) in [("scram_user", 1), ("pw_user", 2), ("md5_user", 3)] {
        let conn = format!("postgresql://{user}:wrong@127.0.0.1:{port}/{}", pg().db);
        let r = sql(addr, &conn, &[], q.clone()).await;
        assert_eq!((r.status, r.json()["code"].clone()), (400, json!("28P01")), "{user}");
        assert!(!String::from_utf8_lossy(&r.body).contains("wrong"), "no password in the error");
        assert_eq!(flaky.accepted.load(std::sync::atomic::Ordering::SeqCst), i, "{user}: one connection attempt");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_no_session_state_leaks_into_the_next_request() {
    // One pooled connection, so the second request gets the first's backend.
    let addr = start(|s| s.pool_size = 1).await;
    let conn = conn_string("edgepg", "edgepg_pw");
    let pid = |r: Reply| r.json()["rows"][0]["pid"].as_i64().unwrap();
    let first = pid(sql(addr, &conn, &[], json!({"query": "SELECT pg_backend_pid() AS pid"})).await);
    for q in [
        "SELECT set_config('app.secret', 's3cret', false)",
        "SET search_path = pg_catalog",
        "PREPARE leaked AS SELECT 'from another request' AS s",
        "CREATE TEMP TABLE leaked_t AS SELECT 'from another request' AS s",
        "SELECT pg_advisory_lock(4242)",
        "LISTEN leaked_channel",
    ] {
        let r = sql(addr, &conn, &[], json!({ "query": q })).await;
        assert_eq!(r.status, 200, "{q}: {}", String::from_utf8_lossy(&r.body));
    }
    let r = sql(
        addr,
        &conn,
        &[],
        json!({"query": "SELECT pg_backend_pid() AS pid, coalesce(current_setting('app.secret', true), '') AS secret, \
                         current_setting('search_path') AS path, \
                         (SELECT count(*) FROM pg_prepared_statements WHERE from_sql)::int AS prepared, \
                         (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())::int AS locks, \
                         (SELECT count(*) FROM pg_listening_channels())::int AS listening"}),
    )
    .await;
    let v = r.json();
    let row = &v["rows"][0];
    assert_eq!(row["pid"].as_i64().unwrap(), first, "the same backend was reused");
    assert_eq!(row["secret"], "");
    assert_eq!(row["path"], "\"$user\", public");
    assert_eq!(row["prepared"], 0, "a PREPAREd statement of another request");
    assert_eq!(row["locks"], 0);
    assert_eq!(row["listening"], 0);
    let r = sql(addr, &conn, &[], json!({"query": "EXECUTE leaked"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("26000")));
    let r = sql(addr, &conn, &[], json!({"query": "SELECT s FROM leaked_t"})).await;
    assert_eq!((r.status, r.json()["code"].clone()), (400, json!("42P01")));
}
