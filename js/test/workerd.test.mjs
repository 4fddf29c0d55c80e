// A real Worker in workerd (miniflare 4): the package is imported through its
// `workerd` export condition (the .wasm arrives as a compiled module) and
// talks to PostgreSQL through websockify on loopback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { Miniflare } from "miniflare";
import { dsn, wsPort } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const pkgJson = require.resolve("edgepg/package.json");
const pkgDir = dirname(pkgJson);
const workerdEntry = JSON.parse(readFileSync(pkgJson, "utf8")).exports["."].workerd;

const entry = join(pkgDir, workerdEntry);
const here = dirname(fileURLToPath(import.meta.url));

/**
 * Starts a Worker whose module is `source` (it may import `ENTRY`, the
 * package's workerd entry, and `INTEGRITY`, ./integrity.mjs) in workerd.
 */
function worker(source) {
  const dir = mkdtempSync(join(tmpdir(), "edgepg-worker-"));
  const script = join(dir, "worker.mjs");
  writeFileSync(script, source
    .replaceAll("ENTRY", JSON.stringify(entry))
    .replaceAll("INTEGRITY", JSON.stringify(join(here, "integrity.mjs"))));
  return new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: "/",
    // Like wrangler: .js files are ES modules; .wasm files compiled modules.
    modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
  });
}

async function json(mf, path = "/") {
  const res = await mf.dispatchFetch(`http://localhost${path}`);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text);
}

test("a Worker runs queries, transactions, a cursor and COPY in workerd", async () => {
  const mf = worker(`
import { connect, PostgresError } from ENTRY;
export default {
  async fetch(request, env) {
    const conn = await connect(${JSON.stringify(dsn())}, { wsProxy: "127.0.0.1:${wsPort}/v1", useSecureWebSocket: false });
    try {
      const out = {};
      out.row = await conn.fetchrow("SELECT $1::int4 + 1 AS n, 'w'::text AS s, 5::int8 AS b", [41], { int8: "string" });
      await conn.execute("CREATE TEMP TABLE wt (id int)");
      await conn.execute("BEGIN");
      await conn.executemany("INSERT INTO wt VALUES ($1)", [[1], [2], [3]]);
      await conn.execute("COMMIT");
      await conn.execute("BEGIN");
      await conn.execute("INSERT INTO wt VALUES (4)");
      await conn.execute("ROLLBACK");
      out.count = await conn.fetchval("SELECT count(*)::int4 FROM wt");
      out.error = await conn.execute("SELECT 1/0").catch((e) => [e instanceof PostgresError, e.code]);
      out.tx = await conn.transaction(async (tx) => {
        await tx.execute("INSERT INTO wt VALUES (10)");
        await tx.transaction(async (sp) => { await sp.execute("INSERT INTO wt VALUES (11)"); throw new Error("x"); }).catch(() => {});
        const seen = [];
        for await (const r of tx.cursor("SELECT id FROM wt ORDER BY id", [], { prefetch: 2 })) seen.push(r.id);
        return seen;
      });
      await conn.execute("CREATE TEMP TABLE wc (id int, name text)");
      const enc = new TextEncoder();
      out.copyIn = await conn.copyToTable("wc", { source: new ReadableStream({ start(c) { c.enqueue(enc.encode("1,a\\n2,b\\n")); c.close(); } }), format: "csv" });
      out.copyRecords = await conn.copyRecordsToTable("wc", { records: [[3, "c"]] });
      out.copyOut = await new Response(conn.copyFromQuery("SELECT * FROM wc ORDER BY id", [], { format: "csv" })).text();
      return Response.json(out);
    } finally {
      await conn.close();
    }
  },
};`);
  try {
    const out = await json(mf);
    assert.deepEqual(out.row, { n: 42, s: "w", b: "5" });
    assert.equal(out.count, 3);
    assert.deepEqual(out.error, [true, "22012"]);
    assert.deepEqual(out.tx, [1, 2, 3, 10]);
    assert.equal(out.copyIn, 2);
    assert.equal(out.copyRecords, 1);
    assert.equal(out.copyOut, "1,a\n2,b\n3,c\n");
  } finally {
    await mf.dispose();
  }
});

