// edgepg-proxy against websockify as the WebSocket relay, with the SAME
// client on both (edgepg's npm package over `ws`, cleartext role pw_user,
// pipelineConnect "password"), and SQL over HTTP (one-shot queries) against
// WebSocket connect + first query, for edgepg and Neon's driver, through
// edgepg-proxy. Run by bench/edge/proxy.sh, which starts the cluster,
// websockify and a release build of edgepg-proxy and sets:
//   EDGEPG_TEST_* (cluster env), EDGEPG_BENCH_PROXY_PORT (release edgepg-proxy).
// Options: --reps N (5) --warmup N (1) --no-write
// Prints a table and (unless --no-write) rewrites the "edgepg-proxy" section
// of bench/RESULTS.md between its markers.
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { execFileSync } from "node:child_process";
import WebSocket from "ws";
import { connect } from "edgepg";
import { neon } from "edgepg/http";
import { Pool as NeonPool, neon as neonHttp, neonConfig } from "@neondatabase/serverless";
import { floorClients } from "./floor.mjs";

const args = process.argv.slice(2);
const flag = (name, d) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? d : Number(args[i + 1]);
};
const REPS = flag("reps", 5);
const WARMUP = flag("warmup", 1);
const WRITE = !args.includes("--no-write");

const env = process.env;
const host = env.EDGEPG_TEST_HOST ?? "127.0.0.1";
const pgPort = env.EDGEPG_TEST_PORT;
const db = env.EDGEPG_TEST_DB ?? "edgepg_test";
const wsPort = env.EDGEPG_TEST_WS_PORT;
const proxyPort = env.EDGEPG_BENCH_PROXY_PORT;
if (!pgPort || !wsPort || !proxyPort) throw new Error("run through bench/edge/proxy.sh (cluster env + EDGEPG_BENCH_PROXY_PORT)");
const dsn = `postgres://pw_user:pw_pw@${host}:${pgPort}/${db}`;

const SEQ = 2000;
const PIPELINED = 3000;
const IN_FLIGHT = 10;
const ROWS = 200000;
const CONNECTS = 20;
const ONESHOTS = 200;
const DECODE_SQL =
  "SELECT g::int8 AS id, 'row ' || g AS name, g * 1.5::float8 AS f, " +
  "'2024-01-01 00:00:00+00'::timestamptz + g * interval '1 s' AS ts, " +
  `(g * 1.25)::numeric(12,2) AS n FROM generate_series(1, ${ROWS}) g`;

const relays = [
  { name: "websockify", port: wsPort },
  { name: "edgepg-proxy", port: proxyPort },
];
const optsFor = (port, extra = {}) => ({
  wsProxy: `127.0.0.1:${port}/v1`,
  useSecureWebSocket: false,
  webSocketConstructor: WebSocket,
  pipelineConnect: "password",
  ...extra,
});

