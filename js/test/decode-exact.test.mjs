// Exactness of the fast result decoding (issue #13): typed fast paths in
// wasm (wasm/src/js/values.rs `push_binary_scalar`) and rows built by one
// generated literal per result shape (js/src/api.js `rowBuilder`) must give
// the same JS values as the general path (every value through the core's
// `Value`, rows filled column by column), which the type tests of
// api.test.mjs pin down. `globalThis[Symbol.for("edgepg.referenceDecode")]`
// switches a call to the general path; every result below is fetched both
// ways and compared value by value, key order included.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { connect, createPool } from "edgepg";
import { dsn, opts, unhandled } from "./helpers.mjs";

const REFERENCE = Symbol.for("edgepg.referenceDecode");
const conn = await connect(dsn(), opts());
after(async () => {
  await conn.close();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

/** `call()` on the fast path and on the reference path. */
async function bothWays(call) {
  globalThis[REFERENCE] = true;
  let reference;
  try {
    reference = await call();
  } finally {
    delete globalThis[REFERENCE];
  }
  return [await call(), reference];
}

function assertSame(fast, reference, what) {
  assert.equal(fast.length, reference.length, `${what}: row count`);
  for (let i = 0; i < fast.length; i++) {
    // deepStrictEqual compares with Object.is (so -0, NaN) and checks
    // prototypes and Date times, but not key order: compare that too.
    assert.deepStrictEqual(Object.keys(fast[i]), Object.keys(reference[i]), `${what}: keys of row ${i}`);
    assert.deepStrictEqual(fast[i], reference[i], `${what}: row ${i}`);
    assert.equal(Object.getPrototypeOf(fast[i]), Object.getPrototypeOf(reference[i]), `${what}: prototype of row ${i}`);
  }
}

// 500 rows of every type the JS mapping knows, each column NULL in its own
// pattern (row 0 is NULL in every column, row 1 in none), special values
// (±infinity dates and timestamps, NaN/±Infinity/huge numerics, -0 and NaN
// floats, int8 extremes) and text with non-ASCII, surrogate pairs and
// empty strings.
const EVERY_TYPE = `
  WITH g AS (SELECT i FROM generate_series(0, 499) AS i)
  SELECT i AS "row",
    CASE WHEN i = 0 OR i % 7 = 2 THEN NULL ELSE (i - 250)::int2 END AS i2,
    CASE WHEN i = 0 OR i % 6 = 3 THEN NULL ELSE (i * 8191 - 2000000)::int4 END AS i4,
    CASE WHEN i = 0 OR i % 5 = 4 THEN NULL
         WHEN i % 50 = 10 THEN 9223372036854775807::int8 WHEN i % 50 = 11 THEN (-9223372036854775807 - 1)::int8
         ELSE (i::int8 - 250) * 36028797018963971 / 1000 END AS i8,
    CASE WHEN i = 0 OR i % 9 = 5 THEN NULL ELSE (i * 37)::oid END AS o,
    CASE WHEN i = 0 OR i % 8 = 6 THEN NULL WHEN i % 40 = 7 THEN 'NaN'::float4 ELSE (i / 7.0)::float4 END AS f4,
    CASE WHEN i = 0 OR i % 4 = 3 THEN NULL WHEN i % 30 = 2 THEN '-0'::float8 WHEN i % 30 = 4 THEN 'NaN'::float8
         WHEN i % 30 = 5 THEN 'Infinity'::float8 WHEN i % 30 = 6 THEN '-Infinity'::float8
         ELSE (i - 123) / 3.0::float8 END AS f8,
    CASE WHEN i = 0 OR i % 11 = 1 AND i > 1 THEN NULL WHEN i % 60 = 3 THEN 'NaN'::numeric
         WHEN i % 60 = 4 THEN 'Infinity'::numeric WHEN i % 60 = 5 THEN '-Infinity'::numeric
         WHEN i % 60 = 6 THEN ('9' || repeat('0', 130) || '.' || repeat('1', 40))::numeric
         WHEN i % 60 = 7 THEN ('-0.' || repeat('0', 60) || '12')::numeric
         ELSE ((i - 250) * 1.0001)::numeric(20, 4) END AS n,
    CASE WHEN i = 0 OR i % 3 = 2 THEN NULL ELSE i % 2 = 0 END AS b,
    CASE WHEN i = 0 OR i % 10 = 9 THEN NULL WHEN i % 10 = 8 THEN ''
         ELSE repeat(chr(32 + i * 97 % 95), i % 3) || 'é😀' || chr(19968 + i) || i END AS t,
    CASE WHEN i = 0 OR i % 12 = 4 THEN NULL ELSE 'v' || i END::varchar(20) AS v,
    CASE WHEN i = 0 OR i % 13 = 6 THEN NULL ELSE 'nm' || i END::name AS nm,
    CASE WHEN i = 0 OR i % 14 = 8 THEN NULL ELSE chr(65 + i % 26) END::char(3) AS ch,
    CASE WHEN i = 0 OR i % 15 = 2 THEN NULL ELSE decode(repeat(lpad(to_hex(i % 256), 2, '0'), i % 5), 'hex') END AS by,
    CASE WHEN i = 0 OR i % 16 = 3 THEN NULL ELSE json_build_object('i', i, 's', 'é😀' || i, 'a', json_build_array(i, NULL)) END AS j,
    CASE WHEN i = 0 OR i % 17 = 5 THEN NULL ELSE jsonb_build_object('k', i) END AS jb,
    CASE WHEN i = 0 OR i % 18 = 7 THEN NULL WHEN i % 50 = 1 THEN 'infinity'::date WHEN i % 50 = 2 THEN '-infinity'::date
         ELSE date '1999-12-25' + (i * 97 - 20000) END AS d,
    CASE WHEN i = 0 OR i % 19 = 9 THEN NULL WHEN i % 50 = 3 THEN 'infinity'::timestamp WHEN i % 50 = 4 THEN '-infinity'::timestamp
         ELSE timestamp '1960-02-29 23:59:59.999999' + i * interval '1 day 1.0015 seconds' END AS ts,
    CASE WHEN i = 0 OR i % 20 = 1 AND i > 1 THEN NULL WHEN i % 50 = 5 THEN 'infinity'::timestamptz
         WHEN i % 50 = 6 THEN '-infinity'::timestamptz
         ELSE timestamptz '0044-03-15 12:00:00+00 BC' + i * interval '997 days 0.0005 seconds' END AS tz,
    CASE WHEN i = 0 OR i % 21 = 2 THEN NULL ELSE time '00:00:00' + i * interval '173.25 seconds' END AS tm,
    CASE WHEN i = 0 OR i % 22 = 3 THEN NULL ELSE (time '01:02:03' + i * interval '1 minute')::timetz END AS ttz,
    CASE WHEN i = 0 OR i % 23 = 4 THEN NULL ELSE i * interval '1 month 2 days 3.5 seconds' - interval '40 years' END AS iv,
    CASE WHEN i = 0 OR i % 24 = 5 THEN NULL ELSE md5(i::text)::uuid END AS u,
    CASE WHEN i = 0 OR i % 25 = 6 THEN NULL ELSE ('10.0.' || i % 256 || '.1/' || (8 + i % 25))::inet END AS ip,
    CASE WHEN i = 0 OR i % 26 = 7 THEN NULL ELSE ('10.' || i % 256 || '.0.0/16')::cidr END AS cidr,
    CASE WHEN i = 0 OR i % 27 = 8 THEN NULL ELSE ARRAY[[i, NULL], [i + 1, -i]]::int4[] END AS arr,
    CASE WHEN i = 0 OR i % 28 = 9 THEN NULL ELSE ARRAY['a' || i, NULL, '😀', '']::text[] END AS tarr,
    CASE WHEN i = 0 OR i % 29 = 1 AND i > 1 THEN NULL
         ELSE ARRAY[timestamptz '2020-01-01 00:00:00+00' + i * interval '1 hour', 'infinity']::timestamptz[] END AS tzarr,
    CASE WHEN i = 0 OR i % 30 = 11 THEN NULL WHEN i % 30 = 12 THEN 'empty'::int4range
         ELSE int4range(i - 10, i + (i % 3), CASE WHEN i % 2 = 0 THEN '[]' ELSE '(]' END) END AS r,
    CASE WHEN i = 0 OR i % 31 = 12 THEN NULL ELSE tstzrange(timestamptz '2024-01-01 00:00:00+00' + i * interval '1 day', NULL) END AS tr,
    CASE WHEN i = 0 OR i % 32 = 13 THEN NULL ELSE int8multirange(int8range(i, i + 2), int8range(i + 5, NULL)) END AS mr,
    CASE WHEN i = 0 OR i % 33 = 14 THEN NULL ELSE ROW(i, 'r' || i, i % 2 = 0) END AS rec,
    'const' AS c
  FROM g ORDER BY i`;

test("the 500-row every-type fixture decodes identically on the fast and the reference path", async () => {
  const options = [
    {},
    { arrayMode: true },
    { int8: "number" },
    { int8: "string", arrayMode: true },
    { dates: "string" },
    { dates: "string", int8: "string" },
  ];
  for (const o of options) {
    const [fast, reference] = await bothWays(() => conn.fetch(EVERY_TYPE, [], o));
    assert.equal(fast.length, 500);
    assertSame(fast, reference, `fetch ${JSON.stringify(o)}`);
  }
  // The fixture does what it says: row 0 is NULL in every nullable column,
  // and the special values are there.
  const [rows] = await bothWays(() => conn.fetch(EVERY_TYPE));
  for (const [k, v] of Object.entries(rows[0])) if (k !== "row" && k !== "c") assert.equal(v, null, k);
  assert.ok(rows.some((r) => r.d === Infinity) && rows.some((r) => r.d === -Infinity));
  assert.ok(rows.some((r) => r.tz === Infinity) && rows.some((r) => r.ts === -Infinity));
  assert.ok(rows.some((r) => Object.is(r.f8, -0)) && rows.some((r) => Number.isNaN(r.f8)));
  assert.ok(rows.some((r) => r.i8 === 9223372036854775807n) && rows.some((r) => r.i8 === -9223372036854775808n));
  assert.ok(rows.some((r) => r.n === "NaN") && rows.some((r) => typeof r.n === "string" && r.n.length > 170));
  assert.ok(rows.some((r) => typeof r.t === "string" && r.t.includes("😀")) && rows.some((r) => r.t === ""));
  // The server's own text of a few fast-path values, independently of either path.
  const text = await conn.fetch(`SELECT i8::text AS i8, extract(epoch FROM tz) * 1000 AS tz_ms, f8::text AS f8, t
    FROM (${EVERY_TYPE}) AS x ORDER BY "row"`);
  for (let i = 0; i < 500; i++) {
    assert.equal(rows[i].i8, text[i].i8 === null ? null : BigInt(text[i].i8), `i8 of row ${i}`);
    assert.equal(rows[i].t, text[i].t, `t of row ${i}`);
    const f8 = text[i].f8 === null ? null : Number(text[i].f8);
    assert.ok(Object.is(rows[i].f8, f8) || (f8 === 0 && Object.is(rows[i].f8, -0)), `f8 of row ${i}`);
    const tz = rows[i].tz;
    if (tz instanceof Date) assert.equal(tz.getTime(), Math.floor(Number(text[i].tz_ms)), `tz of row ${i}`);
  }
});

test("fast and reference paths agree through statements, cursors and pools, and on edge shapes", async () => {
  const stmt = await conn.prepare(EVERY_TYPE);
  const [sFast, sRef] = await bothWays(() => stmt.fetch());
  assertSame(sFast, sRef, "prepared statement");
  const [aFast, aRef] = await bothWays(() => stmt.fetch([], { arrayMode: true }));
  assertSame(aFast, aRef, "prepared statement, arrayMode");

  const [cFast, cRef] = await bothWays(() => conn.transaction(async (tx) => {
    const out = [];
    for await (const row of tx.cursor(EVERY_TYPE, [], { prefetch: 37 })) out.push(row);
    return out;
  }));
  assert.equal(cFast.length, 500);
  assertSame(cFast, cRef, "cursor");

  const pool = createPool(dsn(), opts({ maxSize: 1 }));
  try {
    const [pFast, pRef] = await bothWays(() => pool.fetch(EVERY_TYPE));
    assertSame(pFast, pRef, "pool");
  } finally {
    await pool.close();
  }

  // Empty results, zero columns, one row, duplicate and odd column names,
  // "__proto__" (never the prototype), integer-like names (ordered first
  // by JS itself, the same on both paths).
  const shapes = [
    "SELECT 1 AS a WHERE false",
    "SELECT FROM generate_series(1, 3)",
    "SELECT 'x' AS a",
    `SELECT i AS a, i * 2 AS a, 'z' AS "b c", 'q' AS "1", NULL::text AS "?column?", 'é' AS "é😀" FROM generate_series(1, 4) AS i`,
    `SELECT '{"polluted": true}'::json AS "__proto__", i AS x FROM generate_series(1, 3) AS i`,
    `SELECT NULL::int8 AS a, NULL::text AS b, NULL::timestamptz AS c FROM generate_series(1, 3)`,
  ];
  for (const sql of shapes) {
    for (const o of [{}, { arrayMode: true }]) {
      const [fast, reference] = await bothWays(() => conn.fetch(sql, [], o));
      assertSame(fast, reference, `${sql} ${JSON.stringify(o)}`);
    }
  }
  const proto = await conn.fetch(shapes[4]);
  assert.equal(Object.getPrototypeOf(proto[1]), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(proto[1], "__proto__").value, { polluted: true });
  assert.deepEqual(await conn.fetch(shapes[1]), [{}, {}, {}]);
  assert.deepEqual(await conn.fetch(shapes[1], [], { arrayMode: true }), [[], [], []]);
});
