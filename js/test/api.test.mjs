import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  connect, createPool, PostgresError, EdgepgError, AbortError, TimeoutError, ConversionError, InterfaceError,
} from "edgepg";
import { dsn, opts, unhandled } from "./helpers.mjs";

const conn = await connect(dsn(), opts());
after(async () => {
  await conn.close();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

test("type mapping of results", async () => {
  const row = await conn.fetchrow(`SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8, 26::oid AS o,
    1.5::float4 AS f4, 2.25::float8 AS f8, 12345678901234567890.123::numeric AS n, true AS b, 'héllo'::text AS t,
    'v'::varchar AS v, 'nm'::name AS nm, 'c'::char(3) AS ch, '\\x00ff'::bytea AS by, '{"a":[1,"x",null]}'::json AS j,
    '[1,2]'::jsonb AS jb, '2024-02-29'::date AS d, '2024-02-29 12:34:56.789'::timestamp AS ts,
    '2024-02-29 12:34:56.789+02'::timestamptz AS tz, '12:34:56'::time AS tm, '1 day 02:00:00'::interval AS iv,
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, ARRAY[[1,2],[3,NULL]]::int4[] AS arr, ARRAY['a','b"c']::text[] AS tarr,
    '{}'::int4[] AS earr, NULL::int4 AS nul, 'infinity'::timestamptz AS inf, '192.168.0.1/24'::inet AS ip`);
  assert.equal(row.i2, 1);
  assert.equal(row.i4, 2);
  assert.equal(row.i8, 9007199254740993n);
  assert.equal(row.o, 26);
  assert.equal(row.f4, 1.5);
  assert.equal(row.f8, 2.25);
  assert.equal(row.n, "12345678901234567890.123");
  assert.equal(row.b, true);
  assert.equal(row.t, "héllo");
  assert.equal(row.v, "v");
  assert.equal(row.nm, "nm");
  assert.equal(row.ch, "c  ");
  assert.deepEqual(row.by, new Uint8Array([0, 255]));
  assert.deepEqual(row.j, { a: [1, "x", null] });
  assert.deepEqual(row.jb, [1, 2]);
  assert.ok(row.d instanceof Date);
  assert.equal(row.d.toISOString(), "2024-02-29T00:00:00.000Z");
  assert.equal(row.ts.toISOString(), "2024-02-29T12:34:56.789Z");
  assert.equal(row.tz.toISOString(), "2024-02-29T10:34:56.789Z");
  assert.equal(row.tm, "12:34:56");
  assert.equal(typeof row.iv, "string");
  assert.equal(row.u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  assert.deepEqual(row.arr, [[1, 2], [3, null]]);
  assert.deepEqual(row.tarr, ["a", 'b"c']);
  assert.deepEqual(row.earr, []);
  assert.equal(row.nul, null);
  assert.equal(row.inf, Infinity);
  assert.equal(row.ip, "192.168.0.1/24");
});

test("many rows: every column kind with NULLs in varied places, non-ASCII text, arrayMode", async () => {
  // Results travel column by column (one typed array or one string per
  // column); this checks the unpacking row by row against the server's own
  // text form of each value.
  const sql = `SELECT i,
      CASE WHEN i % 3 = 0 THEN NULL ELSE i::int4 END AS i4,
      CASE WHEN i % 4 = 1 THEN NULL ELSE i::int8 * 1000000007 END AS i8,
      CASE WHEN i % 5 = 2 THEN NULL ELSE i / 4.0 END::float8 AS f8,
      CASE WHEN i % 2 = 0 THEN NULL ELSE i % 3 = 0 END AS b,
      CASE WHEN i % 6 = 5 THEN NULL ELSE repeat(chr(127 + i * 331 % 40000), i % 4) || 'x😀' || i END AS t,
      CASE WHEN i % 7 = 3 THEN NULL ELSE (i * 1.5)::numeric END AS n,
      CASE WHEN i % 3 = 1 THEN NULL ELSE json_build_object('i', i, 's', 'é' || i) END AS j,
      CASE WHEN i % 4 = 2 THEN NULL ELSE decode(lpad(to_hex(i), 4, '0'), 'hex') END AS by,
      CASE WHEN i % 5 = 4 THEN NULL ELSE timestamptz '2024-01-01 00:00:00+00' + i * interval '1.5 seconds' END AS ts,
      CASE WHEN i % 6 = 1 THEN NULL ELSE ARRAY[i, NULL] END AS arr,
      CASE WHEN i % 8 = 0 THEN NULL ELSE 'a' || i END::text AS last
    FROM generate_series(0, 499) AS i`;
  const rows = await conn.fetch(sql);
  assert.equal(rows.length, 500);
  const arrays = await conn.fetch(sql, [], { arrayMode: true });
  for (const [k, r] of rows.entries()) {
    const i = r.i;
    assert.equal(i, k);
    assert.equal(r.i4, i % 3 === 0 ? null : i);
    assert.equal(r.i8, i % 4 === 1 ? null : BigInt(i) * 1000000007n);
    assert.equal(r.f8, i % 5 === 2 ? null : i / 4);
    assert.equal(r.b, i % 2 === 0 ? null : i % 3 === 0);
    const ch = String.fromCodePoint(127 + ((i * 331) % 40000));
    assert.equal(r.t, i % 6 === 5 ? null : ch.repeat(i % 4) + "x😀" + i);
    assert.equal(r.n, i % 7 === 3 ? null : (i * 1.5).toFixed(1));
    assert.deepEqual(r.j, i % 3 === 1 ? null : { i, s: "é" + i });
    assert.deepEqual(r.by, i % 4 === 2 ? null : new Uint8Array([i >> 8, i & 255]));
    assert.deepEqual(r.ts, i % 5 === 4 ? null : new Date(Date.UTC(2024, 0, 1) + i * 1500));
    assert.deepEqual(r.arr, i % 6 === 1 ? null : [i, null]);
    assert.equal(r.last, i % 8 === 0 ? null : "a" + i);
    assert.deepEqual(arrays[k], Object.values(r));
  }
  // Dates inside arrays (arrays are converted value by value, not packed).
  const [d0, dinf] = await conn.fetchval("SELECT ARRAY['2024-01-02'::date, 'infinity'::date]");
  assert.equal(d0.toISOString(), "2024-01-02T00:00:00.000Z");
  assert.equal(dinf, Infinity);
  assert.deepEqual(await conn.fetchval("SELECT ARRAY['-infinity'::timestamptz, '2000-01-01 00:00:00.0015+00']"), [
    -Infinity,
    new Date(Date.UTC(2000, 0, 1, 0, 0, 0, 1)),
  ]);
  // A column named __proto__ is a plain property, not the row's prototype.
  const proto = await conn.fetchrow(`SELECT '{"polluted": true}'::json AS "__proto__", 2 AS a`);
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ["__proto__", "a"]);
  assert.equal(proto.polluted, undefined);
  assert.deepEqual(Object.getOwnPropertyDescriptor(proto, "__proto__").value, { polluted: true });
  // Zero rows, and zero columns.
  assert.deepEqual(await conn.fetch("SELECT 1 AS a WHERE false"), []);
  assert.deepEqual(await conn.fetch("SELECT FROM generate_series(1, 2)"), [{}, {}]);
  assert.equal(await conn.fetchval("SELECT NULL::text"), null);
});

test("int8 and date options, arrayMode", async () => {
  assert.equal(await conn.fetchval("SELECT 5::int8", [], { int8: "number" }), 5);
  assert.equal(await conn.fetchval("SELECT 5::int8", [], { int8: "string" }), "5");
  assert.equal(await conn.fetchval("SELECT '2024-01-02'::date", [], { dates: "string" }), "2024-01-02");
  assert.deepEqual(await conn.fetch("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'", [], { arrayMode: true }), [[1, "x"], [2, "y"]]);
  const c2 = await connect(dsn(), opts({ int8: "string", arrayMode: true }));
  assert.deepEqual(await c2.fetch("SELECT 7::int8"), [["7"]]);
  await c2.close();
  await assert.rejects(conn.fetch("SELECT 1", [], { int8: "float" }), InterfaceError);
});

test("parameters: JS values to PostgreSQL", async () => {
  const r = await conn.fetchrow(
    "SELECT $1::int4 AS a, $2::int8 AS b, $3::float8 AS c, $4::text AS d, $5::bool AS e, $6::bytea AS f, $7::jsonb AS g, $8::timestamptz AS h, $9::int4[] AS i, $10::numeric AS j, $11::int8 AS k, $12::text AS l",
    [41, 9007199254740993n, 1.25, "s", false, new Uint8Array([1, 2]), { x: [1, { y: null }] }, new Date("2020-01-01T00:00:00Z"), [[1, 2], [3, 4]], "1.10", "12", null],
  );
  assert.equal(r.a, 41);
  assert.equal(r.b, 9007199254740993n);
  assert.equal(r.c, 1.25);
  assert.equal(r.d, "s");
  assert.equal(r.e, false);
  assert.deepEqual(r.f, new Uint8Array([1, 2]));
  assert.deepEqual(r.g, { x: [1, { y: null }] });
  assert.equal(r.h.toISOString(), "2020-01-01T00:00:00.000Z");
  assert.deepEqual(r.i, [[1, 2], [3, 4]]);
  assert.equal(r.j, "1.10");
  assert.equal(r.k, 12n);
  assert.equal(r.l, null);
  await assert.rejects(conn.fetchval("SELECT $1::int2", [70000]), ConversionError);
  await assert.rejects(conn.fetchval("SELECT $1::int4", [1.5]), ConversionError);
});

test("execute, executemany, fetch, fetchrow, fetchval, prepare", async () => {
  assert.equal(await conn.execute("CREATE TEMP TABLE api_t (id int8 PRIMARY KEY, name text); SELECT 1"), "SELECT 1");
  assert.equal(await conn.execute("INSERT INTO api_t VALUES ($1, $2)", [1, "a"]), "INSERT 0 1");
  await conn.executemany("INSERT INTO api_t VALUES ($1, $2)", [[2, "b"], [3n, "c"]]);
  assert.deepEqual(await conn.fetch("SELECT id, name FROM api_t WHERE id > $1 ORDER BY id", [1]), [{ id: 2n, name: "b" }, { id: 3n, name: "c" }]);
  assert.deepEqual(await conn.fetchrow("SELECT name FROM api_t WHERE id = $1", [3]), { name: "c" });
  assert.equal(await conn.fetchrow("SELECT name FROM api_t WHERE id = $1", [99]), null);
  assert.equal(await conn.fetchval("SELECT count(*) FROM api_t"), 3n);
  const stmt = await conn.prepare("SELECT name FROM api_t WHERE id = $1");
  assert.deepEqual(stmt.parameters, [20]);
  assert.deepEqual(stmt.columns, [{ name: "name", typeOid: 25 }]);
  assert.equal(stmt.query, "SELECT name FROM api_t WHERE id = $1");
  assert.equal(await stmt.fetchval([2]), "b");
  assert.deepEqual(await stmt.fetch([1]), [{ name: "a" }]);
  assert.deepEqual(await stmt.fetchrow([1], { arrayMode: true }), ["a"]);
  const ins = await conn.prepare("INSERT INTO api_t VALUES ($1, $2)");
  await ins.executemany([[10, "x"], [11, "y"]]);
  assert.equal(await ins.execute([12, "z"]), "INSERT 0 1");
  // Concurrent calls pipeline and answer in order.
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.fetchval("SELECT $1::int4 * 2", [i])));
  assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i * 2));
  // A raw BEGIN/ROLLBACK still works alongside transaction().
  await conn.execute("BEGIN");
  assert.equal(conn.isInTransaction(), true);
  await conn.execute("INSERT INTO api_t VALUES (20, 'tx')");
  await conn.execute("ROLLBACK");
  assert.equal(conn.isInTransaction(), false);
  assert.equal(await conn.fetchval("SELECT count(*) FROM api_t WHERE id = 20"), 0n);
});

