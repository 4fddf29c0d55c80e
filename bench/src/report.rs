//! The results: the table printed on stdout and `bench/RESULTS.md` (machine
//! info, per-repetition times, how to run, and a notes section that survives
//! re-runs).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::harness::{Measurement, Plan, EDGEPG};

/// Where and when the numbers were taken.
#[derive(Clone, Debug, Default)]
pub struct MachineInfo {
    /// UTC date and time of the run, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// `git` commit of the checkout (with `-dirty` for uncommitted changes).
    pub commit: String,
    /// CPU model name.
    pub cpu: String,
    /// Logical CPUs available to this process.
    pub nproc: usize,
    /// The server's `server_version`.
    pub postgres: String,
    /// `rustc --version`.
    pub rustc: String,
    /// tokio-postgres version from bench/Cargo.lock.
    pub tokio_postgres: String,
    /// deadpool-postgres version from bench/Cargo.lock.
    pub deadpool_postgres: String,
    /// `asyncpg X, Python Y` from the venv, if the asyncpg contender ran.
    pub asyncpg: String,
    /// `/proc/loadavg`'s 1-minute figure when the run started: other work on
    /// the machine is the main source of noise.
    pub load_before: String,
    /// The same when the run ended (set by the caller).
    pub load_after: String,
}

impl MachineInfo {
    /// Gathers everything but the PostgreSQL version (the caller asks the server).
    pub fn collect(repo: &Path) -> MachineInfo {
        MachineInfo {
            date: utc_date(SystemTime::now()),
            commit: std::env::var("EDGEPG_BENCH_COMMIT").ok().unwrap_or_else(|| git_commit(repo)),
            cpu: cpu_model(),
            nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            postgres: "unknown".to_owned(),
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".to_owned()),
            tokio_postgres: locked_version(include_str!("../Cargo.lock"), "tokio-postgres")
                .unwrap_or_else(|| "unknown".to_owned()),
            deadpool_postgres: locked_version(include_str!("../Cargo.lock"), "deadpool-postgres")
                .unwrap_or_else(|| "unknown".to_owned()),
            asyncpg: crate::asyncpg::version().unwrap_or_else(|| "not installed".to_owned()),
            load_before: load_average(),
            load_after: String::new(),
        }
    }
}

/// The 1-minute load average, or `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

pub(crate) fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn git_commit(repo: &Path) -> String {
    let repo = repo.to_string_lossy();
    let Some(head) = command_line("git", &["-C", &repo, "rev-parse", "--short=12", "HEAD"]) else {
        return "unknown".to_owned();
    };
    // RESULTS.md itself is rewritten by every run; it does not make the code dirty.
    let dirty = command_line("git", &["-C", &repo, "status", "--porcelain", "--untracked-files=no"])
        .map(|s| s.lines().any(|l| !l.ends_with("bench/RESULTS.md")))
        .unwrap_or(false);
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The version of `package` in a Cargo.lock text.
fn locked_version(lock: &str, package: &str) -> Option<String> {
    let name_line = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|l| *l == name_line)?;
    let v = lines.next()?.strip_prefix("version = \"")?.strip_suffix('"')?;
    Some(v.to_owned())
}

/// `YYYY-MM-DD HH:MM UTC` (Howard Hinnant's days-to-civil; no date crate needed).
fn utc_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

/// `1234567.8` -> `1,234,568`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Clients in column order: first appearance across the workloads.
fn clients(results: &[Measurement]) -> Vec<&'static str> {
    let mut names = Vec::new();
    for m in results {
        for c in &m.clients {
            if !names.contains(&c.client) {
                names.push(c.client);
            }
        }
    }
    names
}

