// Cold start (issue #13): a fresh isolate's time from module load to the
// first row of `SELECT 1`, in workerd through Miniflare, for edgepg (over a
// WebSocket through websockify, and over TCP with cloudflare:sockets) and
// Neon's driver (WebSocket; it has no TCP transport), median of N fresh
// starts; and the module load alone (workerd, and a fresh Node process).
//
//   node bench/edge/coldstart.mjs [--starts 20] [--baseline DIR]     (cluster env sourced: see run.sh)
//
// --baseline DIR: another build of the package (a directory with its
// package.json and dist/, e.g. an installed copy whose dist/ comes from main)
// measured in the same rounds as `base-*` Workers, so that a change is judged
// by differences paired by round rather than by two runs on a machine whose
// load drifts. --only a,b,c: only these Workers (the empty Worker is always
// run), e.g. `--only edgepg-wasm-only,base-wasm-only --baseline DIR` to time
// the compilation of two .wasm files (DIR/dist/edgepg_bg.wasm may be any
// build, e.g. one of js/scripts/wasm-weigh.sh's variants).
//
// Every start is a new Miniflare, i.e. a new workerd process and isolate, so
// the module graph (edgepg: its JS and the .wasm, which workerd compiles when
// the Worker loads) is loaded anew each time; the modules are read once and
// passed as a list, so Node's share of a start is the same for every Worker. Per start, `ready` is workerd's
// start up to the loaded Worker (module evaluation included), `first` the
// first request (the Worker's connect + `SELECT 1`, from the fetch to the
// response's body). A Worker that imports nothing and one that only imports
// each driver (and one that imports only edgepg's .wasm) are the floors:
// `ready` minus the empty Worker's is the module load; `total` minus it is the cold start the driver adds. The order of the
// Workers rotates from one round to the next so none always goes first.
//
// The Node part runs each sample in a new `node` process (V8 caches compiled
// wasm inside a process): `import()` of the package (edgepg's Node entry
// compiles and instantiates the .wasm on import), and edgepg's
// `new WebAssembly.Module` and instantiation (wasm-bindgen's `initSync`) alone.
import { Miniflare } from "miniflare";
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";

const here = new URL(".", import.meta.url).pathname;
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const STARTS = Number(args[args.indexOf("--starts") + 1]) || 20;
const env = process.env;
if (!env.EDGEPG_TEST_PORT || !env.EDGEPG_TEST_WS_PORT) throw new Error("source the cluster env first (tests/cluster/start.sh)");
const dsn = `postgres://pw_user:pw_pw@127.0.0.1:${env.EDGEPG_TEST_PORT}/${env.EDGEPG_TEST_DB ?? "edgepg_test"}`;
const wsProxy = `127.0.0.1:${env.EDGEPG_TEST_WS_PORT}/v1`;

