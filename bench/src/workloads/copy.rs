//! COPY workloads: 1,000,000 rows of `(int8, text, float8, timestamptz)` in
//! and out against tokio-postgres, asyncpg and psql, and 5,000,000 rows in
//! and out in child processes that report their peak RSS.
//!
//! * `copy_in_1m`: into an unlogged table (truncated first, inside the
//!   timing). edgepg: `copy_records_to_table` (binary COPY); tokio-postgres:
//!   `BinaryCopyInWriter`; asyncpg: `copy_records_to_table`; psql:
//!   `\copy … FROM` the same rows as a CSV file (written once, untimed).
//! * `copy_out_1m`: the same rows out (text format) into a sink. edgepg:
//!   `copy_from_table_to_writer`; tokio-postgres: `copy_out`; asyncpg:
//!   `copy_from_table(output=coroutine)`; psql: `\copy … TO '/dev/null'`.
//! * `copy_5m_rss`: 5,000,000 rows in and out, each client in a child
//!   process (this binary with `--child copy_5m_rss:CLIENT`, see
//!   [`child_main`]) that reports its peak RSS (`VmHWM`): memory must stay
//!   bounded whatever the size.
//!
//! These rows are heavy: they run 1 warm-up round and at most 3 repetitions
//! (copy_5m_rss: no warm-up, 1 repetition).

use std::time::{Duration, Instant, SystemTime};

use edgepg::{CopyFormat, CopyOptions};
use futures::{pin_mut, StreamExt};

use crate::asyncpg;
use crate::child::{peak_rss_kib, Child};
use crate::clients;
use crate::harness::{
    process_cpu_time, Contender, Ctx, Flavor, LocalFuture, Plan, Result, Runner, Sample, Workload, ASYNCPG, EDGEPG, TOKIO_POSTGRES,
};

const ROWS: u64 = 1_000_000;
const PSQL: &str = "psql";
const COLUMNS: &str = "(id int8, name text, score float8, at timestamptz)";

fn base_time() -> SystemTime {
    // 2024-01-01 00:00:00 UTC: fixed, so every client writes the same rows.
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_704_067_200)
}

fn record(i: u64) -> (i64, String, f64, SystemTime) {
    (i as i64, format!("row {i}"), i as f64 * 1.5, base_time() + Duration::from_secs(i))
}

/// Binary COPY in, one row of the results table.
pub fn copy_in_1m() -> Workload {
    Workload {
        name: "copy_in_1m",
        description: "1,000,000 rows of `(int8, text, float8, timestamptz)` copied into an unlogged table \
                      (truncated first, inside the timing). edgepg: `copy_records_to_table` (binary COPY); \
                      tokio-postgres: `BinaryCopyInWriter` (rows made on the fly, like edgepg's iterator); \
                      asyncpg: `copy_records_to_table` (binary; its 1,000,000 tuples built once, untimed); \
                      psql: `\\copy … FROM` the same rows as a CSV file (written once, untimed; psql's \
                      start-up and login are inside its time).",
        unit: "rows",
        ops: ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(EdgepgIn::setup(ctx)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPgIn::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| asyncpg::setup(ctx, "copy_in_1m") },
            Contender { client: PSQL, setup: |ctx| Box::pin(Psql::setup(ctx, Direction::In)) },
        ],
        cap: Some(HEAVY),
    }
}

/// COPY out, one row of the results table.
pub fn copy_out_1m() -> Workload {
    Workload {
        name: "copy_out_1m",
        description: "1,000,000 rows of `(int8, text, float8, timestamptz)` copied out in text format and \
                      discarded. edgepg: `copy_from_table_to_writer` into `futures::io::sink()`; \
                      tokio-postgres: `copy_out` stream (newlines counted); asyncpg: \
                      `copy_from_table(output=coroutine)` that discards; psql: `\\copy … TO '/dev/null'`.",
        unit: "rows",
        ops: ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |ctx| Box::pin(EdgepgOut::setup(ctx)) },
            Contender { client: TOKIO_POSTGRES, setup: |ctx| Box::pin(TokioPgOut::setup(ctx)) },
            Contender { client: ASYNCPG, setup: |ctx| Box::pin(AsyncpgOut::setup(ctx)) },
            Contender { client: PSQL, setup: |ctx| Box::pin(Psql::setup(ctx, Direction::Out)) },
        ],
        cap: Some(HEAVY),
    }
}

