//! TLS modes against the cluster's `ssl=on` listener, whose certificate is
//! issued by the test CA for `localhost` only (not for 127.0.0.1).

use edgepg::ErrorKind;
use edgepg_tests::env;

fn dsn(host: &str, extra: &str) -> String {
    let e = env();
    format!("postgres://edgepg:edgepg_pw@{host}:{}/{}?{extra}", e.port, e.db)
}

async fn uses_tls(dsn: &str) -> edgepg::Result<bool> {
    let conn = edgepg::connect(dsn).await?;
    let ssl: bool = conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await?;
    conn.close().await?;
    Ok(ssl)
}

#[tokio::test]
async fn disable_is_plain_text() {
    assert!(!uses_tls(&dsn("127.0.0.1", "sslmode=disable")).await.unwrap());
}

#[tokio::test]
async fn prefer_uses_tls_when_offered() {
    assert!(uses_tls(&dsn("127.0.0.1", "sslmode=prefer")).await.unwrap());
}

#[tokio::test]
async fn require_without_verification() {
    assert!(uses_tls(&dsn("127.0.0.1", "sslmode=require")).await.unwrap());
}

#[tokio::test]
async fn verify_full_with_the_right_ca_and_name() {
    let extra = format!("sslmode=verify-full&sslrootcert={}", env().ca);
    assert!(uses_tls(&dsn("localhost", &extra)).await.unwrap());
}

#[tokio::test]
async fn verify_full_with_a_wrong_host_name_fails() {
    let extra = format!("sslmode=verify-full&sslrootcert={}", env().ca);
    let err = uses_tls(&dsn("127.0.0.1", &extra)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.message().contains("127.0.0.1"), "the error should name the host: {err}");
}

#[tokio::test]
async fn verify_ca_ignores_the_host_name() {
    let extra = format!("sslmode=verify-ca&sslrootcert={}", env().ca);
    assert!(uses_tls(&dsn("127.0.0.1", &extra)).await.unwrap());
}

#[tokio::test]
async fn verify_ca_with_the_wrong_ca_fails() {
    let extra = format!("sslmode=verify-ca&sslrootcert={}", env().wrong_ca);
    let err = uses_tls(&dsn("localhost", &extra)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[tokio::test]
async fn missing_root_cert_file_is_a_clear_error() {
    let err = uses_tls(&dsn("localhost", "sslmode=verify-full&sslrootcert=/nonexistent/root.crt")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.message().contains("/nonexistent/root.crt"), "{err}");
}

#[tokio::test]
async fn direct_tls_against_a_server_without_it_fails_cleanly() {
    // PostgreSQL 17 added direct TLS; older servers read the ClientHello as a
    // bogus startup packet and hang up. That must be an error, not a hang.
    let extra = format!("sslmode=verify-full&sslrootcert={}&sslnegotiation=direct&connect_timeout=10", env().ca);
    let conn = edgepg::connect(&dsn("localhost", &extra)).await;
    let server_major: u32 = {
        let c = edgepg::connect(&dsn("127.0.0.1", "sslmode=disable")).await.unwrap();
        let v = c.get_server_version().unwrap().major;
        c.close().await.unwrap();
        v
    };
    if server_major >= 17 {
        assert!(conn.is_ok(), "{:?}", conn.err());
    } else {
        let err = conn.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Tls | ErrorKind::Io | ErrorKind::Closed | ErrorKind::Connect), "{err}");
    }
}

// ---- self-signed server certificates ---------------------------------------------------------
//
// PgBouncer (tests/cluster/pgbouncer.sh) serves a self-signed certificate that is its own CA
// (CA:TRUE), valid for DNS:localhost only: libpq accepts it with sslrootcert=<that certificate>,
// and so must edgepg.

fn bouncer_dsn(host: &str, extra: &str) -> String {
    let e = env();
    format!(
        "postgres://edgepg:edgepg_pw@{host}:{}/{}?statement_cache_size=0&{extra}",
        edgepg_tests::pgbouncer_port(),
        e.db
    )
}

fn self_signed() -> String {
    edgepg_tests::cluster_var("EDGEPG_TEST_PGBOUNCER_SELF_SIGNED_CERT")
}

async fn one(dsn: &str) -> edgepg::Result<i32> {
    let conn = edgepg::connect(dsn).await?;
    let v: i32 = conn.fetchval("SELECT 1", &[]).await?;
    conn.close().await?;
    Ok(v)
}

#[tokio::test]
async fn self_signed_server_certificate_as_its_own_root() {
    let root = format!("sslrootcert={}", self_signed());
    assert_eq!(one(&bouncer_dsn("localhost", &format!("sslmode=verify-full&{root}"))).await.unwrap(), 1);
    assert_eq!(one(&bouncer_dsn("127.0.0.1", &format!("sslmode=verify-ca&{root}"))).await.unwrap(), 1);
    // sslmode=require with a root file verifies the chain too (libpq), and accepts it.
    assert_eq!(one(&bouncer_dsn("127.0.0.1", &format!("sslmode=require&{root}"))).await.unwrap(), 1);
}

#[tokio::test]
async fn self_signed_server_certificate_with_a_wrong_name() {
    let extra = format!("sslmode=verify-full&sslrootcert={}", self_signed());
    let err = one(&bouncer_dsn("127.0.0.1", &extra)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    assert!(err.message().contains("not valid for host \"127.0.0.1\""), "{err}");
}

#[tokio::test]
async fn self_signed_server_certificate_not_trusted() {
    for mode in ["verify-ca", "verify-full"] {
        let extra = format!("sslmode={mode}&sslrootcert={}", env().ca);
        let err = one(&bouncer_dsn("localhost", &extra)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
        let text = err.to_string();
        assert!(text.contains("presented a CA certificate as its own certificate"), "{text}");
        assert!(text.contains("sslrootcert"), "{text}");
        assert!(!text.contains("Other(") && !text.contains("CaUsedAsEndEntity"), "a Debug dump: {text}");
    }
}
