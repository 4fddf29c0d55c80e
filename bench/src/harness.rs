//! The measuring harness: what a workload is, what a contender (one client
//! running one workload) must provide, and the interleaved loop that times them.
//!
//! Adding a row to the results table means writing one [`Workload`] (see
//! `workloads/`); adding a column means adding a [`Contender`] to the
//! workloads it can run. The harness does the rest: same runtime for every
//! contender, warm-up, A/B/A/B interleaving, checksum cross-check, medians.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Any error a contender can hit (edgepg, tokio-postgres, I/O, checksum mismatch).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Result with [`BoxError`].
pub type Result<T, E = BoxError> = std::result::Result<T, E>;
/// A boxed future that need not be `Send`: the harness drives it with
/// `Runtime::block_on`, like `#[tokio::main]` drives `main`.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Name of the edgepg contender; ratios are edgepg's time over each other client's.
pub const EDGEPG: &str = "edgepg";
/// Name of the tokio-postgres contender.
pub const TOKIO_POSTGRES: &str = "tokio-postgres";
/// Name of the asyncpg contender (a Python child process, see `asyncpg.rs`).
pub const ASYNCPG: &str = "asyncpg";

/// The tokio runtime a workload runs on. Every contender of a workload runs on
/// the very same runtime instance, so no client gets a better scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// One thread: the caller and every connection driver task share it.
    CurrentThread,
    /// A multi-thread runtime with this many workers (the caller's future runs
    /// on the main thread via `block_on`, driver tasks on the workers).
    MultiThread {
        /// Worker threads.
        workers: usize,
    },
}

impl Flavor {
    /// Builds a fresh runtime of this flavor.
    pub fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread().enable_all().build(),
            Flavor::MultiThread { workers } => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build(),
        }
    }

    /// Short human description for the report.
    pub fn describe(self) -> String {
        match self {
            Flavor::CurrentThread => "current_thread".to_owned(),
            Flavor::MultiThread { workers } => format!("multi_thread, {workers} workers"),
        }
    }
}

/// What a workload needs to know about the run: where the server is.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// libpq URI understood by every Rust contender (TCP, `sslmode=disable`).
    pub dsn: String,
}

/// What one timed repetition produced.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// A digest of every value the repetition decoded. It keeps the optimiser
    /// from skipping work and must be equal across contenders and repetitions:
    /// a mismatch means one client decoded something differently.
    pub checksum: u64,
    /// Time measured by the contender itself, for contenders whose work happens
    /// outside this process (e.g. a Python asyncpg child). `None`: the harness
    /// times the `run` future.
    pub self_timed: Option<Duration>,
    /// Peak resident set size (`VmHWM`, KiB) of the process that did the
    /// work, for workloads that measure memory (run in a child process so the
    /// figure is theirs alone).
    pub peak_rss_kib: Option<u64>,
    /// CPU time the other process used for a self-timed repetition, if it
    /// reports it (this process's CPU says nothing about that work).
    pub self_cpu: Option<Duration>,
}

impl Sample {
    /// A sample timed by the harness.
    pub fn checksum(checksum: u64) -> Sample {
        Sample { checksum, self_timed: None, peak_rss_kib: None, self_cpu: None }
    }

    /// A sample timed by the contender itself (work done in another process).
    pub fn self_timed(checksum: u64, elapsed: Duration) -> Sample {
        Sample { checksum, self_timed: Some(elapsed), peak_rss_kib: None, self_cpu: None }
    }
}

/// One client, set up for one workload: it owns its connection(s) and any
/// prepared statements, so only the work itself is timed.
pub trait Runner {
    /// Runs one repetition of the workload.
    fn run(&mut self) -> LocalFuture<'_, Result<Sample>>;
    /// Closes the connection(s). Not timed.
    fn close(self: Box<Self>) -> LocalFuture<'static, Result<()>>;
}

