// Prisma 7 in a real Worker (workerd via miniflare) with edgepg/prisma: the
// client generated for `runtime = "workerd"` (js/test/orm/schema.prisma),
// bundled with esbuild as wrangler does, both .wasm files (Prisma's query
// compiler and edgepg's) imported as compiled modules. The same bundle also
// uses the main `edgepg` entry: both must keep their .wasm initialisation
// through a bundler (package.json "sideEffects").
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { Pool } from "edgepg/pg";
import { dsn, opts, wsPort } from "./helpers.mjs";

const ormDir = process.env.EDGEPG_ORM_DIR;
if (!ormDir) throw new Error("EDGEPG_ORM_DIR is not set (js/test.sh sets it to js/test/orm)");
const require = createRequire(import.meta.url);
const pkgDir = dirname(require.resolve("edgepg/package.json"));

const pool = new Pool({ connectionString: dsn(), ...opts() });
await pool.query(`DROP TABLE IF EXISTS "PrPost"; DROP TABLE IF EXISTS "PrUser"; DROP TYPE IF EXISTS "Role";
  CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
  CREATE TABLE "PrUser" (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text, role "Role" NOT NULL DEFAULT 'USER',
    "createdAt" timestamptz(3) NOT NULL DEFAULT now(), birthday date, balance numeric(12,2), big int8, data jsonb,
    avatar bytea, score float8);
  CREATE TABLE "PrPost" (id serial PRIMARY KEY, title text NOT NULL, published bool NOT NULL DEFAULT false,
    tags text[], "authorId" int NOT NULL REFERENCES "PrUser"(id))`);
after(async () => {
  await pool.query(`DROP TABLE IF EXISTS "PrPost"; DROP TABLE IF EXISTS "PrUser"; DROP TYPE IF EXISTS "Role"`);
  await pool.end();
});

/** The Worker, reaching PostgreSQL through websockify or over TCP (cloudflare:sockets). */
const workerFor = (transport) => {
  const url = transport === "tcp" ? `${dsn()}?sslmode=disable` : dsn();
  const settings = transport === "tcp" ? { transport: "tcp" } : { wsProxy: `127.0.0.1:${wsPort}/v1`, useSecureWebSocket: false };
  return `
import { PrismaClient } from ${JSON.stringify(join(ormDir, "gen-workerd", "client.ts"))};
import { PrismaEdgepg } from "edgepg/prisma";
import { connect } from "edgepg";

const settings = ${JSON.stringify(settings)};
export default {
  async fetch() {
    const prisma = new PrismaClient({ adapter: new PrismaEdgepg({ connectionString: ${JSON.stringify(url)}, ...settings }) });
    const out = {};
    try {
      const ann = await prisma.prUser.create({
        data: { email: "w@example.com", name: "W", big: 5n, data: { a: 1 }, posts: { create: [{ title: "p1", tags: ["t"] }, { title: "p2" }] } },
        include: { posts: { orderBy: { id: "asc" } } },
      });
      out.created = { email: ann.email, big: String(ann.big), data: ann.data, posts: ann.posts.map((p) => [p.title, p.tags]) };
      out.found = (await prisma.prUser.findMany({ include: { posts: { where: { title: "p2" } } } })).map((u) => [u.name, u.posts.length]);
      out.updated = (await prisma.prUser.update({ where: { email: "w@example.com" }, data: { name: "Dub" } })).name;
      out.rolledBack = await prisma.$transaction(async (tx) => {
        await tx.prUser.create({ data: { email: "ghost@example.com" } });
        throw new Error("undo");
      }).catch((e) => e.message);
      out.count = await prisma.prUser.count();
      out.raw = (await prisma.$queryRaw\`SELECT \${41}::int4 + 1 AS n\`)[0].n;
      const conn = await connect(${JSON.stringify(url)}, settings);
      out.mainEntry = await conn.fetchval("SELECT count(*)::int4 FROM \\"PrPost\\"");
      await conn.close();
      return Response.json(out);
    } catch (e) {
      return new Response(String(e && e.stack || e), { status: 500 });
    } finally {
      await prisma.$disconnect();
    }
  },
};`;
};

for (const transport of ["websocket", "tcp"]) test(`prisma with edgepg/prisma in a Worker (workerd), bundled with esbuild, ${transport}`, async () => {
  await pool.query(`TRUNCATE "PrPost", "PrUser" RESTART IDENTITY`);
  const dir = mkdtempSync(join(tmpdir(), "edgepg-worker-prisma-"));
  await build({
    stdin: { contents: workerFor(transport), resolveDir: process.cwd(), loader: "js" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    // Prisma's runtime lives in js/test/orm/node_modules, beside the generated client.
    nodePaths: [join(ormDir, "node_modules")],
    logLevel: "error",
    external: ["cloudflare:*"],
    outfile: join(dir, "worker.mjs"),
    plugins: [{
      // `.wasm` and wrangler's `.wasm?module`: compiled modules next to the bundle.
      name: "wasm-modules",
      setup(b) {
        b.onResolve({ filter: /\.wasm(\?module)?$/ }, (a) => ({ path: `./${a.path.split("/").pop().replace("?module", "")}`, external: true }));
      },
    }],
  });
  copyFileSync(join(pkgDir, "dist", "edgepg_bg.wasm"), join(dir, "edgepg_bg.wasm"));
  copyFileSync(join(ormDir, "gen-workerd", "internal", "query_compiler_fast_bg.wasm"), join(dir, "query_compiler_fast_bg.wasm"));
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
    assert.deepEqual(out.created, { email: "w@example.com", big: "5", data: { a: 1 }, posts: [["p1", ["t"]], ["p2", []]] });
    assert.deepEqual(out.found, [["W", 1]]);
    assert.equal(out.updated, "Dub");
    assert.equal(out.rolledBack, "undo");
    assert.equal(out.count, 1);
    assert.equal(out.raw, 42);
    assert.equal(out.mainEntry, 2);
  } finally {
    await mf.dispose();
  }
});
