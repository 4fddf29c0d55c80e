// The JS API suite that every runtime of the matrix runs (runtimes.test.mjs):
// Node 20/22/24, Bun, Deno, workerd — over TCP and over WebSocket. Only Web
// APIs and the edgepg module handed in: no node: imports, no test framework,
// so the same file runs in a Worker.
//
//   const report = await runSuite(edgepg, { dsn, options, refused, expectSsl });
//   report.failures -> [] when every check passed
//
// Each check is a function that throws on the first wrong value; a check
// that hangs fails after CHECK_TIMEOUT_MS instead of stalling the run. Every
// connection a check opens is closed in its `finally`.

const CHECK_TIMEOUT_MS = 30_000;

/** Deep equality for what results hold: primitives, bigint, Date, Uint8Array, arrays, plain objects. */
function same(a, b) {
  if (Object.is(a, b)) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => same(a[k], b[k]));
  }
  return false;
}

function show(v) {
  if (typeof v === "bigint") return `${v}n`;
  if (v instanceof Uint8Array) return `Uint8Array[${Array.from(v).join(",")}]`;
  if (v instanceof Date) return `Date(${Number.isNaN(v.getTime()) ? "invalid" : v.toISOString()})`;
  try {
    return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? `${x}n` : x));
  } catch {
    return String(v);
  }
}

function eq(actual, expected, what) {
  if (!same(actual, expected)) throw new Error(`${what}: got ${show(actual)}, expected ${show(expected)}`);
}

function ok(cond, what) {
  if (!cond) throw new Error(what);
}

