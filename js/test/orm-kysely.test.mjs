// Kysely (PostgresDialect({ pool, cursor }), from npm: js/test/orm/package.json)
// on edgepg/pg's Pool and Cursor: column types, CRUD with returning, joins,
// raw SQL, transactions with savepoints, an aborted transaction, and
// .stream() over 10,000 rows.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as kysely from "kysely";
import { Kysely, PostgresDialect, sql } from "kysely";
import { Pool, Cursor } from "edgepg/pg";
import { dsn, opts, unhandled } from "./helpers.mjs";

const pool = new Pool({ connectionString: dsn(), ...opts(), max: 4 });
const db = new Kysely({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });

await sql`DROP TABLE IF EXISTS ky_pets; DROP TABLE IF EXISTS ky_people;
  CREATE TABLE ky_people (id serial PRIMARY KEY, name text NOT NULL UNIQUE, born date, score numeric(6,2), big int8,
    active bool DEFAULT true, data jsonb, created timestamptz DEFAULT now(), tags text[]);
  CREATE TABLE ky_pets (id serial PRIMARY KEY, owner_id int NOT NULL REFERENCES ky_people(id), species text)`.execute(db);

after(async () => {
  await sql`DROP TABLE IF EXISTS ky_pets; DROP TABLE IF EXISTS ky_people`.execute(db);
  await db.destroy();
  assert.equal(pool.ended, true, "db.destroy() ends the pool");
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

test("kysely: insert/select/update/delete with returning, types, joins, raw SQL", async () => {
  const created = new Date("2024-06-01T10:20:30.456Z");
  const ann = await db.insertInto("ky_people")
    .values({ name: "ann", born: "1990-05-17", score: "12.50", big: "9007199254740993", data: JSON.stringify({ k: [1, 2] }), created, tags: ["x", "y"] })
    .returningAll()
    .executeTakeFirstOrThrow();
  assert.equal(typeof ann.id, "number");
  assert.equal(ann.score, "12.50");
  assert.equal(ann.big, "9007199254740993");
  assert.equal(ann.active, true);
  assert.deepEqual(ann.data, { k: [1, 2] });
  assert.equal(ann.created.toISOString(), created.toISOString());
  assert.ok(ann.born instanceof Date);
  assert.deepEqual(ann.tags, ["x", "y"]);

  const many = await db.insertInto("ky_people").values([{ name: "bob" }, { name: "cy" }]).executeTakeFirst();
  assert.equal(many.numInsertedOrUpdatedRows, 2n, "rowCount is a number kysely turns into a BigInt");

  await db.insertInto("ky_pets").values([
    { owner_id: ann.id, species: "cat" },
    { owner_id: ann.id, species: "dog" },
  ]).execute();
  const joined = await db.selectFrom("ky_people as p")
    .innerJoin("ky_pets as x", "x.owner_id", "p.id")
    .select(["p.name", "x.species"])
    .orderBy("x.species")
    .execute();
  assert.deepEqual(joined, [{ name: "ann", species: "cat" }, { name: "ann", species: "dog" }]);
  const counts = await db.selectFrom("ky_people as p")
    .leftJoin("ky_pets as x", "x.owner_id", "p.id")
    .select(["p.name", (eb) => eb.fn.count("x.id").as("pets")])
    .groupBy("p.name")
    .orderBy("p.name")
    .execute();
  assert.deepEqual(counts, [{ name: "ann", pets: "2" }, { name: "bob", pets: "0" }, { name: "cy", pets: "0" }]);

  const upd = await db.updateTable("ky_people").set({ active: false }).where("name", "in", ["bob", "cy"]).executeTakeFirst();
  assert.equal(upd.numUpdatedRows, 2n);
  const del = await db.deleteFrom("ky_people").where("name", "=", "cy").returning(["id", "name"]).execute();
  assert.equal(del.length, 1);
  assert.equal(del[0].name, "cy");
  const delNone = await db.deleteFrom("ky_people").where("name", "=", "nobody").executeTakeFirst();
  assert.equal(delNone.numDeletedRows, 0n);

  const raw = await sql`SELECT ${"v"}::text AS v, ${5}::int4 + 1 AS n`.execute(db);
  assert.deepEqual(raw.rows, [{ v: "v", n: 6 }]);

  const err = await db.insertInto("ky_people").values({ name: "ann" }).execute().catch((e) => e);
  assert.equal(err.code, "23505");
  assert.equal(err.constraint, "ky_people_name_key");
});

test("kysely: transactions commit, roll back, savepoints, isolation level", async () => {
  await assert.rejects(db.transaction().execute(async (trx) => {
    await trx.insertInto("ky_people").values({ name: "ghost" }).execute();
    throw new Error("nope");
  }), /nope/);
  assert.equal((await db.selectFrom("ky_people").where("name", "=", "ghost").selectAll().execute()).length, 0);

  await db.transaction().setIsolationLevel("serializable").execute(async (trx) => {
    const { rows } = await sql`SHOW transaction_isolation`.execute(trx);
    assert.equal(rows[0].transaction_isolation, "serializable");
    await trx.insertInto("ky_people").values({ name: "dee" }).execute();
  });
  assert.equal((await db.selectFrom("ky_people").where("name", "=", "dee").selectAll().execute()).length, 1);

  const trx = await db.startTransaction().execute();
  await trx.insertInto("ky_people").values({ name: "sp-kept" }).execute();
  const sp = await trx.savepoint("sp1").execute();
  await sp.insertInto("ky_people").values({ name: "sp-dropped" }).execute();
  const back = await sp.rollbackToSavepoint("sp1").execute();
  await back.commit().execute();
  const names = (await db.selectFrom("ky_people").select("name").where("name", "like", "sp-%").execute()).map((r) => r.name);
  assert.deepEqual(names, ["sp-kept"]);
});

test("kysely: an aborted transaction's COMMIT is reported (AbortedTransactionError), nothing is kept", async () => {
  const e = await db.transaction().execute(async (trx) => {
    await trx.insertInto("ky_people").values({ name: "lost" }).execute();
    // A failed statement the callback swallows: the transaction is aborted.
    await trx.insertInto("ky_people").values({ name: "ann" }).execute().catch(() => {});
  }).catch((err) => err);
  assert.ok(e instanceof Error, "the commit must fail");
  if (kysely.AbortedTransactionError) assert.ok(e instanceof kysely.AbortedTransactionError, e.message);
  else assert.equal(e.constructor.name, "AbortedTransactionError");
  assert.equal((await db.selectFrom("ky_people").where("name", "=", "lost").selectAll().execute()).length, 0);
  // The pool's connections are all usable afterwards.
  const ok = await Promise.all([1, 2, 3, 4].map((i) => sql`SELECT ${i}::int4 AS i`.execute(db)));
  assert.deepEqual(ok.map((r) => r.rows[0].i), [1, 2, 3, 4]);
});

test("kysely: .stream(1000) over 10,000 rows through the Cursor, and a stream stopped early", async () => {
  const q = db.selectFrom(sql`generate_series(1, 10000)`.as("g")).select(sql`g`.as("g"));
  let n = 0;
  let sum = 0;
  for await (const row of q.stream(1000)) {
    n += 1;
    sum += row.g;
  }
  assert.equal(n, 10000);
  assert.equal(sum, (10000 * 10001) / 2);
  const seen = [];
  for await (const row of q.stream(100)) {
    seen.push(row.g);
    if (seen.length === 250) break;
  }
  assert.equal(seen.length, 250);
  // The connection the stream used went back to the pool clean.
  const { rows } = await sql`SELECT 1 AS ok`.execute(db);
  assert.deepEqual(rows, [{ ok: 1 }]);
});
