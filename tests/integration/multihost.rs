//! Several hosts in one DSN: failing over on network errors,
//! `target_session_attrs`, `load_balance_hosts=random`.
//!
//! The cluster is a single primary, so the other "servers" are made up here:
//! * a port with no listener (connection refused);
//! * a proxy to the real server that adds `-c default_transaction_read_only=on`
//!   to the StartupMessage: a real server whose sessions are read-only;
//! * a fake server that completes startup claiming `in_hot_standby=on`, as a
//!   standby in recovery would (a real standby takes too long to build here).

use std::time::Duration;

use edgepg::{Connection, ErrorKind};
use edgepg_tests::env;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A DSN for the `edgepg` role over `hosts` (`host:port` each).
fn dsn(hosts: &[String], extra: &str) -> String {
    let e = env();
    format!("postgres://edgepg:edgepg_pw@{}/{}?sslmode=disable&connect_timeout=10&{extra}", hosts.join(","), e.db)
}

fn real() -> String {
    format!("{}:{}", env().host, env().port)
}

/// A local port nobody listens on.
async fn refused() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}

async fn connect(dsn: &str) -> edgepg::Result<Connection> {
    tokio::time::timeout(Duration::from_secs(30), edgepg::connect(dsn)).await.expect("connect hung")
}

async fn setting(conn: &Connection, name: &str) -> String {
    conn.fetchval(&format!("SHOW {name}"), &[]).await.unwrap()
}

/// Reads one startup-phase packet (length-prefixed, no tag).
async fn read_packet(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let len = s.read_i32().await?;
    let mut body = vec![0u8; (len as usize).saturating_sub(4)];
    s.read_exact(&mut body).await?;
    Ok(body)
}

const SSL_REQUEST: i32 = 80877103;
const PROTOCOL_3_0: i32 = 196608;

/// Starts a proxy to the real server that makes every session read-only.
async fn read_only_proxy() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut body = read_packet(&mut client).await?;
                if body.len() >= 4 && i32::from_be_bytes(body[..4].try_into().unwrap()) == SSL_REQUEST {
                    client.write_all(b"N").await?;
                    body = read_packet(&mut client).await?;
                }
                let mut server = TcpStream::connect((env().host.as_str(), env().port)).await?;
                if i32::from_be_bytes(body[..4].try_into().unwrap()) == PROTOCOL_3_0 {
                    // Insert `options` before the terminating NUL of the parameter list.
                    body.pop();
                    body.extend_from_slice(b"options\0-c default_transaction_read_only=on\0\0");
                }
                server.write_i32(body.len() as i32 + 4).await?;
                server.write_all(&body).await?;
                tokio::io::copy_bidirectional(&mut client, &mut server).await?;
                Ok::<_, std::io::Error>(())
            });
        }
    });
    addr
}

/// Starts a fake server that accepts any login and reports a hot standby.
async fn fake_standby() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut body = read_packet(&mut client).await?;
                if i32::from_be_bytes(body[..4].try_into().unwrap()) == SSL_REQUEST {
                    client.write_all(b"N").await?;
                    body = read_packet(&mut client).await?;
                }
                if i32::from_be_bytes(body[..4].try_into().unwrap()) != PROTOCOL_3_0 {
                    return Ok(()); // a CancelRequest: nothing to do
                }
                let mut out = Vec::new();
                out.extend_from_slice(&[b'R', 0, 0, 0, 8, 0, 0, 0, 0]); // AuthenticationOk
                for (k, v) in [
                    ("server_version", "15.0"),
                    ("in_hot_standby", "on"),
                    ("default_transaction_read_only", "off"),
                    ("client_encoding", "UTF8"),
                ] {
                    let len = 4 + k.len() + 1 + v.len() + 1;
                    out.push(b'S');
                    out.extend_from_slice(&(len as i32).to_be_bytes());
                    out.extend_from_slice(k.as_bytes());
                    out.push(0);
                    out.extend_from_slice(v.as_bytes());
                    out.push(0);
                }
                out.extend_from_slice(&[b'K', 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 2]); // BackendKeyData
                out.extend_from_slice(&[b'Z', 0, 0, 0, 5, b'I']); // ReadyForQuery
                client.write_all(&out).await?;
                // Wait for Terminate or EOF.
                let mut sink = [0u8; 64];
                while client.read(&mut sink).await? > 0 {}
                Ok::<_, std::io::Error>(())
            });
        }
    });
    addr
}