// ------------------------------------------------------------------ relay workloads (ops, run(conn|null, port) -> ms)
const relayWorkloads = [
  {
    name: "seq_select1", unit: "queries/s", ops: SEQ,
    async run(c) {
      const t0 = performance.now();
      for (let i = 0; i < SEQ; i++) if ((await c.fetchval("SELECT 1")) !== 1) throw new Error("bad result");
      return performance.now() - t0;
    },
  },
  {
    name: "pipelined_10k", unit: "queries/s", ops: PIPELINED,
    async run(c) {
      let next = 0;
      const t0 = performance.now();
      const loop = async () => {
        while (next < PIPELINED) {
          const i = next++;
          if ((await c.fetchval("SELECT $1::int8 + 1", [i])) !== BigInt(i + 1)) throw new Error("bad result");
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
      return performance.now() - t0;
    },
  },
  {
    name: "decode_200k", unit: "rows/s", ops: ROWS,
    async run(c) {
      const t0 = performance.now();
      const rows = await c.fetch(DECODE_SQL);
      let s = 0;
      for (const r of rows) s += Number(r.id) + r.name.length + r.f + r.ts.getTime() + r.n.length;
      if (rows.length !== ROWS || !Number.isFinite(s)) throw new Error("bad result");
      return performance.now() - t0;
    },
  },
  {
    name: "connections", unit: "connects/s", ops: CONNECTS, fresh: true,
    async run(_c, port) {
      let ms = 0;
      for (let i = 0; i < CONNECTS; i++) {
        const t0 = performance.now();
        const c = await connect(dsn, optsFor(port, { lazy: true }));
        if ((await c.fetchval("SELECT 1")) !== 1) throw new Error("bad result");
        ms += performance.now() - t0;
        await c.close();
      }
      return ms;
    },
  },
];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function runRelays() {
  const results = new Map(); // workload -> relay -> [ms]
  for (const w of relayWorkloads) {
    const per = new Map(relays.map((r) => [r.name, []]));
    const conns = new Map();
    if (!w.fresh) for (const r of relays) conns.set(r.name, await connect(dsn, optsFor(r.port)));
    for (let rep = 0; rep < WARMUP + REPS; rep++) {
      // Alternate which relay goes first.
      const order = rep % 2 ? [...relays].reverse() : relays;
      for (const r of order) {
        globalThis.gc?.();
        const ms = await w.run(conns.get(r.name), r.port);
        if (rep >= WARMUP) per.get(r.name).push(ms);
      }
    }
    for (const c of conns.values()) await c.close();
    results.set(w.name, per);
    const line = relays.map((r) => `${r.name} ${fmtRate(w.ops, median(per.get(r.name)))}`).join(", ");
    console.log(`${w.name}: ${line}`);
  }
  return results;
}

// ------------------------------------------------------------------ the relay's own cost
// bench/edge/floor.mjs's minimal client (no decoding, simple protocol) through each relay and over
// plain TCP: per round trip, (floor through the relay) - (floor over TCP) is what the relay adds.
async function runFloors() {
  const viaWebsockify = floorClients(env);
  const viaProxy = floorClients({ ...env, EDGEPG_TEST_WS_PORT: proxyPort });
  const contenders = [
    { name: "websockify", client: viaWebsockify[0] },
    { name: "edgepg-proxy", client: viaProxy[0] },
    { name: "TCP (no relay)", client: viaWebsockify[1] },
  ];
  const out = new Map(contenders.map((c) => [c.name, []]));
  const handles = new Map();
  for (const c of contenders) handles.set(c.name, await c.client.open());
  for (let rep = 0; rep < WARMUP + REPS; rep++) {
    const order = rep % 2 ? [...contenders].reverse() : contenders;
    for (const c of order) {
      const h = handles.get(c.name);
      const t0 = performance.now();
      for (let i = 0; i < SEQ; i++) if ((await c.client.select1(h)) !== 1) throw new Error("bad result");
      if (rep >= WARMUP) out.get(c.name).push(performance.now() - t0);
    }
  }
  for (const c of contenders) await c.client.close(handles.get(c.name));
  const us = new Map([...out].map(([k, v]) => [k, (median(v) / SEQ) * 1000]));
  console.log(`floor seq_select1 µs per round trip: ${[...us].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ")}`);
  return us;
}

// ------------------------------------------------------------------ HTTP one-shot vs WebSocket connect + first query
async function runLatency() {
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = (h, p) => `127.0.0.1:${proxyPort}/v1?address=${h}:${p}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = "password";
  neonConfig.fetchEndpoint = `http://127.0.0.1:${proxyPort}/sql`;
  const endpoint = `http://127.0.0.1:${proxyPort}/sql`;
  const edgepgHttp = neon(dsn, { fetchEndpoint: endpoint });
  const neonSql = neonHttp(dsn);
  const cases = [
    {
      name: "edgepg/http neon() one-shot", n: ONESHOTS,
      async once() {
        const t0 = performance.now();
        const rows = await edgepgHttp`SELECT 1 AS one`;
        if (rows[0].one !== 1) throw new Error("bad result");
        return performance.now() - t0;
      },
    },
    {
      name: "Neon neon() one-shot", n: ONESHOTS,
      async once() {
        const t0 = performance.now();
        const rows = await neonSql`SELECT 1 AS one`;
        if (rows[0].one !== 1) throw new Error("bad result");
        return performance.now() - t0;
      },
    },
    {
      name: "edgepg WebSocket connect + first query", n: CONNECTS,
      async once() {
        const t0 = performance.now();
        const c = await connect(dsn, optsFor(proxyPort, { lazy: true }));
        if ((await c.fetchval("SELECT 1")) !== 1) throw new Error("bad result");
        const ms = performance.now() - t0;
        await c.close();
        return ms;
      },
    },
    {
      name: "Neon Pool WebSocket connect + first query", n: CONNECTS,
      async once() {
        const t0 = performance.now();
        const pool = new NeonPool({ connectionString: dsn, max: 1 });
        const r = await pool.query("SELECT 1 AS one");
        const ms = performance.now() - t0;
        await pool.end();
        if (r.rows[0].one !== 1) throw new Error("bad result");
        return ms;
      },
    },
  ];
  const out = [];
  for (const c of cases) {
    for (let i = 0; i < 5; i++) await c.once(); // warm-up (HTTP keep-alive, the proxy's pool)
    const ms = [];
    for (let i = 0; i < c.n; i++) ms.push(await c.once());
    const s = [...ms].sort((a, b) => a - b);
    const row = { name: c.name, n: c.n, median: median(ms), p90: s[Math.floor(s.length * 0.9)], min: s[0] };
    console.log(`${row.name}: median ${row.median.toFixed(2)} ms, p90 ${row.p90.toFixed(2)} ms (n=${row.n})`);
    out.push(row);
  }
  return out;
}

function fmtRate(ops, ms) {
  return `${Math.round((ops / ms) * 1000).toLocaleString("en-US")}`;
}

const started = Date.now();
const relayResults = await runRelays();
const floors = await runFloors();
const latency = await runLatency();
const seconds = Math.round((Date.now() - started) / 1000);

// ------------------------------------------------------------------ report
const now = new Date().toISOString().slice(0, 16).replace("T", " ");
let commit = "?";
try {
  commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8" }).trim();
} catch {}
const lines = [];
lines.push("## edgepg-proxy: WebSocket relay against websockify, and SQL over HTTP");
lines.push("");
lines.push(
  `Written by \`bench/edge/proxy.sh\` on ${now} UTC (commit \`${commit}\`, ${seconds} s). The same client — edgepg's npm package in Node ${process.version} over \`ws\`, ` +
    "role `pw_user` (cleartext password, `pipelineConnect: \"password\"`) — through each relay to the same server in the same run; " +
    `${WARMUP} warm-up + ${REPS} timed repetitions, relays alternating which goes first; figures at the median. edgepg-proxy is a release build` +
    (env.EDGEPG_BENCH_PROXY_ARGS ? ` run with \`${env.EDGEPG_BENCH_PROXY_ARGS}\`; ` : "; ") +
    `websockify is Debian's (Python). CPU: ${os.cpus()[0]?.model ?? "?"}, nproc ${os.cpus().length} (shared by Node, the relay and PostgreSQL; load average at the end ${os.loadavg()[0].toFixed(2)}).`,
);
lines.push("");
lines.push("| workload | websockify | edgepg-proxy | edgepg-proxy / websockify |");
lines.push("|---|---:|---:|---:|");
for (const w of relayWorkloads) {
  const per = relayResults.get(w.name);
  const a = median(per.get("websockify"));
  const b = median(per.get("edgepg-proxy"));
  lines.push(`| ${w.name} (${w.unit}) | ${fmtRate(w.ops, a)} | ${fmtRate(w.ops, b)} | **${(a / b).toFixed(2)}×** |`);
}
lines.push("");
lines.push(
  `Workloads: \`seq_select1\` ${SEQ} sequential \`SELECT 1\`; \`pipelined_10k\` ${PIPELINED} \`SELECT $1::int8 + 1\` with ${IN_FLIGHT} in flight on one connection; ` +
    `\`decode_200k\` one query of ${ROWS.toLocaleString("en-US")} rows (int8, text, float8, timestamptz, numeric), every value read; ` +
    `\`connections\` ${CONNECTS} new connections (WebSocket open, startup + password + \`SELECT 1\` in one flight), the close not timed.`,
);
lines.push("");
const tcp = floors.get("TCP (no relay)");
const addW = floors.get("websockify") - tcp;
const addP = floors.get("edgepg-proxy") - tcp;
lines.push(
  `The relay's own cost, measured with bench/edge/floor.mjs's minimal client (no decoding) doing ${SEQ} sequential \`SELECT 1\`: ` +
    `${floors.get("websockify").toFixed(1)} µs per round trip through websockify, ${floors.get("edgepg-proxy").toFixed(1)} µs through edgepg-proxy, ` +
    `${tcp.toFixed(1)} µs over plain TCP — websockify adds **${addW.toFixed(1)} µs**, edgepg-proxy **${addP.toFixed(1)} µs** ` +
    `(${addP > 0 ? `${(addW / addP).toFixed(1)}× less` : "nothing measurable"}). The rows above include the client's own work (edgepg's glue and wasm, \`ws\`), which no relay can remove: that is why they gain less than the relay's own cost shrinks.`,
);
lines.push("");
lines.push("One query from a fresh start, through edgepg-proxy (ms per query; HTTP keeps its connection alive between queries, as `fetch` does in a warm edge function; the proxy's PostgreSQL pool is warm):");
lines.push("");
lines.push("| path | median | p90 | min | n |");
lines.push("|---|---:|---:|---:|---:|");
for (const r of latency) lines.push(`| ${r.name} | ${r.median.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.min.toFixed(2)} | ${r.n} |`);
lines.push("");
lines.push("Command: `bench/edge/proxy.sh` (options after it go to `proxy.mjs`, e.g. `--reps 9`; `EDGEPG_BENCH_SKIP_BUILD=1` reuses js/dist).");
const section = lines.join("\n");
console.log(`\n${section}\n`);

if (WRITE) {
  const path = new URL("../RESULTS.md", import.meta.url);
  const begin = "<!-- proxy-bench:begin (written by bench/edge/proxy.sh) -->";
  const end = "<!-- proxy-bench:end -->";
  let md = readFileSync(path, "utf8");
  const block = `${begin}\n${section}\n${end}`;
  const a = md.indexOf(begin);
  const b = md.indexOf(end);
  md = a >= 0 && b > a ? md.slice(0, a) + block + md.slice(b + end.length) : `${md.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, md);
  console.log("written to bench/RESULTS.md");
}
