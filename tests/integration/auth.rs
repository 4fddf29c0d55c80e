//! Authentication against the real cluster: every method, wrong and missing
//! passwords, Unix sockets, and SCRAM channel binding.

use edgepg::{ErrorKind, SqlState};
use edgepg_tests::{dsn_for, env};

async fn whoami(dsn: &str) -> edgepg::Result<String> {
    let conn = edgepg::connect(dsn).await?;
    let user: String = conn.fetchval("SELECT current_user::text", &[]).await?;
    conn.close().await?;
    Ok(user)
}

#[tokio::test]
async fn trust() {
    assert_eq!(whoami(&dsn_for("trust_user", None, "")).await.unwrap(), "trust_user");
}

#[tokio::test]
async fn cleartext_password() {
    assert_eq!(whoami(&dsn_for("pw_user", Some("pw_pw"), "sslmode=disable")).await.unwrap(), "pw_user");
}

#[tokio::test]
async fn md5_password() {
    assert_eq!(whoami(&dsn_for("md5_user", Some("md5_pw"), "sslmode=disable")).await.unwrap(), "md5_user");
}

#[tokio::test]
async fn scram_sha_256() {
    assert_eq!(whoami(&dsn_for("scram_user", Some("scram_pw"), "sslmode=disable")).await.unwrap(), "scram_user");
}

#[tokio::test]
async fn auth_method_is_the_expected_one() {
    // Guards the harness: a pg_hba.conf mix-up would make the tests above prove nothing.
    // pg_hba_file_rules is readable by superusers only: ask as `edgepg`.
    let admin = edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap();
    for (user, expected) in [("pw_user", "password"), ("md5_user", "md5"), ("scram_user", "scram-sha-256")] {
        let method: String = admin
            .fetchval(
                "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND $1 = ANY(user_name) LIMIT 1",
                &[&user],
            )
            .await
            .unwrap();
        assert_eq!(method, expected, "{user}");
    }
    admin.close().await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_without_the_password() {
    for user in ["pw_user", "md5_user", "scram_user"] {
        let secret = "Sup3r-S3cret-Guess";
        let err = whoami(&dsn_for(user, Some(secret), "sslmode=disable")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{user}: {err}");
        assert_eq!(err.code(), Some(SqlState::INVALID_PASSWORD), "{user}: {err}");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(secret), "the password leaked into the error: {shown}");
    }
}

#[tokio::test]
async fn missing_password_is_a_clear_auth_error() {
    let err = whoami(&dsn_for("scram_user", None, "sslmode=disable&passfile=/nonexistent")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.message().contains("no password"), "{err}");
}

#[tokio::test]
async fn unix_socket() {
    let e = env();
    let dsn = format!("host={} port={} user=trust_user dbname={}", e.socket_dir, e.port, e.db);
    let conn = edgepg::connect(&dsn).await.unwrap();
    // Over a Unix socket the server sees no client address.
    let addr: Option<String> = conn.fetchval("SELECT inet_client_addr()::text", &[]).await.unwrap();
    assert_eq!(addr, None);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn channel_binding_required_over_tls() {
    let dsn = dsn_for("scram_user", Some("scram_pw"), "sslmode=require&channel_binding=require");
    assert_eq!(whoami(&dsn).await.unwrap(), "scram_user");
}

#[tokio::test]
async fn channel_binding_required_without_tls_fails_clearly() {
    let dsn = dsn_for("scram_user", Some("scram_pw"), "sslmode=disable&channel_binding=require");
    let err = whoami(&dsn).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.message().contains("channel_binding=require"), "{err}");
}

#[tokio::test]
async fn channel_binding_required_with_md5_fails_clearly() {
    let dsn = dsn_for("md5_user", Some("md5_pw"), "sslmode=require&channel_binding=require");
    let err = whoami(&dsn).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}

#[tokio::test]
async fn channel_binding_disabled_over_tls_still_authenticates() {
    let dsn = dsn_for("scram_user", Some("scram_pw"), "sslmode=require&channel_binding=disable");
    assert_eq!(whoami(&dsn).await.unwrap(), "scram_user");
}

// ---- require_auth ------------------------------------------------------------------------------

#[tokio::test]
async fn require_auth_allows_the_methods_it_names() {
    for (user, password, require) in [
        ("scram_user", Some("scram_pw"), "scram-sha-256"),
        ("md5_user", Some("md5_pw"), "md5"),
        ("pw_user", Some("pw_pw"), "password"),
        ("pw_user", Some("pw_pw"), "md5,password"),
        ("scram_user", Some("scram_pw"), "!password,!md5"),
        ("trust_user", None, "none"),
        ("trust_user", None, "!password"),
    ] {
        let dsn = dsn_for(user, password, &format!("sslmode=disable&require_auth={require}"));
        assert_eq!(whoami(&dsn).await.unwrap_or_else(|e| panic!("{user} {require}: {e}")), user);
    }
}

#[tokio::test]
async fn require_auth_refuses_other_methods_before_sending_the_password() {
    for (user, password, require, method) in [
        ("pw_user", "pw_pw", "scram-sha-256", "password"),
        ("md5_user", "md5_pw", "scram-sha-256", "md5"),
        ("scram_user", "scram_pw", "password,md5", "scram-sha-256"),
        ("pw_user", "pw_pw", "!password", "password"),
        ("md5_user", "md5_pw", "none", "md5"),
    ] {
        let dsn = dsn_for(user, Some(password), &format!("sslmode=disable&require_auth={require}"));
        let err = whoami(&dsn).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{user}: {err}");
        assert!(err.message().contains(&format!("require_auth={require} failed")), "{err}");
        assert!(err.message().contains(&format!("\"{method}\"")), "{err}");
        assert!(!err.to_string().contains(password), "{err}");
    }
}

#[tokio::test]
async fn require_auth_and_trust() {
    for require in ["scram-sha-256", "password,md5", "!none"] {
        let dsn = dsn_for("trust_user", None, &format!("sslmode=disable&require_auth={require}"));
        let err = whoami(&dsn).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{require}: {err}");
        assert!(err.message().contains("without authentication"), "{err}");
    }
}

#[tokio::test]
async fn require_auth_stops_a_pipelined_password() {
    // The password is not pipelined when `password` is not allowed; the server's request for it
    // is then refused like any other.
    let dsn = dsn_for("pw_user", Some("pw_pw"), "sslmode=disable&pipeline_connect=password&require_auth=scram-sha-256");
    let result = match edgepg::connect_pipelined(&dsn).await {
        Ok(conn) => conn.fetchval::<i32>("SELECT 1", &[]).await.map(|_| ()),
        Err(e) => Err(e),
    };
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.message().contains("require_auth=scram-sha-256 failed"), "{err}");
    // Allowed: the pipelined path still works.
    let dsn = dsn_for("pw_user", Some("pw_pw"), "sslmode=disable&pipeline_connect=password&require_auth=password");
    let conn = edgepg::connect_pipelined(&dsn).await.unwrap();
    assert_eq!(conn.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
}

#[tokio::test]
async fn require_auth_unknown_method_is_a_config_error() {
    let err = edgepg::connect(&dsn_for("scram_user", Some("scram_pw"), "require_auth=scram")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("`require_auth`") && err.message().contains("\"scram\""), "{err}");
}