#[tokio::test]
async fn first_host_refused_second_serves() {
    let conn = connect(&dsn(&[refused().await, real()], "")).await.unwrap();
    assert_eq!(conn.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn every_host_refused_lists_each_failure() {
    let (a, b) = (refused().await, refused().await);
    let err = connect(&dsn(&[a.clone(), b.clone()], "")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&a) && msg.contains(&b), "{msg}");
}

#[tokio::test]
async fn read_write_skips_a_read_only_server() {
    let ro = read_only_proxy().await;
    // Sanity: through the proxy, sessions really are read-only.
    let through = connect(&dsn(std::slice::from_ref(&ro), "")).await.unwrap();
    assert_eq!(setting(&through, "default_transaction_read_only").await, "on");
    through.close().await.unwrap();

    let conn = connect(&dsn(&[ro.clone(), real()], "target_session_attrs=read-write")).await.unwrap();
    assert_eq!(setting(&conn, "default_transaction_read_only").await, "off");
    conn.execute("CREATE TEMP TABLE w (x int)", &[]).await.unwrap();
    conn.close().await.unwrap();

    let conn = connect(&dsn(&[real(), ro.clone()], "target_session_attrs=read-only")).await.unwrap();
    assert_eq!(setting(&conn, "default_transaction_read_only").await, "on");
    conn.close().await.unwrap();

    // No read-write host at all: the error names each host and why.
    let err = connect(&dsn(&[ro.clone(), refused().await], "target_session_attrs=read-write")).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&ro) && msg.contains("read-only") && msg.contains("read-write"), "{msg}");
}

#[tokio::test]
async fn read_write_and_primary_skip_a_server_in_recovery() {
    let standby = fake_standby().await;
    for attrs in ["read-write", "primary"] {
        let conn = connect(&dsn(&[standby.clone(), real()], &format!("target_session_attrs={attrs}"))).await.unwrap();
        assert_eq!(conn.get_setting("in_hot_standby").as_deref(), Some("off"), "{attrs}");
        assert_eq!(conn.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
        conn.close().await.unwrap();
    }
    for attrs in ["standby", "prefer-standby", "read-only"] {
        let conn = connect(&dsn(&[real(), standby.clone()], &format!("target_session_attrs={attrs}"))).await.unwrap();
        assert_eq!(conn.get_setting("in_hot_standby").as_deref(), Some("on"), "{attrs}");
        conn.close().await.unwrap();
    }
}

#[tokio::test]
async fn prefer_standby_falls_back_and_standby_fails_without_one() {
    let conn = connect(&dsn(&[refused().await, real()], "target_session_attrs=prefer-standby")).await.unwrap();
    assert_eq!(conn.fetchval::<i32>("SELECT 2", &[]).await.unwrap(), 2);
    conn.close().await.unwrap();

    let err = connect(&dsn(&[real()], "target_session_attrs=standby")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert!(err.to_string().contains("hot standby"), "{err}");
}

#[tokio::test]
async fn load_balance_random_still_finds_the_live_host() {
    let dead = refused().await;
    for _ in 0..6 {
        let conn = connect(&dsn(&[dead.clone(), real()], "load_balance_hosts=random")).await.unwrap();
        assert_eq!(conn.fetchval::<i32>("SELECT 3", &[]).await.unwrap(), 3);
        conn.close().await.unwrap();
    }
}
