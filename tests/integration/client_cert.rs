//! Client certificates (`sslcert`, `sslkey`, `sslpassword`) against the cluster's `cert_user`
//! role, which pg_hba.conf admits only over TLS with a certificate issued by the test CA whose
//! CN is the role name (`hostssl ... cert`, which implies `clientcert=verify-full`). The
//! certificates and keys are made by tests/cluster/start.sh in `EDGEPG_TEST_CLIENT_CERTS`.

use edgepg::{ErrorKind, SqlState};
use edgepg_tests::{cluster_var, env};

fn file(name: &str) -> String {
    format!("{}/{name}", cluster_var("EDGEPG_TEST_CLIENT_CERTS"))
}

/// A URI for `cert_user` (no password) over verify-full TLS with client certificate `cert` and
/// key `key`, plus `extra` query parameters.
fn dsn(cert: &str, key: &str, extra: &str) -> String {
    let e = env();
    format!(
        "postgres://cert_user@localhost:{}/{}?sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}{extra}",
        e.port,
        e.db,
        e.ca,
        file(cert),
        file(key)
    )
}

/// The role and the client certificate's subject the server saw.
async fn who(dsn: &str) -> edgepg::Result<(String, String)> {
    let conn = edgepg::connect(dsn).await?;
    let row = conn
        .fetchrow("SELECT current_user::text, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await?
        .expect("one row");
    let out = (row.get(0)?, row.get(1)?);
    conn.close().await?;
    Ok(out)
}

#[tokio::test]
async fn every_key_format_logs_in_with_the_certificate() {
    for (cert, key, extra) in [
        ("client.crt", "client.key", ""),
        ("client.crt", "client-sec1.key", ""),
        ("client-rsa.crt", "client-rsa.key", ""),
        ("client.crt", "client-enc.key", "&sslpassword=client_key_pw"),
    ] {
        let got = who(&dsn(cert, key, extra)).await.unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(got, ("cert_user".to_string(), "/CN=cert_user".to_string()), "{key}");
    }
}

#[tokio::test]
async fn key_value_form_and_sslmode_require() {
    let e = env();
    let dsn = format!(
        "host=127.0.0.1 port={} dbname={} user=cert_user sslmode=require sslcert='{}' sslkey='{}' \
         sslpassword='client_key_pw'",
        e.port,
        e.db,
        file("client.crt"),
        file("client-enc.key")
    );
    assert_eq!(who(&dsn).await.unwrap().0, "cert_user");
}

#[tokio::test]
async fn without_a_certificate_the_server_refuses() {
    let e = env();
    let dsn = format!("postgres://cert_user@127.0.0.1:{}/{}?sslmode=require", e.port, e.db);
    let err = who(&dsn).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION), "{err}");
    assert!(err.to_string().contains("certificate"), "{err}");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let err = who(&dsn("client-other-cn.crt", "client.key", "")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("certificate authentication failed"), "{err}");
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    // The server checks the chain in the TLS handshake; with TLS 1.3 its alert can arrive after
    // our side of the handshake finished, i.e. while reading the startup answer.
    let err = who(&dsn("client-wrong-ca.crt", "client.key", "")).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err.kind(), ErrorKind::Tls | ErrorKind::Io | ErrorKind::Closed),
        "unexpected kind {:?}: {text}",
        err.kind()
    );
    assert!(text.contains("rejected the client certificate") && text.contains("UnknownCA"), "{text}");
    if err.kind() == ErrorKind::Tls {
        // Refused within the handshake (TLS 1.2): the file is named.
        assert!(text.contains("client-wrong-ca.crt"), "{text}");
    }
}

/// Errors about the files come before any connection: these DSNs point at a port nobody
/// listens on, so reaching the network would give a Connect error instead.
fn unreachable_dsn(cert: &str, key: &str, extra: &str) -> String {
    dsn(cert, key, extra).replace(&format!("localhost:{}", env().port), "localhost:1")
}

#[tokio::test]
async fn bad_files_fail_before_any_connection() {
    let missing = file("missing.crt");
    for (dsn, part, needle) in [
        (unreachable_dsn("client.crt", "client-enc.key", ""), "sslpassword", "is encrypted"),
        (unreachable_dsn("client.crt", "client-rsa.key", ""), "sslkey", "does not belong"),
        (unreachable_dsn("missing.crt", "client.key", ""), "sslcert", missing.as_str()),
        (unreachable_dsn("client.key", "client.key", ""), "sslcert", "contains no certificate"),
        (unreachable_dsn("client.crt", "client.crt", ""), "sslkey", "group or world access"),
    ] {
        let err = edgepg::connect(&dsn).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{err}");
        assert!(err.message().contains(&format!("`{part}`")), "{err}");
        assert!(err.message().contains(needle), "{needle}: {err}");
    }
}

#[tokio::test]
async fn a_wrong_passphrase_is_named_but_never_shown() {
    let secret = "N0t-The-Passphrase-QUUX";
    let err = edgepg::connect(&unreachable_dsn("client.crt", "client-enc.key", &format!("&sslpassword={secret}")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.message().contains("cannot decrypt") && err.message().contains("client-enc.key"), "{err}");
    assert!(!format!("{err} {err:?}").contains("QUUX"), "{err:?}");
}
