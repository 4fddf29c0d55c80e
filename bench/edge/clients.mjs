// The contenders (pg and postgres.js twice: over TCP and through websockify), each behind the same small interface so the harness
// (bench.mjs) treats them alike:
//
//   open()            -> a handle on ONE connection (used by every workload but connect)
//   close(h)
//   connectFirst()    -> ms from "new connection" to the first result of SELECT 1
//                        (the connection is then closed, outside the timing)
//   select1(h)        -> the value of SELECT 1 (a number, as each client returns it)
//   fetchAll(h, sql)  -> every row of sql, as the client's default row objects
//   fetchArrays(h, sql) -> every row of sql as an array of values (edgepg: arrayMode;
//                        pg / Neon: rowMode "array"; postgres.js: .values())
//   addOne(h, i)      -> the value of SELECT $1::int8 + 1 with i as the argument
//
// Every client logs in as the cleartext role pw_user (pg_hba `password`), so
// Neon's pipelineConnect: "password" works and all four do the same auth.
// Type mapping: each client's default (edgepg: int8 -> BigInt, numeric ->
// string, timestamptz -> Date; pg / Neon / postgres.js: int8 -> string,
// numeric -> string, timestamptz -> Date).
import { Duplex } from "node:stream";
import WebSocket from "ws";
import pg from "pg";
import postgres from "postgres";
import { Pool as NeonPool, neonConfig } from "@neondatabase/serverless";
import { connect as edgepgConnect, createPool as edgepgPool } from "edgepg";
import { Client as EdgepgPgClient, Pool as EdgepgPgPool } from "edgepg/pg";

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
  // Twice: through websockify (against Neon and the -ws contenders) and over
  // direct TCP (against pg and postgres.js over TCP; TLS off like theirs).
  const makeEdgepg = (name, transport, dsnFor, options) => ({
    name,
    transport,
    open: () => edgepgConnect(dsnFor, options),
    close: (c) => c.close(),
    async connectFirst() {
      const t0 = performance.now();
      // lazy: the startup waits for the first query, so both go in one flight.
      const c = await edgepgConnect(dsnFor, { ...options, lazy: true });
      const v = await c.fetchval("SELECT 1");
      const ms = performance.now() - t0;
      await c.close();
      check(v, 1);
      return ms;
    },
    select1: (c) => c.fetchval("SELECT 1"),
    fetchAll: (c, sql) => c.fetch(sql),
    fetchArrays: (c, sql) => c.fetch(sql, { arrayMode: true }),
    addOne: (c, i) => c.fetchval("SELECT $1::int8 + 1", [i]),
    // noReset: like pg's and postgres.js's pools, which never clean a session
    // on release (edgepg's default runs asyncpg's reset then; see pool_10k_noreset).
    // pipelineDepth: 1 gives each call a connection to itself (pool_10k_exclusive);
    // the default pipelines calls onto busy connections, as postgres.js does.
    openPool: async (size, { noReset = false, pipelineDepth } = {}) => {
      const pool = edgepgPool(dsnFor, {
        ...options, maxSize: size, minSize: size, ...(noReset ? { reset: false } : {}), ...(pipelineDepth ? { pipelineDepth } : {}),
      });
      return pool.ready();
    },
    closePool: (p) => p.close(),
    poolAddOne: (p, i) => p.fetchval("SELECT $1::int8 + 1", [i]),
  });
  const edgepg = makeEdgepg("edgepg", `npm package (wasm) over \`ws\` through websockify :${wsPort}`, dsn, edgepgOptions);
  const edgepgTcp = makeEdgepg("edgepg-tcp", `npm package (wasm) over node:net, TCP :${port}`, `${dsn}?sslmode=disable`, {
    transport: "tcp",
    pipelineConnect: "password",
  });

  // ---------------------------------------------------------------- edgepg/pg
  // The same package through its node-postgres-shaped API (what Drizzle,
  // Kysely and Prisma use), called exactly as pg and Neon are below.
  // Twice, like edgepg: through websockify and over direct TCP.
  const makeEdgepgPg = (name, transport, config) => ({
    name,
    transport,
    async open() {
      const c = new EdgepgPgClient(config);
      await c.connect();
      return c;
    },
    close: (c) => c.end(),
    async connectFirst() {
      const t0 = performance.now();
      const c = new EdgepgPgClient(config);
      await c.connect();
      const r = await c.query("SELECT 1 AS x");
      const ms = performance.now() - t0;
      await c.end();
      check(r.rows[0].x, 1);
      return ms;
    },
    select1: async (c) => (await c.query("SELECT 1 AS x")).rows[0].x,
    fetchAll: async (c, sql) => (await c.query(sql)).rows,
    fetchArrays: async (c, sql) => (await c.query({ text: sql, rowMode: "array" })).rows,
    addOne: async (c, i) => (await c.query("SELECT $1::int8 + 1 AS x", [i])).rows[0].x,
    // The facade's Pool never resets a session on release (pg's semantics),
    // so pool_10k and pool_10k_noreset run the same pool.
    openPool: async (size) => {
      const pool = new EdgepgPgPool({ ...config, max: size });
      await warm(size, () => pool.query("SELECT 1"));
      return pool;
    },
    closePool: (p) => p.end(),
    poolAddOne: async (p, i) => (await p.query("SELECT $1::int8 + 1 AS x", [i])).rows[0].x,
  });
  const edgepgPg = makeEdgepgPg(
    "edgepg-pg",
    `edgepg/pg Client and Pool (same package, same wasm) over \`ws\` through websockify :${wsPort}`,
    { connectionString: dsn, ...edgepgOptions },
  );
  const edgepgPgTcp = makeEdgepgPg(
    "edgepg-pg-tcp",
    `edgepg/pg Client and Pool (same package, same wasm) over node:net, TCP :${port}`,
    { connectionString: `${dsn}?sslmode=disable`, transport: "tcp", pipelineConnect: "password" },
  );

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
    fetchArrays: async (h, sql) => (await h.client.query({ text: sql, rowMode: "array" })).rows,
    addOne: async (h, i) => (await h.client.query("SELECT $1::int8 + 1 AS x", [i])).rows[0].x,
    openPool: async (size) => {
      const pool = new NeonPool({ connectionString: dsn, max: size });
      await warm(size, () => pool.query("SELECT 1"));
      return pool;
    },
    closePool: (p) => p.end(),
    poolAddOne: async (p, i) => (await p.query("SELECT $1::int8 + 1 AS x", [i])).rows[0].x,
  };

  // ---------------------------------------------------------------- node-postgres
  // Twice: over TCP (what the table asks for) and through the same
  // websockify as edgepg and Neon (what the BRIEF's target compares: "through
  // the same WebSocket proxy"), by handing pg a socket that is a WebSocket.
  const wsUrl = `ws://127.0.0.1:${wsPort}/v1?address=${host}:${port}`;
  const makePg = (name, transport, stream) => {
    const config = { connectionString: dsn, ...(stream ? { stream } : {}) };
    return {
      name,
      transport,
      async open() {
        const c = new pg.Client(config);
        await c.connect();
        return c;
      },
      close: (c) => c.end(),
      async connectFirst() {
        const t0 = performance.now();
        const c = new pg.Client(config);
        await c.connect();
        const r = await c.query("SELECT 1 AS x");
        const ms = performance.now() - t0;
        await c.end();
        check(r.rows[0].x, 1);
        return ms;
      },
      select1: async (c) => (await c.query("SELECT 1 AS x")).rows[0].x,
      fetchAll: async (c, sql) => (await c.query(sql)).rows,
      fetchArrays: async (c, sql) => (await c.query({ text: sql, rowMode: "array" })).rows,
      addOne: async (c, i) => (await c.query("SELECT $1::int8 + 1 AS x", [i])).rows[0].x,
      openPool: async (size) => {
        const pool = new pg.Pool({ ...config, max: size });
        await warm(size, () => pool.query("SELECT 1"));
        return pool;
      },
      closePool: (p) => p.end(),
      poolAddOne: async (p, i) => (await p.query("SELECT $1::int8 + 1 AS x", [i])).rows[0].x,
    };
  };
  const nodePg = makePg("pg", `node-postgres Client, TCP :${port}`);
  const nodePgWs = makePg("pg-ws", `node-postgres Client over \`ws\` through websockify :${wsPort} (a Duplex over a WebSocket as its \`stream\`)`, () => new WsSocket(wsUrl));

  // ---------------------------------------------------------------- postgres.js
  // max: 1 so every workload runs on ONE connection (like the others); all
  // other options at their defaults (prepare: true, fetch_types: true).
  const makePgjs = (name, transport, socket) => {
    const options = { max: 1, onnotice: () => {}, ...(socket ? { socket } : {}) };
    return {
      name,
      transport,
      async open() {
        const sql = postgres(dsn, options);
        await sql`SELECT 1`; // open the connection outside the timing
        return sql;
      },
      close: (sql) => sql.end({ timeout: 5 }),
      async connectFirst() {
        const t0 = performance.now();
        const sql = postgres(dsn, options);
        const r = await sql`SELECT 1 AS x`;
        const ms = performance.now() - t0;
        await sql.end({ timeout: 5 });
        check(r[0].x, 1);
        return ms;
      },
      select1: async (sql) => (await sql`SELECT 1 AS x`)[0].x,
      fetchAll: (sql, text) => sql.unsafe(text),
      fetchArrays: (sql, text) => sql.unsafe(text).values(),
      addOne: async (sql, i) => (await sql`SELECT ${i}::int8 + 1 AS x`)[0].x,
      openPool: async (size) => {
        const sql = postgres(dsn, { ...options, max: size });
        await warm(size, () => sql`SELECT pg_sleep(0.01)`);
        return sql;
      },
      closePool: (sql) => sql.end({ timeout: 5 }),
      poolAddOne: async (sql, i) => (await sql`SELECT ${i}::int8 + 1 AS x`)[0].x,
    };
  };
  const pgjs = makePgjs("postgres.js", `postgres.js, TCP :${port}`);
  // postgres.js writes its startup as soon as a custom socket is handed over,
  // so the factory resolves once the WebSocket is open.
  const pgjsWs = makePgjs("postgres.js-ws", `postgres.js over \`ws\` through websockify :${wsPort} (a Duplex over a WebSocket as its \`socket\`)`, () =>
    new Promise((resolve, reject) => {
      const s = new WsSocket(wsUrl).connect();
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    }));

  return [edgepg, edgepgPg, edgepgTcp, edgepgPgTcp, neon, nodePg, pgjs, nodePgWs, pgjsWs];
}

