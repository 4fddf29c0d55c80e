// Runs the API suite and the byte-integrity checks inside a Worker in workerd
// (miniflare), against the installed package's `workerd` entry, and prints
// one report line like runtime-runner.mjs. A process of its own, because
// workerd's TLS trusts exactly the certificates in NODE_EXTRA_CA_CERTS when
// miniflare starts it: runtimes.test.mjs points that at the test CA.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Miniflare } from "miniflare";

const cfg = JSON.parse(process.argv[2]);
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const pkgJson = require.resolve("edgepg/package.json");
const entry = join(dirname(pkgJson), JSON.parse(readFileSync(pkgJson, "utf8")).exports["."].workerd);

// The Worker takes its config from the request, so one script serves every mode.
const source = `
import * as edgepg from ${JSON.stringify(entry)};
import { runSuite } from ${JSON.stringify(join(here, "suite.mjs"))};
import { runIntegrity } from ${JSON.stringify(join(here, "integrity.mjs"))};
export default {
  async fetch(request) {
    const cfg = await request.json();
    const dsn = (user, password, port = cfg.port) =>
      \`postgres://\${user}:\${encodeURIComponent(password)}@\${cfg.host}:\${port}/\${cfg.db}\${cfg.query}\`;
    const unhandled = [];
    const onUnhandled = (e) => { e.preventDefault(); unhandled.push(String(e.reason?.stack ?? e.reason)); };
    addEventListener("unhandledrejection", onUnhandled);
    const report = { runtime: "workerd", globalWebSocket: typeof WebSocket === "function" };
    try {
      report.suite = await runSuite(edgepg, {
        dsn, options: cfg.options, expectSsl: cfg.expectSsl, only: cfg.only,
        // A closed port: the server's over TCP, the WebSocket proxy's over a WebSocket.
        refused: cfg.websocket
          ? { dsn: dsn("edgepg", "edgepg_pw"), options: { ...cfg.options, wsProxy: \`127.0.0.1:\${cfg.refusedPort}/v1\` } }
          : { dsn: dsn("edgepg", "edgepg_pw", cfg.refusedPort), options: cfg.options },
      });
      report.integrity = cfg.integrity ? await runIntegrity(edgepg, dsn("edgepg", "edgepg_pw"), cfg.options, cfg.sizes ? { sizes: cfg.sizes } : {}) : null;
      if (report.integrity) report.integrity.checks = report.integrity.checks.length;
    } catch (e) {
      report.error = String(e?.stack ?? e);
    }
    await new Promise((r) => setTimeout(r, 100));
    report.unhandled = unhandled;
    return Response.json(report);
  },
};`;

const dir = mkdtempSync(join(tmpdir(), "edgepg-workerd-"));
const script = join(dir, "worker.mjs");
writeFileSync(script, source);
const mf = new Miniflare({
  modules: true,
  scriptPath: script,
  modulesRoot: "/",
  // Like wrangler: .js files are ES modules; .wasm files compiled modules.
  modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate: "2025-01-01",
});
let report;
try {
  const res = await mf.dispatchFetch("http://localhost/", { method: "POST", body: JSON.stringify(cfg) });
  const body = await res.text();
  try {
    report = JSON.parse(body);
  } catch {
    report = { error: `HTTP ${res.status}: ${body.slice(0, 2000)}` };
  }
} catch (e) {
  report = { error: String(e?.stack ?? e) };
} finally {
  await mf.dispose();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`EDGEPG_REPORT ${JSON.stringify(report)}`);
process.exit(0);
