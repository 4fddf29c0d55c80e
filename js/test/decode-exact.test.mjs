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
import { dsn, opts, onReferencePath, unhandled } from "./helpers.mjs";
import { EVERY_TYPE, ODD_SHAPES } from "./every-type.mjs";

const conn = await connect(dsn(), opts());
after(async () => {
  await conn.close();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

/** `call()` on the fast path and on the reference path. */
async function bothWays(call) {
  const reference = await onReferencePath(call);
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

  // The odd shapes (see every-type.mjs), then all-NULL columns.
  const shapes = [
    ...ODD_SHAPES,
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

test("fetchval (one value decoded in wasm, no batch) equals the first value of fetchrow for every type", async () => {
  const pool = createPool(dsn(), opts({ maxSize: 1 }));
  try {
    const rows = [0, 1, 2, 3, 7, 250, 499];
    for (const o of [{}, { int8: "number" }, { int8: "string" }, { dates: "string" }]) {
      for (const k of rows) {
        const row = await conn.fetchrow(`SELECT * FROM (${EVERY_TYPE}) AS x ORDER BY "row" OFFSET ${k} LIMIT 1`, [], o);
        for (const name of Object.keys(row)) {
          const sql = `SELECT ${JSON.stringify(name)} FROM (${EVERY_TYPE}) AS x ORDER BY "row" OFFSET $1 LIMIT 1`;
          const what = `${name} of row ${k} ${JSON.stringify(o)}`;
          const [fast, reference] = await bothWays(() => conn.fetchval(sql, [k], o));
          assert.deepStrictEqual(fast, row[name], what);
          assert.deepStrictEqual(reference, row[name], `${what}, reference path`);
          if (k === 3) {
            assert.deepStrictEqual(await pool.fetchval(sql, [k], o), row[name], `${what}, pool`);
            const stmt = await conn.prepare(sql);
            assert.deepStrictEqual(await stmt.fetchval([k], o), row[name], `${what}, prepared statement`);
          }
        }
      }
    }
    // No row, no column, NULL: null, as before.
    assert.equal(await conn.fetchval("SELECT 1 WHERE false"), null);
    assert.equal(await conn.fetchval("SELECT"), null);
    assert.equal(await pool.fetchval("SELECT NULL::jsonb"), null);
    assert.equal((await conn.fetchval("SELECT 'abc'::bytea")).constructor, Uint8Array);
  } finally {
    await pool.close();
  }
});

test("fetchrow (one row's values made in wasm, keyed in api.js oneRow) equals fetch's first row", async () => {
  const pool = createPool(dsn(), opts({ maxSize: 1 }));
  try {
    const options = [{}, { arrayMode: true }, { int8: "number" }, { int8: "string" }, { dates: "string" }];
    // Every type, row by row: row 0 is NULL in every nullable column, the
    // others hold the special values (±infinity, NaN, -0, huge numerics, emoji).
    const one = `SELECT * FROM (${EVERY_TYPE}) AS x ORDER BY "row" OFFSET $1 LIMIT 1`;
    const stmt = await conn.prepare(one);
    for (const o of options) {
      for (const k of [0, 1, 2, 3, 7, 250, 499]) {
        const [expected] = await conn.fetch(one, [k], o);
        const what = `row ${k} ${JSON.stringify(o)}`;
        for (const [who, row] of [
          ["connection", await conn.fetchrow(one, [k], o)],
          ["pool", await pool.fetchrow(one, [k], o)],
          ["prepared statement", await stmt.fetchrow([k], o)],
        ]) {
          assertSame([row], [expected], `${what}, ${who}`);
        }
      }
    }
    // Odd shapes (duplicate, integer-like and "__proto__" names, zero
    // columns): the first row of the multi-row result, built by the
    // generated row builder there.
    for (const sql of ODD_SHAPES) {
      for (const o of [{}, { arrayMode: true }]) {
        const rows = await conn.fetch(sql, [], o);
        const row = await conn.fetchrow(sql, [], o);
        if (rows.length === 0) assert.equal(row, null, sql);
        else assertSame([row], [rows[0]], `${sql} ${JSON.stringify(o)}`);
      }
    }
    // The column names of a repeated shape are shared by the calls (one JS
    // array in wasm's cache): a caller's change to one row never shows in the next.
    const first = await conn.fetchrow("SELECT 1 AS a, 2 AS b");
    first.a = 9;
    delete first.b;
    assert.deepEqual(await conn.fetchrow("SELECT 1 AS a, 2 AS b"), { a: 1, b: 2 });
    const arr = await conn.fetchrow("SELECT 1 AS a, 2 AS b", [], { arrayMode: true });
    arr.push(3);
    assert.deepEqual(await conn.fetchrow("SELECT 1 AS a, 2 AS b", [], { arrayMode: true }), [1, 2]);
    // More shapes than the cache remembers, then the first ones again.
    for (let i = 0; i < 40; i++) {
      assert.deepEqual(await conn.fetchrow(`SELECT ${i} AS c${i}, 'v' AS "n${i % 3}"`), { [`c${i}`]: i, [`n${i % 3}`]: "v" });
    }
    assert.deepEqual(await conn.fetchrow("SELECT 1 AS a, 2 AS b"), { a: 1, b: 2 });
  } finally {
    await pool.close();
  }
});
