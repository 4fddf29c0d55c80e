// The edge benchmark: edgepg's npm package (Node, `ws` through websockify) vs
// @neondatabase/serverless (same websockify), node-postgres and postgres.js
// (TCP), same server, same process, one run. Run by bench/edge/run.sh, which
// starts the cluster and installs the packages; usage:
//
//   node --expose-gc bench.mjs [--reps 5] [--warmup 1] [--only a,b] [--clients a,b]
//        [--connects 20] [--seq 2000] [--pipelined 3000] [--pool 10000] [--no-floors] [--no-write]
//
// Per workload: every client opens ONE connection, then rounds run with the
// client order rotated each round (A B C D, B C D A, ...) so none always goes
// first; round 0 is a warm-up. Figures are the rates at the median time over
// the timed rounds; ratio = edgepg's median time / the other's median time
// (< 1.00: edgepg is faster). Results go to the "Edge" section of
// bench/RESULTS.md (between the edge-bench markers; the rest is kept).
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { gzipSync, brotliCompressSync, constants as zc } from "node:zlib";
import { loadavg, cpus } from "node:os";
import { execFileSync } from "node:child_process";
import { clients } from "./clients.mjs";
import { floorClients } from "./floor.mjs";
import { DECODE_SQL, ROWS, readRows } from "./decode-query.mjs";

const here = new URL(".", import.meta.url).pathname;