/// Connects a client and prepares it for a workload. Runs inside the
/// workload's runtime (connection driver tasks are spawned on it). Not timed.
pub type Setup = fn(Ctx) -> LocalFuture<'static, Result<Box<dyn Runner>>>;

/// A client taking part in a workload.
#[derive(Clone, Copy)]
pub struct Contender {
    /// Column name in the results table, e.g. [`EDGEPG`].
    pub client: &'static str,
    /// How to set it up.
    pub setup: Setup,
}

/// One row of the results table.
pub struct Workload {
    /// Row name, e.g. `seq_select1`.
    pub name: &'static str,
    /// One sentence: what is run, and how each client does it.
    pub description: &'static str,
    /// What is counted, e.g. `queries` or `rows` (reported per second).
    pub unit: &'static str,
    /// How many `unit`s one repetition does.
    pub ops: u64,
    /// The runtime all contenders share.
    pub flavor: Flavor,
    /// The clients, in table-column order.
    pub contenders: Vec<Contender>,
    /// Caps on the run's warm-up rounds and repetitions for heavy rows
    /// (e.g. 1,000,000-row COPY): `None` takes the run's [`Plan`].
    pub cap: Option<Plan>,
}

impl Workload {
    /// The plan this workload runs with: the run's, capped by [`Workload::cap`].
    pub fn plan(&self, run: Plan) -> Plan {
        match self.cap {
            Some(cap) => Plan { warmup: run.warmup.min(cap.warmup), reps: run.reps.min(cap.reps) },
            None => run,
        }
    }
}

/// How many repetitions to run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Untimed rounds first (statement caches, server plan cache, allocator, CPU clocks).
    pub warmup: usize,
    /// Timed rounds; the median is reported.
    pub reps: usize,
}

/// The timings of one contender in one workload.
#[derive(Clone, Debug)]
pub struct ClientTimes {
    /// Contender name.
    pub client: &'static str,
    /// One entry per timed repetition, in run order.
    pub times: Vec<Duration>,
    /// CPU time this process used during each timed repetition (all threads;
    /// empty where the OS does not tell). Unlike wall time it barely moves
    /// when other work competes for the CPUs, and it excludes the server.
    pub cpu: Vec<Duration>,
    /// Largest peak RSS (KiB) any repetition reported, if measured.
    pub peak_rss_kib: Option<u64>,
}

impl ClientTimes {
    /// Median of the timed repetitions (mean of the middle two for an even count).
    pub fn median(&self) -> Duration {
        median(&self.times)
    }

    /// Median CPU time of a repetition, if measured.
    pub fn median_cpu(&self) -> Option<Duration> {
        (!self.cpu.is_empty()).then(|| median(&self.cpu))
    }

    /// Fastest repetition.
    pub fn min(&self) -> Duration {
        self.times.iter().copied().min().unwrap_or_default()
    }

    /// Slowest repetition.
    pub fn max(&self) -> Duration {
        self.times.iter().copied().max().unwrap_or_default()
    }
}

/// The outcome of one workload.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Workload name.
    pub name: &'static str,
    /// Workload description.
    pub description: &'static str,
    /// What was counted.
    pub unit: &'static str,
    /// Units per repetition.
    pub ops: u64,
    /// Runtime used.
    pub flavor: Flavor,
    /// Warm-up rounds and repetitions actually run.
    pub plan: Plan,
    /// One entry per contender, in table-column order.
    pub clients: Vec<ClientTimes>,
}

impl Measurement {
    /// The timings of one client, if it took part.
    pub fn client(&self, name: &str) -> Option<&ClientTimes> {
        self.clients.iter().find(|c| c.client == name)
    }

    /// Units per second at the median time.
    pub fn rate(&self, client: &str) -> Option<f64> {
        let t = self.client(client)?.median().as_secs_f64();
        (t > 0.0).then(|| self.ops as f64 / t)
    }