test("PostgresError carries every field", async () => {
  await conn.execute("CREATE TEMP TABLE err_t (id int PRIMARY KEY)");
  await conn.execute("INSERT INTO err_t VALUES (1)");
  const e = await conn.execute("INSERT INTO err_t VALUES ($1)", [1]).catch((e) => e);
  assert.ok(e instanceof PostgresError);
  assert.ok(e instanceof EdgepgError);
  assert.ok(e instanceof Error);
  assert.equal(e.code, "23505");
  assert.equal(e.kind, "server");
  assert.equal(e.severity, "ERROR");
  assert.equal(e.constraint, "err_t_pkey");
  assert.equal(e.table, "err_t");
  assert.match(e.detail, /already exists/);
  assert.match(e.message, /duplicate key/);
  const s = await conn.fetch("SELECT * FROM nope_table").catch((e) => e);
  assert.equal(s.code, "42P01");
  assert.equal(s.position, 15);
  // The connection is still usable.
  assert.equal(await conn.fetchval("SELECT 1"), 1);
});

test("wrong password is a clear authentication error (pipelined cleartext too)", async () => {
  for (const pipelineConnect of [false, "password"]) {
    const e = await connect(dsn("pw_user", "wrong"), opts({ pipelineConnect })).catch((e) => e);
    assert.ok(e instanceof PostgresError, String(e));
    assert.equal(e.code, "28P01");
    assert.equal(e.kind, "auth");
  }
  const ok = await connect(dsn("pw_user", "pw_pw"), opts({ pipelineConnect: "password" }));
  assert.equal(await ok.fetchval("SELECT current_user"), "pw_user");
  await ok.close();
});

