//! Connection service files (`service`, `servicefile`) against the real cluster: the service
//! fills what the DSN leaves unset, the DSN wins, and unknown services fail before any
//! connection. (`PGSERVICE`, `PGSERVICEFILE` and `PGSYSCONFDIR` are unit-tested in the native
//! crate: changing the environment here would race with the other tests of this binary.)

use std::path::PathBuf;

use edgepg::ErrorKind;
use edgepg_tests::env;

/// A service file in a fresh temporary directory, removed on drop.
struct ServiceFile(PathBuf);

impl ServiceFile {
    fn new(tag: &str, text: &str) -> ServiceFile {
        let dir = std::env::temp_dir().join(format!("edgepg-service-it-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pg_service.conf");
        std::fs::write(&path, text).unwrap();
        ServiceFile(path)
    }

    fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for ServiceFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn services() -> String {
    let e = env();
    format!(
        "# edgepg integration test services\n\
         [scram]\n\
         host={host}\nport={port}\ndbname={db}\nuser=scram_user\npassword=scram_pw\nsslmode=disable\n\
         application_name=from the service file\n\
         \n\
         [nowhere]\nhost=127.0.0.1\nport=1\n",
        host = e.host,
        port = e.port,
        db = e.db
    )
}

async fn session(dsn: &str) -> edgepg::Result<(String, String, String)> {
    let conn = edgepg::connect(dsn).await?;
    let row = conn
        .fetchrow("SELECT current_user::text, current_database()::text, current_setting('application_name')", &[])
        .await?
        .expect("one row");
    let out = (row.get(0)?, row.get(1)?, row.get(2)?);
    conn.close().await?;
    Ok(out)
}

#[tokio::test]
async fn a_service_supplies_the_connection() {
    let file = ServiceFile::new("supplies", &services());
    let got = session(&format!("service=scram servicefile={}", file.path())).await.unwrap();
    assert_eq!(got, ("scram_user".into(), env().db.clone(), "from the service file".into()));
    // The URI form with nothing but query parameters.
    let got = session(&format!("postgres://?service=scram&servicefile={}", file.path())).await.unwrap();
    assert_eq!(got.0, "scram_user");
}

#[tokio::test]
async fn the_dsn_wins_over_the_service() {
    let file = ServiceFile::new("wins", &services());
    let dsn = format!(
        "service=scram servicefile={} user=md5_user password=md5_pw dbname=postgres application_name=dsn",
        file.path()
    );
    assert_eq!(session(&dsn).await.unwrap(), ("md5_user".into(), "postgres".into(), "dsn".into()));
}

#[tokio::test]
async fn a_pool_reads_the_service_too() {
    let file = ServiceFile::new("pool", &services());
    let pool = edgepg::create_pool(
        &format!("service=scram servicefile={}", file.path()),
        edgepg::PoolOptions { min_size: 1, max_size: 2, ..Default::default() },
    )
    .await
    .unwrap();
    let user: String = pool.fetchval("SELECT current_user::text", &[]).await.unwrap();
    assert_eq!(user, "scram_user");
    pool.close().await.unwrap();
}

#[tokio::test]
async fn an_unknown_service_fails_before_connecting() {
    let file = ServiceFile::new("unknown", &services());
    let err = edgepg::connect(&format!("service=missing servicefile={}", file.path())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains("`service`") && err.message().contains("\"missing\" not found"), "{err}");
    assert!(err.message().contains(&file.path()), "{err}");
}

#[tokio::test]
async fn a_bad_line_names_the_file_and_line() {
    let file = ServiceFile::new("bad", "[broken]\nhost=127.0.0.1\nthis is not an option line\n");
    let err = edgepg::connect(&format!("service=broken servicefile={}", file.path())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.message().contains(&file.path()) && err.message().contains("line 3"), "{err}");
}
