//! The connection pool: sizing, fairness, hooks, recovery from dead and dirty connections.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepg::{ErrorKind, Pool, PoolOptions, TransactionStatus};
use edgepg_tests::{dsn_for, psql};

/// A DSN whose application_name tags this test's backends in pg_stat_activity.
fn dsn(app: &str) -> String {
    dsn_for("edgepg", Some("edgepg_pw"), &format!("sslmode=disable&application_name={app}"))
}

async fn pool(app: &str, opts: PoolOptions) -> Pool {
    edgepg::create_pool(&dsn(app), opts).await.unwrap()
}

/// Waits (bounded, a "no hang" guard) until every connection is back and idle.
async fn settle(pool: &Pool) {
    for _ in 0..1000 {
        if pool.get_idle_size() == pool.get_size() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("pool did not settle: size {} idle {}", pool.get_size(), pool.get_idle_size());
}

fn backends(app: &str) -> i64 {
    psql(&format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'")).parse().unwrap()
}

/// A tiny deterministic PRNG (xorshift), so runs are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_tasks_over_five_connections() {
    let app = "pool_fifty";
    let pool = pool(app, PoolOptions { min_size: 2, max_size: 5, ..Default::default() }).await;
    assert_eq!((pool.get_min_size(), pool.get_max_size()), (2, 5));
    assert_eq!(pool.get_size(), 2, "min_size connections are opened at creation");
    let out = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let pids = Arc::new(Mutex::new(HashSet::new()));
    let mut tasks = Vec::new();
    for i in 0..50i64 {
        let (pool, out, peak, pids) = (pool.clone(), out.clone(), peak.clone(), pids.clone());
        tasks.push(tokio::spawn(async move {
            let conn = pool.acquire().await.unwrap();
            let now = out.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            let row =
                conn.fetchrow("SELECT pg_backend_pid(), $1::int8 * 2, pg_sleep(0.005)", &[&i]).await.unwrap().unwrap();
            pids.lock().unwrap().insert(row.get::<i32, _>(0).unwrap());
            let doubled: i64 = row.get(1).unwrap();
            out.fetch_sub(1, Ordering::SeqCst);
            drop(conn);
            doubled
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    assert_eq!(results, (0..50).map(|i| i * 2).collect::<Vec<_>>(), "every task served");
    assert!(peak.load(Ordering::SeqCst) <= 5);
    assert!(pids.lock().unwrap().len() <= 5, "{:?}", pids.lock().unwrap());
    settle(&pool).await;
    assert!(pool.get_size() >= 2 && pool.get_size() <= 5, "size {}", pool.get_size());
    assert_eq!(pool.get_idle_size(), pool.get_size());
    assert_eq!(backends(app), pool.get_size() as i64, "no connection leaked on the server");
    pool.close().await.unwrap();
    assert_eq!((pool.get_size(), pool.get_idle_size()), (0, 0));
    for _ in 0..500 {
        if backends(app) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(backends(app), 0, "close closed every connection");
}

#[tokio::test]
async fn terminated_backend_of_an_idle_connection_is_replaced() {
    let pool = pool(
        "pool_kill_idle",
        PoolOptions { min_size: 1, max_size: 1, health_check_after: Some(Duration::ZERO), ..Default::default() },
    )
    .await;
    let pid: i32 = pool.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    settle(&pool).await;
    assert_eq!(psql(&format!("SELECT pg_terminate_backend({pid})")), "t");
    let conn = pool.acquire().await.unwrap();
    let new_pid: i32 = conn.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    assert_ne!(new_pid, pid);
    assert_eq!(conn.fetchval::<i32>("SELECT 7", &[]).await.unwrap(), 7);
}

#[tokio::test]
async fn terminated_backend_of_an_acquired_connection_is_replaced() {
    let pool = pool("pool_kill_busy", PoolOptions { min_size: 1, max_size: 1, ..Default::default() }).await;
    let conn = pool.acquire().await.unwrap();
    let pid: i32 = conn.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    assert_eq!(psql(&format!("SELECT pg_terminate_backend({pid})")), "t");
    let err = conn.execute("SELECT 1", &[]).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Closed | ErrorKind::Io | ErrorKind::Server), "{err}");
    drop(conn);
    let new_pid: i32 = pool.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    assert_ne!(new_pid, pid);
    settle(&pool).await;
    assert_eq!(pool.get_size(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropped_futures_never_leave_a_dirty_connection() {
    let app = "pool_drops";
    let pool = pool(app, PoolOptions { min_size: 0, max_size: 5, ..Default::default() }).await;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for batch in 0..20 {
        let mut tasks = Vec::new();
        for i in 0..50u64 {
            let pool = pool.clone();
            let seed = rng.next();
            let deadline = Duration::from_micros(seed % 4000);
            let key = (batch * 50 + i) as i64;
            tasks.push(tokio::spawn(async move {
                // Acquire outside the deadline, so the random drop lands inside the work.
                let c = pool.acquire().await.unwrap();
                let work = async move {
                    if seed & 1 == 1 {
                        c.execute("BEGIN", &[]).await?;
                    }
                    c.execute("SET statement_timeout = '123s'", &[]).await?;
                    c.execute("SET search_path = pg_catalog", &[]).await?;
                    c.execute("SELECT pg_advisory_lock($1)", &[&key]).await?;
                    c.execute("LISTEN edgepg_pool_chan", &[]).await?;
                    c.execute("DECLARE edgepg_cur CURSOR WITH HOLD FOR SELECT 1", &[]).await?;
                    c.fetch("SELECT pg_sleep(0.001), $1::int8", &[&key]).await?;
                    if seed & 2 == 2 {
                        // A failed transaction (or a failed statement).
                        let _ = c.execute("SELECT 1/0", &[]).await;
                    }
                    if seed & 1 == 1 && seed & 4 == 4 {
                        c.execute("COMMIT", &[]).await?;
                    }
                    Ok::<_, edgepg::Error>(())
                };
                // Dropping `work` at a random point drops the guard mid-request.
                let _ = tokio::time::timeout(deadline, work).await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    settle(&pool).await;
    assert!(pool.get_size() <= 5);
    // Hold every connection at once, and check each one.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(pool.acquire().await.unwrap());
    }
    for c in &held {
        assert_eq!(c.transaction_status(), TransactionStatus::Idle);
        let row = c
            .fetchrow(
                "SELECT current_setting('statement_timeout'), current_setting('search_path'), \
                 (SELECT count(*) FROM pg_listening_channels()), \
                 (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), \
                 (SELECT count(*) FROM pg_cursors WHERE name <> '')",
                &[],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.get::<&str, _>(0).unwrap(), "0");
        assert_eq!(row.get::<&str, _>(1).unwrap(), "\"$user\", public");
        assert_eq!(row.get::<i64, _>(2).unwrap(), 0, "still listening");
        assert_eq!(row.get::<i64, _>(3).unwrap(), 0, "advisory lock left");
        assert_eq!(row.get::<i64, _>(4).unwrap(), 0, "cursor left");
        assert_eq!(c.transaction_status(), TransactionStatus::Idle);
    }
    drop(held);
    settle(&pool).await;
    assert_eq!(backends(app), pool.get_size() as i64);
}

#[tokio::test]
async fn hooks_run_when_they_should() {
    let inits = Arc::new(AtomicUsize::new(0));
    let setups = Arc::new(AtomicUsize::new(0));
    let resets = Arc::new(AtomicUsize::new(0));
    let (i, s, r) = (inits.clone(), setups.clone(), resets.clone());
    let opts = PoolOptions {
        min_size: 0,
        max_size: 1,
        init: Some(Arc::new(move |c| {
            i.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { c.execute("SET application_name = 'pool_hooked'", &[]).await.map(|_| ()) })
        })),
        setup: Some(Arc::new(move |_c| {
            s.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        })),
        reset: Some(Arc::new(move |c| {
            r.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { c.execute("RESET statement_timeout", &[]).await.map(|_| ()) })
        })),
        ..Default::default()
    };
    let pool = pool("pool_hooks", opts).await;
    for _ in 0..3 {
        let c = pool.acquire().await.unwrap();
        // init's session setting survives a custom reset that leaves it alone.
        assert_eq!(
            c.fetchval::<String>("SELECT current_setting('application_name')", &[]).await.unwrap(),
            "pool_hooked"
        );
        c.execute("SET statement_timeout = '5s'", &[]).await.unwrap();
        pool.release(c).await.unwrap();
    }
    assert_eq!(inits.load(Ordering::SeqCst), 1);
    assert_eq!(setups.load(Ordering::SeqCst), 3);
    assert_eq!(resets.load(Ordering::SeqCst), 3);
    let c = pool.acquire().await.unwrap();
    assert_eq!(c.fetchval::<String>("SHOW statement_timeout", &[]).await.unwrap(), "0");
}

#[tokio::test]
async fn failing_setup_discards_the_connection() {
    let opts = PoolOptions {
        min_size: 0,
        max_size: 1,
        setup: Some(Arc::new(|c| {
            Box::pin(async move { c.execute("SELECT no_such_function()", &[]).await.map(|_| ()) })
        })),
        ..Default::default()
    };
    let pool = pool("pool_bad_setup", opts).await;
    let err = pool.acquire().await.unwrap_err();
    assert!(err.to_string().contains("setup hook"), "{err}");
    assert_eq!(pool.get_size(), 0);
}

#[tokio::test]
async fn acquire_times_out_and_waiters_are_served_in_order() {
    let pool = pool(
        "pool_fifo",
        PoolOptions {
            min_size: 1,
            max_size: 1,
            acquire_timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        },
    )
    .await;
    let held = pool.acquire().await.unwrap();
    let err = pool.acquire().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(pool.get_size(), 1, "a timed-out acquire leaks nothing");

    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    let patient =
        edgepg::create_pool(&dsn("pool_fifo2"), PoolOptions { min_size: 1, max_size: 1, ..Default::default() })
            .await
            .unwrap();
    let first = patient.acquire().await.unwrap();
    for i in 0..4 {
        let (p, order) = (patient.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let c = p.acquire().await.unwrap();
            order.lock().unwrap().push(i);
            c.execute("SELECT 1", &[]).await.unwrap();
        }));
        // Let the task queue up before the next one (ordering only; nothing is timed).
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    drop(first);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    drop(held);
}

#[tokio::test]
async fn close_waits_for_acquired_connections() {
    let app = "pool_close";
    let pool = pool(app, PoolOptions { min_size: 2, max_size: 3, ..Default::default() }).await;
    let held = pool.acquire().await.unwrap();
    let closer = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.close().await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!closer.is_finished(), "close must wait for the acquired connection");
    assert!(pool.is_closing());
    assert_eq!(pool.acquire().await.unwrap_err().kind(), ErrorKind::Closed);
    // The holder can still use it.
    assert_eq!(held.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    drop(held);
    tokio::time::timeout(Duration::from_secs(30), closer).await.expect("close finished").unwrap().unwrap();
    assert_eq!(pool.get_size(), 0);
}

#[tokio::test]
async fn terminate_closes_acquired_connections_too() {
    let pool = pool("pool_terminate", PoolOptions { min_size: 1, max_size: 2, ..Default::default() }).await;
    let held = pool.acquire().await.unwrap();
    pool.terminate();
    assert!(held.is_closed());
    assert!(held.execute("SELECT 1", &[]).await.is_err());
    drop(held);
    for _ in 0..500 {
        if pool.get_size() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.get_size(), 0);
}

#[tokio::test]
async fn expire_max_queries_and_idle_lifetime_replace_connections() {
    let pool1 = pool("pool_expire", PoolOptions { min_size: 1, max_size: 1, ..Default::default() }).await;
    let before: i32 = pool1.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    settle(&pool1).await;
    pool1.expire_connections().await;
    let after: i32 = pool1.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    assert_ne!(before, after);

    let pool2 = pool("pool_maxq", PoolOptions { min_size: 0, max_size: 1, max_queries: 5, ..Default::default() }).await;
    let mut pids = HashSet::new();
    for _ in 0..10 {
        pids.insert(pool2.fetchval::<i32>("SELECT pg_backend_pid()", &[]).await.unwrap());
    }
    assert!(pids.len() >= 2, "max_queries recycles the connection: {pids:?}");

    let app = "pool_idle_life";
    let pool3 = pool(
        app,
        PoolOptions {
            min_size: 0,
            max_size: 2,
            max_inactive_connection_lifetime: Some(Duration::from_millis(100)),
            ..Default::default()
        },
    )
    .await;
    pool3.execute("SELECT 1", &[]).await.unwrap();
    for _ in 0..1000 {
        if pool3.get_size() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool3.get_size(), 0, "the idle connection was closed");
}

#[tokio::test]
async fn shortcuts_and_listener_cleanup() {
    let pool = pool("pool_shortcuts", PoolOptions { min_size: 1, max_size: 1, ..Default::default() }).await;
    pool.execute("CREATE TABLE IF NOT EXISTS pool_shortcuts (id int8, name text)", &[]).await.unwrap();
    pool.execute("TRUNCATE pool_shortcuts", &[]).await.unwrap();
    pool.executemany("INSERT INTO pool_shortcuts VALUES ($1, $2)", (0..10i64).map(|i| (i, format!("n{i}"))))
        .await
        .unwrap();
    assert_eq!(pool.fetch("SELECT * FROM pool_shortcuts", &[]).await.unwrap().len(), 10);
    let row = pool.fetchrow("SELECT name FROM pool_shortcuts WHERE id = $1", &[&3i64]).await.unwrap().unwrap();
    assert_eq!(row.get::<&str, _>(0).unwrap(), "n3");
    assert_eq!(pool.fetchval::<i64>("SELECT count(*) FROM pool_shortcuts", &[]).await.unwrap(), 10);
    pool.execute("DROP TABLE pool_shortcuts", &[]).await.unwrap();

    let fired = Arc::new(AtomicUsize::new(0));
    let c = pool.acquire().await.unwrap();
    let f = fired.clone();
    c.add_listener("pool_chan", move |_| {
        f.fetch_add(1, Ordering::SeqCst);
    })
    .await
    .unwrap();
    pool.release(c).await.unwrap();
    let c = pool.acquire().await.unwrap();
    assert_eq!(c.fetchval::<i64>("SELECT count(*) FROM pg_listening_channels()", &[]).await.unwrap(), 0);
    c.execute("LISTEN pool_chan; NOTIFY pool_chan; SELECT 1", &[]).await.unwrap();
    c.execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 0, "the previous user's callback is gone");
}

#[tokio::test]
async fn bad_password_fails_at_creation() {
    let err = edgepg::create_pool(
        &dsn_for("edgepg", Some("wrong"), "sslmode=disable"),
        PoolOptions { min_size: 1, max_size: 2, ..Default::default() },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
}

/// A runtime that counts its sleeps still pending (created, not yet dropped).
struct CountingRuntime(Arc<AtomicUsize>);

struct CountedSleep(edgepg::BoxFuture<'static, ()>, Arc<AtomicUsize>);

impl std::future::Future for CountedSleep {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl Drop for CountedSleep {
    fn drop(&mut self) {
        self.1.fetch_sub(1, Ordering::SeqCst);
    }
}

impl edgepg::Runtime for CountingRuntime {
    fn sleep(&self, d: Duration) -> edgepg::BoxFuture<'static, ()> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(CountedSleep(edgepg::TokioRuntime.sleep(d), self.0.clone()))
    }
    fn now(&self) -> Duration {
        edgepg::TokioRuntime.now()
    }
    fn spawn(&self, f: edgepg::BoxFuture<'static, ()>) {
        edgepg::TokioRuntime.spawn(f)
    }
}

#[tokio::test]
async fn close_stops_the_idle_reaper_timer() {
    let sleeps = Arc::new(AtomicUsize::new(0));
    let config = edgepg::Config::parse(&dsn("pool_reaper_stop")).unwrap();
    let connect: edgepg::pool::ConnectFn = Arc::new(move || Box::pin(edgepg::connect_with(config.clone())));
    let opts = PoolOptions {
        min_size: 1,
        max_size: 1,
        max_inactive_connection_lifetime: Some(Duration::from_secs(300)),
        ..Default::default()
    };
    let pool = Pool::new(Arc::new(CountingRuntime(sleeps.clone())), connect, opts).await.unwrap();
    pool.execute("SELECT 1", &[]).await.unwrap();
    // The reaper waits in a 150 s sleep.
    for _ in 0..1000 {
        if sleeps.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(sleeps.load(Ordering::SeqCst) > 0, "the reaper sleeps");
    pool.close().await.unwrap();
    // Its sleep is dropped at once, not after 150 s (bounded wait: "no hang" guard).
    for _ in 0..1000 {
        if sleeps.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(sleeps.load(Ordering::SeqCst), 0, "close() left a timer pending");
}

/// A pool is often created where timers are refused (a Worker's module
/// scope): its idle reaper sets no timer before the pool's first connection.
#[tokio::test]
async fn the_idle_reaper_starts_with_the_first_connection() {
    let sleeps = Arc::new(AtomicUsize::new(0));
    let config = edgepg::Config::parse(&dsn("pool_reaper_lazy")).unwrap();
    let connect: edgepg::pool::ConnectFn = Arc::new(move || Box::pin(edgepg::connect_with(config.clone())));
    let opts = PoolOptions {
        min_size: 0,
        max_size: 1,
        max_inactive_connection_lifetime: Some(Duration::from_secs(300)),
        ..Default::default()
    };
    let pool = Pool::new(Arc::new(CountingRuntime(sleeps.clone())), connect, opts).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sleeps.load(Ordering::SeqCst), 0, "a timer was set before any connection");
    pool.execute("SELECT 1", &[]).await.unwrap();
    for _ in 0..1000 {
        if sleeps.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(sleeps.load(Ordering::SeqCst), 1, "one reaper, sleeping");
    pool.execute("SELECT 1", &[]).await.unwrap();
    assert_eq!(sleeps.load(Ordering::SeqCst), 1, "still one reaper");
    pool.close().await.unwrap();
}

/// A cleanly released connection is reset without a round trip: the default
/// reset is queued in front of the next borrower's first request. The next
/// borrower must still see a clean session.
#[tokio::test]
async fn clean_release_still_resets_the_session() {
    let pool =
        pool("edgepg-pool-clean-reset", PoolOptions { min_size: 1, max_size: 1, ..PoolOptions::default() }).await;
    for round in 0..20 {
        let conn = pool.acquire().await.unwrap();
        let seen: String = conn.fetchval("SELECT current_setting('search_path')", &[]).await.unwrap();
        assert_eq!(seen, "\"$user\", public", "round {round}: a previous borrower's SET leaked");
        let listening: i64 = conn.fetchval("SELECT count(*) FROM pg_listening_channels()", &[]).await.unwrap();
        assert_eq!(listening, 0, "round {round}: a previous borrower's LISTEN leaked");
        let locks: i64 = conn
            .fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()", &[])
            .await
            .unwrap();
        assert_eq!(locks, 0, "round {round}: a previous borrower's advisory lock leaked");
        conn.execute("SET search_path = pg_catalog; LISTEN leak; SELECT pg_advisory_lock(42)", &[]).await.unwrap();
        drop(conn);
    }
    pool.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_made_during_a_lease_stop_working_after_release() {
    use futures_util::StreamExt;
    let pool = pool("pool_lease", PoolOptions { min_size: 1, max_size: 1, ..Default::default() }).await;
    let c = pool.acquire().await.unwrap();
    let stmt = c.prepare("SELECT $1::int8 + 1").await.unwrap();
    assert_eq!(stmt.fetchval::<i64>(&[&1i64]).await.unwrap(), 2);
    let owned = c.transaction().start_owned().await.unwrap();
    let nested = owned.transaction().start_owned().await.unwrap();
    // Far more data than the stream's channel holds: the driver waits on it.
    let mut copy = c
        .copy_from_query("SELECT g FROM generate_series(1, 200000) g", &[], &edgepg::CopyOptions::new())
        .await
        .unwrap();
    drop(c); // released: cleaned in the background, behind the COPY

    let e = stmt.fetchval::<i64>(&[&1i64]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interface, "{e}");
    assert!(e.message().contains("prepare it again on the connection you hold"), "{e}");
    // The COPY stream ends with the same kind of error, and lets go of the
    // connection (its unread data is discarded) so the cleanup can finish.
    let mut saw_error = false;
    while let Some(item) = copy.next().await {
        if let Err(e) = item {
            assert_eq!(e.kind(), ErrorKind::Interface, "{e}");
            saw_error = true;
        }
    }
    assert!(saw_error);
    settle(&pool).await;

    // The same connection (max_size 1), now someone else's, inside a transaction.
    let c = pool.acquire().await.unwrap();
    let tx = c.transaction().start().await.unwrap();
    tx.execute("CREATE TEMP TABLE lease_t (id int8)", &[]).await.unwrap();
    assert_eq!(stmt.execute(&[&1i64]).await.unwrap_err().kind(), ErrorKind::Interface);
    assert_eq!(nested.rollback().await.unwrap_err().kind(), ErrorKind::Interface);
    drop(owned); // must not roll back the new transaction
    let fresh = tx.prepare("SELECT $1::int8 + 1").await.unwrap();
    assert_eq!(fresh.fetchval::<i64>(&[&41i64]).await.unwrap(), 42);
    tx.execute("INSERT INTO lease_t VALUES (1)", &[]).await.unwrap();
    assert!(c.is_in_transaction());
    tx.commit().await.unwrap();
    assert_eq!(c.fetchval::<i64>("SELECT count(*) FROM lease_t", &[]).await.unwrap(), 1);
    // Only the handles are invalidated: the connection's statement cache
    // (filled by the first lease) keeps serving queries.
    assert_eq!(c.fetchval::<i64>("SELECT $1::int8 + 1", &[&1i64]).await.unwrap(), 2);
    drop(c);
    settle(&pool).await;
    pool.close().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// pipeline_depth: shortcut calls sharing a connection.

/// Options for the sharing tests: `max_size` connections, opened up front, and up to `depth` shortcut calls on each.
fn sharing(max_size: usize, depth: usize) -> PoolOptions {
    PoolOptions { min_size: max_size, max_size, pipeline_depth: depth, ..PoolOptions::default() }
}

#[tokio::test]
async fn shortcuts_share_a_busy_connection_only_when_allowed() {
    use futures_util::FutureExt;
    let pool = pool("edgepg-pool-share-seat", sharing(1, 4)).await;
    let first = pool.acquire_for("SELECT 1").await.unwrap();
    assert!(first.is_shared());
    // The only connection is lent to a shortcut: a plain statement gets a
    // seat beside it at once, without waiting for a release...
    let second = pool.acquire_for("select $1::int8 + 1").now_or_never().expect("a seat, not a wait").unwrap();
    assert!(second.is_shared());
    let (a, b): (i32, i64) =
        tokio::join!(async { first.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap() }, async {
            second.fetchval::<i64>("SELECT $1::int8 + 1", &[&41i64]).await.unwrap()
        });
    assert_eq!(b, 42);
    let pid: i32 = second.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    assert_eq!(a, pid, "both calls ran on the one connection");
    // ...but a statement that could change the session for the others waits
    // for a connection of its own.
    assert!(pool.acquire_for("BEGIN").now_or_never().is_none(), "BEGIN must not join a shared connection");
    assert!(pool.acquire_for("SET search_path = x").now_or_never().is_none());
    assert!(pool.acquire_for("SELECT 1; SELECT 2").now_or_never().is_none());
    // Seats up to the depth, then wait.
    let third = pool.acquire_for("SELECT 3").now_or_never().unwrap().unwrap();
    let fourth = pool.acquire_for("SELECT 4").now_or_never().unwrap().unwrap();
    assert!(pool.acquire_for("SELECT 5").now_or_never().is_none(), "depth 4 reached");
    drop((first, second, third, fourth));
    settle(&pool).await;
    pool.close().await.unwrap();
}

#[tokio::test]
async fn a_call_waiting_for_a_seat_takes_the_first_one_freed() {
    use futures_util::FutureExt;
    let pool = pool("edgepg-pool-share-wait", sharing(1, 2)).await;
    let a = pool.acquire_for("SELECT 1").await.unwrap();
    let b = pool.acquire_for("SELECT 2").await.unwrap();
    let mut c = Box::pin(pool.acquire_for("SELECT 3"));
    assert!((&mut c).now_or_never().is_none(), "depth 2 reached: the third call waits");
    // One seat frees while `a` still holds the connection: the waiting call
    // takes it, without waiting for the whole connection to come back.
    drop(b);
    let c = tokio::time::timeout(Duration::from_secs(5), c).await.expect("seated").unwrap();
    assert!(c.is_shared());
    assert_eq!(c.fetchval::<i32>("SELECT 3", &[]).await.unwrap(), 3);
    assert_eq!(a.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    drop((a, c));
    settle(&pool).await;
    pool.close().await.unwrap();
}

#[tokio::test]
async fn depth_one_never_shares() {
    use futures_util::FutureExt;
    let pool = pool("edgepg-pool-share-none", sharing(1, 1)).await;
    let first = pool.acquire_for("SELECT 1").await.unwrap();
    assert!(!first.is_shared());
    assert!(pool.acquire_for("SELECT 1").now_or_never().is_none(), "depth 1: a second call waits");
    drop(first);
    let again = pool.acquire_for("SELECT 1").await.unwrap();
    assert!(!again.is_shared());
    drop(again);
    pool.close().await.unwrap();
}

#[tokio::test]
async fn a_waiting_acquire_is_not_starved_by_shared_calls() {
    use futures_util::FutureExt;
    let pool = pool("edgepg-pool-share-fair", sharing(1, 8)).await;
    let seat = pool.acquire_for("SELECT 1").await.unwrap();
    let p2 = pool.clone();
    let waiting = tokio::spawn(async move {
        let conn = p2.acquire().await.unwrap();
        conn.fetchval::<i32>("SELECT 7", &[]).await.unwrap()
    });
    // Let the acquire queue up.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert!(
        pool.acquire_for("SELECT 1").now_or_never().is_none(),
        "with an acquire in line, new shortcut calls queue behind it instead of joining"
    );
    drop(seat);
    assert_eq!(tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap(), 7);
    pool.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shared_calls_get_their_own_answers_and_errors() {
    let app = "edgepg-pool-share-answers";
    let pool = pool(app, sharing(2, 8)).await;
    let mut tasks = Vec::new();
    for i in 0..400i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            if i % 37 == 0 {
                // A failing call in the middle of the pipeline fails alone.
                let e = pool.fetchval::<i64>("SELECT 1 / ($1::int8 - $1::int8)", &[&i]).await.unwrap_err();
                assert_eq!(e.code(), Some(edgepg::SqlState::DIVISION_BY_ZERO), "{e}");
                None
            } else {
                Some(pool.fetchval::<i64>("SELECT $1::int8 * 3", &[&i]).await.unwrap())
            }
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let got = t.await.unwrap();
        if i % 37 != 0 {
            assert_eq!(got, Some(i as i64 * 3), "call {i} got another call's answer");
        }
    }
    assert!(backends(app) <= 2, "max_size bounds the connections");
    settle(&pool).await;
    pool.close().await.unwrap();
}

#[tokio::test]
async fn each_shared_call_starts_from_a_clean_session() {
    let pool = pool("edgepg-pool-share-reset", sharing(1, 4)).await;
    {
        let a = pool.acquire_for("SELECT 1").await.unwrap();
        let b = pool.acquire_for("SELECT 1").await.unwrap();
        assert!(b.is_shared());
        let a_pid: i32 = a
            .fetchval(
                "SELECT pg_backend_pid() FROM (SELECT set_config('search_path', 'pg_catalog', false), pg_advisory_lock(42)) s",
                &[],
            )
            .await
            .unwrap();
        // The next call on the same connection does not see what the first
        // left behind: the reset ran in between, in the same write.
        let (pid, path, locks): (i32, String, i64) = b
            .fetchrow_as(
                "SELECT pg_backend_pid(), current_setting('search_path'), \
                 (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())",
                &[],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(pid, a_pid, "both calls ran on the one connection");
        assert_eq!(path, "\"$user\", public");
        assert_eq!(locks, 0, "the advisory lock of the call before was released");
        let _: String = b.fetchval("SELECT set_config('search_path', 'pg_catalog', false)", &[]).await.unwrap();
    }
    settle(&pool).await;
    let seen: String = pool.fetchval("SELECT current_setting('search_path')", &[]).await.unwrap();
    assert_eq!(seen, "\"$user\", public", "the reset ran once the last call gave the connection back");
    pool.close().await.unwrap();
}

#[tokio::test]
async fn a_stalled_connection_takes_no_new_call() {
    use futures_util::FutureExt;
    let pool = pool("edgepg-pool-share-stall", sharing(1, 4)).await;
    let slow = pool.acquire_for("SELECT pg_sleep(0.4)").await.unwrap();
    let running = slow.execute("SELECT pg_sleep(0.4)", &[]);
    let check = async {
        // Past the stall limit without a call finishing: a new call waits for
        // the release instead of queueing behind the slow query.
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(pool.acquire_for("SELECT 1").now_or_never().is_none(), "must not join a stalled connection");
    };
    let (done, ()) = tokio::join!(running, check);
    done.unwrap();
    drop(slow);
    assert_eq!(pool.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    pool.close().await.unwrap();
}

#[tokio::test]
async fn pipeline_depth_zero_is_a_config_error() {
    let e = edgepg::create_pool(&dsn("edgepg-pool-share-zero"), sharing(1, 0)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("pipeline_depth"), "{e}");
}

// One thread: the spawned waiter runs, and queues, when this task yields.
#[tokio::test(flavor = "current_thread")]
async fn a_connection_handed_to_a_waiter_is_reset_before_its_first_request() {
    let pool = pool("edgepg-pool-owed-reset", PoolOptions { min_size: 1, max_size: 1, ..PoolOptions::default() }).await;
    for round in 0..20 {
        let conn = pool.acquire().await.unwrap();
        conn.execute("SET search_path = pg_catalog; LISTEN leak; SELECT pg_advisory_lock(42)", &[]).await.unwrap();
        // Someone is waiting when the connection comes back: the reset travels
        // with the waiter's first request instead of on its own.
        let p2 = pool.clone();
        let waiter = tokio::spawn(async move {
            let conn = p2.acquire().await.unwrap();
            let row = conn
                .fetchrow(
                    "SELECT current_setting('search_path'), (SELECT count(*) FROM pg_listening_channels()), \
                     (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())",
                    &[],
                )
                .await
                .unwrap()
                .unwrap();
            (row.get::<String, _>(0).unwrap(), row.get::<i64, _>(1).unwrap(), row.get::<i64, _>(2).unwrap())
        });
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        assert!(!waiter.is_finished());
        drop(conn);
        let seen = tokio::time::timeout(Duration::from_secs(10), waiter).await.unwrap().unwrap();
        assert_eq!(seen, ("\"$user\", public".to_string(), 0, 0), "round {round}: the session leaked to the waiter");
    }
    pool.close().await.unwrap();
}

#[tokio::test]
async fn an_idle_connection_gives_up_its_advisory_locks_without_a_next_borrower() {
    let app = "edgepg-pool-idle-unlock";
    let pool = pool(app, PoolOptions { min_size: 1, max_size: 1, ..PoolOptions::default() }).await;
    pool.execute("SELECT pg_advisory_lock(4242)", &[]).await.unwrap();
    // Nobody borrows it again; the reset still runs, so the lock is free.
    let held = || -> i64 {
        psql(&format!(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
             WHERE l.locktype = 'advisory' AND a.application_name = '{app}'"
        ))
        .parse()
        .unwrap()
    };
    let mut left = -1;
    for _ in 0..500 {
        left = held();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(left, 0, "the idle connection still holds its advisory lock");
    pool.close().await.unwrap();
}
