// Drizzle and Kysely in a real Worker (workerd via miniflare) on edgepg/pg,
// bundled with esbuild the way a Worker is deployed: the `workerd` export
// condition (the .wasm imported as a compiled module) and `pg` aliased to
// edgepg/pg, so drizzle-orm/node-postgres's own `import pg from "pg"` gets
// edgepg's Pool and types.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { dsn, wsPort } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve("edgepg/package.json"));

/** The Worker, reaching PostgreSQL through websockify or over TCP (cloudflare:sockets). */
const workerFor = (transport) => {
  const config = transport === "tcp"
    ? { connectionString: `${dsn()}?sslmode=disable`, transport: "tcp", max: 3 }
    : { connectionString: dsn(), wsProxy: `127.0.0.1:${wsPort}/v1`, useSecureWebSocket: false, max: 3 };
  return `
import { Pool, Cursor } from "edgepg/pg";
import { drizzle } from "drizzle-orm/node-postgres";
import { pgTable, serial, text, timestamp, numeric, jsonb, bigint } from "drizzle-orm/pg-core";
import { eq, sql as dsql } from "drizzle-orm";
import { Kysely, PostgresDialect, sql } from "kysely";

const notes = pgTable("wk_notes", {
  id: serial("id").primaryKey(),
  body: text("body").notNull(),
  at: timestamp("at", { withTimezone: true, mode: "string" }),
  price: numeric("price"),
  meta: jsonb("meta"),
  big: bigint("big", { mode: "bigint" }),
});

export default {
  async fetch() {
    const pool = new Pool(${JSON.stringify(config)});
    const out = {};
    try {
      await pool.query("DROP TABLE IF EXISTS wk_notes; CREATE TABLE wk_notes (id serial PRIMARY KEY, body text NOT NULL, at timestamptz, price numeric, meta jsonb, big int8)");
      const db = drizzle({ client: pool });
      const [n] = await db.insert(notes).values({ body: "from a worker", at: "2024-01-02 03:04:05.123456+00", price: "9.99", meta: { k: [1] }, big: 12345678901234567n }).returning();
      out.drizzleInsert = { ...n, big: String(n.big) };
      await db.transaction(async (tx) => {
        await tx.update(notes).set({ body: "updated" }).where(eq(notes.id, n.id));
        await tx.transaction(async (sp) => { await sp.delete(notes); sp.rollback(); }).catch(() => {});
      });
      out.drizzleAfterTx = await db.select({ body: notes.body }).from(notes);
      out.drizzleExecute = (await db.execute(dsql\`SELECT count(*)::int4 AS n FROM wk_notes\`)).rows;

      const ky = new Kysely({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });
      await ky.insertInto("wk_notes").values([{ body: "k1" }, { body: "k2" }]).execute();
      out.kyselySelect = await ky.selectFrom("wk_notes").select(["body"]).orderBy("id").execute();
      await ky.transaction().execute(async (trx) => {
        await trx.deleteFrom("wk_notes").where("body", "=", "k1").execute();
        throw new Error("undo");
      }).catch(() => {});
      let streamed = 0;
      for await (const r of ky.selectFrom(sql\`generate_series(1, 2500)\`.as("g")).select(sql\`g\`.as("g")).stream(500)) streamed += r.g;
      out.kyselyStream = streamed;
      out.kyselyCount = (await sql\`SELECT count(*)::int4 AS n FROM wk_notes\`.execute(ky)).rows[0].n;
      await pool.query("DROP TABLE wk_notes");
      return Response.json(out);
    } catch (e) {
      return new Response(String(e && e.stack || e), { status: 500 });
    } finally {
      await pool.end();
    }
  },
};`;
};

for (const transport of ["websocket", "tcp"]) test(`drizzle and kysely on edgepg/pg in a Worker (workerd), ${transport}`, async () => {
  const dir = mkdtempSync(join(tmpdir(), "edgepg-worker-orm-"));
  await build({
    stdin: { contents: workerFor(transport), resolveDir: process.cwd(), loader: "js" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    alias: { pg: "edgepg/pg" },
    external: ["*.wasm", "cloudflare:*"],
    outfile: join(dir, "worker.mjs"),
    logLevel: "error",
  });
  // The bundle imports "./edgepg_bg.wasm" next to itself.
  copyFileSync(join(pkgDir, "dist", "edgepg_bg.wasm"), join(dir, "edgepg_bg.wasm"));
  const mf = new Miniflare({
    modules: true,
    scriptPath: join(dir, "worker.mjs"),
    modulesRoot: dir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: "2025-01-01",
  });
  try {
    const res = await mf.dispatchFetch("http://localhost/");
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const out = JSON.parse(text);
    assert.deepEqual(out.drizzleInsert, {
      id: 1, body: "from a worker", at: "2024-01-02 03:04:05.123456+00", price: "9.99", meta: { k: [1] }, big: "12345678901234567",
    });
    assert.deepEqual(out.drizzleAfterTx, [{ body: "updated" }]);
    assert.deepEqual(out.drizzleExecute, [{ n: 1 }]);
    assert.deepEqual(out.kyselySelect, [{ body: "updated" }, { body: "k1" }, { body: "k2" }]);
    assert.equal(out.kyselyStream, (2500 * 2501) / 2);
    assert.equal(out.kyselyCount, 3);
  } finally {
    await mf.dispose();
  }
});