/// 5,000,000 rows in and out, each client in a child process reporting its peak RSS.
pub fn copy_5m_rss() -> Workload {
    Workload {
        name: "copy_5m_rss",
        description: "5,000,000 rows copied in (binary, rows made on the fly) then out (text, into a sink), \
                      rate = 10,000,000 rows moved / time. Each client runs in its own child process (this \
                      binary with `--child copy_5m_rss:CLIENT`, connected before the clock starts) that reports \
                      its peak RSS (`VmHWM` from /proc/self/status, whole process: runtime, buffers, code). \
                      edgepg: `copy_records_to_table` + `copy_from_table_to_writer`; tokio-postgres: \
                      `BinaryCopyInWriter` + `copy_out`. No warm-up, 1 repetition.",
        unit: "rows",
        ops: 10 * ROWS,
        flavor: Flavor::CurrentThread,
        contenders: vec![
            Contender { client: EDGEPG, setup: |_| Box::pin(async { spawn_5m(EDGEPG) }) },
            Contender { client: TOKIO_POSTGRES, setup: |_| Box::pin(async { spawn_5m(TOKIO_POSTGRES) }) },
        ],
        cap: Some(Plan { warmup: 0, reps: 1 }),
    }
}

/// Heavy rows: 1 warm-up round, at most 3 repetitions.
const HEAVY: Plan = Plan { warmup: 1, reps: 3 };

/// The table a contender copies into (own table: contenders never share one).
async fn make_table(conn: &edgepg::Connection, name: &str) -> Result<()> {
    conn.execute(&format!("DROP TABLE IF EXISTS {name}; CREATE UNLOGGED TABLE {name} {COLUMNS}"), &[]).await?;
    Ok(())
}

/// A table with the 1M rows, for the copy-out workload (filled untimed, by edgepg).
async fn source_table(conn: &edgepg::Connection) -> Result<()> {
    // Left from an earlier run? (An error means the table does not exist.)
    let existing = conn.fetchval::<i64>("SELECT count(*) FROM bench_copy_src", &[]).await.unwrap_or(0);
    if existing as u64 != ROWS {
        make_table(conn, "bench_copy_src").await?;
        conn.copy_records_to_table("bench_copy_src", (0..ROWS).map(record), &CopyOptions::new()).await?;
    }
    Ok(())
}

fn check(n: u64) -> Result<Sample> {
    if n != ROWS {
        return Err(format!("expected {ROWS} rows, got {n}").into());
    }
    Ok(Sample::checksum(n))
}

struct EdgepgIn {
    conn: edgepg::Connection,
}

impl EdgepgIn {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let conn = clients::edgepg(&ctx.dsn).await?;
        make_table(&conn, "bench_copy_edgepg").await?;
        Ok(Box::new(EdgepgIn { conn }))
    }
}

impl Runner for EdgepgIn {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            self.conn.execute("TRUNCATE bench_copy_edgepg", &[]).await?;
            let n = self.conn.copy_records_to_table("bench_copy_edgepg", (0..ROWS).map(record), &CopyOptions::new()).await?;
            check(n)
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            self.conn.execute("DROP TABLE bench_copy_edgepg", &[]).await?;
            Ok(self.conn.close().await?)
        })
    }
}

struct TokioPgIn {
    client: tokio_postgres::Client,
}

impl TokioPgIn {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let client = clients::tokio_postgres(&ctx.dsn).await?;
        client.batch_execute(&format!("DROP TABLE IF EXISTS bench_copy_tpg; CREATE UNLOGGED TABLE bench_copy_tpg {COLUMNS}")).await?;
        Ok(Box::new(TokioPgIn { client }))
    }
}

impl Runner for TokioPgIn {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        use tokio_postgres::binary_copy::BinaryCopyInWriter;
        use tokio_postgres::types::Type;
        Box::pin(async move {
            self.client.batch_execute("TRUNCATE bench_copy_tpg").await?;
            let sink = self.client.copy_in("COPY bench_copy_tpg FROM STDIN (FORMAT binary)").await?;
            let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::TEXT, Type::FLOAT8, Type::TIMESTAMPTZ]);
            pin_mut!(writer);
            for i in 0..ROWS {
                let (a, b, c, d) = record(i);
                writer.as_mut().write(&[&a, &b, &c, &d]).await?;
            }
            check(writer.finish().await?)
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            self.client.batch_execute("DROP TABLE bench_copy_tpg").await?;
            Ok(())
        })
    }
}

struct EdgepgOut {
    conn: edgepg::Connection,
}

impl EdgepgOut {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let conn = clients::edgepg(&ctx.dsn).await?;
        source_table(&conn).await?;
        Ok(Box::new(EdgepgOut { conn }))
    }
}

