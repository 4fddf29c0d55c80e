//! `seq_select1`: small-query round-trip latency — sequential `SELECT 1` on one
//! connection, each query awaited before the next is sent.

use crate::clients;
use crate::asyncpg;
use crate::harness::{Contender, Ctx, Flavor, LocalFuture, Result, Runner, Sample, Workload, ASYNCPG, EDGEPG, TOKIO_POSTGRES};

const QUERIES: u64 = 20_000;
const SQL: &str = "SELECT 1";

/// The workload definition.
pub fn workload() -> Workload {
    Workload {
        name: "seq_select1",
        description: "20,000 sequential `SELECT 1` round trips on one connection. edgepg: \
                      `conn.fetchval::<i32>(sql, &[])` (extended protocol, statement cache); \
                      tokio-postgres: `client.query_one(&prepared, &[])`; asyncpg: \
                      `await conn.fetchval(sql)` (its statement cache).",
        unit: "queries",
        ops: QUERIES,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(Edgepg::setup(ctx)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPg::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| asyncpg::setup(ctx, "seq_select1") },
        ],
        cap: None,
    }
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
        Box::pin(async move {
            let mut sum = 0u64;
            for _ in 0..QUERIES {
                let v: i32 = self.conn.fetchval(SQL, &[]).await?;
                sum += v as u64;
            }
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
        Box::pin(async move {
            let mut sum = 0u64;
            for _ in 0..QUERIES {
                let v: i32 = self.client.query_one(&self.stmt, &[]).await?.try_get(0)?;
                sum += v as u64;
            }
            Ok(Sample::checksum(sum))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        // Dropping the client ends its connection task.
        Box::pin(async move {
            drop(self);
            Ok(())
        })
    }
}
