// Same-process A/B of two (or more) builds of edgepg on decode_200k: each
// build's dist/ is imported from its own directory, one TCP connection each,
// builds alternated every repetition (order reversed every other round), a
// GC before each, rows read as bench.mjs reads them; prints per build the
// median wall time and the median process CPU per row. One process and
// interleaving keep the machine's load changes out of the comparison.
//   AB=/path/a,/path/b [ARRAY=1] [REPS=10] node --expose-gc decode-ab.mjs
// Each path is a copy of the edgepg package (package.json + dist/), e.g.
// `cp -a node_modules/edgepg /tmp/ab-main` before a rebuild and
// `cp -a node_modules/edgepg /tmp/ab-new` after; run with the cluster's env
// sourced (tests/cluster/start.sh).
import { DECODE_SQL, ROWS, readRows } from "./decode-query.mjs";

const env = process.env;
const dsn = `postgres://pw_user:pw_pw@127.0.0.1:${env.EDGEPG_TEST_PORT}/edgepg_test?sslmode=disable`;
const arrayMode = env.ARRAY === "1";
const reps = Number(env.REPS ?? 10);
const dirs = (env.AB ?? "").split(",").filter(Boolean);
if (dirs.length < 1 || typeof globalThis.gc !== "function") {
  console.error("usage: AB=/path/a,/path/b [ARRAY=1] [REPS=10] node --expose-gc decode-ab.mjs");
  process.exit(2);
}
const clients = new Map();
for (const dir of dirs) {
  const m = await import(`${dir}/dist/node.js`);
  const c = await m.connect(dsn, { transport: "tcp" });
  clients.set(dir, () => c.fetch(DECODE_SQL, arrayMode ? { arrayMode: true } : undefined));
}
const results = new Map(dirs.map((d) => [d, []]));
const sums = new Set();
for (let round = 0; round <= reps; round++) { // round 0: warm-up
  for (const dir of round % 2 ? [...dirs].reverse() : dirs) {
    globalThis.gc();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const rows = await clients.get(dir)();
    sums.add(readRows(rows, arrayMode));
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (rows.length !== ROWS) throw new Error(`${dir}: ${rows.length} rows`);
    if (round > 0) results.get(dir).push({ ms, cpuMs: (cpu.user + cpu.system) / 1000 });
  }
}
if (sums.size !== 1) throw new Error(`the builds disagree on the rows: ${[...sums].join(" | ")}`);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const [dir, xs] of results) {
  const cpu = median(xs.map((x) => x.cpuMs));
  console.log(`${dir}: wall ${median(xs.map((x) => x.ms)).toFixed(0)} ms, CPU ${cpu.toFixed(0)} ms = ${((cpu * 1000) / ROWS).toFixed(2)} µs/row`);
}
process.exit(0);