// ------------------------------------------------------------------ args
const args = parseArgs(process.argv.slice(2));
const REPS = int(args.reps, 5);
const WARMUP = int(args.warmup, 1);
const CONNECTS = int(args.connects, 20);
const SEQ = int(args.seq, 2000);
const PIPELINED = int(args.pipelined, 3000);
const IN_FLIGHT = 10;
const POOL = int(args.pool, 10000);
const POOL_SIZE = 10;
const POOL_CALLERS = 50;

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const k = a.slice(2);
    if (k === "no-write" || k === "no-floors" || k === "help") out[k] = true;
    else out[k] = argv[++i];
  }
  if (out.help) {
    console.log(readFileSync(new URL(import.meta.url), "utf8").split("\n").slice(0, 14).join("\n"));
    process.exit(0);
  }
  return out;
}
function int(v, d) {
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a count: ${v}`);
  return n;
}

// ------------------------------------------------------------------ workloads

const workloads = [
  {
    name: "connect_first",
    unit: "connects",
    ops: CONNECTS,
    describe: `${CONNECTS} times: a NEW connection (WebSocket or TCP open, startup, cleartext password) and the first result of \`SELECT 1\`; the close afterwards is not timed. ` +
      "edgepg: `connect(dsn, { pipelineConnect: \"password\", lazy: true, ... })` + `fetchval` (startup, password and query in one flight; like Neon's `Pool.query`, a wrong password rejects that first call — without `lazy`, `connect()` itself waits one flight for the password check); Neon: `new Pool({ max: 1 }).query()` (pipelineConnect \"password\", coalesceWrites); " +
      "pg: `new Client()` + `connect()` + `query()`; postgres.js: `postgres(dsn, { max: 1 })` + first query (its default `fetch_types: true` adds a type query on connect).",
    perConnection: false,
    async run(c) {
      let ms = 0;
      for (let i = 0; i < CONNECTS; i++) ms += await c.connectFirst();
      return { ms, checksum: CONNECTS };
    },
  },
  {
    name: "seq_select1",
    unit: "queries",
    ops: SEQ,
    describe: `${SEQ.toLocaleString("en-US")} sequential \`SELECT 1\` round trips on one connection. edgepg: \`conn.fetchval(sql)\` (extended protocol, statement cache); ` +
      "Neon / pg: `client.query(sql)` (simple protocol); postgres.js: tagged template (prepared).",
    perConnection: true,
    async run(c, h) {
      let sum = 0;
      const t0 = performance.now();
      for (let i = 0; i < SEQ; i++) sum += Number(await c.select1(h));
      const ms = performance.now() - t0;
      return { ms, checksum: sum };
    },
  },
  {
    name: "decode_200k",
    unit: "rows",
    ops: ROWS,
    describe: `One query returning ${ROWS.toLocaleString("en-US")} rows of \`(int8, text, float8, timestamptz, numeric)\` from generate_series, as each client's default row objects with its default types; ` +
      "every column of every row is then read (int8 summed via Number(), text length, float8 sum, Date.getTime(), numeric string length) inside the timing.",
    perConnection: true,
    async run(c, h) {
      const t0 = performance.now();
      const rows = await c.fetchAll(h, DECODE_SQL);
      if (c.diagnostic) return { ms: performance.now() - t0, checksum: rows.length };
      const checksum = readRows(rows);
      const ms = performance.now() - t0;
      if (rows.length !== ROWS) throw new Error(`${c.name}: ${rows.length} rows`);
      return { ms, checksum };
    },
  },
  {
    name: "decode_200k_array",
    unit: "rows",
    ops: ROWS,
    describe: `As decode_200k, with rows as arrays of values: edgepg \`fetch(sql, { arrayMode: true })\`, pg / Neon \`query({ text, rowMode: "array" })\`, postgres.js \`sql.unsafe(text).values()\`; every value is read the same way.`,
    perConnection: true,
    async run(c, h) {
      const t0 = performance.now();
      const rows = await c.fetchArrays(h, DECODE_SQL);
      if (c.diagnostic) return { ms: performance.now() - t0, checksum: rows.length };
      const checksum = readRows(rows, true);
      const ms = performance.now() - t0;
      if (rows.length !== ROWS) throw new Error(`${c.name}: ${rows.length} rows`);
      return { ms, checksum };
    },
  },
  {
    name: "pipelined_10k",
    unit: "queries",
    ops: PIPELINED,
    describe: `${PIPELINED.toLocaleString("en-US")} \`SELECT $1::int8 + 1\` with ${IN_FLIGHT} in flight on ONE connection (${IN_FLIGHT} async loops sharing a counter). ` +
      "edgepg pipelines them; postgres.js pipelines them; pg and Neon (node-postgres inside) queue them and send the next when the previous is answered.",
    perConnection: true,
    async run(c, h) {
      let next = 0, sum = 0;
      const t0 = performance.now();
      const loop = async () => {
        while (next < PIPELINED) {
          const i = next++;
          const v = Number(await c.addOne(h, i)); // read sum only after the await
          sum += v - i;
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
      const ms = performance.now() - t0;
      return { ms, checksum: sum };
    },
  },
  poolWorkload("pool_10k", {}, "edgepg: `createPool` + `pool.fetchval` with the defaults (session reset between calls; `pipelineDepth` 8: once all 10 connections are busy, a call is pipelined onto the least busy one instead of waiting for a release, as postgres.js queues its callers); pg / Neon: `Pool` + `pool.query`; postgres.js: `postgres(dsn, { max: 10 })`."),
  poolWorkload("pool_10k_noreset", { noReset: true },
    "As pool_10k, but edgepg's pool with `reset: false`: pg's, Neon's and postgres.js's pools never clean a session on release, edgepg's does by default (asyncpg's reset: advisory locks, cursors, LISTEN, settings), which costs the server a statement per release."),
  poolWorkload("pool_10k_exclusive", { pipelineDepth: 1 },
    "As pool_10k, but edgepg's pool with `pipelineDepth: 1`: each call has a connection to itself (as in asyncpg and node-postgres) and waits for a release when all 10 are busy. Other clients as in pool_10k."),
];

/** POOL queries through each client's pool of POOL_SIZE connections by POOL_CALLERS callers. */
function poolWorkload(name, poolOptions, how) {
  return {
    name,
    unit: "queries",
    ops: POOL,
    describe: `${POOL.toLocaleString("en-US")} \`SELECT $1::int8 + 1\` through each client's pool of ${POOL_SIZE} connections (opened before the timing) by ${POOL_CALLERS} concurrent callers. ${how}`,
    perConnection: "pool",
    poolOptions,
    async run(c, p) {
      let next = 0, sum = 0;
      const t0 = performance.now();
      const loop = async () => {
        while (next < POOL) {
          const i = next++;
          const v = Number(await c.poolAddOne(p, i)); // read sum only after the await
          sum += v - i;
        }
      };
      await Promise.all(Array.from({ length: POOL_CALLERS }, loop));
      return { ms: performance.now() - t0, checksum: sum };
    },
  };
}

// Which edgepg each contender is compared with: the same transport.
const TCP_CONTENDERS = new Set(["pg", "postgres.js", "tcp-floor", "tcp-floor-bin", "edgepg-pg-tcp"]);
const refFor = (name) => (TCP_CONTENDERS.has(name) ? "edgepg-tcp" : "edgepg");

// ------------------------------------------------------------------ main
const all = [...clients(process.env), ...(args["no-floors"] ? [] : floorClients(process.env))];
const chosen = args.clients ? all.filter((c) => args.clients.split(",").includes(c.name)) : all;
const wanted = args.only ? workloads.filter((w) => args.only.split(",").includes(w.name)) : workloads;
if (!chosen.length || !wanted.length) throw new Error("nothing to run (see --only / --clients)");

const gc = globalThis.gc ?? (() => {});
const started = new Date();
const loadBefore = loadavg();
const results = []; // { workload, client, reps: [{ms, cpuUs}], checksum }
const runStart = performance.now();

for (const w of wanted) {
  const handles = new Map();
  // A pool workload runs only for clients that have a pool.
  const runners = w.perConnection === "pool" ? chosen.filter((c) => c.openPool) : chosen;
  if (w.perConnection === "pool") for (const c of runners) handles.set(c, await c.openPool(POOL_SIZE, w.poolOptions));
  else if (w.perConnection) for (const c of chosen) handles.set(c, await c.open());
  const byClient = new Map(runners.map((c) => [c, { workload: w, client: c, reps: [], checksums: new Set() }]));
  for (let round = 0; round < WARMUP + REPS; round++) {
    const order = runners.map((_, i) => runners[(i + round) % runners.length]);
    for (const c of order) {
      gc();
      const cpu0 = process.cpuUsage();
      const { ms, checksum } = await w.run(c, handles.get(c));
      const cpu = process.cpuUsage(cpu0);
      const r = byClient.get(c);
      r.checksums.add(String(checksum));
      if (round >= WARMUP) r.reps.push({ ms, cpuUs: cpu.user + cpu.system });
    }
    process.stderr.write(`${w.name}: round ${round + 1}/${WARMUP + REPS} done\n`);
  }
  for (const c of chosen) if (handles.has(c)) await (w.perConnection === "pool" ? c.closePool : c.close)(handles.get(c));
  const sums = new Set([...byClient.values()].filter((r) => !r.client.diagnostic || !w.name.startsWith("decode_200k")).flatMap((r) => [...r.checksums]));
  if (sums.size !== 1) throw new Error(`${w.name}: clients disagree on the result: ${[...sums].join(" | ")}`);
  results.push(...byClient.values());
}
const totalS = (performance.now() - runStart) / 1000;
const loadAfter = loadavg();

// ------------------------------------------------------------------ report
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n, d = 0) => n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
for (const r of results) {
  r.medianMs = median(r.reps.map((x) => x.ms));
  r.rate = (r.workload.ops * 1000) / r.medianMs;
  r.cpuPerOp = median(r.reps.map((x) => x.cpuUs)) / r.workload.ops;
}
const cell = (r) => {
  if (!r) return "—";
  if (r.workload.name === "connect_first") return `${fmt(r.medianMs / r.workload.ops, 2)} ms each`;
  return `${fmt(r.rate)} ${r.workload.unit}/s`;
};
const names = chosen.map((c) => c.name);
const others = chosen.filter((c) => !c.name.startsWith("edgepg") && !c.diagnostic).map((c) => c.name);
const get = (w, n) => results.find((r) => r.workload === w && r.client.name === n);

