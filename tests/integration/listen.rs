//! LISTEN/NOTIFY callbacks and streams, termination listeners.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepg::Connection;
use edgepg_tests::dsn_for;
use futures_util::StreamExt;

async fn conn() -> Connection {
    edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap()
}

#[tokio::test]
async fn notifications_from_another_connection() {
    let listener = conn().await;
    let sender = conn().await;
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let handle = listener
        .add_listener("edgepg chan", move |n| g.lock().unwrap().push((n.channel.clone(), n.payload.clone())))
        .await
        .unwrap();
    sender.execute("SELECT pg_notify('edgepg chan', 'one'), pg_notify('edgepg chan', 'two')", &[]).await.unwrap();
    // Notifications arrive asynchronously; any later round trip on the listener sees them.
    for _ in 0..50 {
        if got.lock().unwrap().len() == 2 {
            break;
        }
        listener.execute("SELECT 1", &[]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        *got.lock().unwrap(),
        vec![("edgepg chan".to_owned(), "one".to_owned()), ("edgepg chan".to_owned(), "two".to_owned())]
    );
    listener.remove_listener("edgepg chan", &handle).await.unwrap();
    let listening: i64 = listener.fetchval("SELECT count(*) FROM pg_listening_channels()", &[]).await.unwrap();
    assert_eq!(listening, 0);
    sender.close().await.unwrap();
    listener.close().await.unwrap();
}

#[tokio::test]
async fn notifications_arrive_on_an_idle_connection_as_a_stream() {
    let listener = conn().await;
    let sender = conn().await;
    let mut stream = listener.listen("jobs").await.unwrap();
    let pid = sender.get_server_pid();
    sender.execute("NOTIFY jobs, 'payload 1'", &[]).await.unwrap();
    // No request on the listener: the driver reads the idle socket.
    let n = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap();
    assert_eq!((n.process_id, n.channel.as_str(), n.payload.as_str()), (pid, "jobs", "payload 1"));
    sender.close().await.unwrap();
    listener.close().await.unwrap();
    // The stream ends with the connection.
    assert!(tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().is_none());
}

#[tokio::test]
async fn termination_listener_fires_on_server_side_termination() {
    let c = conn().await;
    let admin = conn().await;
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    c.add_termination_listener(move || {
        f.fetch_add(1, Ordering::SeqCst);
    });
    admin.execute(&format!("SELECT pg_terminate_backend({})", c.get_server_pid()), &[]).await.unwrap();
    for _ in 0..100 {
        if fired.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    assert!(c.is_closed());
    admin.close().await.unwrap();
}

#[tokio::test]
async fn query_loggers_see_every_call() {
    let c = conn().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let logger = c.add_query_logger(move |q| {
        s.lock().unwrap().push((q.query.to_owned(), q.args, q.error.and_then(|e| e.code()).map(|c| c.to_string())));
    });
    c.execute("SELECT 1", &[]).await.unwrap();
    c.fetch("SELECT $1::int + $2::int", &[&1i32, &2i32]).await.unwrap();
    let _ = c.fetchval::<i32>("SELECT 1/0", &[]).await;
    c.execute("CREATE TEMP TABLE ql (id int)", &[]).await.unwrap();
    c.executemany("INSERT INTO ql VALUES ($1)", (0..3i32).map(|i| (i,))).await.unwrap();
    let stmt = c.prepare("SELECT $1::text").await.unwrap();
    stmt.fetchval::<String>(&[&"x"]).await.unwrap();
    c.remove_query_logger(&logger);
    c.execute("SELECT 'unlogged'", &[]).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("SELECT 1".to_owned(), 0, None),
            ("SELECT $1::int + $2::int".to_owned(), 2, None),
            ("SELECT 1/0".to_owned(), 0, Some("22012".to_owned())),
            ("CREATE TEMP TABLE ql (id int)".to_owned(), 0, None),
            ("INSERT INTO ql VALUES ($1)".to_owned(), 3, None),
            ("SELECT $1::text".to_owned(), 1, None),
        ]
    );
    c.close().await.unwrap();
}
