// edgepg-proxy against websockify as the WebSocket relay, with the SAME
// client on both (edgepg's npm package over `ws`, cleartext role pw_user,
// pipelineConnect "password"), and SQL over HTTP (one-shot queries) against
// WebSocket connect + first query, for edgepg and Neon's driver, through
// edgepg-proxy. Run by bench/edge/proxy.sh, which starts the cluster,
// websockify and a release build of edgepg-proxy and sets:
//   EDGEPG_TEST_* (cluster env), EDGEPG_BENCH_PROXY_PORT (release edgepg-proxy),
//   EDGEPG_BENCH_PROXY_PID and EDGEPG_BENCH_WS_PID (the relays' processes, for their CPU time),
//   EDGEPG_BENCH_PG_PID (the throwaway cluster's postmaster: the server's CPU time, backends included).
// Every relay workload runs twice per relay: with edgepg's package as the client, and with
// bench/edge/floor.mjs's minimal client (simple protocol, nothing decoded), whose rows are bound
// by the relay rather than the client. Around every timed repetition the relay's CPU time
// (utime + stime of its process and its live children, from /proc; websockify forks one
// process per connection) and the client's (process.cpuUsage) are read: per operation, that is
// each side's own cost, the fairest comparison of two relays on a shared machine.
// Options: --reps N (5) --warmup N (1) --no-write
// Prints a table and (unless --no-write) rewrites the "edgepg-proxy" section
// of bench/RESULTS.md between its markers.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { execFileSync } from "node:child_process";
import WebSocket from "ws";
import { connect } from "edgepg";
import { neon } from "edgepg/http";
import { Pool as NeonPool, neon as neonHttp, neonConfig } from "@neondatabase/serverless";
import { floorClients } from "./floor.mjs";
import { DECODE_SQL, ROWS } from "./decode-query.mjs";

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
const CONNECTS = 20;
const ONESHOTS = 200;

const relays = [
  { name: "websockify", port: wsPort, pid: Number(env.EDGEPG_BENCH_WS_PID) },
  { name: "edgepg-proxy", port: proxyPort, pid: Number(env.EDGEPG_BENCH_PROXY_PID) },
];
const optsFor = (port, extra = {}) => ({
  wsProxy: `127.0.0.1:${port}/v1`,
  useSecureWebSocket: false,
  webSocketConstructor: WebSocket,
  pipelineConnect: "password",
  ...extra,
});

// ------------------------------------------------------------------ CPU time of a process tree
let CLK_TCK = 100;
try {
  CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
} catch {}
/** CPU µs of `pid` and its live descendants (utime+stime+cutime+cstime), or NaN without a pid. */
function treeCpuUs(pid) {
  if (!pid) return NaN;
  const procs = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, "utf8");
      const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
      procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {} // gone meanwhile
  }
  let ticks = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop();
    ticks += procs.get(p)?.ticks ?? 0;
    for (const [c, v] of procs) if (v.ppid === p) todo.push(c);
  }
  return (ticks * 1e6) / CLK_TCK;
}
const serverPid = Number(env.EDGEPG_BENCH_PG_PID);
const clientCpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

