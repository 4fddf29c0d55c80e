// edgepg-proxy (the workspace's gateway, started by tests/cluster/start.sh)
// driven by clients nobody here wrote — Neon's own @neondatabase/serverless,
// its Pool/Client over WebSocket and neon() over HTTP — and by edgepg's
// WebSocket API and its HTTP path (edgepg/http), whose values must match the
// WebSocket path's.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { Pool, Client, neon as neonHttp, neonConfig } from "@neondatabase/serverless";
import { connect, PostgresError } from "edgepg";
import { neon, PostgresError as HttpPostgresError, EdgepgError, AbortError } from "edgepg/http";
import { env, dsn, opts, unhandled } from "./helpers.mjs";

const proxyPort = env.EDGEPG_TEST_PROXY_PORT;
if (!proxyPort) throw new Error("EDGEPG_TEST_PROXY_PORT is not set: tests/cluster/start.sh starts edgepg-proxy");
const endpoint = `http://127.0.0.1:${proxyPort}/sql`;

neonConfig.webSocketConstructor = WebSocket;
neonConfig.wsProxy = (host, port) => `127.0.0.1:${proxyPort}/v1?address=${host}:${port}`;
neonConfig.useSecureWebSocket = false;
neonConfig.fetchEndpoint = endpoint;

