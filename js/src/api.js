// The public JS API of edgepg, over the raw wasm-bindgen exports. Kept thin:
// argument handling, { signal, timeout }, row objects and Error classes.
// Every entry point (workerd.js, node.js, browser.js...) initialises the one
// .wasm its own way and re-exports this module.
import { ColumnKind, DecodeFlag, rawConnect, rawCreatePool } from "./edgepg.js";
import {
  AbortError, EdgepgError, InterfaceError, TimeoutError, checkTrapped, toError, trapError,
} from "./errors.js";

export {
  AbortError, ConfigError, ConnectionError, ConversionError, EdgepgError, InterfaceError,
  PostgresError, TimeoutError,
} from "./errors.js";

// ------------------------------------------------------------ wasm guard

function guard(e) {
  return trapError(e) ?? toError(e);
}


// ------------------------------------------------------------ sockets

// The runtime's TCP sockets, adapted to the duplex contract of the wasm side
// (wasm/src/socket.rs). Each entry point installs its runtime's adapter; a
// runtime without one (browsers) uses WebSockets only.
let sockets = {
  name: typeof EdgeRuntime === "string" ? "Vercel Edge" : typeof document !== "undefined" ? "a browser" : "this JavaScript runtime",
};

/**
 * Installs the socket adapter for `transport: "tcp"`: `{ name, connect(host,
 * port, { tls }) => Promise<duplex> }` (see wasm/src/socket.rs for the
 * duplex). The entry points do this for Node, Bun, Deno and Workers; call it
 * to bring another runtime's sockets.
 */
export function useSockets(adapter) {
  if (!adapter || typeof adapter.connect !== "function") throw new InterfaceError("useSockets needs { name, connect }");
  sockets = adapter;
}

/** @internal also used by edgepg/pg (pg.js) */
export function withSockets(options) {
  return { ...options, __edgepgSockets: sockets };
}

// ------------------------------------------------------------ options

// The bits are defined once, in Rust (wasm/src/js/values.rs `DecodeFlag`).
const INT8 = { bigint: 0, number: DecodeFlag.Int8Number, string: DecodeFlag.Int8String };

// Tests only: `globalThis[Symbol.for("edgepg.referenceDecode")] = true` makes
// results take the general decode path in wasm and the per-column row
// filling here, so js/test/decode-exact.test.mjs can compare the fast paths
// with them value by value.
const REFERENCE = Symbol.for("edgepg.referenceDecode");

function decodeFlags(o) {
  let flags = 0;
  if (o.int8 !== undefined) {
    if (!(o.int8 in INT8)) throw new InterfaceError('int8 must be "bigint", "number" or "string"');
    flags |= INT8[o.int8];
  }
  if (o.dates !== undefined) {
    if (o.dates !== "date" && o.dates !== "string") throw new InterfaceError('dates must be "date" or "string"');
    if (o.dates === "string") flags |= DecodeFlag.DatesAsStrings;
  }
  if (globalThis[REFERENCE] === true) flags |= DecodeFlag.Reference;
  return flags;
}

/** Per-call options merged over the connection's defaults. */
function merge(defaults, options) {
  return options ? { ...defaults, ...options } : defaults;
}

const rethrowGuarded = (e) => {
  throw guard(e);
};

/**
 * Runs `call(cancel)`: `cancel` is undefined, or a promise that resolves with
 * the error to throw once `signal` fires or `timeout` ms pass.
 *
 * Without a signal or a timeout (most calls) there is nothing to race: the
 * call's own promise is returned with errors translated, one promise and no
 * extra async frame per call (the per-query CPU of seq_select1 and the pool
 * rows is mostly such JS/wasm overhead).
 */
function run(options, call) {
  const signal = options?.signal;
  const timeout = options?.timeout;
  if (signal || (timeout !== undefined && timeout !== null)) return runCancellable(options, call);
  let promise;
  try {
    checkTrapped();
    promise = Promise.resolve(call(undefined));
  } catch (e) {
    return Promise.reject(guard(e));
  }
  return promise.then(undefined, rethrowGuarded);
}

