// The runtime matrix (issue #9): the API suite (suite.mjs) and the
// byte-integrity checks (integrity.mjs, issue #16) in every runtime the
// package supports, over every transport that runtime has, against the
// installed tarball:
//
//   Node 20 (the machine's), Node 22, Node 24, Bun, Deno:
//     TCP (sslmode=disable), TCP + TLS (sslmode=verify-full, sslrootcert = the test CA),
//     WebSocket through websockify (Node 20 with the `ws` package, the others' global WebSocket);
//   workerd (miniflare): TCP over cloudflare:sockets + TLS verify-full (the test CA trusted
//     through NODE_EXTRA_CA_CERTS, the only way Workers' TLS takes a CA), plain TCP, WebSocket.
//
// Each combination runs in a process of its own (runtime-runner.mjs,
// workerd-runner.mjs), a few at a time. The runtimes come from
// scripts/runtimes.sh (run by scripts/setup.sh): a missing one fails here.
import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { homedir } from "node:os";
import net from "node:net";
import { env, port, db, wsPort } from "./helpers.mjs";
import { CHECK_NAMES } from "./suite.mjs";
import { DEFAULT_SIZES } from "./integrity.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const runtimesDir = env.EDGEPG_RUNTIMES_DIR ?? join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "edgepg", "runtimes");
const CA = env.EDGEPG_TEST_CA;
// A whole run of one combination (suite + integrity up to 16 MiB values).
const RUN_TIMEOUT_MS = 300_000;
// Two cores: a few processes at once keeps the file short without starving the server.
const CONCURRENCY = Number(env.EDGEPG_RUNTIMES_CONCURRENCY || 3);

const TLS_SIZES = DEFAULT_SIZES.filter((n) => n <= 3 << 20);

const deno = (bin) => [bin, "run", "--allow-net", "--allow-read", "--allow-env", "--allow-sys"];
const RUNTIMES = [
  { name: "Node 20", version: /^Node v20\./, argv: [process.execPath] },
  { name: "Node 22", version: /^Node v22\./, argv: [join(runtimesDir, "node22/node_modules/.bin/node")] },
  { name: "Node 24", version: /^Node v24\./, argv: [join(runtimesDir, "node24/node_modules/.bin/node")] },
  { name: "Bun", version: /^Bun 1\./, argv: [join(runtimesDir, "bun/node_modules/.bin/bun")] },
  { name: "Deno", version: /^Deno 2\./, argv: deno(join(runtimesDir, "deno/node_modules/.bin/deno")) },
];

let refusedPort;
before(async () => {
  // A port nobody listens on (taken and released at once).
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  refusedPort = s.address().port;
  await new Promise((r) => s.close(r));
});

/** The config runtime-runner.mjs / workerd-runner.mjs take, per transport. */
function config(mode, { workerd = false } = {}) {
  const base = { host: "127.0.0.1", port: Number(port), db, refusedPort, integrity: true };
  switch (mode) {
    case "TCP":
      return { ...base, query: "?sslmode=disable", options: { transport: "tcp" }, expectSsl: false };
    case "TCP+TLS verify-full":
      // The server certificate names DNS:localhost only. Integrity up to 3 MiB
      // (a few hundred TLS records): the socket path itself gets 16 MiB over
      // plain TCP, and every 16 MiB run costs seconds of server CPU.
      return {
        ...base, host: "localhost", query: "?sslmode=verify-full", expectSsl: true, sizes: TLS_SIZES,
        // Workers' TLS cannot take a CA (sockets-workerd.js): NODE_EXTRA_CA_CERTS instead.
        options: workerd ? { transport: "tcp" } : { transport: "tcp", sslrootcert: CA },
      };
    case "WebSocket":
      return {
        ...base, query: "", websocket: true, expectSsl: false,
        options: { wsProxy: `127.0.0.1:${wsPort}/v1`, useSecureWebSocket: false },
      };
    default:
      throw new Error(mode);
  }
}

/** Runs `argv` with the config; resolves to the parsed report (or fails with the output). */
function run(argv, cfg, extraEnv = {}) {
  return new Promise((resolve, reject) => {
    execFile(argv[0], [...argv.slice(1), JSON.stringify(cfg)], {
      cwd: here,
      env: { ...process.env, ...extraEnv },
      timeout: RUN_TIMEOUT_MS,
      maxBuffer: 64 << 20,
    }, (error, stdout, stderr) => {
      const line = stdout.split("\n").find((l) => l.startsWith("EDGEPG_REPORT "));
      if (!line) {
        reject(new Error(`${argv.join(" ")} gave no report (${error ? error.message : "exit 0"})\n` +
          `stdout: ${stdout.slice(-4000)}\nstderr: ${stderr.slice(-4000)}`));
        return;
      }
      resolve({ report: JSON.parse(line.slice("EDGEPG_REPORT ".length)), stderr });
    });
  });
}

function check({ report, stderr }, cfg, version) {
  const context = `\n${JSON.stringify(report, null, 1).slice(0, 6000)}\nstderr: ${stderr.slice(-3000)}`;
  assert.equal(report.error, undefined, `the run failed: ${report.error}${context}`);
  assert.match(report.runtime, version, "the runtime asked for ran");
  assert.deepEqual(report.suite.failures, [], `suite failures${context}`);
  assert.deepEqual(report.suite.checks.map((c) => c.name), CHECK_NAMES, "every check ran");
  assert.deepEqual(report.integrity.failures, [], `integrity failures${context}`);
  assert.equal(report.integrity.checks, (cfg.sizes ?? DEFAULT_SIZES).length * 7, "every integrity check ran");
  assert.deepEqual(report.unhandled, [], `unhandled rejections${context}`);
}

describe("runtime matrix: API suite + byte integrity", { concurrency: CONCURRENCY }, () => {
  for (const rt of RUNTIMES) {
    for (const mode of ["TCP", "TCP+TLS verify-full", "WebSocket"]) {
      it(`${rt.name}, ${mode}`, async () => {
        assert.ok(existsSync(rt.argv[0]), `${rt.name} is not installed at ${rt.argv[0]}: run scripts/setup.sh`);
        const cfg = config(mode);
        const result = await run([...rt.argv, join(here, "runtime-runner.mjs")], cfg);
        check(result, cfg, rt.version);
        if (mode === "WebSocket" && rt.name === "Node 20") {
          assert.equal(result.report.globalWebSocket, false, "Node 20 ran with the ws package, not a global WebSocket");
        }
        if (rt.name === "Bun") {
          // Plaintext TCP uses Bun's own sockets; TLS (and so SSLRequest) stays on node:tls.
          if (mode === "TCP") assert.ok(result.report.bunConnects > 0, "Bun, plaintext TCP: Bun.connect was used");
          else assert.equal(result.report.bunConnects, 0, `Bun, ${mode}: no Bun.connect`);
        }
      });
    }
  }
  for (const mode of ["TCP", "TCP+TLS verify-full", "WebSocket"]) {
    it(`workerd, ${mode}${mode === "TCP" || mode.startsWith("TCP+") ? " (cloudflare:sockets)" : ""}`, async () => {
      const cfg = config(mode, { workerd: true });
      // workerd's TLS trusts exactly NODE_EXTRA_CA_CERTS (this machine sets it to the system bundle).
      const result = await run([process.execPath, join(here, "workerd-runner.mjs")], cfg, { NODE_EXTRA_CA_CERTS: CA });
      check(result, cfg, /^workerd$/);
    });
  }
});