let table = `| workload | ${names.join(" | ")} | ${others.map((o) => `${refFor(o)} / ${o}`).join(" | ")} |\n`;
table += `|---|${names.map(() => "---:").join("|")}|${others.map(() => "---:").join("|")}|\n`;
for (const w of wanted) {
  const ratios = others.map((o) => {
    const e = get(w, refFor(o));
    const x = get(w, o);
    return e && x ? fmt(e.medianMs / x.medianMs, 2) : "—";
  });
  table += `| ${w.name} | ${names.map((n) => cell(get(w, n))).join(" | ")} | ${ratios.join(" | ")} |\n`;
}

// Paired ratio: per round, edgepg's time / the other's time in the SAME round,
// then the median; less sensitive to load that changes during the run.
let paired = "Paired ratio (median over rounds of edgepg's time / the other's in the same round; less sensitive to load changing during the run):";
for (const w of wanted) {
  const pairs = others.filter((o) => get(w, refFor(o)) && get(w, o)).map((o) => {
    const e = get(w, refFor(o));
    return `${refFor(o)} vs ${o} ${fmt(median(e.reps.map((x, i) => x.ms / get(w, o).reps[i].ms)), 2)}`;
  });
  if (pairs.length) paired += ` \`${w.name}\` ${pairs.join(", ")};`;
}
paired = paired.replace(/;$/, ".");

