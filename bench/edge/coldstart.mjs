// Cold start in workerd (issue #13): a fresh isolate's time from nothing to
// the first row of `SELECT 1`, for edgepg (over a WebSocket through
// websockify, and over TCP with cloudflare:sockets) and Neon's driver
// (WebSocket), median of N fresh starts, next to a Worker that only answers
// (the floor: workerd's own start). Each start is a new Miniflare, i.e. a
// new workerd process and isolate, so the module graph (edgepg: the JS and
// the compiled .wasm) is loaded and evaluated anew every time.
//
//   node bench/edge/coldstart.mjs [--starts 20]     (cluster env sourced: see run.sh)
//
// Also prints the .wasm's compile + instantiate time in this Node process.
import { Miniflare } from "miniflare";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const here = new URL(".", import.meta.url).pathname;
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const STARTS = Number(args[args.indexOf("--starts") + 1]) || 20;
const env = process.env;
if (!env.EDGEPG_TEST_PORT || !env.EDGEPG_TEST_WS_PORT) throw new Error("source the cluster env first (tests/cluster/start.sh)");
const dsn = `postgres://pw_user:pw_pw@127.0.0.1:${env.EDGEPG_TEST_PORT}/${env.EDGEPG_TEST_DB ?? "edgepg_test"}`;
const wsProxy = `127.0.0.1:${env.EDGEPG_TEST_WS_PORT}/v1`;

const edgepgEntry = join(here, "node_modules/edgepg", JSON.parse(readFileSync(join(here, "node_modules/edgepg/package.json"), "utf8")).exports["."].workerd);
const neonEntry = require.resolve("@neondatabase/serverless").replace(/index\.js$/, "index.mjs");

const workers = {
  floor: `export default { async fetch() { return new Response("1"); } };`,
  "edgepg-ws": `import { query } from ${JSON.stringify(edgepgEntry)};
export default { async fetch() {
  const rows = await query(${JSON.stringify(dsn)}, "SELECT 1 AS x", [], { wsProxy: ${JSON.stringify(wsProxy)}, useSecureWebSocket: false, pipelineConnect: "password", arrayMode: true });
  return new Response(String(rows[0][0]));
} };`,
  "edgepg-tcp": `import { query } from ${JSON.stringify(edgepgEntry)};
export default { async fetch() {
  const rows = await query(${JSON.stringify(dsn + "?sslmode=disable")}, "SELECT 1 AS x", [], { transport: "tcp", pipelineConnect: "password", arrayMode: true });
  return new Response(String(rows[0][0]));
} };`,
  "neon-ws": `import { Pool, neonConfig } from ${JSON.stringify(neonEntry)};
neonConfig.wsProxy = (h, p) => ${JSON.stringify(wsProxy)} + "?address=" + h + ":" + p;
neonConfig.useSecureWebSocket = false;
neonConfig.pipelineConnect = "password";
export default { async fetch(request, env, ctx) {
  const pool = new Pool({ connectionString: ${JSON.stringify(dsn)}, max: 1 });
  const r = await pool.query("SELECT 1 AS x");
  ctx.waitUntil(pool.end());
  return new Response(String(r.rows[0].x));
} };`,
};

const dir = mkdtempSync(join(tmpdir(), "edgepg-coldstart-"));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function start(name) {
  const script = join(dir, `${name}.mjs`);
  writeFileSync(script, workers[name]);
  const t0 = performance.now();
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: "/",
    modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
    compatibilityFlags: ["nodejs_compat"],
  });
  await mf.ready;
  const t1 = performance.now();
  const res = await mf.dispatchFetch("http://localhost/");
  const text = await res.text();
  const t2 = performance.now();
  await mf.dispose();
  if (text !== "1") throw new Error(`${name}: ${text}`);
  return { total: t2 - t0, firstRequest: t2 - t1 };
}

const results = {};
for (let i = 0; i < STARTS; i++) {
  // Rotate the order so none always runs first.
  const names = Object.keys(workers);
  for (const name of names.map((_, j) => names[(i + j) % names.length])) {
    (results[name] ??= []).push(await start(name));
  }
  process.stderr.write(`start ${i + 1}/${STARTS}\n`);
}

// The .wasm alone: compile and instantiate in this process (workerd compiles
// it when the Worker loads; the floor-subtracted figures include that).
const wasm = readFileSync(join(here, "node_modules/edgepg/dist/edgepg_bg.wasm"));
const compile = [];
for (let i = 0; i < STARTS; i++) {
  const t0 = performance.now();
  const module = new WebAssembly.Module(wasm);
  compile.push(performance.now() - t0);
  void module;
}

const floor = median(results.floor.map((r) => r.total));
console.log(`| worker | new workerd → first row (median of ${STARTS}) | minus the floor | first request alone (median) |`);
console.log("|---|---:|---:|---:|");
for (const [name, rs] of Object.entries(results)) {
  const total = median(rs.map((r) => r.total));
  console.log(`| ${name} | ${total.toFixed(1)} ms | ${(total - floor).toFixed(1)} ms | ${median(rs.map((r) => r.firstRequest)).toFixed(1)} ms |`);
}
console.log(`\n.wasm (${wasm.length} bytes) compile in Node ${process.version}: median ${median(compile).toFixed(1)} ms of ${STARTS}.`);
