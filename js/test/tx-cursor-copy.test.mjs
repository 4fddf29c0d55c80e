// Transactions, cursors and COPY through the packed package.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import {
  connect, createPool, PostgresError, InterfaceError, Transaction, TimeoutError,
} from "edgepg";
import { dsn, opts, unhandled } from "./helpers.mjs";

const conn = await connect(dsn(), opts());
after(async () => {
  await conn.close();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

const ids = async (table, c = conn) => (await c.fetch(`SELECT id FROM ${table} ORDER BY id`, [], { arrayMode: true, int8: "number" })).map((r) => r[0]);
// Named portals only (the query's own unnamed portal is listed too).
const portals = async (c = conn) => c.fetchval("SELECT count(*)::int4 FROM pg_cursors WHERE name <> ''");
const text = async (stream) => {
  const chunks = [];
  for await (const c of stream) {
    assert.ok(c instanceof Uint8Array);
    chunks.push(c);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
};

test("transaction(callback): commit on return, rollback on throw, nested savepoints", async () => {
  await conn.execute("CREATE TEMP TABLE tx_t (id int8 PRIMARY KEY)");
  const out = await conn.transaction(async (tx) => {
    assert.ok(tx instanceof Transaction);
    assert.equal(tx.isActive, true);
    assert.equal(conn.isInTransaction(), true);
    await tx.execute("INSERT INTO tx_t VALUES (1)");
    // A nested transaction that throws rolls back to its savepoint only.
    const e = await tx.transaction(async (sp) => {
      assert.equal(sp.isNested, true);
      await sp.execute("INSERT INTO tx_t VALUES (2)");
      throw new Error("inner");
    }).catch((e) => e);
    assert.equal(e.message, "inner");
    // One that returns is released.
    await tx.transaction(async (sp) => { await sp.execute("INSERT INTO tx_t VALUES (3)"); });
    return "result";
  });
  assert.equal(out, "result");
  assert.equal(conn.isInTransaction(), false);
  assert.deepEqual(await ids("tx_t"), [1, 3]);

  const boom = new Error("boom");
  const e = await conn.transaction(async (tx) => {
    await tx.execute("INSERT INTO tx_t VALUES (4)");
    throw boom;
  }).catch((e) => e);
  assert.equal(e, boom, "the callback's own error is rethrown");
  assert.deepEqual(await ids("tx_t"), [1, 3]);

  // A server error inside: rolled back, the connection is usable.
  const dup = await conn.transaction(async (tx) => { await tx.execute("INSERT INTO tx_t VALUES (1)"); }).catch((e) => e);
  assert.ok(dup instanceof PostgresError);
  assert.equal(dup.code, "23505");
  assert.equal(conn.isInTransaction(), false);
  assert.equal(await conn.fetchval("SELECT 1"), 1);
});

test("transaction options reach the server; misuse is an InterfaceError", async () => {
  const row = await conn.transaction(async (tx) => tx.fetchrow(
    "SELECT current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro, current_setting('transaction_deferrable') AS d",
  ), { isolation: "serializable", readonly: true, deferrable: true });
  assert.deepEqual(row, { iso: "serializable", ro: "on", d: "on" });
  const ro = await conn.transaction(async (tx) => tx.execute("CREATE TEMP TABLE nope (x int)"), { readonly: true }).catch((e) => e);
  assert.equal(ro.code, "25006");
  await assert.rejects(conn.transaction(async () => {}, { isolation: "chaos" }), InterfaceError);
  // A savepoint cannot change the isolation level.
  await assert.rejects(conn.transaction(async (tx) => tx.transaction(async () => {}, { isolation: "serializable" })), InterfaceError);
  // A transaction inside a raw BEGIN.
  await conn.execute("BEGIN");
  await assert.rejects(conn.transaction(async () => {}), InterfaceError);
  await conn.execute("ROLLBACK");
  assert.equal(conn.isInTransaction(), false);
});

test("manual transactions: start/commit/rollback, double end, dropped = rolled back", async () => {
  await conn.execute("CREATE TEMP TABLE mtx (id int8)");
  const tx = await conn.transaction({ isolation: "repeatable_read" }).start();
  await tx.execute("INSERT INTO mtx VALUES (1)");
  const sp = await tx.transaction().start();
  await sp.execute("INSERT INTO mtx VALUES (2)");
  await sp.rollback();
  await assert.rejects(sp.commit(), InterfaceError);
  await tx.commit();
  assert.equal(tx.isActive, false);
  await assert.rejects(tx.rollback(), InterfaceError);
  await assert.rejects(tx.start(), InterfaceError);
  assert.deepEqual(await ids("mtx"), [1]);

  // What `await using t2 = ...` does at the end of its block (Node 20 lacks the syntax).
  const t2 = await conn.transaction().start();
  await t2.execute("INSERT INTO mtx VALUES (3)");
  await t2[Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]();
  assert.equal(t2.isActive, false);
  assert.equal(conn.isInTransaction(), false);
  assert.deepEqual(await ids("mtx"), [1]);

  // A timeout on COMMIT-less work: the abandoned transaction is still ended by rollback().
  const t3 = await conn.transaction().start();
  const slow = await t3.execute("SELECT pg_sleep(0.3)", { timeout: 20 }).catch((e) => e);
  assert.ok(slow instanceof TimeoutError);
  await t3.rollback();
  assert.equal(await conn.fetchval("SELECT 2"), 2);
});

test("cursor: iteration with prefetch, early break closes the portal", async () => {
  await assert.rejects(async () => {
    for await (const _ of conn.cursor("SELECT 1")) { /* never */ }
  }, (e) => e instanceof InterfaceError && /transaction/.test(e.message));

  await conn.transaction(async (tx) => {
    const got = [];
    for await (const row of tx.cursor("SELECT g FROM generate_series(1, $1::int) g", [250], { prefetch: 7 })) got.push(row.g);
    assert.deepEqual(got, Array.from({ length: 250 }, (_, i) => i + 1));
    assert.equal(await portals(tx), 0, "an exhausted cursor's portal is closed");

    let n = 0;
    for await (const row of tx.cursor("SELECT g, g::int8 AS b FROM generate_series(1, 100000) g", { prefetch: 10, int8: "string" })) {
      assert.equal(row.b, String(row.g));
      if (++n === 15) break;
    }
    assert.equal(await portals(tx), 0, "break closed the portal");
    assert.equal(await tx.fetchval("SELECT 42"), 42);

    const arrays = [];
    for await (const r of tx.cursor("SELECT 1, 'a' UNION ALL SELECT 2, 'b'", [], { arrayMode: true })) arrays.push(r);
    assert.deepEqual(arrays, [[1, "a"], [2, "b"]]);

    // An error in the query comes out of the loop.
    await assert.rejects(async () => {
      for await (const _ of tx.cursor("SELECT 1/(g - 3) FROM generate_series(1, 5) g", [], { prefetch: 1 })) { /* until 1/0 */ }
    }, (e) => e.code === "22012");
  }).catch((e) => {
    // The last statement failed the transaction: rolled back, as expected.
    if (e.code !== "22012" && e.code !== "25P02") throw e;
  });
  assert.equal(conn.isInTransaction(), false);
  assert.equal(await conn.fetchval("SELECT 1"), 1);
});

test("cursor object: fetch, fetchrow, forward, close", async () => {
  await conn.transaction(async (tx) => {
    const cur = await tx.cursor("SELECT g FROM generate_series(1, 100) g").open();
    assert.deepEqual(await cur.fetch(3), [{ g: 1 }, { g: 2 }, { g: 3 }]);
    assert.equal(await cur.forward(10), 10);
    assert.deepEqual(await cur.fetchrow(), { g: 14 });
    assert.equal(await cur.forward(1000), 86);
    assert.deepEqual(await cur.fetch(5), []);
    assert.equal(await portals(tx), 1);
    cur.close();
    await assert.rejects(cur.fetch(1), InterfaceError);
    assert.equal(await portals(tx), 0);
    await assert.rejects(tx.cursor("SELECT 1", [], { prefetch: 5 }).open(), InterfaceError);
    const c2 = await tx.cursor("SELECT 1").open();
    await assert.rejects(c2.fetch(0), InterfaceError);
  });
});

test("COPY in from every source kind, records, and out as a ReadableStream", async () => {
  await conn.execute("CREATE TEMP TABLE cp (id int8, name text, at timestamptz)");
  const enc = new TextEncoder();
  assert.equal(await conn.copyToTable("cp", { source: "1\ta\t\\N\n", columns: ["id", "name", "at"] }), 1);
  assert.equal(await conn.copyToTable("cp", { source: enc.encode("2,b,\n"), format: "csv", columns: ["id", "name", "at"] }), 1);
  async function* gen() {
    yield "3,c";
    yield enc.encode(",\n4,d,\n");
  }
  assert.equal(await conn.copyToTable("cp", { source: gen(), format: "csv" }), 2);
  assert.equal(await conn.copyToTable("cp", { source: ["5,e,\n", "6,f,\n"], format: "csv", where: "id > 5" }), 1);
  const rs = new ReadableStream({
    start(c) {
      c.enqueue(enc.encode("id,name,at\n7,g,\n"));
      c.enqueue(enc.encode("8,h,2024-01-02 03:04:05+00\n"));
      c.close();
    },
  });
  assert.equal(await conn.copyToTable("cp", { source: rs, format: "csv", header: true }), 2);
  assert.deepEqual(await ids("cp"), [1, 2, 3, 4, 6, 7, 8]);

  const at = new Date("2020-05-06T07:08:09.010Z");
  const n = await conn.copyRecordsToTable("cp", { records: [[9, "i", at], [10n, null, null]], columns: ["id", "name", "at"] });
  assert.equal(n, 2);
  async function* recs() {
    for (let i = 11; i <= 2500; i++) yield { id: i, name: `n${i}` };
  }
  assert.equal(await conn.copyRecordsToTable("cp", { records: recs(), columns: ["id", "name"] }), 2490);
  assert.equal(await conn.fetchval("SELECT count(*)::int4 FROM cp"), 2499);
  assert.deepEqual(await conn.fetchrow("SELECT name, at FROM cp WHERE id = 9"), { name: "i", at });

  // Out: pull-based, complete, and the connection stays in step.
  const csv = await text(conn.copyFromQuery("SELECT id, name FROM cp WHERE id <= $1 ORDER BY id", [3], { format: "csv" }));
  assert.equal(csv, "1,a\n2,b\n3,c\n");
  const all = await text(conn.copyFromTable("cp", { columns: ["id"] }));
  assert.equal(all.split("\n").length - 1, 2499);
  // Cancelled early: the rest is discarded, the connection is usable.
  const reader = conn.copyFromTable("cp").getReader();
  const first = await reader.read();
  assert.ok(first.value.length > 0);
  await reader.cancel();
  assert.equal(await conn.fetchval("SELECT 7"), 7);
  // A COPY that fails to start errors the stream.
  await assert.rejects(text(conn.copyFromTable("no_such_table")), (e) => e.code === "42P01");
  // Copy between two connections, stream to stream.
  const other = await connect(dsn(), opts());
  await other.execute("CREATE TEMP TABLE cp2 (id int8, name text, at timestamptz)");
  assert.equal(await other.copyToTable("cp2", { source: conn.copyFromTable("cp", { format: "binary" }), format: "binary" }), 2499);
  assert.equal(await other.fetchval("SELECT count(*)::int4 FROM cp2"), 2499);
  await other.close();
});

test("a failing COPY source aborts with CopyFail: no row lands, the connection is usable", async () => {
  await conn.execute("CREATE TEMP TABLE cf (id int8)");
  const boom = new Error("source broke");
  async function* bad() {
    yield "1\n2\n";
    throw boom;
  }
  const e = await conn.copyToTable("cf", { source: bad() }).catch((e) => e);
  assert.equal(e, boom);
  const rs = new ReadableStream({
    pull(c) { c.error(new Error("stream broke")); },
  });
  const e2 = await conn.copyToTable("cf", { source: rs }).catch((e) => e);
  assert.equal(e2.message, "stream broke");
  async function* badRecords() {
    yield [1];
    throw boom;
  }
  assert.equal(await conn.copyRecordsToTable("cf", { records: badRecords() }).catch((e) => e), boom);
  // Bad data: the server's error.
  const e3 = await conn.copyToTable("cf", { source: "x\n" }).catch((e) => e);
  assert.equal(e3.code, "22P02");
  // A record that does not fit its column.
  await assert.rejects(conn.copyRecordsToTable("cf", { records: [[1], ["nope"]] }));
  assert.equal(await conn.fetchval("SELECT count(*)::int4 FROM cf"), 0);
  assert.equal(conn.isInTransaction(), false);
  assert.equal(await conn.fetchval("SELECT 'ok'"), "ok");
});

test("pool: transaction and COPY shortcuts; close lets the process exit", async () => {
  const pool = createPool(dsn(), opts({ maxSize: 2 }));
  await pool.execute("CREATE TABLE IF NOT EXISTS js_pool_copy (id int8, name text)");
  await pool.execute("TRUNCATE js_pool_copy");
  try {
    assert.equal(await pool.copyRecordsToTable("js_pool_copy", { records: [[1, "a"], [2, "b"]] }), 2);
    assert.equal(await pool.copyToTable("js_pool_copy", { source: "3\tc\n" }), 1);
    const v = await pool.transaction(async (tx) => {
      await tx.execute("INSERT INTO js_pool_copy VALUES (4, 'd')");
      return tx.fetchval("SELECT count(*)::int4 FROM js_pool_copy");
    });
    assert.equal(v, 4);
    await assert.rejects(pool.transaction(async (tx) => {
      await tx.execute("INSERT INTO js_pool_copy VALUES (5, 'e')");
      throw new Error("no");
    }));
    assert.equal(await text(pool.copyFromQuery("SELECT id FROM js_pool_copy ORDER BY id", { format: "csv" })), "1\n2\n3\n4\n");
    assert.equal((await text(pool.copyFromTable("js_pool_copy"))).split("\n").length - 1, 4);
    // Connections came back.
    for (let i = 0; i < 100 && pool.getIdleSize() !== pool.getSize(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pool.getIdleSize(), pool.getSize());
  } finally {
    await pool.execute("DROP TABLE js_pool_copy");
    await pool.close();
  }
});

test("a process exits soon after pool.close() (no timer left behind)", async () => {
  const { execFile } = await import("node:child_process");
  const script = `
    import { createPool } from "edgepg";
    import { dsn, opts } from "./helpers.mjs";
    const pool = createPool(dsn(), opts({ minSize: 1 }));
    await pool.fetchval("SELECT 1");
    await pool.close();
    console.log("closed");
  `;
  // A "no hang" guard: with the idle reaper's timer alive, the child would
  // wait out the 300 s default maxInactiveConnectionLifetime.
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: new URL(".", import.meta.url), timeout: 60000, env: process.env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}${err.killed ? " (killed: it did not exit)" : ""}\n${stderr}`));
      else resolve(stdout);
    });
  });
  assert.equal(out.trim(), "closed");
});