/** [`run`] with a signal or a timeout. */
async function runCancellable(options, call) {
  checkTrapped();
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
  checkTrapped();
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

// A result batch from the wasm side is `[names, oids, count, columns]`, each
// column `[kind, data, ends, nulls]` packed by kind (wasm/src/js/values.rs
// `Kind`, exported as `ColumnKind`): a whole column crosses from wasm to JS in
// one typed array or one string, and rows are built here.
const K_VALUES = ColumnKind.Values; // data: an array of values
const K_NUMBER = ColumnKind.Number; // data: Float64Array
const K_BIGINT = ColumnKind.BigInt; // data: BigInt64Array
const K_BOOL = ColumnKind.Bool; // data: Uint8Array of 0/1
const K_TEXT = ColumnKind.Text; // data: one string; ends: UTF-16 end offsets
const K_JSON = ColumnKind.Json; // as K_TEXT, each value JSON.parse'd
const K_DATE = ColumnKind.Date; // data: Float64Array of Unix ms (±Infinity kept)
const K_BYTES = ColumnKind.Bytes; // data: Uint8Array; ends: byte end offsets

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text; // the server sends valid JSON; keep the text if something mangled it
  }
}

/** Unix ms → Date; ±Infinity (PostgreSQL's ±infinity) stays a number. */
function toDate(ms) {
  return Number.isFinite(ms) ? new Date(ms) : ms;
}

/** Writes one column into `out[i][key]` for every row (the general path). */
function fillColumn(out, key, [kind, data, ends, nulls]) {
  const n = out.length;
  switch (kind) {
    case K_NUMBER:
    case K_BIGINT:
    case K_VALUES:
      for (let i = 0; i < n; i++) out[i][key] = data[i];
      break;
    case K_BOOL:
      for (let i = 0; i < n; i++) out[i][key] = data[i] !== 0;
      break;
    case K_TEXT:
      for (let i = 0, a = 0; i < n; i++) out[i][key] = data.slice(a, (a = ends[i]));
      break;
    case K_JSON:
      for (let i = 0, a = 0; i < n; i++) {
        const t = data.slice(a, (a = ends[i]));
        out[i][key] = nulls !== undefined && nulls[i] ? null : parseJson(t);
      }
      break;
    case K_DATE:
      for (let i = 0; i < n; i++) out[i][key] = toDate(data[i]);
      break;
    case K_BYTES:
      for (let i = 0, a = 0; i < n; i++) out[i][key] = data.slice(a, (a = ends[i]));
      break;
    default:
      throw new InterfaceError(`unknown result column kind ${kind} (mismatched edgepg .wasm and glue?)`);
  }
  if (nulls !== undefined) for (let i = 0; i < n; i++) if (nulls[i]) out[i][key] = null;
}

/** Batches of rows → one array (the batch itself when there is one). Also edgepg/pg's (js/src/pg.js). */
export function join(parts) {
  if (parts.length === 1) return parts[0];
  let n = 0;
  for (let p = 0; p < parts.length; p++) n += parts[p].length;
  const out = new Array(n);
  for (let p = 0, k = 0; p < parts.length; p++) {
    const part = parts[p];
    for (let i = 0; i < part.length; i++) out[k++] = part[i];
  }
  return out;
}

/** A result batch → row objects keyed by column name, or arrays with `arrayMode`. */
function toRows(batch, arrayMode) {
  const [names, , count, columns] = batch;
  if (count > 1 && globalThis[REFERENCE] !== true) {
    const build = rowBuilder(names, columns, arrayMode);
    if (build !== null) return build(count, columns, toDate, parseJson);
  }
  const out = new Array(count);
  const m = columns.length;
  if (arrayMode) {
    for (let i = 0; i < count; i++) out[i] = new Array(m);
  } else {
    // Every row starts as a copy of one object that already has all the
    // keys, so the column loops below overwrite properties instead of adding
    // them (no hidden-class transition per value).
    // Keys are defined, not assigned: a column named "__proto__" becomes an
    // own property instead of replacing the row's prototype.
    const template = {};
    for (let j = 0; j < m; j++) {
      Object.defineProperty(template, names[j], { value: null, writable: true, enumerable: true, configurable: true });
    }
    for (let i = 0; i < count; i++) out[i] = { ...template };
  }
  for (let j = 0; j < m; j++) fillColumn(out, arrayMode ? j : names[j], columns[j]);
  return out;
}

/**
 * A raw `fetchrow` answer → the row object (or array with `arrayMode`), or
 * null. The answer is null, or the row's values already converted (as
 * `fillColumn` converts a packed column's) followed by one more element, the
 * column names (wasm/src/js/values.rs `first_row`; the same names array for
 * the same names, so it is never modified here). The keys are stored in
 * column order, as `toRows` does (a repeated name keeps its first position
 * and its last value; "__proto__" becomes an own property).
 */
