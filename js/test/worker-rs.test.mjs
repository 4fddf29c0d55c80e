// The Rust Cloudflare Worker example (examples/worker-rs: workers-rs +
// edgepg-wasm's Rust API), built by js/test.sh and run here in workerd
// (miniflare) against the test cluster through websockify.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { env, dsn, wsPort } from "./helpers.mjs";

const dir = env.EDGEPG_WORKER_RS_DIR;
let mf;

before(() => {
  assert.ok(dir, "EDGEPG_WORKER_RS_DIR is not set: run js/test.sh, which builds examples/worker-rs");
  assert.ok(existsSync(join(dir, "build/index_bg.wasm")), `no build in ${dir}: run examples/worker-rs/build.sh`);
  mf = new Miniflare({
    modules: true,
    scriptPath: join(dir, "shim.mjs"),
    modulesRoot: dir,
    // As in the example's wrangler.toml.
    modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
    bindings: { DATABASE_URL: dsn(), WS_PROXY: `127.0.0.1:${wsPort}/v1`, WS_INSECURE: "1" },
  });
});

after(async () => {
  await mf?.dispose();
});

test("Rust Worker: a query and transactions (committed, rolled back, dropped) through edgepg-wasm", async () => {
  // Twice: each request opens its own connection (Workers forbid sharing sockets across requests).
  for (let i = 0; i < 2; i++) {
    const res = await mf.dispatchFetch("http://localhost/");
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const body = JSON.parse(text);
    assert.match(body.serverVersion, /^\d+/);
    assert.equal(body.sum, 42);
    assert.deepEqual(body.visits, [{ id: 1, note: "kept" }, { id: 2, note: "kept too" }]);
  }
});

test("Rust Worker: a server error reaches the response with its SQLSTATE", async () => {
  const res = await mf.dispatchFetch("http://localhost/error");
  const body = await res.json();
  assert.equal(res.status, 500);
  assert.equal(body.code, "22012");
  assert.match(body.error, /division by zero/);
  assert.equal((await mf.dispatchFetch("http://localhost/nope")).status, 404);
});

test("Rust Worker: a wrong password is a clear error, not a hang", async () => {
  const bad = new Miniflare({
    modules: true,
    scriptPath: join(dir, "shim.mjs"),
    modulesRoot: dir,
    modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
    bindings: { DATABASE_URL: dsn("edgepg", "wrong"), WS_PROXY: `127.0.0.1:${wsPort}/v1`, WS_INSECURE: "1" },
  });
  try {
    const res = await bad.dispatchFetch("http://localhost/");
    const text = await res.text();
    assert.equal(res.status, 500);
    assert.match(text, /28P01/);
  } finally {
    await bad.dispose();
  }
});
