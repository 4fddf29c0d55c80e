//! Checks the test harness itself, without the edgepg client: the cluster from
//! `tests/cluster/start.sh` is up, its TLS files are there, and each test role gets the
//! authentication method the tests expect. If these fail, client test failures mean nothing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use edgepg_tests::{env, psql};

/// Protocol 3.0 version code sent in a StartupMessage.
const PROTOCOL_3_0: i32 = 196_608;
/// Code of an SSLRequest.
const SSL_REQUEST: i32 = 80_877_103;

fn connect() -> TcpStream {
    let env = env();
    let stream = TcpStream::connect((env.host.as_str(), env.port))
        .unwrap_or_else(|e| panic!("cannot connect to {}:{}: {e}", env.host, env.port));
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

/// Sends a StartupMessage for `user` and returns the code of the server's first
/// Authentication message (0 ok, 3 cleartext, 5 MD5, 10 SASL) and its body after the code.
fn first_auth_request(user: &str) -> (i32, Vec<u8>) {
    let mut params = Vec::new();
    for (k, v) in [("user", user), ("database", env().db.as_str())] {
        params.extend_from_slice(k.as_bytes());
        params.push(0);
        params.extend_from_slice(v.as_bytes());
        params.push(0);
    }
    params.push(0);
    let mut msg = Vec::new();
    msg.extend_from_slice(&(8 + params.len() as i32).to_be_bytes());
    msg.extend_from_slice(&PROTOCOL_3_0.to_be_bytes());
    msg.extend_from_slice(&params);

    let mut stream = connect();
    stream.write_all(&msg).unwrap();
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).unwrap();
    let len = i32::from_be_bytes(header[1..5].try_into().unwrap());
    assert!((4..=1 << 16).contains(&len), "implausible length {len}");
    let mut body = vec![0u8; len as usize - 4];
    stream.read_exact(&mut body).unwrap();
    assert_eq!(
        header[0],
        b'R',
        "expected an Authentication message for {user}, got {:?}: {}",
        char::from(header[0]),
        String::from_utf8_lossy(&body)
    );
    let code = i32::from_be_bytes(body[..4].try_into().unwrap());
    (code, body[4..].to_vec())
}

#[test]
fn env_describes_a_running_cluster() {
    let env = env();
    assert_eq!(env.host, "127.0.0.1");
    assert!((20_000..=60_000).contains(&env.port), "port {}", env.port);
    assert_eq!(env.db, "edgepg_test");
    assert!(env.dsn.contains(&format!(":{}/", env.port)), "{}", env.dsn);
    assert!(Path::new(&env.data_dir).join("PG_VERSION").exists());
    assert!(Path::new(&env.pgbin).join("psql").exists());
    assert!(env.socket_path().exists(), "no socket at {}", env.socket_path().display());
}

#[test]
fn tcp_port_accepts_connections() {
    drop(connect());
}

#[test]
fn ca_files_exist_and_differ() {
    let env = env();
    let ca = std::fs::read_to_string(&env.ca).expect("CA file");
    let wrong = std::fs::read_to_string(&env.wrong_ca).expect("wrong CA file");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    assert!(wrong.starts_with("-----BEGIN CERTIFICATE-----"), "{wrong}");
    assert_ne!(ca, wrong);
}

#[test]
fn server_accepts_ssl_request() {
    let mut stream = connect();
    let mut msg = Vec::new();
    msg.extend_from_slice(&8i32.to_be_bytes());
    msg.extend_from_slice(&SSL_REQUEST.to_be_bytes());
    stream.write_all(&msg).unwrap();
    let mut answer = [0u8; 1];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(answer[0], b'S', "server refused TLS");
}

#[test]
fn each_role_gets_its_auth_method() {
    assert_eq!(first_auth_request("trust_user").0, 0, "trust_user: AuthenticationOk");
    assert_eq!(first_auth_request("pw_user").0, 3, "pw_user: cleartext password");
    assert_eq!(first_auth_request("md5_user").0, 5, "md5_user: MD5 password");
    let (code, mechanisms) = first_auth_request("scram_user");
    assert_eq!(code, 10, "scram_user: SASL");
    assert!(mechanisms.starts_with(b"SCRAM-SHA-256\0"), "{mechanisms:?}");
    assert_eq!(first_auth_request("edgepg").0, 10, "edgepg: SASL");
}

#[test]
fn psql_helper_runs_sql_as_trust_user() {
    assert_eq!(psql("SELECT current_user"), "trust_user");
    assert_eq!(psql("SELECT 1, 'a'; SELECT 2"), "1|a\n2");
    assert_eq!(psql("SHOW ssl"), "on");
    assert_eq!(psql("SHOW server_encoding"), "UTF8");
}

#[test]
fn roles_are_stored_as_the_tests_expect() {
    assert_eq!(psql("SELECT rolpassword LIKE 'md5%' FROM pg_authid WHERE rolname = 'md5_user'"), "t");
    assert_eq!(psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'scram_user'"), "t");
    assert_eq!(
        psql("SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolsuper AND rolname IN ('edgepg', 'trust_user', 'md5_user')"),
        "edgepg,trust_user"
    );
    assert_eq!(psql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'edgepg_test'"), "edgepg");
}

#[test]
#[should_panic(expected = "psql failed")]
fn psql_helper_panics_on_sql_errors() {
    psql("SELECT * FROM no_such_table_edgepg");
}
