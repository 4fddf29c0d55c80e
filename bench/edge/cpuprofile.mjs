// Summarises a V8 .cpuprofile (node --cpu-prof) by where the time goes:
// edgepg's wasm, edgepg's JS glue (wasm-bindgen's edgepg.js / api.js), the
// `ws` package, Node's socket/stream internals, GC, idle, and the rest; then
// the top functions by self time.
//   node cpuprofile.mjs FILE.cpuprofile [top=25]
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: node cpuprofile.mjs FILE.cpuprofile [top]");
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map(); // node id -> µs
for (let i = 0; i < prof.samples.length; i++) {
  const id = prof.samples[i];
  self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
}

function category(cf) {
  const { url, functionName } = cf;
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(idle)") return "idle (waiting for I/O)";
  if (functionName === "(program)") return "(program: V8/native, unattributed)";
  if (url.startsWith("wasm://") || /^\$?func\d+|^\$/.test(functionName) && !url) return "edgepg wasm";
  if (/node_modules\/edgepg\/dist\/edgepg\.js/.test(url)) return "edgepg JS glue (wasm-bindgen edgepg.js)";
  if (/node_modules\/edgepg\/dist\//.test(url)) return "edgepg JS API (api.js)";
  if (/node_modules\/ws\//.test(url)) return "ws package";
  if (/node_modules\/@neondatabase\//.test(url)) return "neon driver";
  if (/node_modules\/pg[-/]|node_modules\/pg-protocol|node_modules\/pg-types|node_modules\/postgres-/.test(url)) return "pg / pg-protocol / pg-types";
  if (/node_modules\/postgres\//.test(url)) return "postgres.js";
  if (/bench\/edge\//.test(url)) return "benchmark loop";
  if (/^node:/.test(url) || url === "") return "Node internals (net, streams, timers, natives)";
  return "other JS";
}

const cats = new Map();
const funcs = new Map();
let total = 0;
for (const [id, us] of self) {
  const cf = byId.get(id).callFrame;
  total += us;
  const c = category(cf);
  cats.set(c, (cats.get(c) ?? 0) + us);
  const key = `${cf.functionName || "(anonymous)"}  ${cf.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\//, "")}${cf.url ? ":" + (cf.lineNumber + 1) : ""}`;
  funcs.set(key, (funcs.get(key) ?? 0) + us);
}
const busy = total - (cats.get("idle (waiting for I/O)") ?? 0);
const pct = (us, of) => `${((100 * us) / of).toFixed(1).padStart(5)} %`;
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy`);
console.log("by category (self time; % of all / % of busy):");
for (const [c, us] of [...cats].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${(us / 1000).toFixed(0).padStart(7)} ms ${pct(us, total)} ${c === "idle (waiting for I/O)" ? "        " : pct(us, busy)}  ${c}`);
}
console.log(`top functions by self time:`);
for (const [k, us] of [...funcs].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 25))) {
  console.log(`  ${(us / 1000).toFixed(1).padStart(8)} ms ${pct(us, busy)}  ${k}`);
}