// ------------------------------------------------------------------ relay workloads
// edgepg(conn, port) and floor(handle, client, port) each return wall ms for `ops` operations.
const pipelined = async (op) => {
  let next = 0;
  const loop = async () => {
    while (next < PIPELINED) {
      const i = next++;
      if ((await op(i)) !== i + 1) throw new Error("bad result");
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
};
const relayWorkloads = [
  {
    name: "seq_select1", unit: "queries/s", ops: SEQ,
    async edgepg(c) {
      const t0 = performance.now();
      for (let i = 0; i < SEQ; i++) if ((await c.fetchval("SELECT 1")) !== 1) throw new Error("bad result");
      return performance.now() - t0;
    },
    async floor(h, f) {
      const t0 = performance.now();
      for (let i = 0; i < SEQ; i++) if ((await f.select1(h)) !== 1) throw new Error("bad result");
      return performance.now() - t0;
    },
  },
  {
    name: "pipelined_10k", unit: "queries/s", ops: PIPELINED,
    async edgepg(c) {
      const t0 = performance.now();
      await pipelined(async (i) => Number(await c.fetchval("SELECT $1::int8 + 1", [i])));
      return performance.now() - t0;
    },
    async floor(h, f) {
      const t0 = performance.now();
      await pipelined((i) => f.addOne(h, i));
      return performance.now() - t0;
    },
  },
  {
    name: "decode_200k", unit: "rows/s", ops: ROWS,
    async edgepg(c) {
      const t0 = performance.now();
      const rows = await c.fetch(DECODE_SQL);
      let s = 0;
      for (const r of rows) s += Number(r.id) + r.name.length + r.f + r.ts.getTime() + r.n.length;
      if (rows.length !== ROWS || !Number.isFinite(s)) throw new Error("bad result");
      return performance.now() - t0;
    },
    // The same bytes cross the relay; the floor client keeps the first column as text.
    async floor(h, f) {
      const t0 = performance.now();
      const rows = await f.fetchAll(h, DECODE_SQL);
      if (rows.length !== ROWS) throw new Error("bad result");
      return performance.now() - t0;
    },
  },
  {
    name: "connections", unit: "connects/s", ops: CONNECTS, fresh: true,
    async edgepg(_c, port) {
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
    async floor(_h, f) {
      let ms = 0;
      for (let i = 0; i < CONNECTS; i++) ms += await f.connectFirst();
      return ms;
    },
  },
];
const CLIENTS = ["edgepg", "floor"];

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** The floor client through each relay (bench/edge/floor.mjs, unchanged). */
const floorFor = new Map([
  ["websockify", floorClients(env)[0]],
  ["edgepg-proxy", floorClients({ ...env, EDGEPG_TEST_WS_PORT: proxyPort })[0]],
]);

// results: `${workload}/${client}` -> relay -> { ms: [], relayUs, clientUs, ops }
async function runRelays() {
  const results = new Map();
  for (const w of relayWorkloads) {
    for (const client of CLIENTS) {
      const per = new Map(relays.map((r) => [r.name, { ms: [], relayUs: 0, clientUs: 0, serverUs: 0, ops: 0 }]));
      const conns = new Map();
      if (!w.fresh) {
        for (const r of relays) {
          conns.set(r.name, client === "edgepg" ? await connect(dsn, optsFor(r.port)) : await floorFor.get(r.name).open());
        }
      }
      for (let rep = 0; rep < WARMUP + REPS; rep++) {
        // Alternate which relay goes first.
        const order = rep % 2 ? [...relays].reverse() : relays;
        for (const r of order) {
          globalThis.gc?.();
          const relay0 = treeCpuUs(r.pid);
          const server0 = treeCpuUs(serverPid);
          const client0 = clientCpuUs();
          const ms =
            client === "edgepg"
              ? await w.edgepg(conns.get(r.name), r.port)
              : await w.floor(conns.get(r.name), floorFor.get(r.name), r.port);
          // websockify's per-connection children are reaped (their CPU moves to cutime) shortly after a close.
          if (w.fresh) await new Promise((res) => setTimeout(res, 300));
          const clientUs = clientCpuUs() - client0;
          const relayUs = treeCpuUs(r.pid) - relay0;
          const serverUs = treeCpuUs(serverPid) - server0;
          if (rep >= WARMUP) {
            const p = per.get(r.name);
            p.ms.push(ms);
            p.relayUs += relayUs;
            p.clientUs += clientUs;
            p.serverUs += serverUs;
            p.ops += w.ops;
          }
        }
      }
      for (const [name, c] of conns) {
        if (client === "edgepg") await c.close();
        else await floorFor.get(name).close(c);
      }
      results.set(`${w.name}/${client}`, per);
      const line = relays
        .map((r) => {
          const p = per.get(r.name);
          return `${r.name} ${fmtRate(w.ops, median(p.ms))} (relay ${(p.relayUs / p.ops).toFixed(2)} µs/op, client ${(p.clientUs / p.ops).toFixed(2)} µs/op)`;
        })
        .join(", ");
      console.log(`${w.name} [${client}]: ${line}`);
    }
  }
  return results;
}

// ------------------------------------------------------------------ the relay's own latency
// bench/edge/floor.mjs's minimal client (no decoding, simple protocol) through each relay and over
// plain TCP: per round trip, (floor through the relay) - (floor over TCP) is what the relay adds.
async function runFloors() {
  const contenders = [
    { name: "websockify", client: floorFor.get("websockify") },
    { name: "edgepg-proxy", client: floorFor.get("edgepg-proxy") },
    { name: "TCP (no relay)", client: floorClients(env)[1] },
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
  `Written by \`bench/edge/proxy.sh\` on ${now} UTC (commit \`${commit}\`, ${seconds} s). The same clients — edgepg's npm package in Node ${process.version} over \`ws\` ` +
    "(role `pw_user`, cleartext password, `pipelineConnect: \"password\"`), and bench/edge/floor.mjs's minimal client (same role, simple protocol, nothing decoded) — through each relay to the same server in the same run; " +
    `${WARMUP} warm-up + ${REPS} timed repetitions, relays alternating which goes first; figures at the median. edgepg-proxy is a release build` +
    (env.EDGEPG_BENCH_PROXY_ARGS ? ` run with \`${env.EDGEPG_BENCH_PROXY_ARGS}\`; ` : "; ") +
    `websockify is Debian's (Python). CPU: ${os.cpus()[0]?.model ?? "?"}, nproc ${os.cpus().length} (shared by Node, the relay and PostgreSQL; load average at the end ${os.loadavg()[0].toFixed(2)}).`,
);
lines.push("");
lines.push("Throughput (the client named in each row through each relay):");
lines.push("");
lines.push("| workload | client | websockify | edgepg-proxy | edgepg-proxy / websockify |");
lines.push("|---|---|---:|---:|---:|");
const clientName = { edgepg: "edgepg's package", floor: "floor (relay-bound)" };
for (const w of relayWorkloads) {
  for (const client of CLIENTS) {
    const per = relayResults.get(`${w.name}/${client}`);
    const a = median(per.get("websockify").ms);
    const b = median(per.get("edgepg-proxy").ms);
    lines.push(`| ${w.name} (${w.unit}) | ${clientName[client]} | ${fmtRate(w.ops, a)} | ${fmtRate(w.ops, b)} | **${(a / b).toFixed(2)}×** |`);
  }
}
lines.push("");
lines.push(
  "CPU time per operation (µs; summed over the timed repetitions and divided by their operations; for `decode_200k` per row). " +
    "*Relay* is the relay process (websockify: its process and its per-connection children); *client* is the Node process running the benchmark; " +
    "*server* is PostgreSQL (the throwaway cluster's postmaster and its backends). *Ceiling* = (client + websockify + server) / (client + server), " +
    "the most any relay, even one costing no CPU at all, could gain over websockify on that row when the two CPUs are the bottleneck:",
);
lines.push("");
lines.push(
  "| workload | client | relay: websockify | relay: edgepg-proxy | websockify / edgepg-proxy | client (via websockify / via edgepg-proxy) | server (via websockify / via edgepg-proxy) | ceiling |",
);
lines.push("|---|---|---:|---:|---:|---:|---:|---:|");
const perOp = (p, k) => p[k] / p.ops;
const fmtUs = (x) => (Number.isFinite(x) ? (x >= 10 ? x.toFixed(1) : x.toFixed(2)) : "?");
for (const w of relayWorkloads) {
  for (const client of CLIENTS) {
    const per = relayResults.get(`${w.name}/${client}`);
    const ws = per.get("websockify");
    const px = per.get("edgepg-proxy");
    const rw = perOp(ws, "relayUs");
    const rp = perOp(px, "relayUs");
    const cw = perOp(ws, "clientUs");
    const sw = perOp(ws, "serverUs");
    // What a relay costing no CPU at all could reach against websockify when the CPUs are the
    // bottleneck: the client's and the server's work per operation stay.
    const ceiling = (cw + rw + sw) / (cw + sw);
    lines.push(
      `| ${w.name} | ${clientName[client]} | ${fmtUs(rw)} | ${fmtUs(rp)} | **${rp > 0 ? `${(rw / rp).toFixed(2)}×` : "—"}** | ` +
        `${fmtUs(cw)} / ${fmtUs(perOp(px, "clientUs"))} | ${fmtUs(sw)} / ${fmtUs(perOp(px, "serverUs"))} | ${Number.isFinite(ceiling) ? `${ceiling.toFixed(2)}×` : "?"} |`,
    );
  }
}
lines.push("");
lines.push(
  `Workloads: \`seq_select1\` ${SEQ} sequential \`SELECT 1\`; \`pipelined_10k\` ${PIPELINED} \`SELECT $1::int8 + 1\` with ${IN_FLIGHT} in flight on one connection ` +
    "(the floor client sends them as simple queries, the value inlined); " +
    `\`decode_200k\` one query of ${ROWS.toLocaleString("en-US")} rows (int8, text, float8, timestamptz, numeric), every value read (the floor client keeps the first column as text); ` +
    `\`connections\` ${CONNECTS} new connections (WebSocket open, startup + password + \`SELECT 1\` in one flight), the close not timed. ` +
    `CPU times come from /proc (utime + stime at ${CLK_TCK} ticks per second).`,
);
lines.push("");
const tcp = floors.get("TCP (no relay)");
const addW = floors.get("websockify") - tcp;
const addP = floors.get("edgepg-proxy") - tcp;
lines.push(
  `Latency the relay adds, with the floor client doing ${SEQ} sequential \`SELECT 1\`: ` +
    `${floors.get("websockify").toFixed(1)} µs per round trip through websockify, ${floors.get("edgepg-proxy").toFixed(1)} µs through edgepg-proxy, ` +
    `${tcp.toFixed(1)} µs over plain TCP — websockify adds **${addW.toFixed(1)} µs**, edgepg-proxy **${addP.toFixed(1)} µs** ` +
    `(${addP > 0 ? `${(addW / addP).toFixed(1)}× less` : "nothing measurable"}).`,
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