function oneRow(values, arrayMode) {
  if (values === null) return null;
  const m = values.length - 1;
  const names = values[m];
  if (arrayMode) {
    values.length = m;
    return values;
  }
  const row = {};
  for (let j = 0; j < m; j++) {
    const name = names[j];
    if (name === "__proto__") {
      Object.defineProperty(row, name, { value: values[j], writable: true, enumerable: true, configurable: true });
    } else {
      row[name] = values[j];
    }
  }
  return row;
}

// ------------------------------------------------------------ generated row builders

// For a result shape (column names, kinds, which columns hold NULLs) a
// function is generated once that builds every row with ONE object (or
// array) literal: each row is allocated once with its final shape and all
// its values, in one pass over the rows, instead of a template copy and one
// store per column pass. V8 also learns from the literal's allocation site
// that rows live long, and allocates them where the young-generation GC does
// not copy them again and again. Runtimes that forbid code generation
// (Cloudflare Workers, pages with a strict CSP) keep the general path above.
let codegen = null; // null: not tried yet; then true / false
const builders = new Map(); // shape key -> builder
const MAX_BUILDERS = 256;

function canGenerate() {
  if (codegen === null) {
    try {
      codegen = new Function("return 1")() === 1;
    } catch {
      codegen = false;
    }
  }
  return codegen;
}

/** The generated builder for this shape, or null (general path). Also edgepg/pg's (js/src/pg.js). */
export function rowBuilder(names, columns, arrayMode) {
  if (!canGenerate()) return null;
  const m = columns.length;
  let key = arrayMode ? "a" : "o";
  for (let j = 0; j < m; j++) {
    const c = columns[j];
    if (c[0] < K_VALUES || c[0] > K_BYTES) return null; // unknown kind: the general path reports it
    key += c[3] === undefined ? c[0] : `${c[0]}n`;
  }
  if (!arrayMode) {
    for (let j = 0; j < m; j++) {
      // In a literal, "__proto__" would set the prototype: general path.
      if (names[j] === "__proto__") return null;
    }
    key += JSON.stringify(names);
  }
  let build = builders.get(key);
  if (build === undefined) {
    if (builders.size >= MAX_BUILDERS) builders.clear();
    build = generate(names, columns, arrayMode);
    builders.set(key, build);
  }
  return build;
}

/** The source of one value expression of column `j` for row `i`. */
function valueSource(j, kind, nullable) {
  const d = `d${j}[i]`;
  const slice = `d${j}.slice(a${j}, (a${j} = e${j}[i]))`;
  let v;
  switch (kind) {
    case K_NUMBER: case K_BIGINT: case K_VALUES: v = d; break;
    case K_BOOL: v = `${d} !== 0`; break;
    case K_TEXT: case K_BYTES: v = slice; break;
    case K_JSON: v = `json(${slice})`; break;
    case K_DATE: v = `date(${d})`; break;
  }
  if (!nullable) return v;
  // A NULL still moves a packed text column's offset on (to the same end).
  const skip = kind === K_TEXT || kind === K_BYTES || kind === K_JSON ? `((a${j} = e${j}[i]), null)` : "null";
  return `(n${j}[i] !== 0 ? ${skip} : ${v})`;
}

