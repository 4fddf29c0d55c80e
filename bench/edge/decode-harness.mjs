// A minimal one-file decode harness, to cross-check bench.mjs's decode_200k
// (issue #13 item 1): the same query, one connection per client over TCP,
// clients interleaved, round 0 a warm-up, every value read; prints per
// client the median time, the part spent until the rows were returned
// ("fetch") and the process CPU of that repetition. Knobs (environment):
// CLIENTS=edgepg,pg,pgjs  GC=1 (a forced GC before each repetition, as
// bench.mjs does)  ARRAY=1 (rows as arrays)  REPS=6. Run from bench/edge with
// the cluster's env sourced (bench/edge/run.sh installs the packages):
//   node --expose-gc decode-harness.mjs
import { connect } from "edgepg";
import pg from "pg";
import postgres from "postgres";
import { DECODE_SQL, ROWS } from "./decode-query.mjs";
const env = process.env;
const dsn = `postgres://pw_user:pw_pw@127.0.0.1:${env.EDGEPG_TEST_PORT}/edgepg_test`;
const SQL = DECODE_SQL;
const doGc = env.GC === "1";
const which = (env.CLIENTS ?? "edgepg").split(",");
const arrayMode = env.ARRAY === "1";
const reps = Number(env.REPS ?? 6);
const clients = {};
if (which.includes("edgepg")) { const c = await connect(`${dsn}?sslmode=disable`, { transport: "tcp" }); clients.edgepg = () => c.fetch(SQL, arrayMode ? { arrayMode: true } : undefined); }
if (which.includes("pg")) { const c = new pg.Client({ connectionString: dsn }); await c.connect(); clients.pg = async () => (await c.query(arrayMode ? { text: SQL, rowMode: "array" } : SQL)).rows; }
if (which.includes("pgjs")) { const s = postgres(dsn, { max: 1 }); await s`select 1`; clients.pgjs = () => arrayMode ? s.unsafe(SQL).values() : s.unsafe(SQL); }
const res = {};
for (let r = 0; r < reps; r++) {
  for (const [name, f] of Object.entries(clients)) {
    if (doGc) globalThis.gc();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const rows = await f();
    const t1 = performance.now();
    let ids = 0, len = 0, fs = 0, t = 0;
    if (arrayMode) for (const row of rows) { ids += Number(row[0]); len += row[1].length + row[4].length; fs += row[2]; t += row[3].getTime(); }
    else for (const row of rows) { ids += Number(row.id); len += row.name.length + row.n.length; fs += row.f; t += row.ts.getTime(); }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    if (r > 0) (res[name] ??= []).push([ms, t1 - t0, (cpu.user + cpu.system) / 1000]);
  }
}
for (const [n, xs] of Object.entries(res)) {
  xs.sort((a, b) => a[0] - b[0]);
  const m = xs[xs.length >> 1];
  console.log(`${n}: median ${m[0].toFixed(0)} ms (fetch ${m[1].toFixed(0)} ms, cpu ${m[2].toFixed(0)} ms) = ${(ROWS / m[0] * 1000 / 1000).toFixed(0)}k rows/s; all ${xs.map((x) => x[0].toFixed(0)).join(" ")}`);
}
process.exit(0);