test("AbortSignal and timeout", async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error("stop")), 50);
  const e = await conn.fetchval("SELECT pg_sleep(0.5)", [], { signal: ac.signal }).catch((e) => e);
  assert.ok(e instanceof AbortError, String(e));
  assert.equal(e.cause.message, "stop");
  const t = await conn.execute("SELECT pg_sleep(0.5)", { timeout: 30 }).catch((e) => e);
  assert.ok(t instanceof TimeoutError, String(t));
  assert.equal(t.code, "EDGEPG_TIMEOUT");
  await assert.rejects(conn.fetchval("SELECT 1", [], { signal: AbortSignal.abort() }), AbortError);
  // The connection stays in step after abandoned calls.
  assert.equal(await conn.fetchval("SELECT 42"), 42);
  assert.equal(await conn.fetchval("SELECT 1", [], { timeout: 5000, signal: new AbortController().signal }), 1);
});

test("listeners: notifications, termination, notices", async () => {
  const listener = await connect(dsn(), opts());
  const got = [];
  const cb = (n) => got.push(n);
  await listener.addListener("chan_a", cb);
  await conn.execute("SELECT pg_notify('chan_a', 'hello')");
  for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(got.length, 1);
  assert.equal(got[0].channel, "chan_a");
  assert.equal(got[0].payload, "hello");
  assert.equal(typeof got[0].processId, "number");
  await listener.removeListener("chan_a", cb);
  await listener.fetchval("SELECT 1");
  await conn.execute("SELECT pg_notify('chan_a', 'again')");
  await listener.fetchval("SELECT 1");
  assert.equal(got.length, 1);

  const notices = [];
  listener.addLogListener((n) => notices.push(n));
  await listener.execute("DO $$ BEGIN RAISE NOTICE 'note %', 1; END $$");
  for (let i = 0; i < 100 && notices.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(notices[0].message, "note 1");
  assert.equal(notices[0].severity, "NOTICE");

  let terminated = 0;
  listener.addTerminationListener(() => terminated++);
  assert.equal(listener.getServerVersion().length > 0, true);
  assert.equal(typeof listener.getServerPid(), "number");
  await listener.close();
  for (let i = 0; i < 100 && terminated === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(terminated, 1);
  assert.equal(listener.isClosed(), true);
  await assert.rejects(listener.fetchval("SELECT 1"), EdgepgError);
});

test("pool: shortcuts, acquire/release, close", async () => {
  const pool = createPool(dsn(), opts({ maxSize: 3 }));
  assert.equal(await pool.fetchval("SELECT $1::int4 + 1", [41]), 42);
  const all = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.fetchval("SELECT $1::int4", [i])));
  assert.deepEqual(all, [...Array(10).keys()]);
  assert.ok(pool.getSize() <= 3);
  const c = await pool.acquire();
  await c.execute("SET application_name = 'pooled'");
  assert.equal(await c.fetchval("SHOW application_name"), "pooled");
  await pool.release(c);
  await assert.rejects(c.fetchval("SELECT 1"), InterfaceError);
  assert.equal(pool.getMaxSize(), 3);
  assert.deepEqual(await pool.fetch("SELECT 1 AS a"), [{ a: 1 }]);
  assert.deepEqual(await pool.fetchrow("SELECT 2 AS b"), { b: 2 });
  assert.equal(await pool.execute("SELECT 1"), "SELECT 1");
  await pool.close();
  await assert.rejects(pool.fetchval("SELECT 1"), EdgepgError);
  const bad = createPool(dsn("pw_user", "wrong"), opts());
  await assert.rejects(bad.fetchval("SELECT 1"), (e) => e instanceof PostgresError && e.code === "28P01");
  await bad.close();
});