/** Awaits `promise`, which must reject; returns the error. */
async function rejects(promise, what) {
  let value;
  try {
    value = await promise;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: resolved with ${show(value)} instead of rejecting`);
}

function errorText(e) {
  return `${e?.name ?? typeof e}: ${e?.message ?? String(e)}${e?.code ? ` [${e.code}]` : ""}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects after `ms` unless `promise` settles first. */
function within(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Polls `probe()` until it is truthy, for at most `ms`. */
async function eventually(probe, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what} (waited ${ms} ms)`);
    await sleep(20);
  }
}

const text = (bytes) => new TextDecoder().decode(bytes);

async function readAll(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The checks. Each gets `ctx`: `{ edgepg, dsn(user?, password?), options,
 * refused: { dsn, options }, expectSsl, open() }` and throws on failure.
 */
const CHECKS = {
  async connect(ctx) {
    const conn = await ctx.open();
    try {
      eq(await conn.fetchval("SELECT 1"), 1, "SELECT 1");
      ok(conn.getServerPid() > 0, `server pid ${conn.getServerPid()}`);
      ok(/^\d+/.test(conn.getServerVersion() ?? ""), `server version ${conn.getServerVersion()}`);
      eq(await conn.fetchval("SELECT current_user"), "edgepg", "current_user");
      // The transport really is what was asked for: TLS or not, as the server sees it.
      const ssl = await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
      eq(ssl, ctx.expectSsl, "pg_stat_ssl.ssl");
      eq(conn.isClosed(), false, "isClosed before close");
    } finally {
      await conn.close();
    }
    eq(conn.isClosed(), true, "isClosed after close");
  },

  async types(ctx) {
    const conn = await ctx.open();
    try {
      const row = await conn.fetchrow(`SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8,
        2.25::float8 AS f8, 12345678901234567890.123::numeric AS n, true AS b, 'héllo €😀'::text AS t,
        '\\x00ff10'::bytea AS by, '{"a":[1,"x",null]}'::json AS j, '[1,2]'::jsonb AS jb,
        '2024-02-29'::date AS d, '2024-02-29 12:34:56.789+02'::timestamptz AS tz,
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, ARRAY[[1,2],[3,NULL]]::int4[] AS arr,
        ARRAY['a','b"c']::text[] AS tarr, NULL::int4 AS nul, 'infinity'::timestamptz AS inf`);
      eq(row.i2, 1, "int2");
      eq(row.i4, 2, "int4");
      eq(row.i8, 9007199254740993n, "int8 (BigInt)");
      eq(row.f8, 2.25, "float8");
      eq(row.n, "12345678901234567890.123", "numeric (lossless string)");
      eq(row.b, true, "bool");
      eq(row.t, "héllo €😀", "text");
      eq(row.by, new Uint8Array([0, 255, 16]), "bytea");
      eq(row.j, { a: [1, "x", null] }, "json");
      eq(row.jb, [1, 2], "jsonb");
      eq(row.d, new Date("2024-02-29T00:00:00.000Z"), "date");
      eq(row.tz, new Date("2024-02-29T10:34:56.789Z"), "timestamptz");
      eq(row.u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "uuid");
      eq(row.arr, [[1, 2], [3, null]], "int4[][]");
      eq(row.tarr, ["a", 'b"c'], "text[]");
      eq(row.nul, null, "NULL");
      eq(row.inf, Infinity, "infinity");
      // Parameters go out in binary and come back equal.
      const bytes = new Uint8Array([1, 0, 2, 255]);
      const back = await conn.fetchrow(
        "SELECT $1::int4 AS a, $2::int8 AS b, $3::float8 AS c, $4::text AS d, $5::bool AS e, $6::bytea AS f, $7::jsonb AS g, $8::timestamptz AS h, $9::int4[] AS i, $10::numeric AS j",
        [-7, -9007199254740993n, 0.1, "ü", false, bytes, { k: [true] }, new Date(86_400_000), [1, null, 3], "1.50"]);
      eq(back, {
        a: -7, b: -9007199254740993n, c: 0.1, d: "ü", e: false, f: bytes, g: { k: [true] },
        h: new Date(86_400_000), i: [1, null, 3], j: "1.50",
      }, "parameters round trip");
      // Per-call type options.
      eq(await conn.fetchval("SELECT 5::int8", [], { int8: "number" }), 5, "int8: number");
      eq(await conn.fetchval("SELECT 5::int8", [], { int8: "string" }), "5", "int8: string");
      eq(await conn.fetchval("SELECT '2024-01-02'::date", [], { dates: "string" }), "2024-01-02", "dates: string");
      eq(await conn.fetch("SELECT 1 AS a, 'x' AS b", [], { arrayMode: true }), [[1, "x"]], "arrayMode");
      // A server error is a PostgresError with its SQLSTATE and position.
      const e = await rejects(conn.fetch("SELECT nope FROM pg_class"), "unknown column");
      ok(e instanceof ctx.edgepg.PostgresError, `PostgresError, got ${errorText(e)}`);
      eq(e.code, "42703", "SQLSTATE undefined_column");
      eq(await conn.fetchval("SELECT 2"), 2, "usable after an error");
    } finally {
      await conn.close();
    }
  },

  async transactions(ctx) {
    const conn = await ctx.open();
    try {
      await conn.execute("CREATE TEMP TABLE tx_t (id int PRIMARY KEY)");
      eq(await conn.transaction(async (tx) => {
        ok(tx.isInTransaction(), "inside the callback: in a transaction");
        await tx.execute("INSERT INTO tx_t VALUES (1)");
        return "done";
      }), "done", "transaction result");
      const thrown = await rejects(conn.transaction(async (tx) => {
        await tx.execute("INSERT INTO tx_t VALUES (2)");
        throw new Error("boom");
      }), "a throwing transaction");
      eq(thrown.message, "boom", "the callback's error comes back");
      // Savepoint: the inner block rolls back, the outer commits.
      await conn.transaction(async (tx) => {
        await tx.execute("INSERT INTO tx_t VALUES (3)");
        await rejects(tx.transaction(async (sp) => {
          await sp.execute("INSERT INTO tx_t VALUES (4)");
          throw new Error("inner");
        }), "savepoint");
        await tx.execute("INSERT INTO tx_t VALUES (5)");
      });
      // A manual transaction object.
      const tx = conn.transaction({ isolation: "serializable" });
      await tx.start();
      eq(await tx.fetchval("SHOW transaction_isolation"), "serializable", "isolation level");
      await tx.execute("INSERT INTO tx_t VALUES (6)");
      await tx.rollback();
      // A failed statement aborts the transaction; nothing of it lands.
      await rejects(conn.transaction(async (t) => {
        await t.execute("INSERT INTO tx_t VALUES (7)");
        await t.execute("INSERT INTO tx_t VALUES (1)"); // duplicate key
      }), "duplicate key in a transaction");
      eq(conn.isInTransaction(), false, "no transaction left open");
      eq((await conn.fetch("SELECT id FROM tx_t ORDER BY id")).map((r) => r.id), [1, 3, 5], "rows that landed");
    } finally {
      await conn.close();
    }
  },

  async cursor(ctx) {
    const conn = await ctx.open();
    try {
      const ids = await conn.transaction(async (tx) => {
        const seen = [];
        for await (const r of tx.cursor("SELECT i FROM generate_series(1, $1::int4) i", [25], { prefetch: 4 })) seen.push(r.i);
        return seen;
      });
      eq(ids, Array.from({ length: 25 }, (_, i) => i + 1), "cursor rows");
      const parts = await conn.transaction(async (tx) => {
        const cur = await tx.cursor("SELECT i FROM generate_series(1, 10) i").open();
        const first = (await cur.fetch(3)).map((r) => r.i);
        await cur.forward(4);
        const rest = (await cur.fetch(10)).map((r) => r.i);
        return [first, rest];
      });
      eq(parts, [[1, 2, 3], [8, 9, 10]], "cursor fetch/forward");
      // Outside a transaction a cursor is an interface error, not a hang.
      const e = await rejects((async () => { for await (const _ of conn.cursor("SELECT 1")) { /* none */ } })(), "cursor outside a transaction");
      ok(e instanceof ctx.edgepg.EdgepgError, `EdgepgError, got ${errorText(e)}`);
    } finally {
      await conn.close();
    }
  },

  async copy(ctx) {
    const conn = await ctx.open();
    try {
      await conn.execute("CREATE TEMP TABLE copy_t (id int, name text)");
      const enc = new TextEncoder();
      const source = new ReadableStream({
        start(c) {
          c.enqueue(enc.encode("1,a\n2,"));
          c.enqueue(enc.encode("b é\n"));
          c.close();
        },
      });
      eq(await conn.copyToTable("copy_t", { source, format: "csv" }), 2, "copyToTable (stream, csv)");
      eq(await conn.copyToTable("copy_t", { source: "3\tc\n", columns: ["id", "name"] }), 1, "copyToTable (string, text)");
      async function* records() {
        yield [4, "d"];
        yield [5, null];
      }
      eq(await conn.copyRecordsToTable("copy_t", { records: records() }), 2, "copyRecordsToTable (async iterable)");
      const csv = text(await readAll(conn.copyFromQuery("SELECT * FROM copy_t ORDER BY id", [], { format: "csv" })));
      eq(csv, "1,a\n2,b é\n3,c\n4,d\n5,\n", "copyFromQuery (csv)");
      const table = text(await readAll(conn.copyFromTable("copy_t", { columns: ["id"] })));
      eq(table.split("\n").filter(Boolean).map(Number).sort(), [1, 2, 3, 4, 5], "copyFromTable (text)");
      // A failing source aborts the COPY: no row of it lands.
      const failing = new ReadableStream({
        pull(c) {
          c.enqueue(enc.encode("6,f\n"));
          c.error(new Error("source broke"));
        },
      });
      const e = await rejects(conn.copyToTable("copy_t", { source: failing, format: "csv" }), "failing COPY source");
      ok(/source broke/.test(errorText(e)) || /source broke/.test(String(e.cause?.message)), `the source's error, got ${errorText(e)}`);
      eq(await conn.fetchval("SELECT count(*)::int4 FROM copy_t"), 5, "rows after the failed COPY");
    } finally {
      await conn.close();
    }
  },

  async listen(ctx) {
    const listener = await ctx.open();
    const sender = await ctx.open();
    try {
      // A channel of its own: other runtimes run this suite on the same server at the same time.
      const channel = `edgepg_suite_${crypto.randomUUID().replaceAll("-", "")}`;
      const got = [];
      await listener.addListener(channel, (n) => got.push(n));
      await sender.execute("SELECT pg_notify($1, 'hello ' || $2::text)", [channel, "é"]);
      await sender.execute(`NOTIFY ${channel}, 'second'`);
      await eventually(() => got.length >= 2, 5000, `two notifications, got ${show(got)}`);
      eq(got.map((n) => n.payload), ["hello é", "second"], "payloads");
      eq(got[0].channel, channel, "channel");
      eq(got[0].processId, sender.getServerPid(), "the sender's pid");
      // A log listener sees notices.
      const notices = [];
      listener.addLogListener((n) => notices.push(n));
      await listener.execute("DO $$ BEGIN RAISE NOTICE 'note %', 42; END $$");
      await eventually(() => notices.length >= 1, 5000, "a notice");
      eq(notices[0].message, "note 42", "notice text");
    } finally {
      await listener.close();
      await sender.close();
    }
  },

  async cancellation(ctx) {
    const { TimeoutError, AbortError } = ctx.edgepg;
    const conn = await ctx.open();
    try {
      let t0 = Date.now();
      const timedOut = await rejects(conn.fetchval("SELECT pg_sleep(20)", [], { timeout: 300 }), "timeout");
      ok(timedOut instanceof TimeoutError, `TimeoutError, got ${errorText(timedOut)}`);
      ok(Date.now() - t0 < 10_000, `timeout took ${Date.now() - t0} ms`);
      eq(await conn.fetchval("SELECT 3"), 3, "usable after a timeout");
      const controller = new AbortController();
      t0 = Date.now();
      setTimeout(() => controller.abort(new Error("enough")), 300);
      const aborted = await rejects(conn.fetchval("SELECT pg_sleep(20)", [], { signal: controller.signal }), "abort");
      ok(aborted instanceof AbortError, `AbortError, got ${errorText(aborted)}`);
      eq(aborted.cause?.message, "enough", "the signal's reason is the cause");
      ok(Date.now() - t0 < 10_000, `abort took ${Date.now() - t0} ms`);
      eq(await conn.fetchval("SELECT 4"), 4, "usable after an abort");
      const early = await rejects(conn.fetchval("SELECT 5", [], { signal: AbortSignal.abort() }), "pre-aborted signal");
      ok(early instanceof AbortError, `AbortError for an aborted signal, got ${errorText(early)}`);
      // The server really stopped: no pg_sleep left running for this backend.
      const pid = conn.getServerPid();
      const other = await ctx.open();
      try {
        await eventually(async () => (await other.fetchval(
          "SELECT count(*)::int4 FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep(20)%' AND state = 'active'", [pid])) === 0,
        5000, "the cancelled pg_sleep is still running");
      } finally {
        await other.close();
      }
    } finally {
      await conn.close();
    }
  },

  async pool(ctx) {
    const pool = ctx.edgepg.createPool(ctx.dsn(), { ...ctx.options, maxSize: 3 });
    try {
      const values = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.fetchval("SELECT $1::int4 * 2", [i])));
      eq(values, Array.from({ length: 20 }, (_, i) => i * 2), "20 concurrent callers");
      ok(pool.getSize() <= 3 && pool.getSize() >= 1, `pool size ${pool.getSize()} within maxSize 3`);
      eq(pool.getMaxSize(), 3, "maxSize");
      eq(await pool.transaction(async (tx) => tx.fetchval("SELECT 7")), 7, "pool.transaction");
      const conn = await pool.acquire();
      try {
        await conn.execute("SET application_name = 'borrowed'");
        eq(await conn.fetchval("SHOW application_name"), "borrowed", "a borrowed connection");
      } finally {
        await pool.release(conn);
      }
      // Released connections are reset: no session state leaks to the next borrower.
      const names = await Promise.all([1, 2, 3].map(() => pool.fetchval("SHOW application_name")));
      ok(!names.includes("borrowed"), `application_name leaked: ${show(names)}`);
      eq(text(await readAll(pool.copyFromQuery("SELECT 1 UNION ALL SELECT 2", []))), "1\n2\n", "pool.copyFromQuery");
    } finally {
      await pool.close();
    }
  },

  async faultRefused(ctx) {
    const t0 = Date.now();
    // Over TCP the server's port is closed; over a WebSocket the proxy's.
    const e = await rejects(ctx.edgepg.connect(ctx.refused.dsn, { ...ctx.refused.options, connectTimeout: 10_000 }), "a refused port");
    ok(e instanceof ctx.edgepg.ConnectionError, `ConnectionError, got ${errorText(e)}`);
    ok(e.kind !== "timeout", `refused, not timed out: ${errorText(e)}`);
    ok(Date.now() - t0 < 9_000, `a refused port took ${Date.now() - t0} ms`);
  },

  async faultPassword(ctx) {
    const e = await rejects(ctx.edgepg.connect(ctx.dsn("edgepg", "wrong password"), ctx.options), "a wrong password");
    ok(e instanceof ctx.edgepg.PostgresError, `PostgresError, got ${errorText(e)}`);
    eq(e.code, "28P01", "SQLSTATE invalid_password");
    // The pool reports it on the first call, with the same error.
    const pool = ctx.edgepg.createPool(ctx.dsn("edgepg", "wrong password"), ctx.options);
    try {
      const pe = await rejects(pool.fetchval("SELECT 1"), "a pool with a wrong password");
      eq(pe.code, "28P01", "the pool's error");
    } finally {
      await pool.close();
    }
  },

  async faultTerminated(ctx) {
    const { EdgepgError } = ctx.edgepg;
    const killer = await ctx.open();
    const pool = ctx.edgepg.createPool(ctx.dsn(), { ...ctx.options, maxSize: 1 });
    const conn = await ctx.open();
    try {
      // A connection whose backend is terminated mid-query: a typed error, then closed.
      const pid = conn.getServerPid();
      let closed = false;
      conn.addTerminationListener(() => { closed = true; });
      const running = conn.fetchval("SELECT pg_sleep(30)").then(() => null, (e) => e);
      await eventually(async () => (await killer.fetchval(
        "SELECT count(*)::int4 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [pid])) === 1, 5000, "the query started");
      eq(await killer.fetchval("SELECT pg_terminate_backend($1)", [pid]), true, "pg_terminate_backend");
      const e = await within(running, 10_000, "the terminated query");
      ok(e instanceof EdgepgError, `an EdgepgError, got ${errorText(e)}`);
      ok(e.code === "57P01" || e.kind === "closed" || e.kind === "io", `terminated: ${errorText(e)}`);
      await eventually(() => conn.isClosed(), 5000, "isClosed after the termination");
      await eventually(() => closed, 5000, "the termination listener ran");
      const after = await rejects(conn.fetchval("SELECT 1"), "a call on the dead connection");
      ok(after instanceof EdgepgError, `an EdgepgError after, got ${errorText(after)}`);

      // A pooled connection terminated mid-query: the pool replaces it.
      const poolPid = await pool.fetchval("SELECT pg_backend_pid()");
      const pooled = pool.fetchval("SELECT pg_sleep(30)").then(() => null, (err) => err);
      await eventually(async () => (await killer.fetchval(
        "SELECT count(*)::int4 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", [poolPid])) === 1, 5000, "the pooled query started");
      await killer.fetchval("SELECT pg_terminate_backend($1)", [poolPid]);
      const pe = await within(pooled, 10_000, "the terminated pooled query");
      ok(pe instanceof EdgepgError, `an EdgepgError from the pool, got ${errorText(pe)}`);
      const fresh = await within(pool.fetchval("SELECT pg_backend_pid()"), 10_000, "the next pool call");
      ok(fresh !== poolPid, "the pool lent the terminated connection again");
      // An idle pooled connection terminated between calls is not lent again either.
      await killer.fetchval("SELECT pg_terminate_backend($1)", [fresh]);
      await eventually(async () => (await killer.fetchval(
        "SELECT count(*)::int4 FROM pg_stat_activity WHERE pid = $1", [fresh])) === 0, 5000, "the idle backend exited");
      await sleep(100);
      const third = await within(pool.fetchval("SELECT pg_backend_pid()").catch((err) => err), 10_000, "a pool call after an idle termination");
      ok(typeof third === "number" && third !== fresh, `a fresh connection after an idle termination, got ${third instanceof Error ? errorText(third) : third}`);
    } finally {
      await conn.close().catch(() => {});
      await pool.close();
      await killer.close();
    }
  },
};

/**
 * Runs every check (or those named in `only`) one after the other.
 * `dsn(user, password)` makes a DSN for the test cluster; `refused` is a
 * `{ dsn, options }` that leads to a closed port (the server's over TCP, the
 * proxy's over a WebSocket); `expectSsl` whether the server should see TLS.
 * Returns
 * `{ checks: [{ name, ok, ms, error? }], failures: ["name: message"] }`.
 */
export async function runSuite(edgepg, { dsn, options = {}, refused, expectSsl = false, only } = {}) {
  const ctx = {
    edgepg,
    dsn: (user = "edgepg", password = "edgepg_pw") => dsn(user, password),
    options,
    refused,
    expectSsl,
    open: () => edgepg.connect(dsn("edgepg", "edgepg_pw"), options),
  };
  const checks = [];
  for (const [name, check] of Object.entries(CHECKS)) {
    if (only && !only.includes(name)) continue;
    const t0 = Date.now();
    try {
      await within(check(ctx), CHECK_TIMEOUT_MS, name);
      checks.push({ name, ok: true, ms: Date.now() - t0 });
    } catch (e) {
      checks.push({ name, ok: false, ms: Date.now() - t0, error: `${errorText(e)}${e?.cause ? ` (cause: ${e.cause?.message ?? e.cause})` : ""}` });
    }
  }
  return { checks, failures: checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.error}`) };
}

/** The names of the checks, so a caller can assert that every one ran. */
export const CHECK_NAMES = Object.keys(CHECKS);