let reps = "| workload | client | median | min | max | client CPU per op (median) | every repetition, in run order (ms) |\n|---|---|---:|---:|---:|---:|---|\n";
for (const r of results) {
  const ms = r.reps.map((x) => x.ms);
  reps += `| ${r.workload.name} | ${r.client.name} | ${fmt(r.medianMs, 1)} ms | ${fmt(Math.min(...ms), 1)} ms | ${fmt(Math.max(...ms), 1)} ms | ` +
    `${fmt(r.cpuPerOp, 2)} µs | ${ms.map((x) => fmt(x, 1)).join(", ")} |\n`;
}

// Bundle sizes: what a user downloads, gzip -9, file by file (like js/build.sh).
const gz = (p) => gzipSync(readFileSync(p), { level: zc.Z_BEST_COMPRESSION }).length;
const raw = (p) => readFileSync(p).length;
const br = (p) => brotliCompressSync(readFileSync(p), { params: { [zc.BROTLI_PARAM_QUALITY]: 11 } }).length;
const edgepgDist = `${here}node_modules/edgepg/dist/`;
const edgepgFiles = ["edgepg_bg.wasm", "edgepg.js", "api.js", "errors.js", "node.js"]; // what js/build.sh counts
const neonFile = `${here}node_modules/@neondatabase/serverless/index.mjs`;
const bundle = {
  edgepg: edgepgFiles.map((f) => ({ f, raw: raw(edgepgDist + f), gz: gz(edgepgDist + f), br: br(edgepgDist + f) })),
  neon: { f: "index.mjs", raw: raw(neonFile), gz: gz(neonFile), br: br(neonFile) },
};
const eRaw = bundle.edgepg.reduce((a, x) => a + x.raw, 0);
const eGz = bundle.edgepg.reduce((a, x) => a + x.gz, 0);
const eBr = bundle.edgepg.reduce((a, x) => a + x.br, 0);
let sizes = "| package | files (gzip -9 each) | raw | gzip -9 | brotli -q 11 |\n|---|---|---:|---:|---:|\n";
sizes += `| edgepg ${pkgVersion("edgepg")} (Node entry) | ${bundle.edgepg.map((x) => `\`${x.f}\` ${fmt(x.gz)}`).join(" + ")} | ${fmt(eRaw)} B | **${fmt(eGz)} B** | ${fmt(eBr)} B |\n`;
sizes += `| @neondatabase/serverless ${pkgVersion("@neondatabase/serverless")} | \`index.mjs\` (the whole ESM bundle, pg included) | ${fmt(bundle.neon.raw)} B | **${fmt(bundle.neon.gz)} B** | ${fmt(bundle.neon.br)} B |\n`;
sizes += `\nedgepg / Neon gzipped: **${fmt(eGz / bundle.neon.gz, 2)}×** (the BRIEF's ≤ 2× was withdrawn by issue #13, which keeps one core; where the bytes go and what ≤ 200 KB would take: js/SIZE.md).\n`;