    /// The median, over rounds, of `a`'s time over `b`'s time in the same
    /// round. Both ran back to back, so this pairs away slow drifts of the
    /// machine's load; a cross-check of [`Measurement::ratio`] on a busy machine.
    pub fn paired_ratio(&self, a: &str, b: &str) -> Option<f64> {
        let (ta, tb) = (&self.client(a)?.times, &self.client(b)?.times);
        let mut r: Vec<f64> = ta
            .iter()
            .zip(tb)
            .filter(|(_, y)| !y.is_zero())
            .map(|(x, y)| x.as_secs_f64() / y.as_secs_f64())
            .collect();
        if r.is_empty() {
            return None;
        }
        r.sort_by(f64::total_cmp);
        let n = r.len();
        Some(if n % 2 == 1 { r[n / 2] } else { (r[n / 2 - 1] + r[n / 2]) / 2.0 })
    }

    /// `a`'s median time over `b`'s: <= 1.0 means `a` is at least as fast.
    pub fn ratio(&self, a: &str, b: &str) -> Option<f64> {
        let ta = self.client(a)?.median().as_secs_f64();
        let tb = self.client(b)?.median().as_secs_f64();
        (tb > 0.0).then(|| ta / tb)
    }
}

/// Runs one workload: a fresh runtime, every contender set up on it, then
/// `plan.warmup + plan.reps` rounds in which each contender runs once, in
/// turn (A/B, B/A, A/B...), so slow drifts of the machine hit all of them alike.
/// Progress goes to stderr.
pub fn measure(workload: &Workload, ctx: &Ctx, plan: Plan) -> Result<Measurement> {
    let plan = workload.plan(plan);
    let rt = workload.flavor.build()?;
    let rounds = plan.warmup + plan.reps;
    rt.block_on(async {
        let mut runners = Vec::with_capacity(workload.contenders.len());
        for c in &workload.contenders {
            let runner = (c.setup)(ctx.clone())
                .await
                .map_err(|e| format!("{}: setting up {}: {e}", workload.name, c.client))?;
            runners.push((c.client, runner));
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(plan.reps); runners.len()];
        let mut cpu: Vec<Vec<Duration>> = vec![Vec::with_capacity(plan.reps); runners.len()];
        let mut rss: Vec<Option<u64>> = vec![None; runners.len()];
        // The first checksum seen; every other run must reproduce it.
        let mut expected: Option<(&'static str, u64)> = None;
        for round in 0..rounds {
            let warm = round < plan.warmup;
            let mut line = if warm {
                format!("{:>14} warm-up   ", workload.name)
            } else {
                format!("{:>14} rep {:>2}/{:<2} ", workload.name, round - plan.warmup + 1, plan.reps)
            };
            // Who goes first alternates (A/B, B/A, ...), so going first or second, right
            // after the other client's load, favours nobody.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..runners.len()).collect()
            } else {
                (0..runners.len()).rev().collect()
            };
            for i in order {
                let (client, runner) = &mut runners[i];
                let client: &'static str = client;
                let cpu_start = process_cpu_time();
                let start = Instant::now();
                let sample = runner
                    .run()
                    .await
                    .map_err(|e| format!("{}: {client} failed: {e}", workload.name))?;
                let elapsed = sample.self_timed.unwrap_or_else(|| start.elapsed());
                let cpu_used = match (cpu_start, process_cpu_time(), sample.self_timed) {
                    (Some(a), Some(b), None) => b.checked_sub(a),
                    // A self-timed contender works in another process: our CPU says
                    // nothing; take the CPU time it reports, if any.
                    _ => sample.self_cpu,
                };
                match expected {
                    None => expected = Some((client, sample.checksum)),
                    Some((first, sum)) if sum != sample.checksum => {
                        return Err(format!(
                            "{}: checksum mismatch: {first} gave {sum:#x}, {client} gave {:#x} \
                             (the clients decoded different values)",
                            workload.name, sample.checksum
                        )
                        .into());
                    }
                    Some(_) => {}
                }
                if !warm {
                    times[i].push(elapsed);
                    cpu[i].extend(cpu_used);
                    rss[i] = rss[i].max(sample.peak_rss_kib);
                }
                line.push_str(&format!(" {client} {:>9.1} ms", elapsed.as_secs_f64() * 1e3));
            }
            eprintln!("{line}");
        }
        let mut clients = Vec::with_capacity(runners.len());
        for ((((client, runner), times), mut cpu), peak_rss_kib) in runners.into_iter().zip(times).zip(cpu).zip(rss) {
            runner.close().await.map_err(|e| format!("{}: closing {client}: {e}", workload.name))?;
            if cpu.len() != times.len() {
                cpu.clear(); // partial data would skew the median
            }
            clients.push(ClientTimes { client, times, cpu, peak_rss_kib });
        }
        Ok(Measurement {
            name: workload.name,
            description: workload.description,
            unit: workload.unit,
            ops: workload.ops,
            flavor: workload.flavor,
            plan,
            clients,
        })
    })
}

