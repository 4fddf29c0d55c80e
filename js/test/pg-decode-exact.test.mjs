// Exactness of edgepg/pg's streamed results: one statement's rows go to JS
// batch by batch while the rest is on the way, are built by edgepg's
// generated row builder (js/src/api.js `rowBuilder`, used by js/src/pg.js
// `builtRows`) with pg's mapping on top, and int8 as text, numeric, bytea
// and jsonb take typed fast paths in wasm (wasm/src/js/values.rs). All of it
// must give the values the collected general path gives (every value
// through the core's `Value`, rows filled column by column), which
// `globalThis[Symbol.for("edgepg.referenceDecode")]` switches a call to,
// and pg's own representations, checked against the server's text.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Client, Pool } from "edgepg/pg";
import { dsn, opts, onReferencePath, unhandled } from "./helpers.mjs";
import { EVERY_TYPE, ODD_SHAPES } from "./every-type.mjs";

// Run again by the last test with code generation forbidden: make sure it is.
if (process.env.EDGEPG_PG_EXACT_NO_CODEGEN === "1") assert.throws(() => new Function("return 1"), EvalError);
const config = () => ({ connectionString: dsn(), ...opts() });
const client = new Client(config());
await client.connect();
after(async () => {
  await client.end();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

/**
 * `call()` on the streamed fast path and on the reference path, after one
 * call that caches the statement (a statement's first run without values
 * goes in one flight, with results in text format).
 */
async function bothWays(call) {
  await call();
  const reference = await onReferencePath(call);
  return [await call(), reference];
}

/** Two pg results: the same rows (values, key order, prototypes) and the same everything else. */
function assertSame(fast, reference, what) {
  const { rows: a, ...restA } = fast;
  const { rows: b, ...restB } = reference;
  assert.deepStrictEqual(restA, restB, `${what}: command, rowCount, oid, fields`);
  assert.equal(a.length, b.length, `${what}: row count`);
  for (let i = 0; i < a.length; i++) {
    assert.deepStrictEqual(Object.keys(a[i]), Object.keys(b[i]), `${what}: keys of row ${i}`);
    assert.deepStrictEqual(a[i], b[i], `${what}: row ${i}`);
    assert.equal(Object.getPrototypeOf(a[i]), Object.getPrototypeOf(b[i]), `${what}: prototype of row ${i}`);
  }
}

// 10 copies of the fixture (5,000 rows, ~2.7 MB): many socket reads, so
// the streamed path hands over many batches.
const MANY = `SELECT x.* FROM (${EVERY_TYPE}) AS x, generate_series(1, 10) AS k ORDER BY k, x."row"`;

test("the every-type fixture: streamed and reference paths agree (text, values, rowMode, pool, first run)", async () => {
  // The first run of a statement without values goes in one flight (text
  // results, collected), on both paths; later ones are cached, binary and
  // streamed.
  const firstRun = async () => {
    const fresh = new Client(config());
    await fresh.connect();
    try {
      return await fresh.query(EVERY_TYPE);
    } finally {
      await fresh.end();
    }
  };
  const [first, firstReference] = await bothWays(firstRun);
  assert.equal(first.rows.length, 500);
  assertSame(first, firstReference, "first run (one flight)");
  const calls = [
    ["text", () => client.query(EVERY_TYPE)],
    ["rowMode array", () => client.query({ text: EVERY_TYPE, rowMode: "array" })],
    ["with values", () => client.query(`SELECT * FROM (${EVERY_TYPE}) AS x WHERE "row" >= $1`, [0])],
    ["with values, rowMode array", () => client.query({ text: `SELECT * FROM (${EVERY_TYPE}) AS x WHERE "row" >= $1`, rowMode: "array" }, [0])],
    ["5,000 rows", () => client.query(MANY)],
    ["5,000 rows, rowMode array", () => client.query({ text: MANY, rowMode: "array" })],
  ];
  for (const [what, call] of calls) {
    const [fast, reference] = await bothWays(call);
    assertSame(fast, reference, what);
  }
  const pool = new Pool({ ...config(), max: 1 });
  try {
    const [fast, reference] = await bothWays(() => pool.query(MANY));
    assert.equal(fast.rows.length, 5000);
    assertSame(fast, reference, "pool");
  } finally {
    await pool.end();
  }
});

test("pg's representations of the fast-path types, against the server's own text", async () => {
  const { rows } = await client.query(EVERY_TYPE);
  const { rows: text } = await client.query(`SELECT i8::text AS i8, n::text AS n, t, encode(by, 'hex') AS by, jb::text AS jb,
      j::text AS j, extract(epoch FROM tz) * 1000 AS tz_ms, tz::text AS tz_text, f8::text AS f8
    FROM (${EVERY_TYPE}) AS x ORDER BY "row"`);
  for (const [k, v] of Object.entries(rows[0])) if (k !== "row" && k !== "c") assert.equal(v, null, `row 0: ${k}`);
  for (let i = 0; i < 500; i++) {
    const r = rows[i], s = text[i];
    assert.equal(r.i8, s.i8, `i8 of row ${i}`); // int8 as a decimal string
    assert.equal(r.n, s.n, `numeric of row ${i}`); // numeric as PostgreSQL prints it
    assert.equal(r.t, s.t, `text of row ${i}`);
    if (s.by === null) assert.equal(r.by, null);
    else {
      assert.ok(r.by instanceof Buffer, `bytea of row ${i} is a Buffer`);
      assert.equal(r.by.toString("hex"), s.by, `bytea of row ${i}`);
    }
    assert.deepStrictEqual(r.jb, s.jb === null ? null : JSON.parse(s.jb), `jsonb of row ${i}`);
    assert.deepStrictEqual(r.j, s.j === null ? null : JSON.parse(s.j), `json of row ${i}`);
    if (s.tz_text === "infinity" || s.tz_text === "-infinity") assert.equal(r.tz, s.tz_text === "infinity" ? Infinity : -Infinity);
    else if (s.tz_text === null) assert.equal(r.tz, null);
    else assert.equal(r.tz.getTime(), Math.floor(Number(s.tz_ms)), `timestamptz of row ${i}`);
  }
  assert.ok(rows.some((r) => r.i8 === "9223372036854775807") && rows.some((r) => r.i8 === "-9223372036854775808"));
  assert.ok(rows.some((r) => r.n === "NaN") && rows.some((r) => r.n === "Infinity") && rows.some((r) => typeof r.n === "string" && r.n.length > 170));
  assert.ok(rows.some((r) => r.d === Infinity) && rows.some((r) => r.d === -Infinity));
  assert.ok(rows.some((r) => typeof r.t === "string" && r.t.includes("😀")) && rows.some((r) => r.t === ""));
});

test("date and timestamp in local time on the streamed path too (a runtime off UTC)", async () => {
  const tz = process.env.TZ;
  process.env.TZ = "Asia/Kolkata"; // +05:30, no daylight saving time
  try {
    assert.notEqual(new Date(0).getTimezoneOffset(), 0, "the time zone change took effect");
    const sql = `SELECT date '2024-03-10' + i AS d, timestamp '2024-03-10 01:30:00' + i * interval '1 hour' AS ts,
        timestamptz '2024-03-10 01:30:00+00' + i * interval '1 hour' AS tz FROM generate_series(1, 300) AS i
      UNION ALL SELECT 'infinity', '-infinity', NULL`;
    const [fast, reference] = await bothWays(() => client.query(sql));
    assertSame(fast, reference, "local time");
    assert.equal(fast.rows[0].d.getHours(), 0, "a date is local midnight, as in pg");
    assert.equal(fast.rows[0].ts.getHours(), 2, "a timestamp is its wall clock in local time, as in pg");
    assert.equal(fast.rows[0].tz.toISOString(), "2024-03-10T02:30:00.000Z");
    assert.deepEqual([fast.rows[300].d, fast.rows[300].ts, fast.rows[300].tz], [Infinity, -Infinity, null]);
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
});

// A result of exactly one row comes from the core as its values, not as
// packed columns (wasm/src/js/pg.rs `result_to_js`); the reference path
// always packs. Every type, NULLs, ±infinity, bytea as Buffer, local time.
test("one-row results (the values path) agree with the reference path: every type, local time, odd shapes", async () => {
  const one = `SELECT * FROM (${EVERY_TYPE}) AS x WHERE "row" = $1`;
  for (const row of [0, 1, 2, 3, 5, 7, 42, 99, 250, 499]) {
    for (const rowMode of [undefined, "array"]) {
      const [fast, reference] = await bothWays(() => client.query({ text: one, rowMode }, [row]));
      assert.equal(fast.rows.length, 1);
      assertSame(fast, reference, `row ${row} ${rowMode ?? ""}`);
    }
  }
  const { rows: [withBytes] } = await client.query(`SELECT '\\x00ff'::bytea AS b, NULL::bytea AS n`);
  assert.ok(withBytes.b instanceof Buffer, "bytea is a Buffer");
  assert.deepEqual([...withBytes.b], [0, 255]);
  assert.equal(withBytes.n, null);
  const tz = process.env.TZ;
  process.env.TZ = "Asia/Kolkata";
  try {
    const sql = "SELECT date '2024-03-10' AS d, timestamp '2024-03-10 01:30:00' AS ts, timestamptz '2024-03-10 01:30:00+00' AS tz, 'infinity'::date AS inf";
    for (const rowMode of [undefined, "array"]) {
      const [fast, reference] = await bothWays(() => client.query({ text: sql, rowMode }));
      assertSame(fast, reference, `local time ${rowMode ?? ""}`);
    }
    const { rows: [r] } = await client.query(sql);
    assert.deepEqual([r.d.getHours(), r.ts.getHours(), r.tz.toISOString(), r.inf], [0, 1, "2024-03-10T01:30:00.000Z", Infinity]);
  } finally {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  }
  for (const sql of ["SELECT", `SELECT 1 AS a, 2 AS a, 'q' AS "__proto__"`, "SELECT NULL AS a, NULL::int8[] AS b"]) {
    for (const rowMode of [undefined, "array"]) {
      const [fast, reference] = await bothWays(() => client.query({ text: sql, rowMode }));
      assertSame(fast, reference, `${sql} ${rowMode ?? ""}`);
    }
  }
  assert.deepEqual((await client.query(`SELECT 1 AS a, 2 AS a`)).rows, [{ a: 2 }], "the last of two same-named columns wins, as in pg");
});

test("edge shapes: empty results, zero columns, one row, odd names, __proto__, all NULL, command tags", async () => {
  const shapes = [
    ...ODD_SHAPES,
    `SELECT NULL::int8 AS a, NULL::numeric AS b, NULL::timestamptz AS c, NULL::bytea AS d FROM generate_series(1, 3)`,
    "CREATE TEMP TABLE IF NOT EXISTS pg_exact (a int8, b numeric)",
    "INSERT INTO pg_exact SELECT i, i / 3.0 FROM generate_series(1, 5) AS i RETURNING a, b",
    "UPDATE pg_exact SET b = b * 2 WHERE a > 2",
  ];
  for (const sql of shapes) {
    for (const rowMode of [undefined, "array"]) {
      const [fast, reference] = await bothWays(() => client.query({ text: sql, rowMode }));
      assertSame(fast, reference, `${sql} ${rowMode ?? ""}`);
    }
  }
  const empty = await client.query(shapes[0]);
  assert.deepEqual([empty.command, empty.rowCount, empty.rows, empty.fields.map((f) => f.name)], ["SELECT", 0, [], ["a"]]);
  const none = await client.query(shapes[1]);
  assert.deepEqual([none.rowCount, none.rows, none.fields], [3, [{}, {}, {}], []]);
  assert.deepEqual((await client.query({ text: shapes[1], rowMode: "array" })).rows, [[], [], []]);
  const proto = await client.query(shapes[4]);
  assert.equal(Object.getPrototypeOf(proto.rows[1]), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(proto.rows[1], "__proto__").value, { polluted: true });
  const { rows: [{ n }] } = await client.query("SELECT count(*) AS n FROM pg_exact WHERE a > $1", [1]);
  const upd = await client.query("UPDATE pg_exact SET b = b + 1 WHERE a > $1", [1]);
  assert.deepEqual([upd.command, upd.rowCount, upd.rows], ["UPDATE", Number(n), []]);
  assert.ok(upd.rowCount > 0);
});

test("type parsers still see the server's text, on results large enough to stream", async () => {
  const sql = "SELECT i::int8 AS id, (i / 7.0)::numeric(10, 3) AS n, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 s' AS ts FROM generate_series(1, 20000) AS i";
  const types = { getTypeParser: (oid) => (oid === 20 ? (s) => `id:${s}` : oid === 1184 ? (s) => `ts:${s}` : (s) => s) };
  const { rows } = await client.query({ text: sql, types });
  const { rows: text } = await client.query(`SELECT id::text AS id, n::text AS n, ts::text AS ts FROM (${sql}) AS x`);
  assert.equal(rows.length, 20000);
  for (let i = 0; i < rows.length; i += 997) {
    assert.equal(rows[i].id, `id:${text[i].id}`);
    assert.equal(rows[i].n, text[i].n);
    assert.equal(rows[i].ts, `ts:${text[i].ts}`);
  }
  // A parser that throws rejects the query; the connection stays usable.
  await assert.rejects(client.query({ text: sql, types: { getTypeParser: () => () => { throw new Error("no"); } } }), /threw: no/);
  assert.equal((await client.query("SELECT 1::int8 AS x")).rows[0].x, "1");
});

test("an error after some streamed batches rejects the query (no partial rows); the connection stays usable", async () => {
  const sql = "SELECT g::int8 AS id, 1 / (g - 150000) AS x, repeat('y', 20) AS pad FROM generate_series(1, 200000) AS g";
  for (let i = 0; i < 2; i++) { // the first run (one flight) and the cached, streamed one
    await assert.rejects(client.query(sql), (e) => e.code === "22012" && e.constructor.name === "DatabaseError");
    assert.equal((await client.query("SELECT $1::int8 AS x", [7])).rows[0].x, "7");
  }
  const pool = new Pool({ ...config(), max: 1 });
  try {
    await client.query(sql).catch(() => {});
    await assert.rejects(pool.query(sql), (e) => e.code === "22012");
    assert.equal((await pool.query("SELECT 2 AS x")).rows[0].x, 2);
  } finally {
    await pool.end();
  }
});

// Runtimes that forbid code generation (Cloudflare Workers, a strict CSP)
// get no generated row builder: streamed batches are filled column by
// column (js/src/pg.js `fillRows`). This file again, in a Node that forbids
// it, covers that path with the same comparisons.
test("the same comparisons where code generation is forbidden (the Workers path)", { skip: process.env.EDGEPG_PG_EXACT_NO_CODEGEN === "1" }, async () => {
  const { execFileSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  // Without NODE_TEST_CONTEXT (set for this file by node --test) the child
  // prints its own TAP report.
  const { NODE_TEST_CONTEXT, ...env } = process.env;
  const out = execFileSync(process.execPath, ["--disallow-code-generation-from-strings", "--test", fileURLToPath(import.meta.url)], {
    env: { ...env, EDGEPG_PG_EXACT_NO_CODEGEN: "1" },
    encoding: "utf8",
  });
  assert.match(out, /^# fail 0$/m);
  assert.match(out, /^# pass 7$/m); // every test above
  assert.match(out, /^# skipped 1$/m); // this one
});