// A pool is often created where timers are refused: at a Worker's module
// scope, workerd's setTimeout throws. Its idle reaper must still work once
// the pool is used (and no JS exception may unwind through the wasm polling it).
test("pool: the idle reaper works for a pool created where setTimeout throws", async () => {
  const real = globalThis.setTimeout;
  let pool;
  globalThis.setTimeout = () => { throw new Error("timers are refused here"); };
  try {
    pool = createPool(dsn(), opts({ maxSize: 1, maxInactiveConnectionLifetime: 100 }));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  } finally {
    globalThis.setTimeout = real;
  }
  assert.equal(await pool.fetchval("SELECT 1"), 1);
  assert.equal(pool.getSize(), 1);
  for (let i = 0; i < 200 && pool.getSize() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(pool.getSize(), 0, "the idle connection was reaped");
  assert.equal(await pool.fetchval("SELECT 2"), 2);
  await pool.close();
});

test("pool: by default, calls sharing a busy connection each start from a clean session", async () => {
  const pool = createPool(dsn(), opts({ maxSize: 1 }));
  // Issued together on one connection: the second is pipelined behind the first
  // (default pipelineDepth), with the session reset in between.
  const [first, second] = await Promise.all([
    pool.fetchrow("SELECT pg_backend_pid() AS pid FROM (SELECT set_config('search_path', 'pg_catalog', false), pg_advisory_lock(7)) s"),
    pool.fetchrow(
      "SELECT pg_backend_pid() AS pid, current_setting('search_path') AS path, " +
      "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())::int AS locks",
    ),
  ]);
  assert.equal(second.pid, first.pid, "both calls ran on the one connection");
  assert.equal(second.path, '"$user", public', "the first call's setting was reset");
  assert.equal(second.locks, 0, "the first call's advisory lock was released");
  await pool.close();
});

test("pool: pipelineDepth pipelines shortcut calls on busy connections, each with its own answer", async () => {
  const pool = createPool(dsn(), opts({ maxSize: 2, pipelineDepth: 4 }));
  // 200 callers on 2 connections: answers and errors stay with their own call.
  const calls = Array.from({ length: 200 }, (_, i) =>
    i % 23 === 0
      ? pool.fetchval("SELECT 1 / ($1::int8 - $1::int8)", [i]).then(() => "no error", (e) => e.code)
      : pool.fetchval("SELECT $1::int8 * 3", [i]));
  const got = await Promise.all(calls);
  got.forEach((v, i) => assert.equal(v, i % 23 === 0 ? "22012" : BigInt(i * 3), `call ${i}`));
  assert.ok(pool.getSize() <= 2);
  const pids = new Set(await Promise.all(Array.from({ length: 20 }, () => pool.fetchval("SELECT pg_backend_pid()"))));
  assert.ok(pids.size <= 2, `${pids.size} backends`);
  // A statement that changes the session never shares: BEGIN on a shortcut is rolled back on release
  // and the calls around it run outside any transaction.
  const mixed = await Promise.all([
    pool.execute("BEGIN"),
    ...Array.from({ length: 10 }, () => pool.fetchval("SELECT pg_current_xact_id()::text")),
  ]);
  assert.equal(mixed[0], "BEGIN");
  // Calls run inside one transaction would share its transaction id.
  assert.equal(new Set(mixed.slice(1)).size, 10, "no call ran inside the shortcut's BEGIN");
  await pool.close();
  const bad = createPool(dsn(), opts({ pipelineDepth: 0 }));
  await assert.rejects(bad.ready(), (e) => e instanceof EdgepgError && /pipeline_depth/.test(e.message));
});

test("CommonJS entry (require)", async () => {
  const require = createRequire(import.meta.url);
  const cjs = require("edgepg");
  assert.equal(typeof cjs.connect, "function");
  const c = await cjs.connect(dsn(), opts());
  assert.equal(await c.fetchval("SELECT 'cjs'"), "cjs");
  await c.close();
  const e = await c.fetchval("SELECT 1").catch((e) => e);
  assert.ok(e instanceof cjs.EdgepgError);
});