function generate(names, columns, arrayMode) {
  const m = columns.length;
  let head = "";
  const offsets = [];
  const values = [];
  for (let j = 0; j < m; j++) {
    const [kind, , , nulls] = columns[j];
    head += `const d${j} = columns[${j}][1], e${j} = columns[${j}][2], n${j} = columns[${j}][3];\n`;
    if (kind === K_TEXT || kind === K_BYTES || kind === K_JSON) offsets.push(`a${j} = 0`);
    const v = valueSource(j, kind, nulls !== undefined);
    values.push(arrayMode ? v : `${JSON.stringify(names[j])}: ${v}`);
  }
  const row = arrayMode ? `[${values.join(", ")}]` : `{ ${values.join(", ")} }`;
  const source = `"use strict";\n${head}const out = new Array(count);\n` +
    `for (let i = 0${offsets.map((o) => `, ${o}`).join("")}; i < count; i++) out[i] = ${row};\nreturn out;`;
  return new Function("count", "columns", "date", "json", source);
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

// ------------------------------------------------------------ Queryable

/**
 * What connections and transactions share: queries, prepared statements,
 * cursors, COPY and (nested) transactions, all on one raw connection.
 */
export class Queryable {
  #raw;
  #defaults;

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
    return run(o, async (c) => {
      // Rows are built batch by batch as they arrive (while the server is
      // still sending the rest), then joined.
      const parts = [];
      const arrayMode = o.arrayMode;
      await this.#raw.fetchBatches(sql, args, decodeFlags(o), (batch) => { parts.push(toRows(batch, arrayMode)); }, c);
      return join(parts);
    });
  }

  /** The first row, or null. */
  fetchrow(sql, args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, async (c) => oneRow(await this.#raw.fetchrow(sql, args, decodeFlags(o), c), o.arrayMode));
  }

  /** The first column of the first row, or null. */
  fetchval(sql, args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, (c) => this.#raw.fetchval(sql, args, decodeFlags(o), c));
  }

  /** Prepares a statement for repeated use. */
  prepare(sql, options) {
    const o = merge(this.#defaults, options);
    return run(o, async (c) => new PreparedStatement(await this.#raw.prepare(sql, c), this.#defaults));
  }

  /**
   * `transaction(async (tx) => ..., options?)` runs the callback in a
   * transaction: committed when it returns, rolled back when it throws;
   * resolves to the callback's result. `transaction(options?)` returns a
   * Transaction to `start()`, then `commit()` or `rollback()`. Called on a
   * Transaction, it makes a savepoint.
   */
  transaction(callback, options) {
    if (typeof callback !== "function") {
      return new Transaction(this.#raw, this.#defaults, callback, this.#outer());
    }
    return (async () => runTransaction(new Transaction(this.#raw, this.#defaults, options, this.#outer()), callback, options))();
  }

  /** @internal the enclosing transaction, for savepoints */
  #outer() {
    return this instanceof Transaction ? this : null;
  }

  /**
   * A server-side cursor over `sql` (needs a transaction): iterate it with
   * `for await`, `prefetch` rows per round trip, or `await .open()` it for
   * `fetch(n)` / `forward(n)`.
   */
  cursor(sql, args, options) {
    [args, options] = split(args, options);
    return new CursorFactory(this.#raw, sql, args, merge(this.#defaults, options));
  }

  /**
   * Binary COPY of `records` (arrays of values in `columns` order, or
   * objects when `columns` is given; an array, an iterable or an async
   * iterable) into `table`. Resolves to the number of rows copied.
   */
  copyRecordsToTable(table, options = {}) {
    const o = merge(this.#defaults, options);
    return copyRecordsIn(this.#raw, table, o);
  }

  /**
   * `COPY table FROM STDIN` with data already in `format` (text, csv,
   * binary) from `source`: a ReadableStream, an (async) iterable of
   * Uint8Array/string chunks, a Uint8Array or a string. A failing source
   * aborts the COPY (no row lands) and its error is thrown.
   */
  copyToTable(table, options = {}) {
    const o = merge(this.#defaults, options);
    return copyIn(this.#raw, table, o);
  }

  /** `COPY table TO STDOUT` as a ReadableStream of bytes, read on demand. */
  copyFromTable(table, options = {}) {
    const raw = this.#raw;
    return copyOut(merge(this.#defaults, options), async (o) => [await run(o, (c) => raw.copyFromTable(table, o, c)), null]);
  }

  /** `COPY (query) TO STDOUT` as a ReadableStream of bytes; `args` are inlined as quoted literals. */
  copyFromQuery(sql, args, options) {
    [args, options] = split(args, options);
    const raw = this.#raw;
    return copyOut(merge(this.#defaults, options ?? {}), async (o) => [await run(o, (c) => raw.copyFromQuery(sql, args, o, c)), null]);
  }

  /** True inside a transaction block. */
  isInTransaction() { return sync(() => this.#raw.isInTransaction()); }
}

// ------------------------------------------------------------ transactions

const TX_OPTIONS = ["isolation", "readonly", "deferrable"];

function txOptions(options) {
  const o = {};
  for (const k of TX_OPTIONS) {
    const v = options?.[k];
    if (v === undefined || v === null) continue;
    if (k !== "isolation" && typeof v !== "boolean") throw new InterfaceError(`${k} must be a boolean`);
    o[k] = v;
  }
  return o;
}

async function runTransaction(tx, callback, options) {
  await tx.start(options);
  let result;
  try {
    result = await callback(tx);
  } catch (e) {
    if (tx.isActive) {
      // The callback's error is the one that matters.
      try { await tx.rollback(options); } catch { /* connection gone: rolled back anyway */ }
    }
    throw e;
  }
  if (tx.isActive) await tx.commit(options);
  return result;
}

/**
 * A transaction (or, nested, a savepoint). Queries on it run on its
 * connection. Not committed when dropped: rolled back.
 */
export class Transaction extends Queryable {
  #raw;
  #options;
  #outer;
  #tx = null;
  #state = "new";

  /** @internal use Connection.transaction() */
  constructor(rawConnection, defaults, options, outer) {
    super(rawConnection, defaults);
    this.#raw = rawConnection;
    this.#options = sync(() => txOptions(options));
    this.#outer = outer;
  }

  /** Sends BEGIN (SAVEPOINT when nested); resolves to this transaction. */
  async start(options) {
    if (this.#state !== "new") throw new InterfaceError(`cannot start a transaction that is already ${this.#state}`);
    this.#state = "starting";
    const { isolation, readonly, deferrable } = this.#options;
    try {
      if (this.#outer) {
        const outer = this.#outer.#tx;
        if (!outer || !outer.isActive) throw new InterfaceError("the outer transaction is not active");
        this.#tx = await run(options, (c) => outer.savepoint(isolation, readonly, deferrable, c));
      } else {
        this.#tx = await run(options, (c) => this.#raw.begin(isolation, readonly, deferrable, c));
      }
    } catch (e) {
      this.#state = "failed";
      throw e;
    }
    this.#state = "started";
    return this;
  }

  /** COMMIT (RELEASE SAVEPOINT when nested). */
  commit(options) { return this.#end("commit", "committed", options); }
  /** ROLLBACK (ROLLBACK TO SAVEPOINT when nested). */
  rollback(options) { return this.#end("rollback", "rolled back", options); }

  async #end(method, state, options) {
    if (this.#state !== "started") throw new InterfaceError(`cannot ${method}: the transaction is ${this.#state === "new" ? "not started" : this.#state}`);
    this.#state = state;
    const tx = this.#tx;
    this.#tx = null;
    await run(options, (c) => tx[method](c));
  }

  /** True between start() and commit()/rollback(). */
  get isActive() { return this.#state === "started" && this.#tx !== null && this.#tx.isActive; }
  /** True for a savepoint (a transaction made on a transaction). */
  get isNested() { return this.#outer !== null; }

  /** `await using tx = await conn.transaction().start()` rolls back unless ended. */
  [Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]() {
    return this.isActive ? this.rollback() : Promise.resolve();
  }
}

// ------------------------------------------------------------ cursors

function prefetchOf(o) {
  const n = o.prefetch ?? 50;
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new InterfaceError("prefetch must be a positive integer");
  return n;
}

function count(n, what) {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new InterfaceError(`${what}: the row count must be a positive integer`);
  return n;
}

/** A cursor not opened yet: `for await` it, or `await cursor.open()`. */
export class CursorFactory {
  #raw;
  #sql;
  #args;
  #o;

  /** @internal use Connection.cursor() */
  constructor(rawConnection, sql, args, options) {
    this.#raw = rawConnection;
    this.#sql = sql;
    this.#args = args;
    this.#o = options;
  }

  /** Rows one by one, fetched `prefetch` at a time; `break` closes the cursor. */
  [Symbol.asyncIterator]() {
    const o = this.#o;
    const prefetch = sync(() => prefetchOf(o));
    const flags = sync(() => decodeFlags(o));
    const stream = sync(() => this.#raw.cursorStream(this.#sql, this.#args, prefetch));
    let rows = [];
    let i = 0;
    let done = false;
    const finish = () => {
      done = true;
      rows = [];
      stream.close();
    };
    return {
      async next() {
        while (i >= rows.length) {
          if (done) return { done: true, value: undefined };
          let batch;
          try {
            batch = await run(o, (c) => stream.next(flags, c));
          } catch (e) {
            finish();
            throw e;
          }
          if (batch === null) {
            finish();
            return { done: true, value: undefined };
          }
          rows = toRows(batch, o.arrayMode);
          i = 0;
        }
        return { done: false, value: rows[i++] };
      },
      async return(value) {
        finish();
        return { done: true, value };
      },
      [Symbol.asyncIterator]() { return this; },
    };
  }

  /** Declares the cursor and resolves to a Cursor for fetch/forward. */
  async open(options) {
    if (this.#o.prefetch !== undefined) throw new InterfaceError("prefetch only applies to an iterated cursor, not to open()");
    const o = merge(this.#o, options);
    return new Cursor(await run(o, (c) => this.#raw.cursorOpen(this.#sql, this.#args, c)), this.#o);
  }
}

/** An open cursor; see CursorFactory.open(). */
export class Cursor {
  #raw;
  #o;

  /** @internal */
  constructor(rawCursor, options) {
    this.#raw = rawCursor;
    this.#o = options;
  }

  /** The next `n` rows (fewer at the end). */
  fetch(n, options) {
    const o = merge(this.#o, options);
    return run(o, async (c) => toRows(await this.#raw.fetch(count(n, "fetch"), decodeFlags(o), c), o.arrayMode));
  }
  /** The next row, or null. */
  async fetchrow(options) { return (await this.fetch(1, options))[0] ?? null; }
  /** Skips `n` rows; resolves to how many were skipped. */
  forward(n, options) {
    return run(merge(this.#o, options), (c) => this.#raw.forward(count(n, "forward"), c));
  }
  /** Closes the cursor (its portal). */
  close() { sync(() => this.#raw.close()); }
  [Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose")]() { this.close(); return Promise.resolve(); }
}

// ------------------------------------------------------------ COPY

/** A pull function over any COPY source; `failure()` tells whether the source itself threw. */
function pullSource(source) {
  let failed = null;
  const wrap = (f) => async () => {
    try {
      return await f();
    } catch (e) {
      failed = { error: e };
      throw e;
    }
  };
  if (source === undefined || source === null) throw new InterfaceError("copyToTable needs a source");
  if (typeof source === "string" || source instanceof Uint8Array) return { data: source, failure: () => null, end() {} };
  if (source instanceof ArrayBuffer) return { data: new Uint8Array(source), failure: () => null, end() {} };
  if (typeof source.getReader === "function") {
    const reader = source.getReader();
    let finished = false;
    return {
      data: wrap(async () => {
        const r = await reader.read();
        if (r.done) { finished = true; return null; }
        return r.value;
      }),
      failure: () => failed,
      end() {
        if (!finished && !failed) reader.cancel().catch(() => {});
        try { reader.releaseLock(); } catch { /* pending read */ }
      },
    };
  }
  const it = source[Symbol.asyncIterator]?.() ?? (typeof source !== "string" ? source[Symbol.iterator]?.() : undefined);
  if (!it) throw new InterfaceError("a COPY source must be a ReadableStream, an (async) iterable, a Uint8Array or a string");
  let finished = false;
  return {
    data: wrap(async () => {
      const r = await it.next();
      if (r.done) { finished = true; return null; }
      return r.value;
    }),
    failure: () => failed,
    end() {
      if (!finished && !failed) Promise.resolve(it.return?.()).catch(() => {});
    },
  };
}

async function copyIn(raw, table, o) {
  const source = sync(() => pullSource(o.source));
  try {
    return await run(o, (c) => raw.copyToTable(table, source.data, o, c));
  } catch (e) {
    // The source's own error, not the COPY's report of it.
    const f = source.failure();
    throw f ? f.error : e;
  } finally {
    source.end();
  }
}

const RECORD_BATCH = 1000;

async function copyRecordsIn(raw, table, o) {
  let records = o.records;
  if (records === undefined || records === null) throw new InterfaceError("copyRecordsToTable needs records");
  const columns = o.columns;
  const shape = (r) => (Array.isArray(r) || !columns || r === null || typeof r !== "object" ? r : columns.map((c) => r[c]));
  let source = null;
  if (Array.isArray(records)) {
    if (columns && records.some((r) => !Array.isArray(r))) records = records.map(shape);
  } else if (typeof records[Symbol.asyncIterator] === "function" || typeof records[Symbol.iterator] === "function") {
    const it = records[Symbol.asyncIterator]?.() ?? records[Symbol.iterator]();
    let finished = false;
    source = {
      failed: null,
      next: async () => {
        const batch = [];
        try {
          while (batch.length < RECORD_BATCH) {
            const r = await it.next();
            if (r.done) { finished = true; break; }
            batch.push(shape(r.value));
          }
        } catch (e) {
          source.failed = { error: e };
          throw e;
        }
        return batch.length ? batch : null;
      },
      end() { if (!finished && !source.failed) Promise.resolve(it.return?.()).catch(() => {}); },
    };
    records = source.next;
  } else {
    throw new InterfaceError("records must be an array, an iterable or an async iterable of records");
  }
  try {
    return await run(o, (c) => raw.copyRecordsToTable(table, records, o, c));
  } catch (e) {
    throw source?.failed ? source.failed.error : e;
  } finally {
    source?.end();
  }
}

/**
 * A ReadableStream over a COPY TO STDOUT: `open(o)` resolves to
 * `[rawCopyOut, onEnd]` when the stream starts; each `pull` reads one chunk
 * (so the server is read no faster than the consumer reads).
 */
function copyOut(o, open) {
  checkTrapped();
  let raw = null;
  let onEnd = null;
  let ended = false;
  const end = () => {
    ended = true;
    raw?.close();
    raw = null;
    const f = onEnd;
    onEnd = null;
    f?.();
  };
  // Opened at once, so the COPY is ordered with the caller's other calls.
  // `pull` awaits it rather than relying on `start`: some runtimes (workerd
  // feeding a Response) pull before `start` has settled.
  const opening = open(o).then(([r, e]) => {
    raw = r;
    onEnd = e;
    if (ended) end();
  });
  opening.catch(() => {}); // reported by the first read
  const callOptions = { signal: o.signal };
  return new ReadableStream(
    {
      async pull(controller) {
        await opening;
        if (ended) {
          controller.close();
          return;
        }
        let chunk;
        try {
          chunk = await run(callOptions, (c) => raw.next(c));
        } catch (e) {
          end();
          throw e;
        }
        if (chunk === null) {
          end();
          controller.close();
        } else {
          controller.enqueue(chunk);
        }
      },
      cancel() { end(); },
    },
    { highWaterMark: 0 },
  );
}

// ------------------------------------------------------------ Connection

/** A connection to PostgreSQL; see `connect()`. */
export class Connection extends Queryable {
  #raw;
  #defaults;
  #listeners = new Map(); // channel -> Map(callback -> stop)
  #termination = new Set();
  #logs = new Map(); // callback -> stop

  /** @internal */
  constructor(rawConnection, defaults) {
    super(rawConnection, defaults);
    this.#raw = rawConnection;
    this.#defaults = defaults;
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
    return run(o, async (c) => oneRow(await this.#raw.fetchrow(args, decodeFlags(o), c), o.arrayMode));
  }
  fetchval(args, options) {
    [args, options] = split(args, options);
    const o = merge(this.#defaults, options);
    return run(o, (c) => this.#raw.fetchval(args, decodeFlags(o), c));
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
 * Opens a connection through a WebSocket proxy. Resolves once the server
 * accepted the password: with `pipelineConnect: "password"` (the default over
 * wss) that is one round trip after the WebSocket opens.
 *
 * With `lazy: true` it resolves as soon as the WebSocket is open; the first
 * call then travels with the startup messages (connect + first result = one
 * round trip) and reports a failed authentication (PostgresError 28P01).
 * @param {string} dsn libpq URI or key/value string
 * @param {object} [options] wsProxy, useSecureWebSocket, webSocketConstructor, pipelineConnect, lazy,
 *   connectTimeout, statementCacheSize; defaults for calls: int8, dates, arrayMode; and signal/timeout for the connect itself.
 */
export async function connect(dsn, options = {}) {
  const defaults = sync(() => callDefaults(options));
  const rawConnection = await run(options, (c) => rawConnect(String(dsn), withSockets(options), c));
  return new Connection(rawConnection, defaults);
}

/**
 * One query on a connection of its own: connects lazily, fetches, closes.
 * The startup messages, the password and the query share one write, so with
 * cleartext password authentication (Neon) the rows come back one round trip
 * after the WebSocket opens. Resolves to the rows, like `fetch`; `options`
 * are `connect()`'s and `fetch()`'s (`signal`/`timeout` bound the whole).
 */
export async function query(dsn, sql, args, options) {
  [args, options] = split(args, options);
  const o = options ?? {};
  const started = Date.now();
  const conn = await connect(dsn, { ...o, lazy: true });
  try {
    let callOptions = o;
    if (typeof o.timeout === "number") {
      // One deadline for connecting and querying.
      callOptions = { ...o, timeout: Math.max(0, o.timeout - (Date.now() - started)) };
    }
    return await conn.fetch(sql, args, callOptions);
  } finally {
    // The answer is complete: do not make the caller wait for the
    // WebSocket's closing handshake.
    conn.close().catch(() => {});
  }
}

/** A pool of connections, created at once; connections open lazily (or `minSize` up front). */
export class Pool {
  #ready;
  #raw = null;
  #defaults;

  /** @internal use createPool() */
  constructor(dsn, options = {}) {
    this.#defaults = callDefaults(options);
    this.#ready = run({}, (c) => rawCreatePool(String(dsn), withSockets(options), c)).then((p) => (this.#raw = p));
    // Creation errors surface on the first call; never as an unhandled rejection.
    this.#ready.catch(() => {});
  }

  /** Resolves once `minSize` connections are open (rejects if they cannot be). */
  ready() { return this.#ready.then(() => this); }

  /**
   * Borrows a connection; give it back with `release(conn)` or `conn.close()`.
   * A new connection is lent once the server accepted its password.
   */
  acquire(options) {
    return this.#acquire(options, false);
  }

  /**
   * `lazy`: a new connection is lent before its startup finished, so the
   * first call shares the startup flight (and reports auth errors). For the
   * shortcuts below, which make the first call themselves.
   */
  async #acquire(options, lazy) {
    const p = await this.#ready;
    const o = merge(this.#defaults, options);
    return new Connection(await run(o, (c) => p.acquire(lazy, c)), this.#defaults);
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
    return run(o, async (c) => oneRow(await p.fetchrow(sql, args, decodeFlags(o), c), o.arrayMode));
  }
  async fetchval(sql, args, options) {
    [args, options] = split(args, options);
    const p = await this.#ready;
    const o = merge(this.#defaults, options);
    return run(o, (c) => p.fetchval(sql, args, decodeFlags(o), c));
  }

  /** Runs `callback(tx)` in a transaction on a borrowed connection (see Connection.transaction). */
  async transaction(callback, options) {
    if (typeof callback !== "function") throw new InterfaceError("pool.transaction needs a callback: acquire a connection for a manual transaction");
    let entered = false;
    const body = (tx) => {
      entered = true;
      return callback(tx);
    };
    // Once the callback ran, a failure is the caller's to handle.
    return this.#with(options, (conn) => conn.transaction(body, options), () => !entered);
  }
  /** copyRecordsToTable on a borrowed connection. */
  async copyRecordsToTable(table, options = {}) {
    return this.#with(options, (conn) => conn.copyRecordsToTable(table, options));
  }
  /** copyToTable on a borrowed connection. */
  async copyToTable(table, options = {}) {
    return this.#with(options, (conn) => conn.copyToTable(table, options));
  }
  /** copyFromTable on a borrowed connection, given back when the stream ends or is cancelled. */
  copyFromTable(table, options = {}) {
    return this.#stream(options, (conn) => conn.copyFromTable(table, options));
  }
  /** copyFromQuery on a borrowed connection, given back when the stream ends or is cancelled. */
  copyFromQuery(sql, args, options) {
    [args, options] = split(args, options);
    return this.#stream(options, (conn) => conn.copyFromQuery(sql, args, options));
  }

  /**
   * Runs `f` on a borrowed connection. A call that failed before any byte of
   * it reached the server (`error.unsent`: the socket refused the write, as
   * a Worker's socket opened by an earlier request does) runs again on
   * another connection, like the core pool's shortcuts, while `retryable()`.
   */
  async #with(options, f, retryable = () => true) {
    for (let retries = 0; ; retries++) {
      const conn = await this.#acquire(options?.signal ? { signal: options.signal } : undefined, true);
      try {
        return await f(conn);
      } catch (e) {
        if (!(e?.unsent && retryable() && retries < this.getMaxSize())) throw e;
      } finally {
        await conn.close().catch(() => {});
      }
    }
  }

  #stream(options, open) {
    let conn = null;
    let reader = null;
    let ended = false;
    const release = () => {
      ended = true;
      const c = conn;
      conn = null;
      if (c) c.close().catch(() => {});
    };
    // Started at once; `pull` awaits it (see copyOut).
    const opening = (async () => {
      const c = await this.#acquire(options?.signal ? { signal: options.signal } : undefined, true);
      conn = c;
      reader = open(c).getReader();
      if (ended) release();
    })();
    opening.catch(() => {});
    return new ReadableStream(
      {
        async pull(controller) {
          await opening;
          if (ended) {
            controller.close();
            return;
          }
          let r;
          try {
            r = await reader.read();
          } catch (e) {
            release();
            throw e;
          }
          if (r.done) {
            release();
            controller.close();
          } else {
            controller.enqueue(r.value);
          }
        },
        async cancel(reason) {
          await opening.catch(() => {});
          await reader?.cancel(reason).catch(() => {});
          release();
        },
      },
      { highWaterMark: 0 },
    );
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