// Issue #16: large values used to reach the server corrupted from workerd
// (WebSocket frames sent as views of wasm memory that was reused before the
// runtime read them). The server's hash of every value must match.
test("workerd, WebSocket: large values arrive byte-identical in both directions", async () => {
  const mf = worker(`
import * as edgepg from ENTRY;
import { runIntegrity } from INTEGRITY;
export default {
  async fetch() {
    try {
      const { checks, failures } = await runIntegrity(edgepg, ${JSON.stringify(dsn())},
        { wsProxy: "127.0.0.1:${wsPort}/v1", useSecureWebSocket: false });
      return Response.json({ checks: checks.length, failures });
    } catch (e) {
      return Response.json({ error: String(e && e.stack || e) });
    }
  },
};`);
  try {
    const out = await json(mf);
    assert.equal(out.error, undefined, out.error);
    assert.deepEqual(out.failures, []);
    assert.equal(out.checks, 35);
  } finally {
    await mf.dispose();
  }
});

// Issue #16: Workers forbid using an I/O object (a socket) from another
// request. A pool at module scope must still answer every request: the
// connection opened by an earlier request refuses the write before anything
// is sent, so the call runs again on a fresh connection.
for (const transport of ["websocket", "tcp"]) test(`workerd, ${transport}: a module-scope pool serves every request; a module-scope connection fails clearly`, async () => {
  const options = transport === "tcp"
    ? { transport: "tcp" }
    : { wsProxy: `127.0.0.1:${wsPort}/v1`, useSecureWebSocket: false };
  const mf = worker(`
import { createPool, connect } from ENTRY;
const options = ${JSON.stringify(options)};
const pool = createPool(${JSON.stringify(dsn() + "?sslmode=disable")}, options);
let conn;
export default {
  async fetch(request) {
    const path = new URL(request.url).pathname;
    try {
      if (path === "/conn") {
        conn ??= await connect(${JSON.stringify(dsn() + "?sslmode=disable")}, options);
        return Response.json({ value: await conn.fetchval("SELECT 1") });
      }
      if (path === "/tx") {
        return Response.json({ value: await pool.transaction((tx) => tx.fetchval("SELECT 2")) });
      }
      if (path === "/copy") {
        await pool.execute("CREATE TABLE IF NOT EXISTS worker_scope (id int)");
        return Response.json({ value: await pool.copyRecordsToTable("worker_scope", { records: [[1]] }) });
      }
      return Response.json({ value: await pool.fetchval("SELECT 3"), maxSize: pool.getMaxSize() });
    } catch (e) {
      return Response.json({ error: e.message, kind: e.kind, unsent: e.unsent, cause: String(e.cause) });
    }
  },
};`);
  try {
    for (let i = 0; i < 3; i++) assert.deepEqual(await json(mf, "/"), { value: 3, maxSize: 5 }, `request ${i}`);
    for (let i = 0; i < 2; i++) assert.deepEqual(await json(mf, "/tx"), { value: 2 }, `transaction ${i}`);
    for (let i = 0; i < 2; i++) assert.deepEqual(await json(mf, "/copy"), { value: 1 }, `copy ${i}`);
    assert.deepEqual(await json(mf, "/conn"), { value: 1 });
    const e = await json(mf, "/conn");
    assert.equal(e.kind, "io");
    assert.equal(e.unsent, true);
    assert.match(e.error, /opened by another request/);
    assert.ok(e.error.length < 400 && !/JsValue|wasm-function|\n/.test(e.error), e.error);
    assert.match(e.cause, /Cannot perform I\/O on behalf of a different request/);
  } finally {
    await mf.dispose();
  }
});

// Workers allow 6 simultaneous outgoing connections per request; the pool's
// default maxSize there is 5 (one left for a CancelRequest). miniflare does
// not enforce the limit (8 connections open at once below); production
// workerd makes the 7th wait, which connectTimeout (10 s by default in
// Workers) turns into a clear TimeoutError instead of a hang.
test("workerd: the pool's default maxSize is 5 and 20 concurrent callers share it", async () => {
  const mf = worker(`
import { createPool } from ENTRY;
export default {
  async fetch() {
    const pool = createPool(${JSON.stringify(dsn())}, { wsProxy: "127.0.0.1:${wsPort}/v1", useSecureWebSocket: false });
    const values = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.fetchval("SELECT $1::int4", [i])));
    const out = { values, maxSize: pool.getMaxSize(), size: pool.getSize() };
    await pool.close();
    return Response.json(out);
  },
};`);
  try {
    const out = await json(mf);
    assert.deepEqual(out.values, Array.from({ length: 20 }, (_, i) => i));
    assert.equal(out.maxSize, 5);
    assert.ok(out.size <= 5, `size ${out.size}`);
  } finally {
    await mf.dispose();
  }
});
