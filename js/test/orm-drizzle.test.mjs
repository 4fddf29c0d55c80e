// Drizzle ORM (drizzle-orm/node-postgres, from npm: js/test/orm/package.json)
// running on edgepg/pg's Pool and Client: every common column type, CRUD
// with returning, joins, db.execute, transactions with rollback and nested
// savepoints, timestamps and dates exactly round-tripped.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { drizzle } from "drizzle-orm/node-postgres";
import { eq, sql, asc, and, gt } from "drizzle-orm";
import {
  pgTable, pgEnum, serial, bigserial, smallint, integer, bigint, real, doublePrecision, numeric, boolean, text, varchar,
  char, json, jsonb, timestamp, date, time, interval, uuid, inet, customType,
} from "drizzle-orm/pg-core";
import { Pool, Client } from "edgepg/pg";
import { dsn, opts, unhandled } from "./helpers.mjs";

const bytea = customType({ dataType: () => "bytea" });
const mood = pgEnum("dz_mood", ["sad", "ok", "happy"]);

const authors = pgTable("dz_authors", {
  id: serial("id").primaryKey(),
  name: text("name").notNull(),
});

const things = pgTable("dz_things", {
  id: bigserial("id", { mode: "number" }).primaryKey(),
  authorId: integer("author_id").references(() => authors.id),
  small: smallint("small"),
  big: bigint("big", { mode: "bigint" }),
  bigNum: bigint("big_num", { mode: "number" }),
  r: real("r"),
  d: doublePrecision("d"),
  price: numeric("price", { precision: 12, scale: 2 }),
  flag: boolean("flag"),
  name: varchar("name", { length: 40 }),
  code: char("code", { length: 3 }),
  note: text("note"),
  meta: json("meta"),
  tags: jsonb("tags"),
  at: timestamp("at", { withTimezone: true, precision: 6 }),
  atStr: timestamp("at_str", { withTimezone: true, mode: "string" }),
  local: timestamp("local"),
  day: date("day", { mode: "date" }),
  dayStr: date("day_str"),
  t: time("t"),
  span: interval("span"),
  uid: uuid("uid").defaultRandom(),
  ip: inet("ip"),
  blob: bytea("blob"),
  nums: integer("nums").array(),
  words: text("words").array(),
  mood: mood("mood"),
});

const DDL = `DROP TABLE IF EXISTS dz_things; DROP TABLE IF EXISTS dz_authors; DROP TYPE IF EXISTS dz_mood;
  CREATE TYPE dz_mood AS ENUM ('sad', 'ok', 'happy');
  CREATE TABLE dz_authors (id serial PRIMARY KEY, name text NOT NULL);
  CREATE TABLE dz_things (id bigserial PRIMARY KEY, author_id int REFERENCES dz_authors(id), small int2, big int8,
    big_num int8, r float4, d float8, price numeric(12,2), flag bool, name varchar(40), code char(3), note text,
    meta json, tags jsonb, at timestamptz(6), at_str timestamptz, local timestamp, day date, day_str date, t time,
    span interval, uid uuid DEFAULT gen_random_uuid(), ip inet, blob bytea, nums int4[], words text[], mood dz_mood)`;

const config = () => ({ connectionString: dsn(), ...opts() });

