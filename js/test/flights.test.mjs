// Round trips, counted by a TCP relay of our own between websockify and
// PostgreSQL: a "flight" is a client→server burst (data after the server
// last spoke, or the first data); the server's answer follows it.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { spawn } from "node:child_process";
import { connect, createPool, query, PostgresError } from "edgepg";
import { dsn, opts, env, unhandled } from "./helpers.mjs";

const closers = [];
after(async () => {
  for (const c of closers) await c();
  assert.deepEqual(unhandled, []);
});

let flights = 0;
let lastDir = null;
const relay = net.createServer((client) => {
  const server = net.connect(Number(env.EDGEPG_TEST_PORT), env.EDGEPG_TEST_HOST);
  client.setNoDelay(true);
  server.setNoDelay(true);
  client.on("data", (d) => { if (lastDir !== "up") { flights++; lastDir = "up"; } server.write(d); });
  server.on("data", (d) => { lastDir = "down"; client.write(d); });
  client.on("close", () => server.destroy());
  server.on("close", () => client.destroy());
  client.on("error", () => {});
  server.on("error", () => {});
});
await new Promise((r) => relay.listen(0, "127.0.0.1", r));
closers.push(() => new Promise((r) => relay.close(r)));

// A websockify of our own in front of the relay.
const wsPort = await new Promise((resolve) => {
  const s = net.createServer();
  s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const proc = spawn("websockify", [`127.0.0.1:${wsPort}`, `127.0.0.1:${relay.address().port}`], { stdio: "ignore" });
closers.push(() => { proc.kill(); });
for (let i = 0; i < 100; i++) {
  const up = await new Promise((r) => { const s = net.connect(wsPort, "127.0.0.1", () => { s.destroy(); r(true); }); s.on("error", () => r(false)); });
  if (up) break;
  await new Promise((r) => setTimeout(r, 50));
}

// Waits for stragglers (a Terminate sent by a close nobody awaited) before
// counting anew.
async function reset() {
  await new Promise((r) => setTimeout(r, 50));
  flights = 0;
  lastDir = null;
}

const PW = () => dsn("pw_user", "pw_pw");
const PIPE = () => opts({ pipelineConnect: "password" }, wsPort);

test("lazy connect: connect + first extended query (a cache miss with arguments) is ONE flight", async () => {
  await reset();
  const c = await connect(PW(), { ...PIPE(), lazy: true });
  assert.equal(flights, 0, "nothing reaches PostgreSQL before the first call");
  assert.equal(await c.fetchval("SELECT $1::int4 + 1", [41]), 42);
  assert.equal(flights, 1, "startup + password + Parse/Describe/Bind/Execute/Sync in one write");
  await reset();
  assert.equal(await c.fetchval("SELECT $1::int4 + 1", [1]), 2);
  assert.equal(flights, 1, "cached statement");
  assert.ok(c.getServerPid() > 0);
  await c.close();
});

test("one-shot query(): ONE flight", async () => {
  await reset();
  const rows = await query(PW(), "SELECT $1::text AS a, 2 AS b", ["x"], PIPE());
  const n = flights;
  assert.deepEqual(rows, [{ a: "x", b: 2 }]);
  assert.equal(n, 1);
  await reset();
  assert.deepEqual(await query(PW(), "SELECT 1 AS one", { ...PIPE(), arrayMode: true }), [[1]]);
  assert.equal(flights, 1, "simple protocol");
});

test("fresh pool: pool.fetch is ONE flight, the next one too", async () => {
  await reset();
  const pool = createPool(PW(), PIPE());
  assert.deepEqual(await pool.fetch("SELECT $1::int4 AS v", [7]), [{ v: 7 }]);
  assert.equal(flights, 1, "connect + query");
  await reset();
  assert.equal(await pool.fetchval("SELECT $1::int4", [8]), 8);
  // The pooled connection's reset on release may share or follow; the query itself is one flight.
  assert.ok(flights <= 2, `flights: ${flights}`);
  await pool.close();
  // Other shortcuts share the startup flight too.
  await reset();
  const p2 = createPool(PW(), PIPE());
  assert.equal(await p2.execute("SELECT 1"), "SELECT 1");
  assert.equal(flights, 1, "pool.execute on a fresh pool");
  await p2.close();
});

test("explicit connect(): ONE flight (authenticated when it resolves), then one per query", async () => {
  await reset();
  const c = await connect(PW(), PIPE());
  const connectFlights = flights;
  assert.ok(c.getServerPid() > 0, "startup finished before connect() resolved");
  await reset();
  assert.equal(await c.execute("SELECT 1"), "SELECT 1");
  const simpleFlights = flights;
  await reset();
  assert.equal(await c.fetchval("SELECT $1::int4", [1]), 1);
  const firstExtended = flights;
  await reset();
  assert.equal(await c.fetchval("SELECT $1::int4", [2]), 2);
  const cachedExtended = flights;
  assert.equal(connectFlights, 1, "startup + cleartext password + Sync");
  assert.equal(simpleFlights, 1, "simple query");
  // After startup a statement-cache miss describes first (binary results).
  assert.equal(firstExtended, 2, "statement cache miss: Parse/Describe, then Bind/Execute");
  assert.equal(cachedExtended, 1, "cached statement");
  await c.close();
});

test("the default pipelines over wss (here: a wss-configured proxy URL that says ws://); the DSN can turn it off", async () => {
  const wsProxy = (host, port) => `ws://127.0.0.1:${wsPort}/v1?address=${host}:${port}`;
  const base = { ...opts({}, wsPort), wsProxy, useSecureWebSocket: true };
  await reset();
  const c = await connect(PW(), base);
  assert.equal(flights, 1, "pipelineConnect defaults to \"password\"");
  await c.close();
  await reset();
  const d = await connect(`${PW()}?pipeline_connect=disable`, base);
  assert.equal(flights, 2, "pipeline_connect=disable in the DSN wins: startup, then password");
  await d.close();
  await reset();
  const e = await connect(PW(), { ...base, pipelineConnect: false });
  assert.equal(flights, 2, "pipelineConnect: false");
  await e.close();
  await reset();
  const f = await connect(PW(), opts({}, wsPort));
  assert.equal(flights, 2, "plain ws: not pipelined unless asked");
  await f.close();
});

test("wrong password: PostgresError 28P01 on the first call of the lazy paths, on connect() for the explicit one", async () => {
  const bad = dsn("pw_user", "wrong");
  const is28P01 = (e) => e instanceof PostgresError && e.code === "28P01" && e.kind === "auth";
  const c = await connect(bad, { ...PIPE(), lazy: true });
  await assert.rejects(c.fetchval("SELECT $1::int4", [1]), is28P01);
  // Every later call says the same, never "connection closed".
  await assert.rejects(c.execute("SELECT 1"), is28P01);
  await c.close();
  await assert.rejects(query(bad, "SELECT 1", PIPE()), is28P01);
  await assert.rejects(connect(bad, PIPE()), is28P01);
  const pool = createPool(bad, PIPE());
  await assert.rejects(pool.fetch("SELECT 1"), is28P01);
  await assert.rejects(pool.acquire(), is28P01);
  await pool.close();
});

test("non-cleartext servers fall back transparently (SCRAM, MD5, trust)", async () => {
  for (const [user, pw] of [["scram_user", "scram_pw"], ["md5_user", "md5_pw"], ["trust_user", "x"]]) {
    const lazy = await connect(dsn(user, pw), { ...PIPE(), lazy: true });
    assert.equal(await lazy.fetchval("SELECT $1::text", [user]), user, user);
    await lazy.close();
    assert.deepEqual(await query(dsn(user, pw), "SELECT current_user AS u", PIPE()), [{ u: user }]);
    const c = await connect(dsn(user, pw), PIPE());
    assert.equal(await c.fetchval("SELECT current_user"), user);
    await c.close();
  }
  await assert.rejects(
    connect(dsn("scram_user", "wrong"), PIPE()),
    (e) => e instanceof PostgresError && e.code === "28P01",
  );
});

test("a pipelined BEGIN; INSERT; INSERT; COMMIT is one flight", async () => {
  const c = await connect(PW(), PIPE());
  await c.execute("CREATE TEMP TABLE fl (id int)");
  await reset();
  const statuses = await Promise.all([
    c.execute("BEGIN"),
    c.execute("INSERT INTO fl VALUES (1)"),
    c.execute("INSERT INTO fl VALUES (2)"),
    c.execute("COMMIT"),
  ]);
  assert.deepEqual(statuses, ["BEGIN", "INSERT 0 1", "INSERT 0 1", "COMMIT"]);
  assert.equal(flights, 1);
  assert.equal(await c.fetchval("SELECT count(*) FROM fl", [], { int8: "number" }), 2);
  await c.close();
});

test("lazy connect + a pipelined transaction: startup and BEGIN…COMMIT in ONE flight", async () => {
  await reset();
  const c = await connect(PW(), { ...PIPE(), lazy: true });
  const statuses = await Promise.all([
    c.execute("BEGIN"),
    c.execute("CREATE TEMP TABLE fl2 (id int)"),
    c.execute("INSERT INTO fl2 VALUES ($1)", [1]),
    c.execute("COMMIT"),
  ]);
  assert.deepEqual(statuses, ["BEGIN", "CREATE TABLE", "INSERT 0 1", "COMMIT"]);
  assert.equal(flights, 1);
  await c.close();
});

test("the first flight's text-format results decode exactly like later binary ones", async () => {
  const sql = `SELECT 1::int2 AS i2, 2::int4 AS i4, 3::int8 AS i8, 1.5::float4 AS f4, 2.25::float8 AS f8,
    12.340::numeric AS num, true AS b, 'x'::text AS t, 'y'::varchar AS vc, 'n'::name AS nm, '\\x0102'::bytea AS by,
    '{"a":[1,2]}'::jsonb AS jb, '[1]'::json AS j, '2024-02-29'::date AS d, '2024-02-29 12:34:56.789'::timestamp AS ts,
    '2024-02-29 12:34:56.789+02'::timestamptz AS tz, 'infinity'::timestamptz AS inf, '12:00'::time AS tm,
    '1 day 02:00'::interval AS iv, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '{1,NULL,3}'::int4[] AS arr,
    '{{a,b},{c,d}}'::text[] AS arr2, NULL::int4 AS nul, 9007199254740993::int8 AS big, $1::int4 AS p`;
  const c = await connect(PW(), { ...PIPE(), lazy: true });
  const first = await c.fetch(sql, [5]);   // one flight, text results
  const second = await c.fetch(sql, [5]);  // cached statement, binary results
  assert.deepEqual(first, second);
  assert.equal(second[0].big, 9007199254740993n);
  const asStrings = await query(PW(), sql, [5], { ...PIPE(), int8: "string", dates: "string" });
  assert.equal(asStrings[0].big, "9007199254740993");
  assert.deepEqual(asStrings, await c.fetch(sql, [5], { int8: "string", dates: "string" }));
  await c.close();
});
