// Ranges, multiranges, composites, enums, domains and errors in them, as JS
// values (wasm/src/js/values.rs: ranges as { lower, upper, lowerInclusive,
// upperInclusive, empty }, composites as objects keyed by field name).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect, ConversionError } from "edgepg";
import { dsn, opts, unhandled } from "./helpers.mjs";

const conn = await connect(dsn(), opts());
await conn.execute(`SET TimeZone = 'UTC';
  CREATE TYPE pg_temp.js_pair AS (k text, v int4, "__proto__" text);
  CREATE TYPE pg_temp.js_outer AS (p js_pair, ps js_pair[], r int4range);
  CREATE TYPE pg_temp.js_mood AS ENUM ('sad', 'it''s "q" 😀');
  CREATE DOMAIN pg_temp.js_pos AS int4 CHECK (VALUE > 0)`);
after(async () => {
  await conn.close();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

const range = (lower, upper, lowerInclusive, upperInclusive) => ({
  empty: false, lower, lowerInclusive, upper, upperInclusive,
});
const EMPTY = { empty: true, lower: null, lowerInclusive: false, upper: null, upperInclusive: false };

test("ranges and multiranges", async () => {
  const row = await conn.fetchrow(`SELECT int4range(1, 5) AS a, 'empty'::int4range AS e, '(,5]'::int8range AS i8,
    numrange(1.5, NULL) AS n, daterange('2024-01-01', 'infinity') AS d,
    tstzrange('2024-01-01 00:00+00', NULL) AS tz, '{[1,3), [5,7)}'::int4multirange AS m, '{}'::int4multirange AS em,
    ARRAY[int4range(1, 2), NULL] AS arr, NULL::int4range AS nul`);
  assert.deepEqual(row.a, range(1, 5, true, false));
  assert.deepEqual(row.e, EMPTY);
  assert.deepEqual(row.i8, range(null, 6n, false, false));
  assert.deepEqual(row.n, range("1.5", null, true, false));
  assert.deepEqual(row.d, range(new Date(Date.UTC(2024, 0, 1)), Infinity, true, false));
  assert.deepEqual(row.tz, range(new Date(Date.UTC(2024, 0, 1)), null, true, false));
  assert.deepEqual(row.m, [range(1, 3, true, false), range(5, 7, true, false)]);
  assert.deepEqual(row.em, []);
  assert.deepEqual(row.arr, [range(1, 2, true, false), null]);
  assert.equal(row.nul, null);
  // Ranges go in as their text form.
  assert.equal(await conn.fetchval("SELECT upper($1::int4range)", ["[1,9)"]), 9);
});

test("composites: nested, arrays of composites, NULL fields, __proto__ field", async () => {
  const row = await conn.fetchrow(`SELECT ROW(ROW('a', 1, 'x')::js_pair,
      ARRAY[ROW('b', NULL, NULL)::js_pair, NULL], int4range(2, 3))::js_outer AS o,
    ROW(1, 'two', NULL::int8, ROW(true))  AS anon`);
  assert.deepEqual(row.o.p.k, "a");
  assert.equal(row.o.p.v, 1);
  assert.equal(Object.getPrototypeOf(row.o.p), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(row.o.p, "__proto__").value, "x");
  assert.deepEqual(Object.keys(row.o), ["p", "ps", "r"]);
  assert.equal(row.o.ps.length, 2);
  assert.equal(row.o.ps[0].k, "b");
  assert.equal(row.o.ps[0].v, null);
  assert.equal(row.o.ps[1], null);
  assert.deepEqual(row.o.r, range(2, 3, true, false));
  // Anonymous records: f1, f2, ... as PostgreSQL names their fields.
  assert.deepEqual(row.anon, { f1: 1, f2: "two", f3: null, f4: { f1: true } });
  // Many rows of a composite column with NULLs (packed as values).
  const rows = await conn.fetch(`SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE ROW('k' || i, i, NULL)::js_pair END AS p
    FROM generate_series(0, 99) i`);
  for (const [i, r] of rows.entries()) {
    if (i % 3 === 0) assert.equal(r.p, null);
    else assert.deepEqual([r.p.k, r.p.v], ["k" + i, i]);
  }
});

test("enums and domains; a field without a binary decoder is a ConversionError", async () => {
  const row = await conn.fetchrow(`SELECT 'it''s "q" 😀'::js_mood AS m, ARRAY['sad', NULL]::js_mood[] AS ms,
    5::js_pos AS d, ARRAY[1, 2]::js_pos[] AS ds`);
  assert.deepEqual(row, { m: 'it\'s "q" 😀', ms: ["sad", null], d: 5, ds: [1, 2] });
  assert.equal(await conn.fetchval("SELECT $1::js_mood::text", ["sad"]), "sad");
  await assert.rejects(conn.fetchval("SELECT ROW(point(1, 2)) AS r"), (e) => {
    assert.ok(e instanceof ConversionError, String(e));
    assert.match(e.message, /point/);
    assert.match(e.message, /"r"/);
    return true;
  });
  assert.equal(await conn.fetchval("SELECT 1"), 1);
});
