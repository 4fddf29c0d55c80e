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
