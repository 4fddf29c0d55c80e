//! Errors and bad input: server errors with every field, malformed DSNs,
//! refused and silent servers, garbage from the peer, a backend killed under us.

use std::time::{Duration, Instant};

use edgepg::{ErrorKind, ErrorPosition, SqlState};
use edgepg_tests::dsn_for;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn dsn() -> String {
    dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")
}

#[tokio::test]
async fn syntax_error_has_position() {
    let c = edgepg::connect(&dsn()).await.unwrap();
    let err = c.fetch("SELECT 1 FROMM nowhere", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.code(), Some(SqlState::SYNTAX_ERROR));
    let db = err.as_db_error().unwrap();
    // "FROMM" is read as a column alias; the error is at "nowhere".
    assert_eq!(db.position, Some(ErrorPosition::Original(16)));
    assert_eq!(db.severity, "ERROR");
    assert!(db.routine.is_some() && db.file.is_some());
    // Same through the simple protocol.
    let err = c.execute("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::SYNTAX_ERROR));
    assert_eq!(err.as_db_error().unwrap().position, Some(ErrorPosition::Original(1)));
    c.close().await.unwrap();
}

#[tokio::test]
async fn unique_violation_names_the_constraint() {
    let c = edgepg::connect(&dsn()).await.unwrap();
    c.execute("CREATE TEMP TABLE u (id int CONSTRAINT u_pk PRIMARY KEY)", &[]).await.unwrap();
    c.execute("INSERT INTO u VALUES ($1)", &[&1i32]).await.unwrap();
    let err = c.execute("INSERT INTO u VALUES ($1)", &[&1i32]).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::UNIQUE_VIOLATION));
    assert_eq!(err.code().unwrap().class(), "23");
    let db = err.as_db_error().unwrap();
    assert_eq!(db.constraint.as_deref(), Some("u_pk"));
    assert_eq!(db.table.as_deref(), Some("u"));
    assert!(db.detail.as_deref().unwrap().contains("(id)=(1)"));
    c.close().await.unwrap();
}

#[tokio::test]
async fn malformed_dsn_names_the_bad_part() {
    for (dsn, part) in [
        ("postgres://u@localhost:notaport/db", "port"),
        ("postgres://u@localhost/db?sslmode=sometimes", "sslmode"),
        ("postgres://u@localhost/db?no_such_option=1", "no_such_option"),
        ("host=localhost port=99999", "port"),
        ("postgres://u@localhost/db?connect_timeout=soon", "connect_timeout"),
    ] {
        let err = edgepg::connect(dsn).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{dsn}: {err}");
        assert!(err.message().contains(part), "{dsn}: {err}");
    }
}

#[tokio::test]
async fn refused_connection_is_a_connect_error() {
    // Bind then drop a listener to get a port nobody listens on.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let err = edgepg::connect(&format!("postgres://u:p@127.0.0.1:{port}/db?sslmode=disable")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(err.message().contains(&port.to_string()), "{err}");
}

#[tokio::test]
async fn silent_server_hits_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(sock);
    });
    let start = Instant::now();
    let err = edgepg::connect(&format!("postgres://u:p@127.0.0.1:{port}/db?sslmode=disable&connect_timeout=1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));
    server.abort();
}

/// A fake server that reads the startup message and answers `reply`.
async fn fake_server(reply: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = sock.read(&mut buf).await;
        let _ = sock.write_all(&reply).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    port
}

async fn connect_to_fake(reply: Vec<u8>) -> edgepg::Error {
    let port = fake_server(reply).await;
    edgepg::connect(&format!("postgres://u:p@127.0.0.1:{port}/db?sslmode=disable&connect_timeout=10"))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn garbage_from_the_server_is_a_protocol_error() {
    let err = connect_to_fake(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()).await;
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
}

#[tokio::test]
async fn oversized_message_is_a_protocol_error() {
    // An ErrorResponse claiming to be 2 GiB long.
    let err = connect_to_fake(vec![b'E', 0x7f, 0xff, 0xff, 0xff, b'S']).await;
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
}

#[tokio::test]
async fn truncated_startup_is_a_closed_error() {
    // Half an AuthenticationOk, then the server hangs up... after 5 s; make it immediate:
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = sock.read(&mut buf).await;
        let _ = sock.write_all(&[b'R', 0, 0, 0]).await;
    });
    let err = edgepg::connect(&format!("postgres://u:p@127.0.0.1:{port}/db?sslmode=disable")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
}

#[tokio::test]
async fn unsupported_auth_method_is_an_auth_error() {
    // AuthenticationGSS (7).
    let err = connect_to_fake(vec![b'R', 0, 0, 0, 8, 0, 0, 0, 7]).await;
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.message().contains("GSSAPI"), "{err}");
}

#[tokio::test]
async fn hostile_scram_iteration_count_is_refused() {
    // AuthenticationSASL offering SCRAM-SHA-256.
    let mut reply = vec![b'R'];
    let body = b"\0\0\0\x0aSCRAM-SHA-256\0\0";
    reply.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    reply.extend_from_slice(body);
    // The server-first message would come after our client-first; the fake
    // server cannot know our nonce, so any continue message fails validation.
    let mut cont = b"\0\0\0\x0br=wrongnonce,s=QSXCR+Q6sek8bf92,i=999999999".to_vec();
    let mut msg = vec![b'R'];
    msg.extend_from_slice(&((cont.len() + 4) as u32).to_be_bytes());
    msg.append(&mut cont);
    reply.extend_from_slice(&msg);
    let err = connect_to_fake(reply).await;
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}

#[tokio::test]
async fn terminated_backend_gives_a_closed_error_and_no_hang() {
    let c = edgepg::connect(&dsn()).await.unwrap();
    let admin = edgepg::connect(&dsn()).await.unwrap();
    let killed: bool = admin.fetchval("SELECT pg_terminate_backend($1)", &[&c.get_server_pid()]).await.unwrap();
    assert!(killed);
    // The server sends FATAL 57P01 and closes; the next call must fail fast.
    let err = tokio::time::timeout(Duration::from_secs(10), c.fetchval::<i32>("SELECT 1", &[]))
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Closed | ErrorKind::Io | ErrorKind::Server), "{err}");
    // Give the driver a moment to see EOF.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(c.is_closed());
    admin.close().await.unwrap();
}

#[tokio::test]
async fn invalid_utf8_from_the_server_is_a_conversion_error() {
    // With client_encoding switched to LATIN1 the server sends 'é' (chr(233))
    // as the single byte 0xE9, which is not UTF-8: reading it as text must
    // fail with a typed error (and the bytes stay readable raw).
    let c = edgepg::connect(&dsn()).await.unwrap();
    c.execute("SET client_encoding = 'LATIN1'", &[]).await.unwrap();
    let row = c.fetchrow("SELECT 'caf' || chr(233) AS t", &[]).await.unwrap().unwrap();
    let err = row.get::<String, _>("t").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conversion, "{err}");
    assert_eq!(row.raw("t").unwrap(), Some(&b"caf\xe9"[..]));
    c.execute("RESET client_encoding", &[]).await.unwrap();
    assert_eq!(c.fetchval::<String>("SELECT 'caf\u{e9}'::text", &[]).await.unwrap(), "caf\u{e9}");
    c.close().await.unwrap();
}