/** Opens a pool's `size` connections before the timing: `size` overlapping queries. */
async function warm(size, query) {
  await Promise.all(Array.from({ length: size }, query));
}

/**
 * A net.Socket stand-in over a WebSocket (binary frames, one frame per
 * write), enough for pg's `stream` and postgres.js's `socket` options: what
 * Neon's driver does for pg, minus its write coalescing (both clients
 * already write a whole query at once).
 */
class WsSocket extends Duplex {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.closing = false;
  }
  connect() {
    const ws = (this.ws = new WebSocket(this.url));
    ws.binaryType = "nodebuffer";
    ws.on("open", () => this.emit("connect"));
    ws.on("message", (data) => this.push(data));
    ws.on("close", () => {
      this.push(null);
      this.destroy();
    });
    // websockify answers our close with status 1005, which `ws` reports as
    // an error; once closing, errors change nothing.
    ws.on("error", (e) => (this.closing ? this.destroy() : this.destroy(e)));
    return this;
  }
  get readyState() {
    return this.ws?.readyState === WebSocket.OPEN ? "open" : "closed";
  }
  setNoDelay() {
    return this;
  }
  setKeepAlive() {
    return this;
  }
  ref() {
    return this;
  }
  unref() {
    return this;
  }
  _read() {}
  _write(chunk, _encoding, callback) {
    this.ws.send(chunk, callback);
  }
  _final(callback) {
    this.closing = true;
    this.ws.close();
    callback();
  }
  _destroy(err, callback) {
    this.closing = true;
    if (this.ws && this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
    callback(err);
  }
}

function check(got, want) {
  if (Number(got) !== want) throw new Error(`expected ${want}, got ${String(got)}`);
}
