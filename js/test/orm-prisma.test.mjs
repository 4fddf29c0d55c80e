// Prisma 7 with edgepg/prisma's driver adapter: a client generated from
// js/test/orm/schema.prisma (js/test.sh runs `prisma generate` offline),
// tables made with SQL. findMany with relations, create, update, an
// interactive $transaction that rolls back (and one with an isolation
// level), $queryRaw / $executeRaw, errors mapped to Prisma's codes.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { Pool } from "edgepg/pg";
import { PrismaEdgepg } from "edgepg/prisma";
import { dsn, opts, unhandled } from "./helpers.mjs";

const ormDir = process.env.EDGEPG_ORM_DIR;
if (!ormDir) throw new Error("EDGEPG_ORM_DIR is not set (js/test.sh sets it to js/test/orm)");
const { PrismaClient, Prisma } = createRequire(import.meta.url)(join(ormDir, "generated", "index.js"));

const pool = new Pool({ connectionString: dsn(), ...opts(), max: 4 });
await pool.query(`DROP TABLE IF EXISTS "PrPost"; DROP TABLE IF EXISTS "PrUser"; DROP TYPE IF EXISTS "Role";
  CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN');
  CREATE TABLE "PrUser" (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text, role "Role" NOT NULL DEFAULT 'USER',
    "createdAt" timestamptz(3) NOT NULL DEFAULT now(), birthday date, balance numeric(12,2), big int8, data jsonb,
    avatar bytea, score float8);
  CREATE TABLE "PrPost" (id serial PRIMARY KEY, title text NOT NULL, published bool NOT NULL DEFAULT false,
    tags text[], "authorId" int NOT NULL REFERENCES "PrUser"(id))`);

const prisma = new PrismaClient({ adapter: new PrismaEdgepg(pool) });

