//! `pipelined_10k`: pipelining on one connection — 10,000 small parameterised
//! queries with 10 in flight at a time, driven by the same
//! `stream::iter(..).buffer_unordered(10)` construct for both clients.

use futures::{StreamExt, TryStreamExt};

use crate::checksum::mix;
use crate::clients;
use crate::asyncpg;
use crate::harness::{Contender, Ctx, Flavor, LocalFuture, Result, Runner, Sample, Workload, ASYNCPG, EDGEPG, TOKIO_POSTGRES};

const QUERIES: u64 = 10_000;
const IN_FLIGHT: usize = 10;
const SQL: &str = "SELECT $1::int8 + 1";

/// The workload definition.
pub fn workload() -> Workload {
    Workload {
        name: "pipelined_10k",
        description: "10,000 `SELECT $1::int8 + 1` with 10 in flight on ONE connection \
                      (`futures::stream::iter(..).buffer_unordered(10)`). edgepg: \
                      `conn.fetchval::<i64>(sql, &[&i])`; tokio-postgres: \
                      `client.query_one(&prepared, &[&i])`; asyncpg: it cannot pipeline (a second \
                      query on a busy connection raises \"another operation is in progress\"), so its \
                      closest equivalent runs: the same 10,000 `await conn.fetchval(sql, i)` one after \
                      another on one connection.",
        unit: "queries",
        ops: QUERIES,
        flavor: Flavor::MultiThread { workers: 2 },
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(Edgepg::setup(ctx)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPg::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| asyncpg::setup(ctx, "pipelined_10k") },
        ],
        cap: None,
    }
}

/// Order-independent digest of the answers (they arrive out of order).
fn fold(acc: u64, v: i64) -> u64 {
    acc.wrapping_add(mix(0, v as u64))
}

struct Edgepg {
    conn: edgepg::Connection,
}

impl Edgepg {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        Ok(Box::new(Edgepg { conn: clients::edgepg(&ctx.dsn).await? }))
    }
}

impl Runner for Edgepg {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        let conn = &self.conn;
        Box::pin(async move {
            let sum = futures::stream::iter(0..QUERIES as i64)
                .map(|i| async move { conn.fetchval::<i64>(SQL, &[&i]).await })
                .buffer_unordered(IN_FLIGHT)
                .try_fold(0u64, |acc, v| async move { Ok(fold(acc, v)) })
                .await?;
            Ok(Sample::checksum(sum))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move { Ok(self.conn.close().await?) })
    }
}

struct TokioPg {
    client: tokio_postgres::Client,
    stmt: tokio_postgres::Statement,
}

impl TokioPg {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let client = clients::tokio_postgres(&ctx.dsn).await?;
        let stmt = client.prepare(SQL).await?;
        Ok(Box::new(TokioPg { client, stmt }))
    }
}

impl Runner for TokioPg {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        let (client, stmt) = (&self.client, &self.stmt);
        Box::pin(async move {
            let sum = futures::stream::iter(0..QUERIES as i64)
                .map(|i| async move { client.query_one(stmt, &[&i]).await?.try_get::<_, i64>(0) })
                .buffer_unordered(IN_FLIGHT)
                .try_fold(0u64, |acc, v| async move { Ok(fold(acc, v)) })
                .await?;
            Ok(Sample::checksum(sum))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            drop(self);
            Ok(())
        })
    }
}
