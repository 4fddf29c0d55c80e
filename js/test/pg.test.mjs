// edgepg/pg against node-postgres's documented behaviour: call forms, result
// shapes, rowCount per command, scripts, default JS types, type parsers,
// errors with pg's fields, events, the pool, pg-cursor's Cursor, and bad input.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { readFileSync } from "node:fs";
import pg, { Client, Pool, Cursor, DatabaseError, types, neonConfig, escapeIdentifier, escapeLiteral } from "edgepg/pg";
import { PostgresError } from "edgepg";
import { dsn, opts, unhandled, wsPort, env, port, db } from "./helpers.mjs";

const config = () => ({ connectionString: dsn(), ...opts() });

const client = new Client(config());
await client.connect();
await client.query(`DROP TABLE IF EXISTS pg_items; DROP TABLE IF EXISTS pg_owners;
  CREATE TABLE pg_owners (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
  CREATE TABLE pg_items (id serial PRIMARY KEY, owner int REFERENCES pg_owners(id), label varchar(20), n int8)`);

after(async () => {
  await client.query("DROP TABLE IF EXISTS pg_items; DROP TABLE IF EXISTS pg_owners");
  await client.end();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

test("default export and named exports are the same objects, like pg's", () => {
  assert.equal(pg.Client, Client);
  assert.equal(pg.Pool, Pool);
  assert.equal(Pool.name, "Pool"); // drizzle picks its pooled transactions by this name
  assert.equal(pg.types, types);
  assert.equal(typeof client.processID, "number");
});

test("result shape: command, rowCount, oid, rows, fields with table and column ids", async () => {
  const ins = await client.query("INSERT INTO pg_owners (name) VALUES ($1), ($2) RETURNING id, name", ["ann", "bob"]);
  assert.equal(ins.command, "INSERT");
  assert.equal(ins.rowCount, 2);
  assert.equal(ins.oid, 0);
  assert.deepEqual(ins.rows.map((r) => r.name), ["ann", "bob"]);
  const { rows: [tbl] } = await client.query("SELECT 'pg_owners'::regclass::oid::int4 AS oid");
  assert.deepEqual(ins.fields.map((f) => [f.name, f.tableID, f.columnID, f.dataTypeID, f.dataTypeSize, f.dataTypeModifier]), [
    ["id", tbl.oid, 1, 23, 4, -1],
    ["name", tbl.oid, 2, 25, -1, -1],
  ]);
  const v = await client.query("SELECT 'x'::varchar(20) AS v");
  assert.equal(v.fields[0].dataTypeModifier, 24); // varchar(20): n + 4
  assert.equal(v.fields[0].tableID, 0);
  assert.ok(["text", "binary"].includes(v.fields[0].format));
});

test("rowCount per command, as pg reads the command tag", async () => {
  await client.query("INSERT INTO pg_items (owner, label, n) SELECT id, name, id FROM pg_owners");
  const sel = await client.query("SELECT * FROM pg_items");
  assert.equal(sel.command, "SELECT");
  assert.equal(sel.rowCount, sel.rows.length);
  const upd = await client.query("UPDATE pg_items SET n = n + 1 WHERE n > $1", [0]);
  assert.deepEqual([upd.command, upd.rowCount, upd.oid, upd.rows], ["UPDATE", 2, null, []]);
  const del = await client.query("DELETE FROM pg_items WHERE label = 'nobody'");
  assert.deepEqual([del.command, del.rowCount], ["DELETE", 0]);
  const ddl = await client.query("CREATE TEMP TABLE pg_tmp (a int)");
  assert.deepEqual([ddl.command, ddl.rowCount, ddl.rows, ddl.fields], ["CREATE", null, [], []]);
  const empty = await client.query("");
  assert.equal(empty.command, null);
  assert.deepEqual(empty.rows, []);
  assert.equal(typeof (await client.query("SELECT 1")).rowCount, "number");
});

test("a script of several statements gives an array of results; with values, one statement", async () => {
  const rs = await client.query("CREATE TEMP TABLE pg_s (a int); INSERT INTO pg_s VALUES (1), (2); SELECT a FROM pg_s ORDER BY a; UPDATE pg_s SET a = a * 10");
  assert.ok(Array.isArray(rs));
  assert.deepEqual(rs.map((r) => [r.command, r.rowCount]), [["CREATE", null], ["INSERT", 2], ["SELECT", 2], ["UPDATE", 2]]);
  assert.deepEqual(rs[2].rows, [{ a: 1 }, { a: 2 }]);
  await assert.rejects(client.query("SELECT 1; SELECT 2", [1]), (e) => e instanceof DatabaseError && e.code === "42601");
});

test("call forms: text, text+values, config, config+values (drizzle), rowMode array, callbacks", async () => {
  assert.deepEqual((await client.query("SELECT 1 AS a")).rows, [{ a: 1 }]);
  assert.deepEqual((await client.query("SELECT $1::int4 AS a", [2])).rows, [{ a: 2 }]);
  assert.deepEqual((await client.query({ text: "SELECT $1::int4 AS a", values: [3] })).rows, [{ a: 3 }]);
  assert.deepEqual((await client.query({ text: "SELECT $1::int4 AS a, 'b' AS b", rowMode: "array" }, [4])).rows, [[4, "b"]]);
  const arr = await client.query({ text: "SELECT 1 AS a, 2 AS a", rowMode: "array" });
  assert.deepEqual(arr.rows, [[1, 2]]);
  assert.deepEqual(arr.fields.map((f) => f.name), ["a", "a"]);
  const viaCallback = await new Promise((resolve, reject) => {
    const r = client.query("SELECT $1::text AS t", ["cb"], (err, res) => (err ? reject(err) : resolve(res)));
    assert.equal(r, undefined);
  });
  assert.deepEqual(viaCallback.rows, [{ t: "cb" }]);
  const cbError = await new Promise((resolve) => client.query("SELECT 1/0", (err) => resolve(err)));
  assert.equal(cbError.code, "22012");
  // toPostgres() on an argument, as pg calls it.
  const custom = { toPostgres: () => "from-toPostgres" };
  assert.deepEqual((await client.query("SELECT $1::text AS t", [custom])).rows, [{ t: "from-toPostgres" }]);
});

test("a statement without values: text results the first time, binary from the statement cache after, same values", async () => {
  const sql = "SELECT 42::int8 AS n, 1.5::numeric AS d, '2024-01-02 03:04:05+00'::timestamptz AS t, '\\x01'::bytea AS b";
  const first = await client.query(sql);
  const second = await client.query(sql);
  assert.deepEqual(first.fields.map((f) => f.format), ["text", "text", "text", "text"]);
  assert.deepEqual(second.fields.map((f) => f.format), ["binary", "binary", "binary", "binary"]);
  assert.deepEqual(second.rows, first.rows);
  assert.deepEqual(second.rows[0].n, "42");
});

test("pg's timeouts: statement_timeout (a server setting), query_timeout (client side, connection usable after)", async () => {
  const c = new Client({ ...config(), statement_timeout: 100, query_timeout: 2000 });
  await c.connect();
  try {
    assert.deepEqual((await c.query("SHOW statement_timeout")).rows, [{ statement_timeout: "100ms" }]);
    const e = await c.query("SELECT pg_sleep(1)").catch((err) => err);
    assert.equal(e.code, "57014");
  } finally {
    await c.end();
  }
  const q = new Client(config());
  await q.connect();
  try {
    const t0 = Date.now();
    const e = await q.query({ text: "SELECT pg_sleep(5)", query_timeout: 100 }).catch((err) => err);
    assert.ok(e instanceof Error && /timeout/i.test(e.message), String(e));
    assert.ok(Date.now() - t0 < 3000, "rejected by the timeout, not after the sleep");
    assert.deepEqual((await q.query("SELECT 1 AS ok")).rows, [{ ok: 1 }]);
  } finally {
    await q.end();
  }
});

test("named statements: prepared once, run many times", async () => {
  for (let i = 0; i < 3; i++) {
    const r = await client.query({ name: "pg-named", text: "SELECT $1::int4 * 2 AS d", values: [i] });
    assert.deepEqual(r.rows, [{ d: i * 2 }]);
  }
  const noArgs = await client.query({ name: "pg-named-0", text: "SELECT 5 AS f" });
  assert.deepEqual(noArgs.rows, [{ f: 5 }]);
  await assert.rejects(client.query({ name: "pg-named", text: "SELECT 2" }), /Prepared statements must be unique/);
});

test("pg's default JS types, through both protocols", async () => {
  const sql = `SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8, 1.5::float8 AS f8,
    12345678901234567890.5::numeric AS n, true AS b, 'héllo' AS t, '\\x00ff'::bytea AS by, '{"a":[1]}'::json AS j,
    '{"b":2}'::jsonb AS jb, '2024-02-29 12:34:56.789+02'::timestamptz AS tz, '2024-02-29'::date AS d,
    '2024-02-29 12:34:56.789'::timestamp AS ts, ARRAY[1,2]::int8[] AS i8a, ARRAY[[1,2],[3,NULL]]::int4[] AS i4a,
    ARRAY['a','b"c']::text[] AS ta, NULL::int4 AS nul, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u,
    '-9223372036854775808'::int8 AS i8min, '9223372036854775807'::int8 AS i8max`;
  const simple = (await client.query(sql)).rows[0];
  const extended = (await client.query(sql + " WHERE $1::int4 = 1", [1])).rows[0];
  for (const row of [simple, extended]) {
    assert.equal(row.i2, 1);
    assert.equal(row.i4, 2);
    assert.equal(row.i8, "9007199254740993");
    assert.equal(row.i8min, "-9223372036854775808");
    assert.equal(row.i8max, "9223372036854775807");
    assert.equal(row.f8, 1.5);
    assert.equal(row.n, "12345678901234567890.5");
    assert.equal(row.b, true);
    assert.equal(row.t, "héllo");
    assert.ok(Buffer.isBuffer(row.by));
    assert.deepEqual([...row.by], [0, 255]);
    assert.deepEqual(row.j, { a: [1] });
    assert.deepEqual(row.jb, { b: 2 });
    assert.equal(row.tz.toISOString(), "2024-02-29T10:34:56.789Z");
    // date and timestamp are local time in pg; the tests run on UTC.
    assert.equal(row.d.getTime(), new Date(2024, 1, 29).getTime());
    assert.equal(row.ts.getTime(), new Date(2024, 1, 29, 12, 34, 56, 789).getTime());
    assert.deepEqual(row.i8a, ["1", "2"]);
    assert.deepEqual(row.i4a, [[1, 2], [3, null]]);
    assert.deepEqual(row.ta, ["a", 'b"c']);
    assert.equal(row.nul, null);
    assert.equal(row.u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  }
});

test("type parsers: global setTypeParser, per query types (getTypeParser(oid, 'text')), client types", async () => {
  const seen = [];
  const defaultNumeric = types.getTypeParser(1700);
  const defaultTz = types.getTypeParser(1184, "text");
  types.setTypeParser(1700, (text) => { seen.push(text); return Number(text); });
  types.setTypeParser(types.builtins.TIMESTAMPTZ, "text", (text) => `tz:${text}`);
  try {
    const r = await client.query("SELECT 1.25::numeric AS n, NULL::numeric AS z, '2024-01-02 03:04:05.678+00'::timestamptz AS t, 7::int4 AS i");
    assert.deepEqual(r.rows, [{ n: 1.25, z: null, t: "tz:2024-01-02 03:04:05.678+00", i: 7 }]);
    assert.deepEqual(seen, ["1.25"], "a parser never sees NULL");
    const x = await client.query("SELECT $1::numeric AS n, $2::timestamptz AS t", ["2.5", new Date(Date.UTC(2024, 0, 2))]);
    assert.deepEqual(x.rows, [{ n: 2.5, t: "tz:2024-01-02 00:00:00+00" }]);
    assert.equal(types.getTypeParser(1700)("3"), 3);
  } finally {
    types.setTypeParser(1700, defaultNumeric);
    types.setTypeParser(1184, defaultTz);
  }
  const back = (await client.query("SELECT 1.5::numeric AS n, '2024-01-02 00:00:00+00'::timestamptz AS t")).rows[0];
  assert.equal(back.n, "1.5", "the default parser set back: numeric as a string again");
  assert.ok(back.t instanceof Date);
  // A query's own parsers (drizzle's shape).
  const perQuery = {
    getTypeParser(oid, format) {
      assert.equal(format, "text");
      if (oid === 1184 || oid === 1082 || oid === 1114) return (v) => v; // raw strings, as drizzle asks
      if (oid === 23) return (v) => `int:${v}`;
      return types.getTypeParser(oid, format);
    },
  };
  const q = await client.query({
    text: "SELECT '2024-05-06 07:08:09.123456+00'::timestamptz AS t, '2024-05-06'::date AS d, '2024-05-06 07:08:09'::timestamp AS ts, $1::int4 AS i, 'x' AS s",
    types: perQuery,
  }, [5]);
  assert.deepEqual(q.rows, [{ t: "2024-05-06 07:08:09.123456+00", d: "2024-05-06", ts: "2024-05-06 07:08:09", i: "int:5", s: "x" }]);
  const withTypes = new Client({ ...config(), types: perQuery });
  await withTypes.connect();
  try {
    assert.deepEqual((await withTypes.query("SELECT 3::int4 AS i")).rows, [{ i: "int:3" }]);
  } finally {
    await withTypes.end();
  }
});

test("errors have pg's shape: DatabaseError with code, detail, constraint, table, position as a string", async () => {
  const dup = await client.query("INSERT INTO pg_owners (name) VALUES ('ann')").catch((e) => e);
  assert.ok(dup instanceof DatabaseError);
  assert.ok(dup instanceof PostgresError);
  assert.ok(dup instanceof Error);
  assert.equal(dup.name, "error");
  assert.equal(dup.code, "23505");
  assert.equal(dup.severity, "ERROR");
  assert.equal(dup.detail, "Key (name)=(ann) already exists.");
  assert.equal(dup.constraint, "pg_owners_name_key");
  assert.equal(dup.table, "pg_owners");
  assert.equal(dup.schema, "public");
  assert.match(dup.message, /duplicate key value/);
  const syntax = await client.query("SELECT nope FROM pg_owners").catch((e) => e);
  assert.equal(syntax.code, "42703");
  assert.equal(syntax.position, "8");
  const fk = await client.query("INSERT INTO pg_items (owner) VALUES ($1)", [999]).catch((e) => e);
  assert.equal(fk.code, "23503");
  assert.equal(fk.constraint, "pg_items_owner_fkey");
  // The client is still usable after every error.
  assert.deepEqual((await client.query("SELECT 1 AS ok")).rows, [{ ok: 1 }]);
});

test("bad input: unencodable argument, throwing parser, then the connection still works", async () => {
  const bad = await client.query("SELECT $1::int4 AS a", ["not a number"]).catch((e) => e);
  assert.ok(bad instanceof DatabaseError);
  assert.equal(bad.code, "22P02");
  const sym = await client.query("SELECT $1::text AS a", [Symbol("s")]).catch((e) => e);
  assert.ok(sym instanceof Error);
  assert.match(sym.message, /argument \$1/);
  const big = await client.query("SELECT $1::int4 AS a", [2 ** 40]).catch((e) => e);
  assert.ok(big instanceof Error, "an int4 argument out of range is an error, not a wrapped value");
  const throwing = { getTypeParser: (oid) => (oid === 23 ? () => { throw new Error("parser broke"); } : types.getTypeParser(oid)) };
  const thrown = await client.query({ text: "SELECT 1::int4 AS a", types: throwing }).catch((e) => e);
  assert.ok(thrown instanceof Error);
  assert.match(thrown.message, /parser broke/);
  assert.deepEqual((await client.query("SELECT $1::int4 AS a", [1])).rows, [{ a: 1 }]);
  await assert.rejects(client.query(null), TypeError);
  await assert.rejects(client.query("SELECT $1::int4", "not an array"), TypeError);
});

test("events: notice, and error + end when the server goes away", async () => {
  const c = new Client(config());
  const events = [];
  c.on("connect", () => events.push("connect"));
  await c.connect();
  const notice = new Promise((resolve) => c.once("notice", resolve));
  await c.query("DO $$ BEGIN RAISE NOTICE 'hello %', 42; END $$");
  const n = await notice;
  assert.equal(n.message, "hello 42");
  assert.equal(n.severity, "NOTICE");
  const gone = new Promise((resolve) => c.on("error", (e) => { events.push("error"); c.once("end", () => resolve(e)); }));
  await client.query("SELECT pg_terminate_backend($1)", [c.processID]);
  const err = await gone;
  assert.ok(err instanceof Error);
  assert.deepEqual(events, ["connect", "error"]);
  await assert.rejects(c.query("SELECT 1"));
});

test("events: notification after LISTEN, from another session", async () => {
  const c = new Client(config());
  await c.connect();
  try {
    const got = new Promise((resolve) => c.once("notification", resolve));
    await c.query('LISTEN "pg chan"');
    await client.query(`NOTIFY "pg chan", 'payload 1'`);
    const n = await got;
    assert.equal(n.channel, "pg chan");
    assert.equal(n.payload, "payload 1");
    assert.equal(typeof n.processId, "number");
    assert.notEqual(n.processId, c.processID);
  } finally {
    await c.end();
  }
});

test("queries made while connect() runs wait for it, as in pg; before connect() they fail clearly", async () => {
  const c = new Client(config());
  await assert.rejects(c.query("SELECT 1"), /not connected/);
  const connecting = c.connect();
  const early = c.query("SELECT 'early' AS s");
  await connecting;
  assert.deepEqual((await early).rows, [{ s: "early" }]);
  await c.end();
  await assert.rejects(c.query("SELECT 1"), /closed/);
});

test("a Client without an error listener whose connection dies does not crash the process", async () => {
  const c = new Client(config());
  await c.connect();
  const ended = new Promise((resolve) => c.once("end", resolve));
  await client.query("SELECT pg_terminate_backend($1)", [c.processID]);
  await ended;
});

test("escapeIdentifier and escapeLiteral", async () => {
  assert.equal(escapeIdentifier('we"ird'), '"we""ird"');
  assert.equal(escapeLiteral("it's"), "'it''s'");
  assert.equal(escapeLiteral("back\\slash 'q'"), " E'back\\\\slash ''q'''");
  assert.equal(client.escapeIdentifier("a"), '"a"');
  const lit = "x'y\\z";
  const { rows } = await client.query(`SELECT ${escapeLiteral(lit)} AS ${escapeIdentifier("Col \"1\"")}`);
  assert.deepEqual(rows, [{ 'Col "1"': lit }]);
});

test("Pool: query, connect/release, counts, events, transactions on one client", async () => {
  const pool = new Pool({ ...config(), max: 2 });
  const events = [];
  for (const e of ["connect", "acquire", "release", "remove"]) pool.on(e, () => events.push(e));
  assert.deepEqual((await pool.query("SELECT $1::int4 AS a", [1])).rows, [{ a: 1 }]);
  const rs = await pool.query("SELECT 1 AS a; SELECT 2 AS b");
  assert.equal(rs.length, 2);
  const c1 = await pool.connect();
  const c2 = await pool.connect();
  assert.equal(pool.totalCount, 2);
  assert.equal(pool.idleCount, 0);
  const third = pool.connect();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(pool.waitingCount, 1);
  await c1.query("BEGIN");
  await c1.query("INSERT INTO pg_owners (name) VALUES ('tx')");
  await c1.query("ROLLBACK");
  c1.release();
  const c3 = await third;
  assert.equal(pool.waitingCount, 0);
  assert.equal((await c3.query("SELECT count(*)::int4 AS n FROM pg_owners WHERE name = 'tx'")).rows[0].n, 0);
  c3.release();
  c2.release(new Error("broken")); // destroyed, not reused
  assert.ok(events.includes("connect") && events.includes("acquire") && events.includes("release") && events.includes("remove"), events.join());
  // An idle pooled connection killed by the server: no error listener, no crash; the pool goes on.
  const c4 = await pool.connect();
  const pid = c4.processID;
  c4.release();
  await client.query("SELECT pg_terminate_backend($1)", [pid]);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual((await pool.query("SELECT 7 AS s")).rows, [{ s: 7 }]);
  await pool.end();
  assert.equal(pool.ended, true);
});

test("bad input on the pool: a released client used again, double release, query after end", async () => {
  const pool = new Pool(config());
  const c = await pool.connect();
  c.release();
  await assert.rejects(c.query("SELECT 1"), /released to the pool/);
  assert.throws(() => c.release(), /already been released/);
  await pool.end();
  await assert.rejects(pool.query("SELECT 1"), /after calling end on the pool/);
  await assert.rejects(pool.connect(), /after calling end on the pool/);
});

test("bad input: a global type parser that throws rejects that query only; the connection stays usable", async () => {
  const before = types.getTypeParser(types.builtins.NUMERIC);
  types.setTypeParser(types.builtins.NUMERIC, () => { throw new Error("numeric parser broke"); });
  try {
    const e = await client.query("SELECT 1.5::numeric AS n").catch((err) => err);
    assert.ok(e instanceof Error);
    assert.match(e.message, /numeric parser broke/);
    assert.match(e.message, /OID 1700/);
    // Same connection, a statement without that type, then the same statement once the parser is set back.
    assert.deepEqual((await client.query("SELECT 2::int4 AS i")).rows, [{ i: 2 }]);
  } finally {
    types.setTypeParser(types.builtins.NUMERIC, before);
  }
  assert.deepEqual((await client.query("SELECT 1.5::numeric AS n")).rows, [{ n: "1.5" }]);
});

test("the same statement text after its table changed: rows and fields follow the new columns", async () => {
  await client.query("DROP TABLE IF EXISTS pg_shape; CREATE TABLE pg_shape (a int4); INSERT INTO pg_shape VALUES (1)");
  try {
    const sql = "SELECT * FROM pg_shape";
    assert.deepEqual((await client.query(sql)).rows, [{ a: 1 }]);
    assert.deepEqual((await client.query(sql)).rows, [{ a: 1 }]); // from the statement cache
    // Run again, the core leaves names, types and fields out (the shape is known): the same result.
    for (let i = 0; i < 2; i++) {
      const again = await client.query({ text: sql, rowMode: "array" });
      assert.deepEqual(again.rows, [[1]]);
      assert.deepEqual(again.fields.map((f) => [f.name, f.dataTypeID, f.tableID > 0, f.columnID, f.format]), [["a", 23, true, 1, "binary"]]);
    }
    await client.query("ALTER TABLE pg_shape RENAME COLUMN a TO b");
    const renamed = await client.query(sql);
    assert.deepEqual(renamed.rows, [{ b: 1 }]);
    assert.deepEqual(renamed.fields.map((f) => f.name), ["b"]);
    await client.query("ALTER TABLE pg_shape ADD COLUMN c text DEFAULT 'x'");
    const added = await client.query(sql);
    assert.deepEqual(added.rows, [{ b: 1, c: "x" }]);
    assert.deepEqual(added.fields.map((f) => [f.name, f.dataTypeID]), [["b", 23], ["c", 25]]);
    await client.query("ALTER TABLE pg_shape ALTER COLUMN b TYPE int8");
    assert.deepEqual((await client.query(sql)).rows, [{ b: "1", c: "x" }]);
    // Rows of one result are separate objects; changing one changes no other result.
    const r1 = await client.query(sql);
    r1.rows[0].b = "changed";
    r1.fields[0].name = "changed";
    const r2 = await client.query(sql);
    assert.deepEqual(r2.rows, [{ b: "1", c: "x" }]);
    assert.equal(r2.fields[0].name, "b");
  } finally {
    await client.query("DROP TABLE IF EXISTS pg_shape");
  }
});

test("Pool: sessions are not reset on release (pg's semantics), an open transaction still is rolled back", async () => {
  const pool = new Pool({ ...config(), max: 1 });
  try {
    const c1 = await pool.connect();
    const pid = c1.processID;
    await c1.query("SET application_name = 'kept by pg semantics'");
    await c1.query("CREATE TEMP TABLE pg_session_tmp (a int)");
    await c1.query("BEGIN");
    await c1.query("INSERT INTO pg_owners (name) VALUES ('left open')");
    c1.release(); // inside a transaction: must not reach the next borrower
    const c2 = await pool.connect();
    assert.equal(c2.processID, pid, "max: 1 lends the same connection again");
    assert.deepEqual((await c2.query("SHOW application_name")).rows, [{ application_name: "kept by pg semantics" }]);
    assert.deepEqual((await c2.query("SELECT count(*)::int4 AS n FROM pg_session_tmp")).rows, [{ n: 0 }], "temp table kept");
    assert.deepEqual((await c2.query("SELECT count(*)::int4 AS n FROM pg_owners WHERE name = 'left open'")).rows, [{ n: 0 }]);
    // Not in a transaction any more: a statement that cannot run inside one works.
    await c2.query("VACUUM pg_session_tmp");
    c2.release();
    // pool.query borrows the same connection, session included.
    assert.deepEqual((await pool.query("SHOW application_name")).rows, [{ application_name: "kept by pg semantics" }]);
  } finally {
    await pool.end();
  }
  // reset: true asks for edgepg's reset on release.
  const cleaning = new Pool({ ...config(), max: 1, reset: true });
  try {
    const c = await cleaning.connect();
    await c.query("SET application_name = 'cleaned'");
    c.release();
    const { rows: [{ application_name: app }] } = await cleaning.query("SHOW application_name");
    assert.notEqual(app, "cleaned");
  } finally {
    await cleaning.end();
  }
});

test("Pool: a lent client and an idle one whose connections die, with no error listener anywhere, crash nothing", async () => {
  const pool = new Pool({ ...config(), max: 2 });
  const uncaught = [];
  const onUncaught = (e) => uncaught.push(e);
  process.on("uncaughtException", onUncaught);
  try {
    const held = await pool.connect();
    const idle = await pool.connect();
    const idlePid = idle.processID;
    idle.release();
    // Both killed by the server: one lent (no query running), one idle in the pool.
    await client.query("SELECT pg_terminate_backend($1), pg_terminate_backend($2)", [held.processID, idlePid]);
    await new Promise((r) => setTimeout(r, 100));
    const e = await held.query("SELECT 1").catch((err) => err);
    assert.ok(e instanceof Error, "the dead lent client's query rejects");
    held.release(e);
    // The pool replaces both and goes on.
    const results = await Promise.all([pool.query("SELECT 1 AS a"), pool.query("SELECT 2 AS a")]);
    assert.deepEqual(results.map((r) => r.rows[0].a), [1, 2]);
  } finally {
    await pool.end();
    process.off("uncaughtException", onUncaught);
  }
  assert.deepEqual(uncaught, []);
});

test("Cursor (pg-cursor): returned synchronously, read(n) until [], outside and inside a transaction", async () => {
  const pool = new Pool(config());
  const c = await pool.connect();
  try {
    const cursor = c.query(new Cursor("SELECT g AS n FROM generate_series(1, $1::int4) g", [25]));
    assert.ok(cursor instanceof Cursor);
    const got = [];
    for (;;) {
      const rows = await cursor.read(10);
      if (rows.length === 0) break;
      got.push(...rows.map((r) => r.n));
    }
    assert.deepEqual(got, Array.from({ length: 25 }, (_, i) => i + 1));
    await cursor.close();
    assert.equal((await c.query("SELECT 1 AS x")).rows[0].x, 1, "usable after the cursor");
    await c.query("BEGIN");
    const inTx = c.query(new Cursor("SELECT 'a'::text AS s UNION ALL SELECT 'b'", [], { rowMode: "array" }));
    assert.deepEqual(await inTx.read(5), [["a"], ["b"]]);
    assert.deepEqual(await inTx.read(5), []);
    await inTx.close();
    await c.query("COMMIT");
    // BEGIN not awaited: the cursor still joins that transaction, and does not commit it.
    const begin = c.query("BEGIN");
    const joined = c.query(new Cursor("SELECT 1 AS one"));
    await begin;
    assert.deepEqual(await joined.read(5), [{ one: 1 }]);
    await joined.close();
    await c.query("INSERT INTO pg_owners (name) VALUES ('cursor-tx')");
    await c.query("ROLLBACK");
    assert.equal((await c.query("SELECT count(*)::int4 AS n FROM pg_owners WHERE name = 'cursor-tx'")).rows[0].n, 0);
    const failing = c.query(new Cursor("SELECT 1/0"));
    await assert.rejects(failing.read(1), (e) => e.code === "22012");
    await failing.close();
    assert.equal((await c.query("SELECT 2 AS x")).rows[0].x, 2);
  } finally {
    c.release();
    await pool.end();
  }
});

test("pg's config fields over direct TCP: host/port/user/password/database, ssl with a CA verifies the server", async () => {
  const base = { host: "localhost", port: Number(port), user: "edgepg", password: "edgepg_pw", database: db, transport: "tcp" };
  const verified = new Client({ ...base, ssl: { ca: readFileSync(env.EDGEPG_TEST_CA) } });
  await verified.connect();
  try {
    assert.deepEqual((await verified.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows, [{ ssl: true }]);
  } finally {
    await verified.end();
  }
  const wrongCa = new Client({ ...base, ssl: { ca: readFileSync(env.EDGEPG_TEST_WRONG_CA) } });
  await assert.rejects(wrongCa.connect());
  const plain = new Client({ ...base, ssl: false });
  await plain.connect();
  try {
    assert.deepEqual((await plain.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).rows, [{ ssl: false }]);
  } finally {
    await plain.end();
  }
});

test("Neon's settings: neonConfig defaults for every client, pipelineConnect accepted", async () => {
  Object.assign(neonConfig, { wsProxy: `127.0.0.1:${wsPort}/v1`, useSecureWebSocket: false, webSocketConstructor: WebSocket, pipelineConnect: "password" });
  try {
    const pool = new Pool({ connectionString: dsn("pw_user", "pw_pw") });
    assert.deepEqual((await pool.query("SELECT current_user AS u")).rows, [{ u: "pw_user" }]);
    await pool.end();
    const c = new Client(dsn());
    await c.connect();
    assert.deepEqual((await c.query("SELECT 1 AS one")).rows, [{ one: 1 }]);
    await c.end();
    const wrong = new Client(dsn("pw_user", "nope"));
    await assert.rejects(wrong.connect(), (e) => e instanceof DatabaseError && e.code === "28P01");
  } finally {
    for (const k of Object.keys(neonConfig)) delete neonConfig[k];
  }
});

// CommonJS applications (NestJS, older Express apps, Prisma's generated
// client) `require` their driver: edgepg/pg and edgepg/prisma have CommonJS
// entries sharing the one .wasm instance and error classes of
// `require("edgepg")`. Run in a child process that is CommonJS for real.
test("CommonJS: require('edgepg/pg') and require('edgepg/prisma'), drizzle over it", async () => {
  const { execFileSync } = await import("node:child_process");
  const { writeFileSync, rmSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  const script = fileURLToPath(new URL("./pg-require.cjs", import.meta.url));
  writeFileSync(script, `
const assert = require("node:assert/strict");
const pg = require("edgepg/pg");
const { Pool, Client, DatabaseError, types } = require("edgepg/pg");
const { PostgresError } = require("edgepg");
const { PrismaPg, PrismaEdgepg } = require("edgepg/prisma");
const { drizzle } = require("drizzle-orm/node-postgres");
const { sql } = require("drizzle-orm");
(async () => {
  assert.equal(pg.Pool, Pool);
  assert.equal(pg.default.Client, Client);
  assert.equal(typeof types.getTypeParser(20, "text"), "function");
  assert.equal(PrismaPg, PrismaEdgepg);
  // TypeScript compiled to CommonJS (esModuleInterop, NestJS's default):
  // \`import X from "m"\` becomes __importDefault(require("m")).default,
  // which is module.exports itself unless the module says __esModule.
  const importDefault = (m) => (m && m.__esModule ? m : { default: m });
  assert.equal(importDefault(require("edgepg/prisma")).default, PrismaPg);
  assert.equal(importDefault(require("edgepg/pg")).default.Client, Client);
  const config = JSON.parse(process.env.PG_CONFIG);
  if (config.wsProxy) config.webSocketConstructor = require("ws"); // Node 20 has no global WebSocket
  const client = new Client(config);
  await client.connect();
  const r = await client.query("SELECT $1::int8 AS n, 'é' AS s", [41]);
  assert.deepEqual(r.rows, [{ n: "41", s: "é" }]);
  const e = await client.query("SELECT 1 / 0").catch((e) => e);
  assert.ok(e instanceof DatabaseError && e instanceof PostgresError, "one set of error classes");
  assert.equal(e.code, "22012");
  await client.end();
  const pool = new Pool({ ...config, max: 2 });
  const db = drizzle(pool);
  const rows = await db.execute(sql\`SELECT \${7}::int4 * 6 AS answer\`);
  assert.equal(rows.rows[0].answer, 42);
  await pool.end();
  new PrismaPg(config);
  console.log("cjs ok");
})().catch((e) => { console.error(e); process.exit(1); });
`);
  try {
    const config = { connectionString: dsn(), ...(opts().transport === "tcp" ? {} : { wsProxy: opts().wsProxy, useSecureWebSocket: false }) };
    const out = execFileSync(process.execPath, [script], { env: { ...process.env, PG_CONFIG: JSON.stringify(config) }, encoding: "utf8" });
    assert.match(out, /cjs ok/);
  } finally {
    rmSync(script, { force: true });
  }
});
