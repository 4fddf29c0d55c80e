// The public JS API of edgepg, over the raw wasm-bindgen exports. Kept thin:
// argument handling, { signal, timeout }, row objects and Error classes.
// Every entry point (workerd.js, node.js, browser.js...) initialises the one
// .wasm its own way and re-exports this module.
import { rawConnect, rawCreatePool } from "./edgepg.js";
import {
  AbortError, EdgepgError, InterfaceError, TimeoutError, toError,
} from "./errors.js";

export {
  AbortError, ConfigError, ConnectionError, ConversionError, EdgepgError, InterfaceError,
  PostgresError, TimeoutError,
} from "./errors.js";

// ------------------------------------------------------------ wasm guard

// A trap (a Rust panic under panic=abort) leaves the instance unusable.
// Then every later call fails at once with this error instead of misbehaving.
let poisoned = null;

function guard(e) {
  if (typeof WebAssembly !== "undefined" && e instanceof WebAssembly.RuntimeError) {
    poisoned = new EdgepgError(
      `edgepg's WebAssembly module trapped (${e.message}); this is a bug in edgepg, please report it. ` +
        "The module instance cannot be used any more: restart the worker or process.",
      "panic",
      undefined,
      { cause: e },
    );
    return poisoned;
  }
  return toError(e);
}

function checkPoisoned() {
  if (poisoned) throw poisoned;
}

// ------------------------------------------------------------ options

const INT8 = { bigint: 0, number: 1, string: 2 };

function decodeFlags(o) {
  let flags = 0;
  if (o.int8 !== undefined) {
    if (!(o.int8 in INT8)) throw new InterfaceError('int8 must be "bigint", "number" or "string"');
    flags |= INT8[o.int8];
  }
  if (o.dates !== undefined) {
    if (o.dates !== "date" && o.dates !== "string") throw new InterfaceError('dates must be "date" or "string"');
    if (o.dates === "string") flags |= 4;
  }
  return flags;
}

/** Per-call options merged over the connection's defaults. */
function merge(defaults, options) {
  return options ? { ...defaults, ...options } : defaults;
}

/**
 * Runs `call(cancel)`: `cancel` is undefined, or a promise that resolves with
 * the error to throw once `signal` fires or `timeout` ms pass.
 */
async function run(options, call) {
  checkPoisoned();
  const signal = options?.signal;
  const timeout = options?.timeout;
  if (signal?.aborted) throw new AbortError(signal.reason);
  let cancel;
  let cleanup = () => {};
  if (signal || (timeout !== undefined && timeout !== null)) {
    cancel = new Promise((resolve) => {
      let timer;
      const onAbort = () => resolve(new AbortError(signal.reason));
      if (signal) signal.addEventListener("abort", onAbort, { once: true });
      if (timeout !== undefined && timeout !== null) {
        if (typeof timeout !== "number" || !(timeout >= 0)) {
          throw new InterfaceError("timeout must be a non-negative number of milliseconds");
        }
        timer = setTimeout(() => resolve(new TimeoutError(`the operation did not finish within ${timeout} ms`)), timeout);
      }
      cleanup = () => {
        if (timer !== undefined) clearTimeout(timer);
        if (signal) signal.removeEventListener("abort", onAbort);
      };
    });
  }
  try {
    return await call(cancel);
  } catch (e) {
    throw guard(e);
  } finally {
    cleanup();
  }
}

/** Calls a synchronous raw method, translating errors. */
function sync(f) {
  checkPoisoned();
  try {
    return f();
  } catch (e) {
    throw guard(e);
  }
}

/** `(sql, args?, options?)`: a non-array second argument is the options. */
function split(args, options) {
  if (args !== undefined && args !== null && !Array.isArray(args)) return [[], args];
  return [args ?? [], options];
}

// ------------------------------------------------------------ rows

function toRows([names, , rows], arrayMode) {
  if (arrayMode) return rows;
  const n = names.length;
  const out = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const o = {};
    for (let j = 0; j < n; j++) o[names[j]] = r[j];
    out[i] = o;
  }
  return out;
}

// ------------------------------------------------------------ listeners

function reportError(e) {
  // A throwing callback must not become an unhandled rejection.
  if (typeof globalThis.reportError === "function") globalThis.reportError(e);
  else console.error(e);
}

/** Pulls `next(stop)` until it gives null or is stopped; calls `onItem`. */
function pump(source, onItem) {
  let stop;
  const stopped = new Promise((resolve) => { stop = () => resolve(null); });
  (async () => {
    for (;;) {
      let item;
      try {
        item = await source.next(stopped);
      } catch {
        break;
      }
      if (item === null) break;
      try {
        await onItem(item);
      } catch (e) {
        reportError(e);
      }
    }
  })();
  return () => {
    stop();
    try { source.close(); } catch { /* already gone */ }
  };
}

// ------------------------------------------------------------ Connection

/** A connection to PostgreSQL; see `connect()`. */
export class Connection {
  #raw;
  #defaults;
  #listeners = new Map(); // channel -> Map(callback -> stop)
  #termination = new Set();
  #logs = new Map(); // callback -> stop

