// edgepg's own rates in each JavaScript runtime of the test matrix: `seq_select1` and
// `decode_200k` (the workloads of bench.mjs) over direct TCP, the same package in Node 20,
// Node 22, Node 24, Bun and Deno. Only edgepg runs here: the contenders are compared with
// it in bench.mjs (Node); this answers "does edgepg keep its speed in Bun and Deno?".
//
// Run by `bench/edge/run.sh runtimes [--reps N]`, which starts the cluster, installs the
// package into bench/edge/node_modules and runs this file once per runtime found by
// scripts/runtimes.sh, as a child process (`child` mode) that prints one JSON line; the
// parent prints the Markdown table. Runs in Node, Bun and Deno alike: it uses only
// edgepg's API, `performance.now()` and `process` (Deno's Node compatibility).

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { DECODE_SQL, ROWS, readRows } from "./decode-query.mjs";

const SEQ = 2000;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function child(reps) {
  // The Bun row is run twice: with Bun.connect (what sockets-node.js picks for plaintext
  // in Bun) and, hiding it, with node:net.
  if (process.env.EDGEPG_BENCH_NODE_NET && globalThis.Bun) globalThis.Bun.connect = undefined;
  const { connect } = await import("edgepg");
  const env = process.env;
  const dsn = `postgres://pw_user:pw_pw@${env.EDGEPG_TEST_HOST}:${env.EDGEPG_TEST_PORT}/${env.EDGEPG_TEST_DB}?sslmode=disable`;
  const conn = await connect(dsn, { transport: "tcp" });
  const seq = [], decode = [];
  // One warm-up round, then `reps` timed ones.
  for (let round = 0; round <= reps; round++) {
    let t0 = performance.now();
    for (let i = 0; i < SEQ; i++) {
      if ((await conn.fetchval("SELECT 1")) !== 1) throw new Error("SELECT 1 gave something else");
    }
    const seqMs = performance.now() - t0;
    t0 = performance.now();
    const rows = await conn.fetch(DECODE_SQL);
    const checksum = readRows(rows);
    const decodeMs = performance.now() - t0;
    const ids = Number(checksum.split("/")[0]);
    if (rows.length !== ROWS || ids !== (ROWS * (ROWS + 1)) / 2) throw new Error(`decode: ${rows.length} rows, ids ${ids}`);
    if (round > 0) {
      seq.push(seqMs);
      decode.push(decodeMs);
    }
  }
  await conn.close();
  console.log(JSON.stringify({ seq: SEQ / (median(seq) / 1000), decode: ROWS / (median(decode) / 1000), reps }));
}

function parent(reps) {
  const here = fileURLToPath(new URL(".", import.meta.url));
  const listed = spawnSync("bash", [`${here}/../../scripts/runtimes.sh`, "--print"], { encoding: "utf8" });
  const runtimes = [["node20", process.execPath]];
  for (const line of listed.stdout.trim().split("\n")) {
    const [name, bin] = line.split(" ");
    if (name && bin) runtimes.push([name, bin]);
  }
  const rows = [];
  const bun = runtimes.find(([name]) => name === "bun");
  if (bun) runtimes.splice(runtimes.indexOf(bun) + 1, 0, ["bun (node:net)", bun[1], { EDGEPG_BENCH_NODE_NET: "1" }]);
  for (const [name, bin, extraEnv] of runtimes) {
    const args = name === "deno"
      ? ["run", "--allow-net", "--allow-read", "--allow-env", "--allow-sys", "--allow-run", fileURLToPath(import.meta.url)]
      : [fileURLToPath(import.meta.url)];
    const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
    const run = spawnSync(bin, [...args, "child", String(reps)], { cwd: here, encoding: "utf8", env: { ...process.env, ...extraEnv } });
    const line = run.stdout.trim().split("\n").pop();
    if (run.status !== 0 || !line?.startsWith("{")) {
      console.error(`${name}: failed (status ${run.status})\n${run.stderr}`);
      rows.push([name === "bun" ? "bun (Bun.connect)" : name, version, "failed", "failed"]);
      continue;
    }
    const r = JSON.parse(line);
    const fmt = (x) => Math.round(x).toLocaleString("en-US");
    rows.push([name === "bun" ? "bun (Bun.connect)" : name, version, `${fmt(r.seq)} queries/s`, `${fmt(r.decode)} rows/s`]);
    console.error(`${name} done`);
  }
  console.log(`edgepg over TCP in each runtime (${SEQ} sequential \`SELECT 1\`; one ${ROWS.toLocaleString("en-US")}-row decode_200k query, every value read; 1 warm-up + ${reps} repetitions, median):\n`);
  console.log("| runtime | version | seq_select1 | decode_200k |");
  console.log("|---|---|---:|---:|");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
}

const argv = process.argv.slice(2);
if (argv[0] === "child") await child(Number(argv[1] ?? 5));
else {
  const at = argv.indexOf("--reps");
  parent(at >= 0 ? Number(argv[at + 1]) : 5);
}