function pkgVersion(name) {
  return JSON.parse(readFileSync(`${here}node_modules/${name}/package.json`, "utf8")).version;
}
function sh(cmd, a) {
  try { return execFileSync(cmd, a, { encoding: "utf8" }).trim(); } catch { return "?"; }
}

const date = started.toISOString().replace("T", " ").slice(0, 16) + " UTC";
const argStr = process.argv.slice(2).join(" ");
const cpuModel = cpus()[0]?.model?.trim() ?? "?";
const section = `## Edge: the npm package in Node vs Neon's driver, node-postgres and postgres.js

Written by \`bench/edge/run.sh${argStr ? " " + argStr : ""}\` on ${date}. All clients run in ONE Node process against the same server in the same run, ` +
`one connection each, in rotating order (A B C D, B C D A, ...), ${WARMUP} warm-up round(s) then ${REPS} timed repetitions; each figure is the rate (or time) at the median time. ` +
`**Ratio = edgepg median time / other client's median time: < 1.00 means edgepg is faster**; the TCP contenders (pg, postgres.js) are compared with edgepg over TCP (\`edgepg-tcp\`), the others with edgepg through websockify. ` +
`Whole run: ${fmt(totalS, 0)} s.

${table}
${chosen.some((c) => c.diagnostic) ? "`ws-floor` and `tcp-floor` are not contenders but yardsticks (bench/edge/floor.mjs): a ~150-line hand-written client (simple protocol, text results, nothing decoded but the first column, every write sent at once, startup + password + first query in one write) over `ws` through websockify and over plain TCP; `tcp-floor-bin` sends the decode queries as edgepg does (extended protocol, binary results) and only counts the rows. edgepg → ws-floor is edgepg's own cost (JS glue + wasm); ws-floor → tcp-floor is the cost of the WebSocket hop through websockify (a Python process on the same 2 CPUs), which edgepg, Neon, `pg-ws` and `postgres.js-ws` pay and `pg` / `postgres.js` (TCP) do not. The BRIEF's target compares clients \"through the same WebSocket proxy\": the `-ws` columns; the issue's table asks for pg and postgres.js over TCP: the plain columns.\n" : ""}
### Bundle size

${sizes}
### Machine and setup

* Node ${process.version} (${process.arch}), \`--expose-gc\` (a GC before every timed repetition, outside the timing); CPU: ${cpuModel}, nproc ${cpus().length} (shared by Node, websockify and the server)
* load average (1 / 5 / 15 min) at start: ${loadBefore.map((x) => x.toFixed(2)).join(" / ")}; at end: ${loadAfter.map((x) => x.toFixed(2)).join(" / ")} (the machine is shared with other engineers' builds: anything above ~1 is other work competing for the 2 CPUs)
* ${sh(process.env.EDGEPG_TEST_PGBIN ? process.env.EDGEPG_TEST_PGBIN + "/postgres" : "postgres", ["--version"])} — throwaway cluster from \`tests/cluster/start.sh\` (fsync off), 127.0.0.1; websockify ${sh("websockify", ["--help"]).match(/v?\d+\.\d+\.\d+/)?.[0] ?? ""} (\`tests/cluster/websockify.sh\`) in front of it for edgepg and Neon
* every client logs in as \`pw_user\` (pg_hba \`password\`: cleartext), so Neon's \`pipelineConnect: "password"\` applies and the auth is the same for all
* clients: ${chosen.map((c) => { const base = c.name.replace(/-(ws|tcp)$/, "").replace(/^edgepg-pg$/, "edgepg"); return `${c.name} ${base === "postgres.js" ? pkgVersion("postgres") : base === "neon" ? pkgVersion("@neondatabase/serverless") : base === "edgepg" ? pkgVersion("edgepg") + " (from the \`npm pack\` tarball of this checkout's js/)" : c.diagnostic ? "(yardstick)" : pkgVersion(base)} — ${c.transport}`; }).join("; ")}; ws ${pkgVersion("ws")}
* git commit: \`${sh("git", ["-C", here, "rev-parse", "--short=12", "HEAD"])}\`

### Workloads

${wanted.map((w) => `* \`${w.name}\` (${w.unit}): ${w.describe}`).join("\n")}

