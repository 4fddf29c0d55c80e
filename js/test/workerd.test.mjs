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
