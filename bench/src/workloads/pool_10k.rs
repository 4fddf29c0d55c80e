//! `pool_10k`: a pool of 10 connections serving 10,000 small queries from 50
//! concurrent tasks (200 each), so tasks queue for connections: acquire,
//! one query, release, over and over.

use futures::future::try_join_all;

use crate::asyncpg;
use crate::checksum::mix;
use crate::harness::{Contender, Ctx, Flavor, LocalFuture, Result, Runner, Sample, Workload, ASYNCPG, EDGEPG, TOKIO_POSTGRES};

const TASKS: i64 = 50;
const PER_TASK: i64 = 200;
const POOL_SIZE: usize = 10;
const SQL: &str = "SELECT $1::int8 + 1";

/// The workload definition.
pub fn workload() -> Workload {
    Workload {
        name: "pool_10k",
        description: "A pool of 10 connections, 50 tasks (`tokio::spawn`) each running 200 \
                      `SELECT $1::int8 + 1` through it: 10,000 acquire/query/release cycles. edgepg: \
                      `create_pool(dsn, PoolOptions { min_size: 10, max_size: 10, .. })` + \
                      `pool.fetchval::<i64>(sql, &[&i])` (default release: ROLLBACK if needed + the \
                      reset query `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;`); \
                      tokio-postgres: deadpool-postgres `Pool` (max_size 10, `RecyclingMethod::Fast`, its \
                      default: nothing is sent on release) + `prepare_cached` + `query_one`; asyncpg: \
                      `create_pool(min_size=10, max_size=10)`, 50 asyncio tasks, `await pool.fetchval(sql, i)` \
                      (its release also runs a reset query).",
        unit: "queries",
        ops: (TASKS * PER_TASK) as u64,
        flavor: Flavor::MultiThread { workers: 2 },
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(Edgepg::setup(ctx, Reset::Default)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(Deadpool::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| asyncpg::setup(ctx, "pool_10k") },
        ],
        cap: None,
    }
}

/// The same with the session reset on release turned off in edgepg and
/// asyncpg, to compare like with like against deadpool's `Fast` recycling.
pub fn workload_noreset() -> Workload {
    Workload {
        name: "pool_10k_noreset",
        description: "`pool_10k` without the session reset on release: edgepg \
                      `PoolOptions { reset: None, .. }` (release still sends a lone Sync, one round trip, \
                      to learn the transaction status); deadpool-postgres as in `pool_10k`; asyncpg \
                      `create_pool(..., reset=noop)` (a coroutine that does nothing: release sends nothing).",
        unit: "queries",
        ops: (TASKS * PER_TASK) as u64,
        flavor: Flavor::MultiThread { workers: 2 },
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(Edgepg::setup(ctx, Reset::Off)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(Deadpool::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| asyncpg::setup(ctx, "pool_10k_noreset") },
        ],
        cap: None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reset {
    /// `PoolOptions::default()`'s reset hook.
    Default,
    /// `reset: None`.
    Off,
}

/// Order-independent digest of the answers (same as `pipelined_10k`).
fn fold(acc: u64, v: i64) -> u64 {
    acc.wrapping_add(mix(0, v as u64))
}

/// Runs `task(t)` for every task on the runtime's workers and sums their digests.
async fn spawn_tasks<F, Fut>(task: F) -> Result<u64>
where
    F: Fn(i64) -> Fut,
    Fut: std::future::Future<Output = Result<u64>> + Send + 'static,
{
    let handles: Vec<_> = (0..TASKS).map(|t| tokio::spawn(task(t))).collect();
    let parts = try_join_all(handles).await?;
    let mut sum = 0u64;
    for p in parts {
        sum = sum.wrapping_add(p?);
    }
    Ok(sum)
}

struct Edgepg {
    pool: edgepg::Pool,
}

impl Edgepg {
    async fn setup(ctx: Ctx, reset: Reset) -> Result<Box<dyn Runner>> {
        let mut options = edgepg::PoolOptions { min_size: POOL_SIZE, max_size: POOL_SIZE, ..Default::default() };
        if reset == Reset::Off {
            options.reset = None;
        }
        let pool = edgepg::create_pool(&ctx.dsn, options).await?;
        Ok(Box::new(Edgepg { pool }))
    }
}

impl Runner for Edgepg {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let sum = spawn_tasks(|t| {
                let pool = self.pool.clone();
                async move {
                    let mut acc = 0u64;
                    for k in 0..PER_TASK {
                        let i = t * PER_TASK + k;
                        acc = fold(acc, pool.fetchval::<i64>(SQL, &[&i]).await?);
                    }
                    Ok(acc)
                }
            })
            .await?;
            Ok(Sample::checksum(sum))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move { Ok(self.pool.close().await?) })
    }
}

struct Deadpool {
    pool: deadpool_postgres::Pool,
}

impl Deadpool {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
        let config: tokio_postgres::Config = ctx.dsn.parse()?;
        let manager =
            Manager::from_config(config, tokio_postgres::NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager).max_size(POOL_SIZE).build()?;
        // deadpool opens connections on demand: open all 10 now (min_size 10
        // on the other clients), untimed, with the statement prepared on each.
        let conns = try_join_all((0..POOL_SIZE).map(|_| pool.get())).await?;
        for c in &conns {
            c.prepare_cached(SQL).await?;
        }
        drop(conns);
        Ok(Box::new(Deadpool { pool }))
    }
}

impl Runner for Deadpool {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let sum = spawn_tasks(|t| {
                let pool = self.pool.clone();
                async move {
                    let mut acc = 0u64;
                    for k in 0..PER_TASK {
                        let i = t * PER_TASK + k;
                        let client = pool.get().await?;
                        let stmt = client.prepare_cached(SQL).await?;
                        acc = fold(acc, client.query_one(&stmt, &[&i]).await?.try_get::<_, i64>(0)?);
                    }
                    Ok(acc)
                }
            })
            .await?;
            Ok(Sample::checksum(sum))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            self.pool.close();
            Ok(())
        })
    }
}
