// The four contenders, each behind the same small interface so the harness
// (bench.mjs) treats them alike:
//
//   open()            -> a handle on ONE connection (used by every workload but connect)
//   close(h)
//   connectFirst()    -> ms from "new connection" to the first result of SELECT 1
//                        (the connection is then closed, outside the timing)
//   select1(h)        -> the value of SELECT 1 (a number, as each client returns it)
//   fetchAll(h, sql)  -> every row of sql, as the client's default row objects
//   addOne(h, i)      -> the value of SELECT $1::int8 + 1 with i as the argument
//
// Every client logs in as the cleartext role pw_user (pg_hba `password`), so
// Neon's pipelineConnect: "password" works and all four do the same auth.
// Type mapping: each client's default (edgepg: int8 -> BigInt, numeric ->
// string, timestamptz -> Date; pg / Neon / postgres.js: int8 -> string,
// numeric -> string, timestamptz -> Date).
import WebSocket from "ws";
import pg from "pg";
import postgres from "postgres";
import { Pool as NeonPool, neonConfig } from "@neondatabase/serverless";
import { connect as edgepgConnect } from "edgepg";

export function clients(env) {
  const host = env.EDGEPG_TEST_HOST ?? "127.0.0.1";
  const port = env.EDGEPG_TEST_PORT;
  const db = env.EDGEPG_TEST_DB ?? "edgepg_test";
  const wsPort = env.EDGEPG_TEST_WS_PORT;
  if (!port || !wsPort) throw new Error("EDGEPG_TEST_PORT / EDGEPG_TEST_WS_PORT unset: source the cluster env (tests/cluster/start.sh)");
  const dsn = `postgres://pw_user:pw_pw@${host}:${port}/${db}`;

  // ---------------------------------------------------------------- edgepg
  const edgepgOptions = {
    wsProxy: `127.0.0.1:${wsPort}/v1`,
    useSecureWebSocket: false,
    webSocketConstructor: WebSocket,
    pipelineConnect: "password",
  };
  const edgepg = {
    name: "edgepg",
    transport: `npm package (wasm) over \`ws\` through websockify :${wsPort}`,
    open: () => edgepgConnect(dsn, edgepgOptions),
    close: (c) => c.close(),
    async connectFirst() {
      const t0 = performance.now();
      const c = await edgepgConnect(dsn, edgepgOptions);
      const v = await c.fetchval("SELECT 1");
      const ms = performance.now() - t0;
      await c.close();
      check(v, 1);
      return ms;
    },
    select1: (c) => c.fetchval("SELECT 1"),
    fetchAll: (c, sql) => c.fetch(sql),
    addOne: (c, i) => c.fetchval("SELECT $1::int8 + 1", [i]),
  };

  // ---------------------------------------------------------------- Neon
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = (h, p) => `127.0.0.1:${wsPort}/v1?address=${h}:${p}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineConnect = "password";
  neonConfig.pipelineTLS = false;
  neonConfig.coalesceWrites = true;
  // forceDisablePgSSL: left at its default (true).
  const neon = {
    name: "neon",
    transport: `@neondatabase/serverless Pool over \`ws\` through websockify :${wsPort}`,
    async open() {
      const pool = new NeonPool({ connectionString: dsn, max: 1 });
      const client = await pool.connect();
      return { pool, client };
    },
    async close({ pool, client }) {
      client.release();
      await pool.end();
    },
    async connectFirst() {
      const t0 = performance.now();
      const pool = new NeonPool({ connectionString: dsn, max: 1 });
      const r = await pool.query("SELECT 1 AS x");
      const ms = performance.now() - t0;
      await pool.end();
      check(r.rows[0].x, 1);
      return ms;
    },
    select1: async (h) => (await h.client.query("SELECT 1 AS x")).rows[0].x,
    fetchAll: async (h, sql) => (await h.client.query(sql)).rows,
    addOne: async (h, i) => (await h.client.query("SELECT $1::int8 + 1 AS x", [i])).rows[0].x,
  };

  // ---------------------------------------------------------------- node-postgres
  const nodePg = {
    name: "pg",
    transport: `node-postgres Client, TCP :${port}`,
    async open() {
      const c = new pg.Client({ connectionString: dsn });
      await c.connect();
      return c;
    },
    close: (c) => c.end(),
    async connectFirst() {
      const t0 = performance.now();
      const c = new pg.Client({ connectionString: dsn });
      await c.connect();
      const r = await c.query("SELECT 1 AS x");
      const ms = performance.now() - t0;
      await c.end();
      check(r.rows[0].x, 1);
      return ms;
    },
    select1: async (c) => (await c.query("SELECT 1 AS x")).rows[0].x,
    fetchAll: async (c, sql) => (await c.query(sql)).rows,
    addOne: async (c, i) => (await c.query("SELECT $1::int8 + 1 AS x", [i])).rows[0].x,
  };

  // ---------------------------------------------------------------- postgres.js
  // max: 1 so every workload runs on ONE connection (like the others); all
  // other options at their defaults (prepare: true, fetch_types: true).
  const pgjs = {
    name: "postgres.js",
    transport: `postgres.js, TCP :${port}`,
    async open() {
      const sql = postgres(dsn, { max: 1, onnotice: () => {} });
      await sql`SELECT 1`; // open the connection outside the timing
      return sql;
    },
    close: (sql) => sql.end({ timeout: 5 }),
    async connectFirst() {
      const t0 = performance.now();
      const sql = postgres(dsn, { max: 1, onnotice: () => {} });
      const r = await sql`SELECT 1 AS x`;
      const ms = performance.now() - t0;
      await sql.end({ timeout: 5 });
      check(r[0].x, 1);
      return ms;
    },
    select1: async (sql) => (await sql`SELECT 1 AS x`)[0].x,
    fetchAll: (sql, text) => sql.unsafe(text),
    addOne: async (sql, i) => (await sql`SELECT ${i}::int8 + 1 AS x`)[0].x,
  };

  return [edgepg, neon, nodePg, pgjs];
}

function check(got, want) {
  if (Number(got) !== want) throw new Error(`expected ${want}, got ${String(got)}`);
}