impl Runner for EdgepgOut {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let n = self.conn.copy_from_table_to_writer("bench_copy_src", &CopyOptions::new(), futures::io::sink()).await?;
            check(n)
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move { Ok(self.conn.close().await?) })
    }
}

struct TokioPgOut {
    client: tokio_postgres::Client,
}

impl TokioPgOut {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        Ok(Box::new(TokioPgOut { client: clients::tokio_postgres(&ctx.dsn).await? }))
    }
}

impl Runner for TokioPgOut {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let stream = self.client.copy_out("COPY bench_copy_src TO STDOUT").await?;
            pin_mut!(stream);
            // Text format: one row per line.
            let mut lines = 0u64;
            while let Some(chunk) = stream.next().await {
                lines += chunk?.iter().filter(|&&b| b == b'\n').count() as u64;
            }
            check(lines)
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move { Ok(()) })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    In,
    Out,
}

/// `psql -c '\copy …'`, timed by itself (process start included, as a user would see it).
struct Psql {
    dsn: String,
    psql: String,
    direction: Direction,
    csv: std::path::PathBuf,
}

impl Psql {
    async fn setup(ctx: Ctx, direction: Direction) -> Result<Box<dyn Runner>> {
        let bin = std::env::var("EDGEPG_TEST_PGBIN").map_err(|_| "EDGEPG_TEST_PGBIN is not set (source .edgepg-test/env)")?;
        let psql = format!("{bin}/psql");
        let conn = clients::edgepg(&ctx.dsn).await?;
        source_table(&conn).await?;
        let csv = std::env::temp_dir().join("edgepg-bench-copy-1m.csv");
        if direction == Direction::In {
            make_table(&conn, "bench_copy_psql").await?;
            // The same rows as CSV, written once, untimed.
            let file = futures::io::AllowStdIo::new(std::io::BufWriter::new(std::fs::File::create(&csv)?));
            let opts = CopyOptions::new().format(CopyFormat::Csv);
            conn.copy_from_table_to_writer("bench_copy_src", &opts, file).await?;
        }
        conn.close().await?;
        Ok(Box::new(Psql { dsn: ctx.dsn, psql, direction, csv }))
    }

    fn psql(&self, command: &str) -> Result<(u64, Duration)> {
        let start = Instant::now();
        let out = std::process::Command::new(&self.psql)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &self.dsn, "-c", command])
            .output()?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            return Err(format!("psql failed: {}", String::from_utf8_lossy(&out.stderr)).into());
        }
        Ok((0, elapsed))
    }
}

impl Runner for Psql {
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>> {
        Box::pin(async move {
            let elapsed = match self.direction {
                Direction::In => {
                    self.psql("TRUNCATE bench_copy_psql")?;
                    let cmd = format!("\\copy bench_copy_psql FROM '{}' (FORMAT csv)", self.csv.display());
                    self.psql(&cmd)?.1
                }
                Direction::Out => self.psql("\\copy bench_copy_src TO '/dev/null'")?.1,
            };
            // psql prints no count with -q; the server did the work or psql failed.
            Ok(Sample::self_timed(ROWS, elapsed))
        })
    }

    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>> {
        Box::pin(async move {
            if self.direction == Direction::In {
                self.psql("DROP TABLE bench_copy_psql")?;
                let _ = std::fs::remove_file(&self.csv);
            }
            Ok(())
        })
    }
}

/// asyncpg's copy out needs the source table, which the Rust side fills.
struct AsyncpgOut;

impl AsyncpgOut {
    async fn setup(ctx: Ctx) -> Result<Box<dyn Runner>> {
        let conn = clients::edgepg(&ctx.dsn).await?;
        source_table(&conn).await?;
        conn.close().await?;
        asyncpg::setup(ctx, "copy_out_1m").await
    }
}

const ROWS_5M: u64 = 5 * ROWS;

/// Starts `edgepg-bench --child copy_5m_rss:CLIENT` (it inherits
/// `EDGEPG_BENCH_DSN`, which `main` sets before running any workload).
fn spawn_5m(client: &str) -> Result<Box<dyn Runner>> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("--child").arg(format!("copy_5m_rss:{client}"));
    Ok(Box::new(Child::spawn(cmd, format!("copy_5m_rss child ({client})"))?))
}

/// One client's side of `copy_5m_rss`.
enum Copy5m {
    Edgepg(edgepg::Connection),
    TokioPg(tokio_postgres::Client),
}

const TABLE_5M: &str = "bench_copy_5m";