const edgepgPkg = join(here, "node_modules/edgepg");
const workerdEntry = (pkg) => join(pkg, JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")).exports["."].workerd);
const edgepgEntry = workerdEntry(edgepgPkg);
const baselinePkg = args.includes("--baseline") ? args[args.indexOf("--baseline") + 1] : null;
const neonEntry = require.resolve("@neondatabase/serverless").replace(/index\.js$/, "index.mjs");
const neonVersion = JSON.parse(readFileSync(join(neonEntry, "../package.json"), "utf8")).version;
const edgepgVersion = JSON.parse(readFileSync(join(edgepgPkg, "package.json"), "utf8")).version;

// Each Worker answers "1" (the first row's value) to its first request.
const workers = {
  floor: `export default { async fetch() { return new Response("1"); } };`,
  "edgepg-load": `import * as edgepg from ${JSON.stringify(edgepgEntry)};
export default { async fetch() { return new Response(typeof edgepg.query === "function" ? "1" : "0"); } };`,
  // The .wasm alone (workerd compiles a CompiledWasm module when the Worker loads).
  "edgepg-wasm-only": `import wasm from ${JSON.stringify(join(edgepgPkg, "dist/edgepg_bg.wasm"))};
export default { async fetch() { return new Response(wasm instanceof WebAssembly.Module ? "1" : "0"); } };`,
  "neon-load": `import * as neon from ${JSON.stringify(neonEntry)};
export default { async fetch() { return new Response(typeof neon.Pool === "function" ? "1" : "0"); } };`,
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

// The baseline build's Workers: the same code against the other package.
if (baselinePkg) {
  const baseEntry = workerdEntry(baselinePkg);
  const wasmOf = (pkg) => JSON.stringify(join(pkg, "dist/edgepg_bg.wasm"));
  for (const name of ["edgepg-load", "edgepg-wasm-only", "edgepg-ws", "edgepg-tcp"]) {
    workers[name.replace("edgepg", "base")] = workers[name]
      .replaceAll(JSON.stringify(edgepgEntry), JSON.stringify(baseEntry))
      .replaceAll(wasmOf(edgepgPkg), wasmOf(baselinePkg));
  }
}

if (args.includes("--only")) {
  const only = new Set(["floor", ...args[args.indexOf("--only") + 1].split(",")]);
  for (const name of Object.keys(workers)) if (!only.has(name)) delete workers[name];
}

const dir = mkdtempSync(join(tmpdir(), "edgepg-coldstart-"));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (x) => `${x.toFixed(1)} ms`;
const load = () => loadavg().map((x) => x.toFixed(2)).join(" / ");

// The Worker's module graph, read once and handed to Miniflare as an explicit
// list: Miniflare then does not parse the modules in Node to find their
// imports (it would for `scriptPath`, and that parse of Neon's 150 KB bundle
// or edgepg's glue would count as workerd's load). Relative imports only:
// neither package imports anything else but runtime built-ins.
function moduleGraph(entry) {
  const seen = new Map();
  const visit = (path) => {
    if (seen.has(path)) return;
    const contents = readFileSync(path);
    if (path.endsWith(".wasm")) return void seen.set(path, { type: "CompiledWasm", path, contents });
    seen.set(path, { type: "ESModule", path, contents: contents.toString("utf8") });
    for (const m of contents.toString("utf8").matchAll(/(?:\bfrom|\bimport)\s*\(?\s*["']((?:\.\.?\/|\/)[^"']+)["']/g)) {
      visit(m[1].startsWith("/") ? m[1] : join(dirname(path), m[1]));
    }
  };
  visit(entry);
  return [...seen.values()];
}

const graphs = {};
for (const [name, code] of Object.entries(workers)) {
  const script = join(dir, `${name}.mjs`);
  writeFileSync(script, code);
  graphs[name] = moduleGraph(script);
}

async function start(name) {
  const t0 = performance.now();
  const mf = new Miniflare({
    modules: graphs[name],
    modulesRoot: "/",
    compatibilityDate: "2025-01-01",
    compatibilityFlags: ["nodejs_compat"],
  });
  try {
    await mf.ready;
    const t1 = performance.now();
    const res = await mf.dispatchFetch("http://localhost/");
    const text = await res.text();
    const t2 = performance.now();
    if (text !== "1") throw new Error(`${name}: ${text}`);
    return { ready: t1 - t0, first: t2 - t1, total: t2 - t0 };
  } finally {
    await mf.dispose();
  }
}

const loadStart = load();
const startedAt = new Date().toISOString().slice(0, 16).replace("T", " ");
const results = {};
const names = Object.keys(workers);
for (let i = 0; i < STARTS; i++) {
  for (const name of names.map((_, j) => names[(i + j) % names.length])) {
    (results[name] ??= []).push(await start(name));
  }
  process.stderr.write(`workerd round ${i + 1}/${STARTS}\n`);
}

// Node: one fresh process per sample; each prints its own timings as JSON.
const nodeSample = (code) => JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: here, encoding: "utf8" }));
const edgepgJs = join(edgepgPkg, "dist/edgepg.js");
const edgepgWasm = join(edgepgPkg, "dist/edgepg_bg.wasm");
const node = { "edgepg import": [], "neon import": [], "edgepg compile": [], "edgepg instantiate": [] };
for (let i = 0; i < STARTS; i++) {
  node["edgepg import"].push(nodeSample(`const t = performance.now(); await import("edgepg"); console.log(performance.now() - t);`));
  node["neon import"].push(nodeSample(`const t = performance.now(); await import(${JSON.stringify(neonEntry)}); console.log(performance.now() - t);`));
  const [c, inst] = nodeSample(`import { readFileSync } from "node:fs";
const { initSync } = await import(${JSON.stringify(edgepgJs)});
const bytes = readFileSync(${JSON.stringify(edgepgWasm)});
const t0 = performance.now(); const module = new WebAssembly.Module(bytes);
const t1 = performance.now(); initSync({ module }); const t2 = performance.now();
console.log(JSON.stringify([t1 - t0, t2 - t1]));`);
  node["edgepg compile"].push(c);
  node["edgepg instantiate"].push(inst);
}