after(async () => {
  await prisma.$disconnect();
  await pool.query(`DROP TABLE IF EXISTS "PrPost"; DROP TABLE IF EXISTS "PrUser"; DROP TYPE IF EXISTS "Role"`);
  await pool.end();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

test("prisma: create with nested relations, findMany with include, types round-trip", async () => {
  const created = new Date("2024-02-29T12:34:56.789Z");
  const ann = await prisma.prUser.create({
    data: {
      email: "ann@example.com", name: "Ann", role: "ADMIN", createdAt: created, birthday: new Date("1990-05-17T00:00:00Z"),
      balance: new Prisma.Decimal("1234.56"), big: 9007199254740993n, data: { tags: ["a", "b"], n: 1.5 },
      avatar: new Uint8Array([0, 1, 2, 255]), score: 0.25,
      posts: { create: [{ title: "first", published: true, tags: ["x", "y,z"] }, { title: "draft" }] },
    },
    include: { posts: { orderBy: { id: "asc" } } },
  });
  assert.equal(typeof ann.id, "number");
  assert.equal(ann.role, "ADMIN");
  assert.equal(ann.createdAt.toISOString(), created.toISOString());
  assert.equal(ann.birthday.toISOString(), "1990-05-17T00:00:00.000Z");
  assert.equal(ann.balance.toString(), "1234.56");
  assert.equal(ann.big, 9007199254740993n);
  assert.deepEqual(ann.data, { tags: ["a", "b"], n: 1.5 });
  assert.deepEqual([...ann.avatar], [0, 1, 2, 255]);
  assert.equal(ann.score, 0.25);
  assert.deepEqual(ann.posts.map((p) => [p.title, p.published, p.tags]), [["first", true, ["x", "y,z"]], ["draft", false, []]]);

  await prisma.prUser.create({ data: { email: "bob@example.com", name: "Bob", posts: { create: { title: "bob's" } } } });
  const users = await prisma.prUser.findMany({
    where: { email: { endsWith: "@example.com" } },
    include: { posts: { where: { published: false }, select: { title: true } } },
    orderBy: { email: "asc" },
  });
  assert.deepEqual(users.map((u) => [u.name, u.posts.map((p) => p.title)]), [["Ann", ["draft"]], ["Bob", ["bob's"]]]);
  const withCount = await prisma.prUser.findUnique({ where: { email: "ann@example.com" }, include: { _count: { select: { posts: true } } } });
  assert.equal(withCount._count.posts, 2);
  const page = await prisma.prPost.findMany({ orderBy: { id: "asc" }, take: 1, skip: 1, select: { title: true, author: { select: { name: true } } } });
  assert.deepEqual(page, [{ title: "draft", author: { name: "Ann" } }]);
});

test("prisma: update, updateMany, delete, and errors with Prisma's codes", async () => {
  const u = await prisma.prUser.update({ where: { email: "bob@example.com" }, data: { name: "Robert", big: { increment: 5 } } });
  assert.equal(u.name, "Robert");
  assert.equal(u.big, null, "increment of NULL stays NULL");
  const many = await prisma.prPost.updateMany({ where: { published: false }, data: { published: true } });
  assert.equal(many.count, 2);
  const dup = await prisma.prUser.create({ data: { email: "ann@example.com" } }).catch((e) => e);
  assert.ok(dup instanceof Prisma.PrismaClientKnownRequestError, String(dup));
  assert.equal(dup.code, "P2002");
  const fk = await prisma.prPost.create({ data: { title: "orphan", authorId: 999999 } }).catch((e) => e);
  assert.equal(fk.code, "P2003");
  const missing = await prisma.prUser.update({ where: { email: "nobody@example.com" }, data: { name: "x" } }).catch((e) => e);
  assert.equal(missing.code, "P2025");
  const gone = await prisma.prPost.deleteMany({ where: { title: "bob's" } });
  assert.equal(gone.count, 1);
});

test("prisma: an interactive $transaction that throws rolls back; one that returns commits", async () => {
  const before = await prisma.prUser.count();
  await assert.rejects(prisma.$transaction(async (tx) => {
    await tx.prUser.create({ data: { email: "tx@example.com" } });
    assert.equal(await tx.prUser.count(), before + 1, "visible inside the transaction");
    throw new Error("roll it back");
  }), /roll it back/);
  assert.equal(await prisma.prUser.count(), before);
  assert.equal(await prisma.prUser.findUnique({ where: { email: "tx@example.com" } }), null);

  const made = await prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw`SHOW transaction_isolation`;
    const u = await tx.prUser.create({ data: { email: "ser@example.com" } });
    return [rows[0].transaction_isolation, u.email];
  }, { isolationLevel: Prisma.TransactionIsolationLevel.Serializable });
  assert.deepEqual(made, ["serializable", "ser@example.com"]);
  // A failing statement inside: the whole transaction is rolled back.
  await assert.rejects(prisma.$transaction(async (tx) => {
    await tx.prUser.create({ data: { email: "half@example.com" } });
    await tx.prUser.create({ data: { email: "ann@example.com" } });
  }), (e) => e.code === "P2002");
  assert.equal(await prisma.prUser.findUnique({ where: { email: "half@example.com" } }), null);
  // Batch transaction
  const [a, b] = await prisma.$transaction([prisma.prUser.count(), prisma.prPost.count()]);
  assert.equal(typeof a, "number");
  assert.equal(typeof b, "number");
});

test("prisma: $queryRaw and $executeRaw with parameters (int64 as text)", async () => {
  const rows = await prisma.$queryRaw`SELECT id, email, "createdAt", balance, big, data, role FROM "PrUser" WHERE email = ${"ann@example.com"} LIMIT ${1}`;
  assert.equal(rows.length, 1);
  assert.equal(rows[0].email, "ann@example.com");
  assert.ok(rows[0].createdAt instanceof Date);
  assert.equal(rows[0].balance.toString(), "1234.56");
  assert.equal(rows[0].big, 9007199254740993n);
  assert.deepEqual(rows[0].data, { tags: ["a", "b"], n: 1.5 });
  assert.equal(rows[0].role, "ADMIN");
  const typed = await prisma.$queryRaw`SELECT ${10n}::int8 + 1 AS n, ${new Date("2024-01-01T00:00:00.000Z")}::timestamptz AS t, ARRAY[1,2]::int4[] AS a`;
  assert.equal(typed[0].n, 11n);
  assert.equal(typed[0].t.toISOString(), "2024-01-01T00:00:00.000Z");
  assert.deepEqual(typed[0].a, [1, 2]);
  const changed = await prisma.$executeRaw`UPDATE "PrUser" SET score = ${2.5} WHERE email LIKE ${"%@example.com"}`;
  assert.ok(changed >= 2);
  await prisma.$executeRawUnsafe(`UPDATE "PrUser" SET name = name WHERE id = $1`, 1);
});
