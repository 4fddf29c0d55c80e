//! Through PgBouncer in transaction mode (started by tests/cluster/pgbouncer.sh) with the
//! statement cache off: queries, executemany, explicit transactions and the pool.

use std::time::Duration;

use edgepg::{PoolOptions, TransactionStatus};
use edgepg_tests::pgbouncer_dsn;

fn dsn() -> String {
    pgbouncer_dsn("sslmode=disable&statement_cache_size=0")
}

async fn pool(max: usize) -> edgepg::Pool {
    // No session reset: in transaction mode there is no session to clean.
    edgepg::create_pool(&dsn(), PoolOptions { min_size: 1, max_size: max, reset: None, ..Default::default() })
        .await
        .unwrap()
}

#[tokio::test]
async fn queries_without_prepared_statements() {
    let conn = edgepg::connect(&dsn()).await.unwrap();
    for i in 0..20i64 {
        let v: i64 = conn.fetchval("SELECT $1::int8 + 1", &[&i]).await.unwrap();
        assert_eq!(v, i + 1);
    }
    let rows = conn.fetch("SELECT g, g::text FROM generate_series(1, $1::int4) g", &[&5i32]).await.unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[4].get::<&str, _>(1).unwrap(), "5");
    assert_eq!(conn.statement_cache_len(), 0);
    // Concurrent (pipelined) requests on one client connection.
    let (a, b) = futures_util::join!(
        conn.fetchval::<i32>("SELECT $1::int4", &[&1i32]),
        conn.fetchval::<String>("SELECT $1::text", &[&"two"])
    );
    assert_eq!((a.unwrap(), b.unwrap().as_str()), (1, "two"));
    conn.close().await.unwrap();
}

#[tokio::test]
async fn executemany_and_transactions() {
    let conn = edgepg::connect(&dsn()).await.unwrap();
    conn.execute("DROP TABLE IF EXISTS bouncer_items; CREATE TABLE bouncer_items (id int8, name text)", &[])
        .await
        .unwrap();
    conn.executemany("INSERT INTO bouncer_items VALUES ($1, $2)", (0..100i64).map(|i| (i, format!("n{i}"))))
        .await
        .unwrap();
    assert_eq!(conn.fetchval::<i64>("SELECT count(*) FROM bouncer_items", &[]).await.unwrap(), 100);

    conn.execute("BEGIN", &[]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::InTransaction);
    conn.execute("INSERT INTO bouncer_items VALUES ($1, $2)", &[&1000i64, &"committed"]).await.unwrap();
    // Same server backend for the whole transaction.
    let pid1: i32 = conn.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    let pid2: i32 = conn.fetchval("SELECT pg_backend_pid()", &[]).await.unwrap();
    assert_eq!(pid1, pid2);
    conn.execute("COMMIT", &[]).await.unwrap();

    conn.execute("BEGIN", &[]).await.unwrap();
    conn.execute("INSERT INTO bouncer_items VALUES ($1, $2)", &[&2000i64, &"rolled back"]).await.unwrap();
    conn.execute("ROLLBACK", &[]).await.unwrap();

    conn.execute("BEGIN", &[]).await.unwrap();
    assert!(conn.execute("SELECT 1/0", &[]).await.is_err());
    assert_eq!(conn.transaction_status(), TransactionStatus::Failed);
    conn.execute("ROLLBACK", &[]).await.unwrap();
    assert_eq!(conn.transaction_status(), TransactionStatus::Idle);

    let ids: Vec<i64> = conn
        .fetch("SELECT id FROM bouncer_items WHERE id >= 1000 ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    assert_eq!(ids, vec![1000]);
    conn.execute("DROP TABLE bouncer_items", &[]).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pool_through_pgbouncer() {
    let pool = pool(4).await;
    pool.execute("DROP TABLE IF EXISTS bouncer_pool; CREATE TABLE bouncer_pool (id int8)", &[]).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20i64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let c = pool.acquire().await.unwrap();
            c.execute("BEGIN", &[]).await.unwrap();
            c.execute("INSERT INTO bouncer_pool VALUES ($1)", &[&i]).await.unwrap();
            if i % 2 == 0 {
                c.execute("COMMIT", &[]).await.unwrap();
            } else {
                c.execute("ROLLBACK", &[]).await.unwrap();
            }
            // Give it back before borrowing another (max_size would deadlock otherwise).
            drop(c);
            pool.fetchval::<i64>("SELECT $1::int8", &[&i]).await.unwrap()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), i as i64);
    }
    assert_eq!(pool.fetchval::<i64>("SELECT count(*) FROM bouncer_pool", &[]).await.unwrap(), 10);
    pool.executemany("INSERT INTO bouncer_pool VALUES ($1)", (100..110i64).map(|i| (i,))).await.unwrap();
    assert_eq!(pool.fetchval::<i64>("SELECT count(*) FROM bouncer_pool", &[]).await.unwrap(), 20);

    // A transaction left open by a dropped guard is rolled back before reuse.
    let c = pool.acquire().await.unwrap();
    c.execute("BEGIN", &[]).await.unwrap();
    c.execute("INSERT INTO bouncer_pool VALUES (-1)", &[]).await.unwrap();
    drop(c);
    for _ in 0..1000 {
        if pool.get_idle_size() == pool.get_size() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.fetchval::<i64>("SELECT count(*) FROM bouncer_pool WHERE id = -1", &[]).await.unwrap(), 0);
    pool.execute("DROP TABLE bouncer_pool", &[]).await.unwrap();
    pool.close().await.unwrap();
}