  /** @internal */
  constructor(rawConnection, defaults) {
    this.#raw = rawConnection;
    this.#defaults = defaults;
  }

  /** Runs a command, returns its status tag ("INSERT 0 1"). Without args: simple protocol (scripts OK). */
  execute(sql, args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, (c) => this.#raw.execute(sql, args, c));
  }

  /** Runs `sql` once per argument array, pipelined in one round trip (all or nothing). */
  executemany(sql, rows, options) {
    const o = merge(this.#defaults, options);
    return run(o, (c) => this.#raw.executemany(sql, rows, c));
  }

  /** All rows, as objects (or arrays with `arrayMode`). */
  fetch(sql, args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, async (c) => toRows(await this.#raw.fetch(sql, args, decodeFlags(o), c), o.arrayMode));
  }

  /** The first row, or null. */
  fetchrow(sql, args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, async (c) => toRows(await this.#raw.fetchrow(sql, args, decodeFlags(o), c), o.arrayMode)[0] ?? null);
  }

  /** The first column of the first row, or null. */
  fetchval(sql, args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, async (c) => (await this.#raw.fetchrow(sql, args, decodeFlags(o), c))[2][0]?.[0] ?? null);
  }

  /** Prepares a statement for repeated use. */
  prepare(sql, options) {
    const o = merge(this.#defaults, options);
    return run(o, async (c) => new PreparedStatement(await this.#raw.prepare(sql, c), this.#defaults));
  }

  /** Calls `callback({ processId, channel, payload })` for each NOTIFY on `channel` (LISTENs first). */
  async addListener(channel, callback, options) {
    const o = merge(this.#defaults, options);
    const listener = await run(o, (c) => this.#raw.listen(channel, c));
    const stop = pump(listener, ([processId, ch, payload]) => callback({ processId, channel: ch, payload }));
    let byCallback = this.#listeners.get(channel);
    if (!byCallback) this.#listeners.set(channel, (byCallback = new Map()));
    byCallback.get(callback)?.();
    byCallback.set(callback, stop);
  }

  /** Removes a callback added with addListener (UNLISTENs after the last one). */
  async removeListener(channel, callback) {
    const byCallback = this.#listeners.get(channel);
    const stop = byCallback?.get(callback);
    if (stop) {
      byCallback.delete(callback);
      stop();
    }
  }

  /** Calls `callback()` once when the connection closes, for whatever reason. */
  addTerminationListener(callback) {
    this.#termination.add(callback);
    sync(() => this.#raw.waitClosed()).then(() => {
      if (this.#termination.delete(callback)) {
        try { callback(); } catch (e) { reportError(e); }
      }
    }, reportError);
  }

  /** Removes a termination callback. */
  removeTerminationListener(callback) {
    this.#termination.delete(callback);
  }

  /** Calls `callback(notice)` for every server notice (a PostgresError with severity NOTICE, WARNING...). */
  addLogListener(callback) {
    const stream = sync(() => this.#raw.logStream());
    this.#logs.get(callback)?.();
    this.#logs.set(callback, pump(stream, (fields) => callback(toError(fields))));
  }

  /** Removes a log callback. */
  removeLogListener(callback) {
    this.#logs.get(callback)?.();
    this.#logs.delete(callback);
  }

  /** Closes gracefully (a pooled connection goes back to its pool). */
  close(options) {
    this.#stopAll();
    return run(options, (c) => this.#raw.close(c));
  }

  /** Closes at once; calls in flight fail. */
  terminate() {
    this.#stopAll();
    sync(() => this.#raw.terminate());
  }

  #stopAll() {
    for (const byCallback of this.#listeners.values()) for (const stop of byCallback.values()) stop();
    this.#listeners.clear();
    for (const stop of this.#logs.values()) stop();
    this.#logs.clear();
  }

  /** True once closed, broken or released. */
  isClosed() { return sync(() => this.#raw.isClosed()); }
  /** True inside a transaction block. */
  isInTransaction() { return sync(() => this.#raw.isInTransaction()); }
  /** The server backend's process ID. */
  getServerPid() { return sync(() => this.#raw.getServerPid()); }
  /** `server_version` as reported by the server, e.g. "17.2". */
  getServerVersion() { return this.getSetting("server_version"); }
  /** One server parameter (ParameterStatus), or null. */
  getSetting(name) { return sync(() => this.#raw.getSetting(name)) ?? null; }
  /** All server parameters reported so far. */
  getSettings() { return sync(() => this.#raw.getSettings()); }

  /** `await using conn = await connect(...)` closes it at the end of the block. */
  [Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]() {
    return this.close();
  }
}

/** A prepared statement; see `Connection.prepare()`. */
export class PreparedStatement {
  #raw;
  #defaults;

  /** @internal */
  constructor(rawStatement, defaults) {
    this.#raw = rawStatement;
    this.#defaults = defaults;
  }

  /** The SQL text. */
  get query() { return this.#raw.query; }
  /** Parameter type OIDs. */
  get parameters() { return this.#raw.parameters; }
  /** Result columns: `{ name, typeOid }`. */
  get columns() {
    const [names, oids] = this.#raw.columns;
    return names.map((name, i) => ({ name, typeOid: oids[i] }));
  }

  fetch(args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, async (c) => toRows(await this.#raw.fetch(args, decodeFlags(o), c), o.arrayMode));
  }
  fetchrow(args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, async (c) => toRows(await this.#raw.fetchrow(args, decodeFlags(o), c), o.arrayMode)[0] ?? null);
  }
  fetchval(args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, async (c) => (await this.#raw.fetchrow(args, decodeFlags(o), c))[2][0]?.[0] ?? null);
  }
  execute(args, options) {
    [args, options] = split(args, options);
    return run(merge(this.#defaults, options), (c) => this.#raw.execute(args, c));
  }
  executemany(rows, options) {
    return run(merge(this.#defaults, options), (c) => this.#raw.executemany(rows, c));
  }
}

// ------------------------------------------------------------ connect / pool

const CALL_OPTIONS = ["int8", "dates", "arrayMode"];

function callDefaults(options) {
  const d = {};
  for (const k of CALL_OPTIONS) if (options?.[k] !== undefined) d[k] = options[k];
  decodeFlags(d); // validate early
  return d;
}

/**
 * Opens a connection through a WebSocket proxy.
 * @param {string} dsn libpq URI or key/value string
 * @param {object} [options] wsProxy, useSecureWebSocket, webSocketConstructor, pipelineConnect,
 *   connectTimeout, statementCacheSize; defaults for calls: int8, dates, arrayMode; and signal/timeout for the connect itself.
 */
export async function connect(dsn, options = {}) {
  const defaults = sync(() => callDefaults(options));
  const rawConnection = await run(options, (c) => rawConnect(String(dsn), options, c));
  return new Connection(rawConnection, defaults);
}

/** A pool of connections, created at once; connections open lazily (or `minSize` up front). */
export class Pool {
  #ready;
  #raw = null;
  #defaults;

  /** @internal use createPool() */
  constructor(dsn, options = {}) {
    this.#defaults = callDefaults(options);
    this.#ready = run({}, (c) => rawCreatePool(String(dsn), options, c)).then((p) => (this.#raw = p));
    // Creation errors surface on the first call; never as an unhandled rejection.
    this.#ready.catch(() => {});
  }

  /** Resolves once `minSize` connections are open (rejects if they cannot be). */
  ready() { return this.#ready.then(() => this); }

  /** Borrows a connection; give it back with `release(conn)` or `conn.close()`. */
  async acquire(options) {
    const p = await this.#ready;
    const o = merge(this.#defaults, options);
    return new Connection(await run(o, (c) => p.acquire(c)), this.#defaults);
  }

  /** Gives a borrowed connection back (it is cleaned first). */
  release(connection, options) { return connection.close(options); }

  async execute(sql, args, options) {
    [args, options] = split(args, options);
    const p = await this.#ready;
    return run(merge(this.#defaults, options), (c) => p.execute(sql, args, c));
  }
  async executemany(sql, rows, options) {
    const p = await this.#ready;
    return run(merge(this.#defaults, options), (c) => p.executemany(sql, rows, c));
  }
  async fetch(sql, args, options) {
    [args, options] = split(args, options);
    const p = await this.#ready;
    const o = merge(this.#defaults, options);
    return run(o, async (c) => toRows(await p.fetch(sql, args, decodeFlags(o), c), o.arrayMode));
  }
  async fetchrow(sql, args, options) {
    [args, options] = split(args, options);
    const p = await this.#ready;
    const o = merge(this.#defaults, options);
    return run(o, async (c) => toRows(await p.fetchrow(sql, args, decodeFlags(o), c), o.arrayMode)[0] ?? null);
  }
  async fetchval(sql, args, options) {
    [args, options] = split(args, options);
    const p = await this.#ready;
    const o = merge(this.#defaults, options);
    return run(o, async (c) => (await p.fetchrow(sql, args, decodeFlags(o), c))[2][0]?.[0] ?? null);
  }

  /** Closes idle connections now, the borrowed ones when they come back. */
  async close(options) {
    let p;
    try { p = await this.#ready; } catch { return; }
    return run(options, (c) => p.close(c));
  }
  /** Closes every connection at once. */
  terminate() { if (this.#raw) sync(() => this.#raw.terminate()); }
  /** Replaces every connection (idle now, borrowed on release). */
  async expireConnections() { const p = await this.#ready; await p.expireConnections(); }
  getSize() { return this.#raw ? this.#raw.getSize() : 0; }
  getIdleSize() { return this.#raw ? this.#raw.getIdleSize() : 0; }
  getMinSize() { return this.#raw ? this.#raw.getMinSize() : 0; }
  getMaxSize() { return this.#raw ? this.#raw.getMaxSize() : 0; }

  [Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]() {
    return this.close();
  }
}

/** Creates a pool (synchronously; see Pool). */
export function createPool(dsn, options = {}) {
  return new Pool(dsn, options);
}