impl Copy5m {
    async fn setup(dsn: &str, client: &str) -> Result<(Copy5m, String)> {
        let table = format!("{TABLE_5M}_{}", client.replace('-', "_"));
        let create = format!("DROP TABLE IF EXISTS {table}; CREATE UNLOGGED TABLE {table} {COLUMNS}");
        let this = match client {
            EDGEPG => {
                let conn = clients::edgepg(dsn).await?;
                conn.execute(&create, &[]).await?;
                Copy5m::Edgepg(conn)
            }
            TOKIO_POSTGRES => {
                let c = clients::tokio_postgres(dsn).await?;
                c.batch_execute(&create).await?;
                Copy5m::TokioPg(c)
            }
            other => return Err(format!("copy_5m_rss: unknown client {other}").into()),
        };
        Ok((this, table))
    }

    /// TRUNCATE, 5M rows in, 5M rows out; the rows moved (in + out).
    async fn run(&self, table: &str) -> Result<u64> {
        let (n_in, n_out) = match self {
            Copy5m::Edgepg(conn) => {
                conn.execute(&format!("TRUNCATE {table}"), &[]).await?;
                let n_in = conn.copy_records_to_table(table, (0..ROWS_5M).map(record), &CopyOptions::new()).await?;
                let n_out = conn.copy_from_table_to_writer(table, &CopyOptions::new(), futures::io::sink()).await?;
                (n_in, n_out)
            }
            Copy5m::TokioPg(client) => {
                use tokio_postgres::binary_copy::BinaryCopyInWriter;
                use tokio_postgres::types::Type;
                client.batch_execute(&format!("TRUNCATE {table}")).await?;
                let sink = client.copy_in(&format!("COPY {table} FROM STDIN (FORMAT binary)")).await?;
                let writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::TEXT, Type::FLOAT8, Type::TIMESTAMPTZ]);
                pin_mut!(writer);
                for i in 0..ROWS_5M {
                    let (a, b, c, d) = record(i);
                    writer.as_mut().write(&[&a, &b, &c, &d]).await?;
                }
                let n_in = writer.finish().await?;
                let stream = client.copy_out(&format!("COPY {table} TO STDOUT")).await?;
                pin_mut!(stream);
                let mut n_out = 0u64;
                while let Some(chunk) = stream.next().await {
                    n_out += chunk?.iter().filter(|&&b| b == b'\n').count() as u64;
                }
                (n_in, n_out)
            }
        };
        if n_in != ROWS_5M || n_out != ROWS_5M {
            return Err(format!("copy_5m_rss: {n_in} rows in, {n_out} out").into());
        }
        Ok(n_in + n_out)
    }

    async fn close(self, table: &str) -> Result<()> {
        let drop = format!("DROP TABLE {table}");
        match self {
            Copy5m::Edgepg(conn) => {
                conn.execute(&drop, &[]).await?;
                conn.close().await?;
            }
            Copy5m::TokioPg(client) => client.batch_execute(&drop).await?,
        }
        Ok(())
    }
}

/// The child side of `--child copy_5m_rss:CLIENT`: connect, say `ready`, then
/// answer `run`/`close` lines as `child.rs` describes, with the peak RSS.
pub fn child_main(spec: &str) -> Result<()> {
    use std::io::{BufRead, Write};
    let client = spec.strip_prefix("copy_5m_rss:").ok_or_else(|| format!("unknown child {spec}"))?;
    let dsn = std::env::var("EDGEPG_BENCH_DSN").map_err(|_| "child: EDGEPG_BENCH_DSN not set")?;
    let rt = Flavor::CurrentThread.build()?;
    rt.block_on(async {
        let (this, table) = Copy5m::setup(&dsn, client).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
        for line in std::io::stdin().lock().lines() {
            match line?.trim() {
                "run" => {
                    let cpu_start = process_cpu_time();
                    let start = Instant::now();
                    let reply = match this.run(&table).await {
                        Ok(moved) => {
                            let elapsed = start.elapsed().as_nanos();
                            let rss = peak_rss_kib().map_or("-".to_owned(), |k| k.to_string());
                            let cpu = match (cpu_start, process_cpu_time()) {
                                (Some(a), Some(b)) => format!(" {}", b.saturating_sub(a).as_nanos()),
                                _ => String::new(),
                            };
                            format!("ok {elapsed} {moved} {rss}{cpu}")
                        }
                        Err(e) => format!("error {}", e.to_string().replace('\n', " ")),
                    };
                    writeln!(out, "{reply}")?;
                    out.flush()?;
                }
                "close" => {
                    this.close(&table).await?;
                    writeln!(out, "closed")?;
                    out.flush()?;
                    return Ok(());
                }
                other => return Err(format!("child: unknown command {other}").into()),
            }
        }
        Ok(())
    })
}