/// CPU time used so far by every live thread of this process, from Linux's
/// `/proc/self/task/*/schedstat` (nanosecond resolution, unlike getrusage's
/// ticks in /proc/self/stat). `None` where that is not available.
pub fn process_cpu_time() -> Option<Duration> {
    let mut total: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may exit between read_dir and the read: skip it.
        let Ok(stat) = std::fs::read_to_string(path) else { continue };
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// Median of a set of durations; zero for an empty set.
pub fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&ms(&[5, 1, 3])), Duration::from_millis(3));
        assert_eq!(median(&ms(&[4, 1, 3, 2])), Duration::from_micros(2500));
        assert_eq!(median(&[]), Duration::ZERO);
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let Some(before) = process_cpu_time() else { return }; // not Linux
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let used = process_cpu_time().unwrap() - before;
        assert!(used >= Duration::from_millis(1), "{used:?}");
    }

    #[test]
    fn rate_and_ratio_use_medians() {
        let m = Measurement {
            name: "w",
            description: "",
            unit: "queries",
            ops: 1000,
            flavor: Flavor::CurrentThread,
            plan: Plan { warmup: 0, reps: 3 },
            clients: vec![
                ClientTimes { client: EDGEPG, times: ms(&[100, 900, 100]), cpu: vec![], peak_rss_kib: None },
                ClientTimes { client: TOKIO_POSTGRES, times: ms(&[200, 200, 1]), cpu: ms(&[3, 1, 2]), peak_rss_kib: None },
            ],
        };
        assert_eq!(m.rate(EDGEPG), Some(10_000.0));
        assert_eq!(m.ratio(EDGEPG, TOKIO_POSTGRES), Some(0.5));
        assert_eq!(m.ratio(EDGEPG, "asyncpg"), None);
        // Per round: 0.5, 4.5, 100 -> median 4.5.
        assert_eq!(m.paired_ratio(EDGEPG, TOKIO_POSTGRES), Some(4.5));
        assert_eq!(m.clients[0].median_cpu(), None);
        assert_eq!(m.clients[1].median_cpu(), Some(Duration::from_millis(2)));
    }

    #[test]
    fn cap_limits_the_run_plan() {
        let mut w = Workload {
            name: "w",
            description: "",
            unit: "rows",
            ops: 1,
            flavor: Flavor::CurrentThread,
            contenders: vec![],
            cap: None,
        };
        let run = Plan { warmup: 1, reps: 5 };
        assert_eq!((w.plan(run).warmup, w.plan(run).reps), (1, 5));
        w.cap = Some(Plan { warmup: 0, reps: 3 });
        assert_eq!((w.plan(run).warmup, w.plan(run).reps), (0, 3));
        let small = Plan { warmup: 0, reps: 1 };
        assert_eq!((w.plan(small).warmup, w.plan(small).reps), (0, 1));
    }
}