// Differences with the empty Worker are paired by round (the machine's load
// drifts more between rounds than within one), then the median is taken.
const minusFloor = (rs, key) => median(rs.map((r, i) => r[key] - results.floor[i][key]));
const wasmBytes = readFileSync(edgepgWasm).length;
// The packages' own modules (with --only, the Workers that import them may not have run).
const packageGraph = { edgepg: moduleGraph(edgepgEntry), neon: moduleGraph(neonEntry) };
const sizes = (name) => packageGraph[name].reduce((n, m) => n + Buffer.byteLength(m.contents), 0);
console.log(`Cold start, ${startedAt} UTC: edgepg ${edgepgVersion} (${packageGraph.edgepg.length} modules, ${sizes("edgepg")} B, .wasm ${wasmBytes} B), ` +
  `@neondatabase/serverless ${neonVersion} (${packageGraph.neon.length} module, ${sizes("neon")} B), ` +
  `miniflare ${require("miniflare/package.json").version}, Node ${process.version}; ${STARTS} fresh starts per Worker; ` +
  `load average (1 / 5 / 15 min) ${loadStart} at start, ${load()} at end.\n`);
console.log(`| Worker | new workerd → first row (median) | minus the empty Worker (paired by round) | Worker loaded (ready, median) | module load (ready minus the empty Worker's, paired) | first request (median) |`);
console.log("|---|---:|---:|---:|---:|---:|");
for (const [name, rs] of Object.entries(results)) {
  const total = median(rs.map((r) => r.total));
  const ready = median(rs.map((r) => r.ready));
  console.log(`| ${name} | ${ms(total)} | ${ms(minusFloor(rs, "total"))} | ${ms(ready)} | ${ms(minusFloor(rs, "ready"))} | ${ms(median(rs.map((r) => r.first)))} |`);
}
if (baselinePkg) {
  console.log(`\nThis build against the baseline (${baselinePkg}, .wasm ${readFileSync(join(baselinePkg, "dist/edgepg_bg.wasm")).length} B), paired by round:\n`);
  console.log("| Workers | median of (this − baseline), new workerd → first row | median of (this − baseline), Worker loaded |");
  console.log("|---|---:|---:|");
  for (const w of ["load", "wasm-only", "ws", "tcp"]) {
    const a = results[`edgepg-${w}`];
    const b = results[`base-${w}`];
    if (!a || !b) continue;
    const d = (key) => median(a.map((r, i) => r[key] - b[i][key]));
    console.log(`| edgepg-${w} − base-${w} | ${ms(d("total"))} | ${ms(d("ready"))} |`);
  }
}
console.log(`\n| Node ${process.version}, new process per sample | median of ${STARTS} | min | max |`);
console.log("|---|---:|---:|---:|");
for (const [name, xs] of Object.entries(node)) {
  console.log(`| ${name} | ${ms(median(xs))} | ${ms(Math.min(...xs))} | ${ms(Math.max(...xs))} |`);
}
