// Runs the API suite (suite.mjs) and the byte-integrity checks
// (integrity.mjs) in whatever runtime executes this file — Node, Bun or Deno —
// against the installed `edgepg` package, and prints one report line:
//   EDGEPG_REPORT {"runtime":..,"suite":{checks,failures},"integrity":{..},"unhandled":[..]}
// The argument is a JSON config from runtimes.test.mjs (see modeOptions there).
import * as edgepg from "edgepg";
import { runSuite } from "./suite.mjs";
import { runIntegrity } from "./integrity.mjs";

const args = globalThis.Deno ? globalThis.Deno.args : globalThis.process.argv.slice(2);
const cfg = JSON.parse(args[0]);

// No call may leave an unhandled rejection behind (the report carries them).
const unhandled = [];
if (globalThis.Deno) {
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    unhandled.push(String(e.reason?.stack ?? e.reason));
  });
} else {
  globalThis.process.on("unhandledRejection", (e) => unhandled.push(String(e?.stack ?? e)));
}

const runtime = globalThis.Deno ? `Deno ${globalThis.Deno.version.deno}`
  : globalThis.Bun ? `Bun ${globalThis.Bun.version}` : `Node ${globalThis.process.version}`;

const options = { ...cfg.options };
if (cfg.websocket && typeof globalThis.WebSocket !== "function") {
  // Node 20 has no global WebSocket: the `ws` package, as the README says.
  options.webSocketConstructor = (await import("ws")).default;
}
const dsn = (user, password, port = cfg.port) =>
  `postgres://${user}:${encodeURIComponent(password)}@${cfg.host}:${port}/${cfg.db}${cfg.query}`;

/** A closed port: the server's over TCP, the WebSocket proxy's over a WebSocket. */
function refused(dsn, options, cfg) {
  if (!cfg.websocket) return { dsn: dsn("edgepg", "edgepg_pw", cfg.refusedPort), options };
  return { dsn: dsn("edgepg", "edgepg_pw"), options: { ...options, wsProxy: `127.0.0.1:${cfg.refusedPort}/v1` } };
}

const report = { runtime, globalWebSocket: typeof globalThis.WebSocket === "function" };
// In Bun, plaintext TCP goes through Bun.connect (sockets-node.js): count the calls.
let bunConnects = 0;
if (globalThis.Bun) {
  const connect = globalThis.Bun.connect;
  globalThis.Bun.connect = (...args) => (bunConnects++, connect.apply(globalThis.Bun, args));
}
try {
  report.suite = await runSuite(edgepg, {
    dsn, options, refused: refused(dsn, options, cfg), expectSsl: cfg.expectSsl, only: cfg.only,
  });
  report.integrity = cfg.integrity ? await runIntegrity(edgepg, dsn("edgepg", "edgepg_pw"), options, cfg.sizes ? { sizes: cfg.sizes } : {}) : null;
  if (report.integrity) report.integrity.checks = report.integrity.checks.length;
} catch (e) {
  report.error = String(e?.stack ?? e);
}
// Let late rejections surface before reporting.
await new Promise((r) => setTimeout(r, 100));
report.unhandled = unhandled;
report.bunConnects = bunConnects;
console.log(`EDGEPG_REPORT ${JSON.stringify(report)}`);
if (globalThis.Deno) globalThis.Deno.exit(0);
else globalThis.process.exit(0);