Counts are smaller than the native table's where Neon's driver would make the run too long: its writes are coalesced on \`setTimeout(0)\` (≥ 1 ms a round trip in Node).

### Repetitions

${reps}
${paired}

Client CPU per op: user + system CPU of the Node process (all clients' JS, wasm and the \`ws\`/socket work; not websockify or the server) over the repetition, divided by its operations.

### How to run

\`\`\`sh
bench/edge/run.sh                          # everything: cluster + websockify, js/build.sh, npm pack + install, all workloads, this section
bench/edge/run.sh --only decode_200k --reps 9
EDGEPG_BENCH_SKIP_BUILD=1 bench/edge/run.sh --clients edgepg,neon --no-floors --no-write   # reuse js/dist, print only
\`\`\`

\`run.sh\` installs the pinned contenders from \`bench/edge/package-lock.json\` (\`npm ci\`, when missing), builds js/ with \`js/build.sh\`, installs the \`npm pack\` tarball of js/ into \`bench/edge/node_modules\` (\`--no-save\`), starts a cluster with websockify in \`bench/edge/.edgepg-bench-edge/\` (stopped on exit) and runs \`node --expose-gc bench/edge/bench.mjs\`. Clients are in \`bench/edge/clients.mjs\`, the yardsticks in \`bench/edge/floor.mjs\`; \`bench/edge/trace-connect.mjs\` prints edgepg's connect on the wire; \`bench/edge/cpuprofile.mjs\` summarises a \`--cpu-prof\` profile (see the end of run.sh).
`;

console.log(section);
const BEGIN = "<!-- edge-bench:begin (written by bench/edge/run.sh; kept when bench/run.sh rewrites the file) -->";
const END = "<!-- edge-bench:end -->";
if (!args["no-write"]) {
  const file = `${here}../RESULTS.md`;
  const old = existsSync(file) ? readFileSync(file, "utf8") : "";
  const block = `${BEGIN}\n${section}\n### Edge notes\n\n${readNotes(old)}${END}\n`;
  const i = old.indexOf(BEGIN);
  const j = old.indexOf(END);
  const out = i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + END.length + 1) : old.replace(/\n*$/, "\n\n") + block;
  writeFileSync(file, out);
  console.error(`wrote ${file}`);
}

// The hand-written "Edge notes" (profiles, suggestions) survive a rewrite.
function readNotes(old) {
  const m = old.match(/### Edge notes\n\n([\s\S]*?)<!-- edge-bench:end -->/);
  return m ? m[1] : "_Placeholder: where the time goes on every row edgepg loses, and what to do about it._\n\n";
}
process.exit(0);