const setup = new Client(config());
await setup.connect();
await setup.query(DDL);
after(async () => {
  await setup.query("DROP TABLE IF EXISTS dz_things; DROP TABLE IF EXISTS dz_authors; DROP TYPE IF EXISTS dz_mood");
  await setup.end();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

/** The same checks over a Pool and over a Client. */
async function exercise(db, label) {
  await db.delete(things);
  await db.delete(authors);
  const [ann] = await db.insert(authors).values({ name: `ann-${label}` }).returning();
  assert.equal(typeof ann.id, "number");

  // Microseconds matter: drizzle reads timestamps as the server's text.
  const at = new Date("2024-02-29T23:59:58.123Z");
  const row = {
    authorId: ann.id, small: -3, big: 9007199254740993n, bigNum: 42, r: 1.5, d: Math.PI, price: "1234.50",
    flag: true, name: "wïdget", code: "abc", note: "it's \"quoted\"", meta: { a: [1, "x", null] }, tags: ["t1", "t2"],
    at, atStr: "2024-01-02 03:04:05.123456+00", local: new Date("2023-12-31T22:00:00.000Z"), day: new Date("2024-03-01T00:00:00.000Z"),
    dayStr: "1999-12-31", t: "12:34:56.789", span: "1 day 02:03:04", ip: "10.1.2.3", blob: Buffer.from([0, 1, 254, 255]),
    nums: [1, 2, 3], words: ["a", "b,c", 'd"e'], mood: "happy",
  };
  const [inserted] = await db.insert(things).values(row).returning();
  assert.equal(typeof inserted.id, "number");
  assert.equal(inserted.small, -3);
  assert.equal(inserted.big, 9007199254740993n);
  assert.equal(inserted.bigNum, 42);
  assert.equal(inserted.r, 1.5);
  assert.equal(inserted.d, Math.PI);
  assert.equal(inserted.price, "1234.50");
  assert.equal(inserted.flag, true);
  assert.equal(inserted.name, "wïdget");
  assert.equal(inserted.code, "abc");
  assert.equal(inserted.note, "it's \"quoted\"");
  assert.deepEqual(inserted.meta, { a: [1, "x", null] });
  assert.deepEqual(inserted.tags, ["t1", "t2"]);
  assert.equal(inserted.at.toISOString(), at.toISOString());
  assert.equal(inserted.atStr, "2024-01-02 03:04:05.123456+00");
  assert.equal(inserted.local.toISOString(), "2023-12-31T22:00:00.000Z");
  assert.equal(inserted.day.toISOString(), "2024-03-01T00:00:00.000Z");
  assert.equal(inserted.dayStr, "1999-12-31");
  assert.equal(inserted.t, "12:34:56.789");
  assert.equal(inserted.span, "1 day 02:03:04");
  assert.match(inserted.uid, /^[0-9a-f-]{36}$/);
  assert.equal(inserted.ip, "10.1.2.3");
  assert.deepEqual([...inserted.blob], [0, 1, 254, 255]);
  assert.deepEqual(inserted.nums, [1, 2, 3]);
  assert.deepEqual(inserted.words, ["a", "b,c", 'd"e']);
  assert.equal(inserted.mood, "happy");

  const [selected] = await db.select().from(things).where(eq(things.id, inserted.id));
  assert.deepEqual(selected, inserted, "select gives back what insert returned");

  // Nulls everywhere.
  const [empty] = await db.insert(things).values({}).returning();
  for (const [k, v] of Object.entries(empty)) if (k !== "id" && k !== "uid") assert.equal(v, null, k);

  // update / delete with returning
  const updated = await db.update(things).set({ note: "changed", price: "0.01" }).where(eq(things.id, inserted.id)).returning({ id: things.id, note: things.note, price: things.price });
  assert.deepEqual(updated, [{ id: inserted.id, note: "changed", price: "0.01" }]);
  const deleted = await db.delete(things).where(eq(things.id, empty.id)).returning({ id: things.id });
  assert.deepEqual(deleted, [{ id: empty.id }]);

  // joins
  const [bob] = await db.insert(authors).values({ name: `bob-${label}` }).returning();
  await db.insert(things).values([{ authorId: bob.id, name: "b1" }, { authorId: bob.id, name: "b2" }]);
  const joined = await db
    .select({ author: authors.name, thing: things.name })
    .from(things)
    .innerJoin(authors, eq(things.authorId, authors.id))
    .where(gt(things.id, 0))
    .orderBy(asc(things.name));
  assert.deepEqual(joined, [{ author: `bob-${label}`, thing: "b1" }, { author: `bob-${label}`, thing: "b2" }, { author: `ann-${label}`, thing: "wïdget" }]);
  const left = await db.select({ a: authors.name, n: sql`count(${things.id})::int4` }).from(authors).leftJoin(things, eq(things.authorId, authors.id)).groupBy(authors.name).orderBy(authors.name);
  assert.deepEqual(left, [{ a: `ann-${label}`, n: 1 }, { a: `bob-${label}`, n: 2 }]);

  // db.execute hands back the driver's result as it is (pg's shape)
  const exec = await db.execute(sql`SELECT ${"x"}::text AS v, 2::int8 AS n`);
  assert.equal(exec.command, "SELECT");
  assert.equal(exec.rowCount, 1);
  assert.deepEqual(exec.rows, [{ v: "x", n: "2" }]);
  assert.deepEqual(exec.fields.map((f) => f.name), ["v", "n"]);

  // transactions: rollback, nested savepoints
  const count = async (tx = db) => (await tx.select({ n: sql`count(*)::int4` }).from(things))[0].n;
  const before = await count();
  await assert.rejects(db.transaction(async (tx) => {
    await tx.insert(things).values({ name: "rolled back" });
    assert.equal(await count(tx), before + 1);
    throw new Error("abort");
  }), /abort/);
  assert.equal(await count(), before);
  await db.transaction(async (tx) => {
    await tx.insert(things).values({ name: "outer" });
    await assert.rejects(tx.transaction(async (sp) => {
      await sp.insert(things).values({ name: "inner, rolled back" });
      throw new Error("inner");
    }), /inner/);
    await tx.transaction(async (sp) => {
      await sp.insert(things).values({ name: "inner, kept" });
      await sp.transaction(async (sp2) => {
        await sp2.update(things).set({ note: "deep" }).where(eq(things.name, "inner, kept"));
      });
    });
  });
  const names = (await db.select({ name: things.name, note: things.note }).from(things).where(and(gt(things.id, 0), sql`${things.name} LIKE '%er%'`)).orderBy(things.name));
  assert.deepEqual(names, [{ name: "inner, kept", note: "deep" }, { name: "outer", note: null }]);
  // rollback() from inside
  await db.transaction(async (tx) => {
    await tx.insert(things).values({ name: "explicit rollback" });
    tx.rollback();
  }).catch((e) => assert.match(e.message, /Rollback/i));
  assert.equal((await db.select().from(things).where(eq(things.name, "explicit rollback"))).length, 0);
}

test("drizzle over edgepg/pg's Pool", async () => {
  const pool = new Pool({ ...config(), max: 3 });
  try {
    await exercise(drizzle({ client: pool }), "pool");
  } finally {
    await pool.end();
  }
});

test("drizzle over edgepg/pg's Client", async () => {
  const client = new Client(config());
  await client.connect();
  try {
    await exercise(drizzle({ client }), "client");
  } finally {
    await client.end();
  }
});

test("drizzle: a server error reaches the caller with pg's fields", async () => {
  const pool = new Pool(config());
  try {
    const db = drizzle({ client: pool });
    const e = await db.insert(things).values({ authorId: 999999 }).catch((err) => err);
    const cause = e.cause ?? e;
    assert.equal(cause.code, "23503");
    assert.equal(cause.constraint, "dz_things_author_id_fkey");
  } finally {
    await pool.end();
  }
});