/// The results table in markdown: one column per client (rate at the median
/// time) and one ratio column per other client (edgepg's time over theirs).
pub fn table(results: &[Measurement]) -> String {
    let names = clients(results);
    let others: Vec<&str> = if names.contains(&EDGEPG) {
        names.iter().copied().filter(|n| *n != EDGEPG).collect()
    } else {
        Vec::new()
    };
    let mut out = String::from("| workload |");
    for n in &names {
        let _ = write!(out, " {n} |");
    }
    for o in &others {
        let _ = write!(out, " ratio (edgepg time / {o} time) |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---:|".repeat(names.len() + others.len()));
    out.push('\n');
    for m in results {
        let _ = write!(out, "| {} |", m.name);
        for n in &names {
            match m.rate(n) {
                Some(r) => {
                    let _ = write!(out, " {} {}/s", thousands(r), m.unit);
                    if let Some(kib) = m.client(n).and_then(|c| c.peak_rss_kib) {
                        let _ = write!(out, ", peak RSS {:.1} MB", kib as f64 / 1024.0);
                    }
                    out.push_str(" |");
                }
                None => out.push_str(" — |"),
            }
        }
        for o in &others {
            match m.ratio(EDGEPG, o) {
                Some(r) => {
                    let _ = write!(out, " {r:.2} |");
                }
                None => out.push_str(" — |"),
            }
        }
        out.push('\n');
    }
    out
}

fn repetitions(results: &[Measurement]) -> String {
    let mut out = String::from(
        "| workload | client | median | min | max | client CPU per op (median) | every repetition, in run order (ms) |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---|\n");
    let ms = |d: std::time::Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
    for m in results {
        for c in &m.clients {
            let all: Vec<String> = c.times.iter().map(|t| format!("{:.1}", t.as_secs_f64() * 1e3)).collect();
            let cpu = match c.median_cpu() {
                Some(t) if m.ops > 0 => format!("{:.2} µs", t.as_secs_f64() * 1e6 / m.ops as f64),
                _ => "—".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                m.name,
                c.client,
                ms(c.median()),
                ms(c.min()),
                ms(c.max()),
                cpu,
                all.join(", ")
            );
        }
    }
    let edgepg_runs = results.iter().any(|m| m.client(EDGEPG).is_some());
    if edgepg_runs {
        out.push_str(
            "\nPaired ratio (median over rounds of edgepg's time / the other's time in the same round; \
             less sensitive to load changing during the run):",
        );
        for m in results {
            for c in m.clients.iter().filter(|c| c.client != EDGEPG) {
                if let Some(r) = m.paired_ratio(EDGEPG, c.client) {
                    let _ = write!(out, " `{}` vs {} {r:.2};", m.name, c.client);
                }
            }
        }
        if out.ends_with(';') {
            out.pop();
        }
        out.push('\n');
    }
    out.push_str(
        "\nClient CPU per op: CPU time of the benchmark process (all its threads: caller, runtime \
         workers, connection driver) over the repetition, divided by its queries or rows; for asyncpg \
         and `copy_5m_rss` the child process's own CPU time (asyncpg: `time.process_time_ns`), for psql \
         not measured. It leaves out the server and waiting, so it shows each client's own cost even \
         when the wall-clock figures are shaken by other load.\n",
    );
    out
}

const NOTES_HEADING: &str = "## Notes";
const NOTES_PLACEHOLDER: &str = "## Notes

_Placeholder for the lead: for every workload whose ratio is above 1.00, what limits edgepg there
(profile hot spots, round trips, allocations) and what is planned. This section is kept as it is
when `bench/run.sh` rewrites the file._
";

/// The whole RESULTS.md. `previous` is the file being replaced: its notes
/// section (from `## Notes` to the end) is carried over verbatim.
pub fn results_md(results: &[Measurement], info: &MachineInfo, plan: Plan, args: &str, previous: Option<&str>) -> String {
    let mut out = String::new();
    out.push_str("# edgepg vs tokio-postgres, asyncpg and psql — benchmark results\n\n");
    let _ = writeln!(
        out,
        "Written by `bench/run.sh{args}` on {}. All clients run against the same server in the same \
         run, interleaved (A/B/C, C/B/A, ... so none always goes first), {} warm-up round(s) then {} timed \
         repetitions (the heavy COPY rows: at most 1 warm-up + 3, `copy_5m_rss` a single run; see Workloads); \
         each figure is the rate at the median time. **Ratio = edgepg median time / other client's median \
         time: <= 1.00 means edgepg is at least as fast.**\n",
        info.date, plan.warmup, plan.reps
    );
    out.push_str(&table(results));
    out.push_str("\n## Machine\n\n");
    let _ = writeln!(out, "* date: {}", info.date);
    let _ = writeln!(out, "* git commit: `{}`", info.commit);
    let _ = writeln!(out, "* CPU: {} — nproc {} (shared by the clients and the server)", info.cpu, info.nproc);
    let _ = writeln!(
        out,
        "* load average (1 min) at start / end: {} / {} (anything above ~1 is other work competing for the CPUs)",
        info.load_before, info.load_after
    );
    let _ = writeln!(
        out,
        "* PostgreSQL {} — throwaway cluster from `tests/cluster/start.sh` (fsync off), TCP on 127.0.0.1, \
         `sslmode=disable`, SCRAM login (connect time not measured)",
        info.postgres
    );
    let _ = writeln!(out, "* {} — release profile, `lto = \"thin\"`, `codegen-units = 1`", info.rustc);
    let _ = writeln!(
        out,
        "* tokio-postgres {} (NoTls), deadpool-postgres {}, edgepg from this checkout (`../native`)",
        info.tokio_postgres, info.deadpool_postgres
    );
    let _ = writeln!(
        out,
        "* {} in `bench/.venv` (default asyncio loop), one child process per workload, timing itself \
         (`time.perf_counter_ns` around each repetition: interpreter start-up, imports and connecting \
         are not counted); psql from the server's bin directory",
        info.asyncpg
    );
    out.push_str("\n## Workloads\n\n");
    for m in results {
        let _ = writeln!(
            out,
            "* `{}` ({}/s; tokio runtime: {}; {} warm-up + {} timed): {}",
            m.name,
            m.unit,
            m.flavor.describe(),
            m.plan.warmup,
            m.plan.reps,
            m.description
        );
    }
    out.push_str("\n## Repetitions\n\n");
    out.push_str(&repetitions(results));
    out.push_str(
        "\n## How to run\n\n\
         ```sh\n\
         bench/run.sh                     # everything: cluster up, release build, all workloads, this file\n\
         bench/run.sh --only decode_200k  # some workloads (comma-separated)\n\
         bench/run.sh --reps 9 --warmup 2 # more repetitions\n\
         bench/run.sh --clients edgepg --no-write  # one client, e.g. under a profiler\n\
         bench/run.sh --only copy_5m_rss  # the memory row alone\n\
         ```\n\n\
         `run.sh` runs `scripts/setup.sh`, creates `bench/.venv` with asyncpg 0.32.0 when missing \
         (without it the asyncpg columns are skipped with a warning), starts a cluster in `bench/.edgepg-bench/` with \
         `tests/cluster/start.sh` (stopped on exit), builds `bench/` (a standalone cargo workspace, \
         target dir `bench/target`) with `cargo build --release`, and runs `target/release/edgepg-bench`, \
         which prints the table and writes this file. Against an existing server: \
         `EDGEPG_BENCH_DSN=postgres://... bench/target/release/edgepg-bench`. A whole run takes about \
         four minutes plus the build (most of it the COPY rows). To add a workload: a module in `bench/src/workloads/` with a \
         `workload()` returning a `Workload` whose contenders implement `Runner`, listed in \
         `workloads::all()`.\n\n",
    );
    match previous.and_then(|p| p.find(&format!("\n{NOTES_HEADING}\n"))) {
        Some(i) => out.push_str(&previous.unwrap_or_default()[i + 1..]),
        None => out.push_str(NOTES_PLACEHOLDER),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{ClientTimes, Flavor, TOKIO_POSTGRES};
    use std::time::Duration;

    fn sample() -> Vec<Measurement> {
        vec![Measurement {
            name: "seq_select1",
            description: "d",
            unit: "queries",
            ops: 20_000,
            flavor: Flavor::CurrentThread,
            plan: Plan { warmup: 1, reps: 1 },
            clients: vec![
                ClientTimes { client: EDGEPG, times: vec![Duration::from_millis(500)], cpu: vec![], peak_rss_kib: None },
                ClientTimes {
                    client: TOKIO_POSTGRES,
                    times: vec![Duration::from_millis(625)],
                    cpu: vec![],
                    peak_rss_kib: Some(2048),
                },
            ],
        }]
    }

    #[test]
    fn table_has_rates_units_and_ratio() {
        let t = table(&sample());
        let mut lines = t.lines();
        assert_eq!(
            lines.next(),
            Some("| workload | edgepg | tokio-postgres | ratio (edgepg time / tokio-postgres time) |")
        );
        assert_eq!(lines.next(), Some("|---|---:|---:|---:|"));
        assert_eq!(
            lines.next(),
            Some("| seq_select1 | 40,000 queries/s | 32,000 queries/s, peak RSS 2.0 MB | 0.80 |")
        );
        assert_eq!(lines.next(), None);
    }

    #[test]
    fn notes_survive_a_rewrite() {
        let info = MachineInfo::default();
        let plan = Plan { warmup: 1, reps: 5 };
        let first = results_md(&sample(), &info, plan, "", None);
        assert!(first.ends_with(NOTES_PLACEHOLDER));
        let edited = first.replace(NOTES_PLACEHOLDER, "## Notes\n\nsyscalls dominate.\n");
        let second = results_md(&sample(), &info, plan, "", Some(&edited));
        assert!(second.ends_with("\n## Notes\n\nsyscalls dominate.\n"), "{second}");
    }

    #[test]
    fn helpers() {
        assert_eq!(thousands(1_234_567.6), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(utc_date(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        // 2024-02-29 12:34:00 UTC
        assert_eq!(utc_date(UNIX_EPOCH + Duration::from_secs(1_709_210_040)), "2024-02-29 12:34 UTC");
        let lock = "[[package]]\nname = \"tokio-postgres\"\nversion = \"0.7.18\"\n";
        assert_eq!(locked_version(lock, "tokio-postgres").as_deref(), Some("0.7.18"));
        assert_eq!(locked_version(lock, "postgres"), None);
    }
}