after(() => {
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

test("Neon's Pool and Client over WebSocket through edgepg-proxy", async () => {
  // SCRAM (edgepg) needs the ordinary exchange; cleartext (pw_user) pipelines it.
  neonConfig.pipelineConnect = false;
  const pool = new Pool({ connectionString: dsn() });
  try {
    const { rows } = await pool.query("SELECT $1::int + 1 AS n, $2::text AS t", [41, "hi"]);
    assert.deepEqual(rows, [{ n: 42, t: "hi" }]);
    const client = await pool.connect();
    try {
      await client.query("CREATE TEMP TABLE neon_ws (id int)");
      await client.query("BEGIN");
      await client.query("INSERT INTO neon_ws VALUES (1), (2)");
      await client.query("ROLLBACK");
      await client.query("BEGIN");
      await client.query("INSERT INTO neon_ws VALUES (3)");
      await client.query("COMMIT");
      const r = await client.query("SELECT array_agg(id) AS ids FROM neon_ws");
      assert.deepEqual(r.rows[0].ids, [3]);
      const e = await client.query("SELEC 1").catch((e) => e);
      assert.equal(e.code, "42601");
      // A large result crosses many frames.
      const big = await client.query("SELECT repeat('z', 200000) AS s");
      assert.equal(big.rows[0].s.length, 200000);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }

  neonConfig.pipelineConnect = "password";
  const c = new Client(dsn("pw_user", "pw_pw"));
  await c.connect();
  assert.equal((await c.query("SELECT current_user AS u")).rows[0].u, "pw_user");
  await c.end();
  const bad = new Client(dsn("pw_user", "wrong"));
  const e = await bad.connect().then(() => bad.query("SELECT 1")).catch((e) => e);
  assert.ok(e instanceof Error, "a wrong password fails");
  await bad.end().catch(() => {});
  neonConfig.pipelineConnect = false;
});

test("Neon's neon() over HTTP through edgepg-proxy", async () => {
  const sql = neonHttp(dsn());
  const rows = await sql`SELECT ${7}::int AS n, ${"x'y"}::text AS t, ${[1, 2]}::int[] AS a`;
  assert.deepEqual(rows, [{ n: 7, t: "x'y", a: [1, 2] }]);
  const full = await sql.query("SELECT $1::int8 AS big", ["9007199254740993"], { fullResults: true });
  assert.equal(full.rows[0].big, "9007199254740993");
  assert.equal(full.fields[0].dataTypeID, 20);
  assert.equal(full.command, "SELECT");
  const [a, b] = await sql.transaction([sql`SELECT 1 AS one`, sql`SELECT current_setting('transaction_isolation') AS iso`], {
    isolationLevel: "RepeatableRead",
  });
  assert.deepEqual(a, [{ one: 1 }]);
  assert.equal(b[0].iso, "repeatable read");
  const e = await sql`SELECT * FROM no_such_table`.catch((e) => e);
  assert.equal(e.code, "42P01");
  assert.equal(e.severity, "ERROR");
  const wrong = await neonHttp(dsn("scram_user", "wrong"))`SELECT 1`.catch((e) => e);
  assert.equal(wrong.code, "28P01");
});

test("edgepg's WebSocket API through edgepg-proxy", async () => {
  for (const [user, password, pipelineConnect] of [["edgepg", "edgepg_pw", false], ["pw_user", "pw_pw", "password"]]) {
    const conn = await connect(dsn(user, password), opts({ pipelineConnect }, proxyPort));
    try {
      assert.equal(await conn.fetchval("SELECT current_user"), user);
      const rows = await conn.fetch("SELECT g AS n FROM generate_series(1, 5000) g");
      assert.equal(rows.length, 5000);
      assert.equal(rows[4999].n, 5000);
      await conn.execute("CREATE TEMP TABLE ws_tx (id int)");
      await assert.rejects(
        conn.transaction(async (tx) => {
          await tx.execute("INSERT INTO ws_tx VALUES (1)");
          await tx.execute("SELECT 1/0");
        }),
        (e) => e instanceof PostgresError && e.code === "22012",
      );
      assert.equal(await conn.fetchval("SELECT count(*)::int FROM ws_tx"), 0);
    } finally {
      await conn.close();
    }
  }
  const e = await connect(dsn("pw_user", "wrong"), opts({ pipelineConnect: "password" }, proxyPort))
    .then((c) => c.fetchval("SELECT 1").finally(() => c.close()))
    .catch((e) => e);
  assert.equal(e.code, "28P01");
});

test("edgepg's pipeline through edgepg-proxy: every answer, in order, and the relay keeps serving after a vanished client", async () => {
  // The relay gathers the frames a pipeline sends together into one write to
  // PostgreSQL; the answers must still match their queries one by one.
  const conn = await connect(dsn(), opts({}, proxyPort));
  try {
    const got = await Promise.all(Array.from({ length: 500 }, (_, i) => conn.fetchval("SELECT $1::int4 * 2", [i])));
    assert.deepEqual(got, Array.from({ length: 500 }, (_, i) => i * 2));
  } finally {
    await conn.close();
  }
  // A client that leaves mid-transaction without closing: its work is rolled back.
  const admin = await connect(dsn(), opts({}, proxyPort));
  try {
    await admin.execute("DROP TABLE IF EXISTS proxy_js_gone; CREATE TABLE proxy_js_gone (id int)");
    let socket;
    class Spy extends WebSocket {
      constructor(...a) {
        super(...a);
        socket = this;
      }
    }
    const gone = await connect(dsn(), opts({ webSocketConstructor: Spy }, proxyPort));
    await gone.execute("BEGIN");
    await gone.execute("INSERT INTO proxy_js_gone VALUES (1)");
    socket.terminate(); // the network drops: no close frame, no Terminate message
    await gone.close().catch(() => {});
    let n = -1;
    for (let i = 0; i < 50; i++) {
      const open = await admin.fetchval(
        "SELECT count(*)::int FROM pg_stat_activity WHERE state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
      );
      n = await admin.fetchval("SELECT count(*)::int FROM proxy_js_gone");
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(n, 0);
    assert.equal(await admin.fetchval("SELECT 1"), 1);
    await admin.execute("DROP TABLE proxy_js_gone");
  } finally {
    await admin.close();
  }
});

const WIDE = `SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8, 26::oid AS o,
  1.5::float4 AS f4, 2.25::float8 AS f8, 'NaN'::float8 AS nan, '-Infinity'::float8 AS ninf,
  12345678901234567890.123::numeric AS n, true AS b, false AS bf, 'héllo "q"'::text AS t, 'c'::char(3) AS ch,
  '\\x00ff10'::bytea AS by, '{"a":[1,"x",null]}'::json AS j, '[1,2]'::jsonb AS jb,
  '2024-02-29'::date AS d, '2024-02-29 12:34:56.789'::timestamp AS ts, '2024-02-29 12:34:56.789+02'::timestamptz AS tz,
  '0044-03-15 12:00:00 BC'::timestamp AS bc, 'infinity'::timestamptz AS inf, '-infinity'::date AS ninfd,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, ARRAY[[1,2],[3,NULL]]::int4[] AS arr,
  ARRAY['a','b"c', NULL, 'NULL', 'x,y']::text[] AS tarr, '{}'::int4[] AS earr, NULL::int4 AS nul,
  ARRAY['2024-01-01'::date] AS darr, ARRAY[true, false] AS barr, ARRAY['\\x01'::bytea] AS byarr,
  ARRAY['{"k":1}'::jsonb] AS jarr, ARRAY[9007199254740993]::int8[] AS i8arr`;

test("edgepg/http: values decode as on the WebSocket path", async () => {
  const sql = neon(dsn(), { fetchEndpoint: endpoint });
  const conn = await connect(dsn(), opts({}, proxyPort));
  try {
    for (const o of [{}, { int8: "number" }, { int8: "string", dates: "string" }]) {
      const [overHttp] = await sql.query(WIDE, [], o);
      const overWs = await conn.fetchrow(WIDE, [], o);
      assert.deepEqual(overHttp, overWs, JSON.stringify(o));
    }
  } finally {
    await conn.close();
  }
  const [row] = await sql.query(WIDE);
  assert.equal(row.i8, 9007199254740993n);
  assert.deepEqual(row.by, new Uint8Array([0, 255, 16]));
  assert.equal(row.tz.toISOString(), "2024-02-29T10:34:56.789Z");
  assert.equal(row.inf, Infinity);
  assert.deepEqual(row.tarr, ["a", 'b"c', null, "NULL", "x,y"]);
  assert.ok(Number.isNaN(row.nan));
});

test("edgepg/http: templates, query(), modes, transactions", async () => {
  const sql = neon(dsn(), { fetchEndpoint: endpoint });
  const evil = "'; DROP TABLE x; --";
  const rows = await sql`SELECT ${evil}::text AS s, ${42} AS n, ${null}::int AS z, ${new Uint8Array([1, 2])}::bytea AS b, ${{ k: [1] }}::jsonb AS j, ${10n}::int8 AS big, ${new Date("2024-05-06T07:08:09.010Z")}::timestamptz AS d, ${["a", "b c"]}::text[] AS arr`;
  assert.deepEqual(rows[0], {
    s: evil, n: "42", z: null, b: new Uint8Array([1, 2]), j: { k: [1] }, big: 10n, d: new Date("2024-05-06T07:08:09.010Z"), arr: ["a", "b c"],
  });
  // Composition: a nested template and trusted raw SQL.
  const cond = sql`n > ${1}`;
  const composed = await sql`SELECT n FROM generate_series(1, 3) n WHERE ${cond} ORDER BY ${sql.unsafe("n")} DESC`;
  assert.deepEqual(composed, [{ n: 3 }, { n: 2 }]);
  assert.throws(() => sql("SELECT 1"), /tagged template/);
  await assert.rejects(sql`SELECT ${new Date(NaN)}::timestamptz`, (e) => e.name === "ConversionError");

  assert.deepEqual(await sql.query("SELECT $1::int AS a, $2::text AS b", [1, "x"], { arrayMode: true }), [[1, "x"]]);
  const full = await sql.query("SELECT 1 AS a", [], { fullResults: true });
  assert.equal(full.command, "SELECT");
  assert.equal(full.rowCount, 1);
  assert.equal(full.fields[0].name, "a");
  assert.deepEqual(full.rows, [{ a: 1 }]);
  const lazy = sql`SELECT 1`;
  assert.deepEqual(lazy.parameterizedQuery, { query: "SELECT 1", params: [] });

  await sql`DROP TABLE IF EXISTS http_tx`;
  await sql`CREATE TABLE http_tx (id int PRIMARY KEY)`;
  const [ins, count] = await sql.transaction((tx) => [tx`INSERT INTO http_tx VALUES (${1}), (${2}) RETURNING id`, tx`SELECT count(*)::int AS c FROM http_tx`]);
  assert.deepEqual(ins, [{ id: 1 }, { id: 2 }]);
  assert.deepEqual(count, [{ c: 2 }]);
  const e = await sql.transaction([sql`INSERT INTO http_tx VALUES (3)`, sql`INSERT INTO http_tx VALUES (1)`]).catch((e) => e);
  assert.ok(e instanceof HttpPostgresError, String(e));
  assert.equal(e.code, "23505");
  assert.equal(e.constraint, "http_tx_pkey");
  assert.equal((await sql`SELECT count(*)::int AS c FROM http_tx`)[0].c, 2, "rolled back");
  const ro = await sql.transaction([sql`INSERT INTO http_tx VALUES (4)`], { readOnly: true }).catch((e) => e);
  assert.equal(ro.code, "25006");
  const [[iso]] = await sql.transaction([sql`SHOW transaction_isolation`], { isolationLevel: "Serializable", deferrable: true, arrayMode: true });
  assert.deepEqual(iso, ["serializable"]);
  const [fr] = await sql.transaction([sql`SELECT 1 AS x`], { fullResults: true });
  assert.equal(fr.command, "SELECT");
  await sql`DROP TABLE http_tx`;
});

test("edgepg/http: errors, aborts, authToken", async () => {
  const sql = neon(dsn(), { fetchEndpoint: endpoint });
  const e = await sql`SELECT * FROM missing_table`.catch((e) => e);
  assert.ok(e instanceof HttpPostgresError);
  assert.equal(e.code, "42P01");
  assert.equal(e.position, "15");
  const auth = await neon(dsn("scram_user", "wrong"), { fetchEndpoint: endpoint })`SELECT 1`.catch((e) => e);
  assert.ok(auth instanceof HttpPostgresError);
  assert.equal(auth.code, "28P01");
  assert.equal(auth.kind, "auth");

  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error("enough")), 10);
  const aborted = await neon(dsn(), { fetchEndpoint: endpoint, fetchOptions: { signal: controller.signal } })`SELECT pg_sleep(5)`.catch((e) => e);
  assert.ok(aborted instanceof AbortError, String(aborted));
  const already = await sql.query("SELECT 1", [], { fetchOptions: { signal: AbortSignal.abort() } }).catch((e) => e);
  assert.ok(already instanceof AbortError);

  // authToken goes out as a Bearer token; edgepg-proxy does not take JWTs and says so.
  let called = 0;
  const jwt = await neon(dsn(), { fetchEndpoint: endpoint, authToken: async () => (called++, "tok") })`SELECT 1`.catch((e) => e);
  assert.equal(called, 1);
  assert.ok(jwt instanceof EdgepgError && jwt.status === 400 && /JWT/.test(jwt.message), String(jwt));
  // Not allowed by the proxy: 403 as an EdgepgError with the status.
  const forbidden = await neon(`postgres://edgepg:edgepg_pw@10.255.255.1:5432/x`, { fetchEndpoint: endpoint })`SELECT 1`.catch((e) => e);
  assert.equal(forbidden.status, 403);
  // Nothing listening at the endpoint.
  const down = await neon(dsn(), { fetchEndpoint: "http://127.0.0.1:1/sql" })`SELECT 1`.catch((e) => e);
  assert.equal(down.kind, "connect");
});
