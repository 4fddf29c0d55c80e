//! edgepg-bench: edgepg (native) against tokio-postgres on the same server, in
//! the same run, interleaved; prints a markdown table and writes
//! `bench/RESULTS.md`. Normally started by `bench/run.sh`, which provides the
//! server; see `--help`.

mod asyncpg;
mod checksum;
mod child;
mod clients;
mod harness;
mod report;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use harness::{Ctx, Plan, Result};

const USAGE: &str = "\
usage: edgepg-bench [--only W1,W2] [--clients C1,C2] [--reps N] [--warmup N] [--output PATH] [--no-write]

Server: $EDGEPG_BENCH_DSN, else $EDGEPG_TEST_DSN (the env file of tests/cluster/start.sh)
with sslmode=disable added.
  --only      run only these workloads (default: all)
  --clients   run only these clients (default: all; ratios need edgepg and another one)
  --reps      timed repetitions per client (default 5; the median is reported;
              the COPY rows run at most 3, copy_5m_rss 1)
  --warmup    untimed rounds first (default 1; copy_5m_rss none)
  --output    where to write the results (default: bench/RESULTS.md)
  --no-write  print the table only";

struct Args {
    only: Option<Vec<String>>,
    clients: Option<Vec<String>>,
    plan: Plan,
    output: PathBuf,
    write: bool,
    /// The options as given, for the report's "Written by" line.
    echo: String,
}

fn parse_args() -> Result<Args> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = Args {
        only: None,
        clients: None,
        plan: Plan { warmup: 1, reps: 5 },
        output: manifest_dir.join("RESULTS.md"),
        write: true,
        echo: String::new(),
    };
    let mut it = std::env::args().skip(1);
    let list = |v: String| v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--only" => args.only = Some(list(value()?)),
            "--clients" => args.clients = Some(list(value()?)),
            "--reps" => args.plan.reps = value()?.parse().map_err(|e| format!("--reps: {e}"))?,
            "--warmup" => args.plan.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--output" => args.output = PathBuf::from(value()?),
            "--no-write" => args.write = false,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown option {other}\n{USAGE}").into()),
        }
    }
    if args.plan.reps == 0 {
        return Err("--reps must be at least 1".into());
    }
    args.echo = std::env::args().skip(1).map(|a| format!(" {a}")).collect();
    Ok(args)
}

/// The server to use: an explicit DSN, or the test cluster's with TLS off
/// (TLS would measure rustls against nothing on the tokio-postgres side).
fn dsn() -> Result<String> {
    if let Ok(dsn) = std::env::var("EDGEPG_BENCH_DSN") {
        return Ok(dsn);
    }
    let base = std::env::var("EDGEPG_TEST_DSN").map_err(|_| {
        "no server: set EDGEPG_BENCH_DSN, or source the env file of tests/cluster/start.sh \
         (bench/run.sh does all of it)"
    })?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(format!("{base}{sep}sslmode=disable"))
}

fn server_version(ctx: &Ctx) -> Result<String> {
    let rt = harness::Flavor::CurrentThread.build()?;
    rt.block_on(async {
        let client = clients::tokio_postgres(&ctx.dsn).await?;
        let v: String = client.query_one("SHOW server_version", &[]).await?.try_get(0)?;
        Ok(v)
    })
}

fn run() -> Result<()> {
    let args = parse_args()?;
    let ctx = Ctx { dsn: dsn()? };
    // Child processes (asyncpg, copy_5m_rss) find the server here.
    std::env::set_var("EDGEPG_BENCH_DSN", &ctx.dsn);
    let mut selected = workloads::all();
    if let Some(only) = &args.only {
        for name in only {
            if !selected.iter().any(|w| w.name == name) {
                let known: Vec<&str> = selected.iter().map(|w| w.name).collect();
                return Err(format!("unknown workload {name} (known: {})", known.join(", ")).into());
            }
        }
        selected.retain(|w| only.iter().any(|o| o == w.name));
    }
    if let Some(clients) = &args.clients {
        for w in &mut selected {
            w.contenders.retain(|c| clients.iter().any(|n| n == c.client));
        }
        selected.retain(|w| !w.contenders.is_empty());
        if selected.is_empty() {
            return Err(format!("no workload has any of the clients {}", clients.join(", ")).into());
        }
    }

    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut info = report::MachineInfo::collect(&repo);
    info.postgres = server_version(&ctx)?;
    eprintln!(
        "edgepg-bench: PostgreSQL {}, {} CPUs, {} warm-up + {} timed rounds per workload",
        info.postgres, info.nproc, args.plan.warmup, args.plan.reps
    );

    let mut results = Vec::with_capacity(selected.len());
    for w in &selected {
        results.push(harness::measure(w, &ctx, args.plan)?);
    }

    info.load_after = report::load_average();
    println!("{}", report::table(&results));
    if args.write {
        let previous = std::fs::read_to_string(&args.output).ok();
        let md = report::results_md(&results, &info, args.plan, &args.echo, previous.as_deref());
        std::fs::write(&args.output, md).map_err(|e| format!("writing {}: {e}", args.output.display()))?;
        eprintln!("edgepg-bench: wrote {}", args.output.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    // `--child SPEC`: this binary re-invoked by a workload (see child.rs).
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--child") {
        let spec = argv.get(2).map(String::as_str).unwrap_or_default();
        return match workloads::copy::child_main(spec) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                println!("error {}", e.to_string().replace('\n', " "));
                ExitCode::FAILURE
            }
        };
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgepg-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
