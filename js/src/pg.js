// edgepg/pg: node-postgres's API (Client, Pool, types, Cursor...) over the
// same wasm core as edgepg's own API. This file only adapts shapes: call
// forms, result objects, events, type parsers. Connecting, pooling,
// pipelining, transactions and cursors are the core's (wasm/src/js/pg.rs
// and the modules beside it); nothing here speaks the protocol.
import { ColumnKind, DecodeFlag, rawConnect, rawCreatePool } from "./edgepg.js";
import { join, rowBuilder, withSockets } from "./api.js";
import { EdgepgError, InterfaceError, PostgresError, TimeoutError, checkTrapped, toError, trapError } from "./errors.js";

// ------------------------------------------------------------ wasm guard

/** Turns a raw rejection into the error pg users expect (DatabaseError for the server's). */
function pgError(e) {
  const trap = trapError(e);
  if (trap) return trap;
  if (e && e.edgepgError && e.code && (e.kind === "server" || e.kind === "auth")) return new DatabaseError(e);
  if (e instanceof PostgresError && !(e instanceof DatabaseError)) return new DatabaseError(e);
  return toError(e);
}


// ------------------------------------------------------------ errors

/**
 * A server ErrorResponse, with node-postgres's field names: `code`
 * (SQLSTATE), `detail`, `hint`, `position`, `internalPosition`,
 * `internalQuery`, `where`, `schema`, `table`, `column`, `dataType`,
 * `constraint`, `file`, `line`, `routine`, `severity`. As in pg, the
 * positions and `line` are strings, and `name` is "error" (the protocol
 * message's name). Also an `instanceof` edgepg's PostgresError.
 */
export class DatabaseError extends PostgresError {
  constructor(fields) {
    super(fields);
    this.name = "error";
    for (const k of ["position", "internalPosition", "line"]) {
      if (this[k] !== undefined && this[k] !== null) this[k] = String(this[k]);
    }
  }
}

// ------------------------------------------------------------ events

/**
 * The part of Node's EventEmitter that pg's classes use, so the facade runs
 * where `node:events` does not exist (browsers, workerd without
 * nodejs_compat). An 'error' with no listener is dropped, not thrown: an
 * idle client's broken connection must never crash the process.
 */
class Emitter {
  #events = new Map();
  on(name, f) {
    const list = this.#events.get(name);
    if (list) list.push(f);
    else this.#events.set(name, [f]);
    return this;
  }
  addListener(name, f) { return this.on(name, f); }
  once(name, f) {
    const g = (...a) => { this.off(name, g); f.apply(this, a); };
    g.listener = f;
    return this.on(name, g);
  }
  off(name, f) {
    const list = this.#events.get(name);
    if (list) {
      const i = list.findIndex((g) => g === f || g.listener === f);
      if (i >= 0) list.splice(i, 1);
    }
    return this;
  }
  removeListener(name, f) { return this.off(name, f); }
  removeAllListeners(name) {
    if (name === undefined) this.#events.clear();
    else this.#events.delete(name);
    return this;
  }
  listenerCount(name) { return this.#events.get(name)?.length ?? 0; }
  listeners(name) { return [...(this.#events.get(name) ?? [])]; }
  emit(name, ...args) {
    const list = this.#events.get(name);
    if (!list || list.length === 0) return false;
    for (const f of [...list]) {
      try {
        f.apply(this, args);
      } catch (e) {
        report(e);
      }
    }
    return true;
  }
}

function report(e) {
  // A throwing listener must not become an unhandled rejection.
  if (typeof globalThis.reportError === "function") globalThis.reportError(e);
  else console.error(e);
}

// ------------------------------------------------------------ types

/** Type OIDs by pg-types' names. */
export const builtins = Object.freeze({
  BOOL: 16, BYTEA: 17, CHAR: 18, INT8: 20, INT2: 21, INT4: 23, REGPROC: 24, TEXT: 25, OID: 26, TID: 27,
  XID: 28, CID: 29, JSON: 114, XML: 142, PG_NODE_TREE: 194, SMGR: 210, PATH: 602, POLYGON: 604, CIDR: 650,
  FLOAT4: 700, FLOAT8: 701, ABSTIME: 702, RELTIME: 703, TINTERVAL: 704, CIRCLE: 718, MACADDR8: 774,
  MONEY: 790, MACADDR: 829, INET: 869, ACLITEM: 1033, BPCHAR: 1042, VARCHAR: 1043, DATE: 1082, TIME: 1083,
  TIMESTAMP: 1114, TIMESTAMPTZ: 1184, INTERVAL: 1186, TIMETZ: 1266, BIT: 1560, VARBIT: 1562, NUMERIC: 1700,
  REFCURSOR: 1790, REGPROCEDURE: 2202, REGOPER: 2203, REGOPERATOR: 2204, REGCLASS: 2205, REGTYPE: 2206,
  UUID: 2950, TXID_SNAPSHOT: 2970, PG_LSN: 3220, PG_NDISTINCT: 3361, PG_DEPENDENCIES: 3402, TSVECTOR: 3614,
  TSQUERY: 3615, GTSVECTOR: 3642, REGCONFIG: 3734, REGDICTIONARY: 3769, JSONB: 3802, REGNAMESPACE: 4089,
  REGROLE: 4096,
});

const identity = (v) => v;

// Text parsers returned by getTypeParser for types nobody set a parser for:
// what a caller wrapping the default (`const d = getTypeParser(oid)`) gets.
// The query path does not use them: without a custom parser, values are
// decoded by the core (binary where it can) into the same JS values.
const DEFAULT_TEXT = new Map([
  [16, (v) => v === "t" || v === "true"],
  [21, (v) => parseInt(v, 10)], [23, (v) => parseInt(v, 10)], [26, (v) => parseInt(v, 10)],
  [700, parseFloat], [701, parseFloat],
  [114, JSON.parse], [3802, JSON.parse],
  [1184, (v) => new Date(v.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"))],
  // date and timestamp: local time, as pg reads them.
  [1082, (v) => new Date(`${v}T00:00:00`)],
  [1114, (v) => new Date(v.replace(" ", "T"))],
]);

const customText = new Map(); // oid -> parser set with setTypeParser (text format)
let customOids = []; // the keys above, handed to the core with each query

/**
 * pg's `types`: `setTypeParser(oid, [format], parse)` makes every column of
 * that type come through `parse(text)` as PostgreSQL prints it (the core
 * asks for text format for it); `getTypeParser(oid, format)`.
 */
export const types = {
  builtins,
  setTypeParser(oid, format, parse) {
    if (typeof format === "function") [format, parse] = ["text", format];
    if (typeof parse !== "function") throw new TypeError("setTypeParser needs a parser function");
    if (format === "binary") throw new InterfaceError("edgepg/pg: binary type parsers are not supported (set a text parser)");
    // Setting a type's default parser back (`setTypeParser(oid,
    // getTypeParser(oid))` done first) returns it to the core's decoding.
    if (parse === defaultParser(Number(oid))) customText.delete(Number(oid));
    else customText.set(Number(oid), parse);
    customOids = [...customText.keys()];
  },
  getTypeParser(oid, format = "text") {
    if (format === "binary") return identity;
    return customText.get(Number(oid)) ?? defaultParser(Number(oid));
  },
  arrayParser: undefined,
};

// ------------------------------------------------------------ results

// Column packing and decode flags of the wasm side, defined once in Rust
// (wasm/src/js/values.rs `Kind` and `DecodeFlag`).
const K_VALUES = ColumnKind.Values, K_NUMBER = ColumnKind.Number, K_BIGINT = ColumnKind.BigInt, K_BOOL = ColumnKind.Bool;
const K_TEXT = ColumnKind.Text, K_JSON = ColumnKind.Json, K_DATE = ColumnKind.Date, K_BYTES = ColumnKind.Bytes;
const INT8_STRING = DecodeFlag.Int8String; // int8 as string (pg's default)
const RAW_TEXT_GIVEN = DecodeFlag.RawTextGiven; // pgQuery: its rawText argument picks text columns (wasm/src/js/pg.rs)
// Tests only (as in api.js): every value through the core's general path,
// results collected and rows filled column by column — the reference the
// streamed, generated path is compared with (test/pg-decode-exact.test.mjs).
const REFERENCE = Symbol.for("edgepg.referenceDecode");

const OID_DATE = 1082, OID_TIMESTAMP = 1114, OID_BYTEA = 17;
const HasBuffer = typeof globalThis.Buffer === "function" ? globalThis.Buffer : null;

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * pg reads `date` and `timestamp` (no time zone) as local time; the core
 * gives their wall-clock value as UTC. Same instant when the runtime is on
 * UTC (Workers always are); otherwise the wall clock is moved to local time.
 */
function localDate(ms) {
  const d = new Date(ms);
  if (d.getTimezoneOffset() === 0) return d;
  const local = new Date(0);
  local.setFullYear(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  local.setHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
  return local;
}

/** Writes column `[kind, data, ends, nulls]` into `out[i][key]`, through `parse` when given. */
function fillColumn(out, key, [kind, data, ends, nulls], oid, parse) {
  const n = out.length;
  switch (kind) {
    case K_TEXT:
      if (parse) {
        for (let i = 0, a = 0; i < n; i++) {
          const t = data.slice(a, (a = ends[i]));
          out[i][key] = nulls !== undefined && nulls[i] ? null : parse(t);
        }
        return;
      }
      for (let i = 0, a = 0; i < n; i++) out[i][key] = data.slice(a, (a = ends[i]));
      break;
    case K_JSON:
      for (let i = 0, a = 0; i < n; i++) {
        const t = data.slice(a, (a = ends[i]));
        out[i][key] = nulls !== undefined && nulls[i] ? null : parseJson(t);
      }
      break;
    case K_BOOL:
      for (let i = 0; i < n; i++) out[i][key] = data[i] !== 0;
      break;
    case K_DATE:
      if (oid === OID_DATE || oid === OID_TIMESTAMP) {
        for (let i = 0; i < n; i++) out[i][key] = Number.isFinite(data[i]) ? localDate(data[i]) : data[i];
      } else {
        for (let i = 0; i < n; i++) out[i][key] = Number.isFinite(data[i]) ? new Date(data[i]) : data[i];
      }
      break;
    case K_BYTES:
      // Views on one buffer, like pg's Buffers (no copy per value).
      for (let i = 0, a = 0; i < n; i++) {
        const b = ends[i];
        out[i][key] = HasBuffer ? HasBuffer.from(data.buffer, data.byteOffset + a, b - a) : data.subarray(a, b);
        a = b;
      }
      break;
    default: // K_VALUES, K_NUMBER, K_BIGINT
      if (kind !== K_VALUES && kind !== K_NUMBER && kind !== K_BIGINT) {
        throw new InterfaceError(`unknown result column kind ${kind} (mismatched edgepg .wasm and glue?)`);
      }
      for (let i = 0; i < n; i++) out[i][key] = data[i];
  }
  if (nulls !== undefined) for (let i = 0; i < n; i++) if (nulls[i]) out[i][key] = null;
}

const TAG = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/;
// Command tags seen so far → `[command, rowCount, oid]` (a handful of
// distinct tags in most applications; bounded all the same).
const tags = new Map();

/**
 * pg's reading of the command tag: "INSERT 0 3" → command INSERT, oid 0,
 * rowCount 3; "SELECT 2" → rowCount 2; "CREATE TABLE" → rowCount null.
 */
function readTag(tag) {
  // `SELECT n` comes from the core as the number n (wasm/src/js/pg.rs `tag_to_js`).
  if (typeof tag === "number") return ["SELECT", tag, null];
  let read = tags.get(tag);
  if (read !== undefined) return read;
  read = [null, null, null];
  const t = TAG.exec(tag);
  if (t) {
    read[0] = t[1];
    if (t[3] !== undefined) {
      read[2] = parseInt(t[2], 10);
      read[1] = parseInt(t[3], 10);
    } else if (t[2] !== undefined) {
      read[1] = parseInt(t[2], 10);
    }
  }
  if (tags.size >= 512) tags.clear();
  tags.set(tag, read);
  return read;
}

/**
 * What a statement's results share from one call to the next: its column
 * names, types and descriptions, and the row template built from them.
 * Kept per statement text (see `Shapes`) so a query run again does not
 * define its row object's keys again; a result whose description differs
 * (the table was altered) gets a new shape.
 */
class Shape {
  constructor(names, oids, meta, id) {
    this.names = names;
    this.oids = oids;
    this.meta = meta;
    // The core's fingerprint of this description (wasm/src/js/pg.rs
    // `shape_id`): passed back with the next call of the statement, whose
    // result then comes without names, types and fields when they are the same.
    this.id = id;
    // Rows start as copies of one object that has every key (no hidden
    // class change per value); keys defined, so "__proto__" stays a column.
    const template = {};
    for (let j = 0; j < names.length; j++) {
      Object.defineProperty(template, names[j], { value: null, writable: true, enumerable: true, configurable: true });
    }
    this.template = template;
  }
}

/** Statement text → its last result's Shape; one per Client or Pool, bounded. */
class Shapes {
  #map = new Map();
  /** `text`'s last result Shape, if kept. */
  known(text) {
    return this.#map.get(text);
  }
  /**
   * The Shape of a single result `raw` of `text`. `before`: the Shape whose
   * id went to the core with the call (`known(text)` then); when the result
   * has that shape, the core left its names, types and fields out (null),
   * and they are filled in from it.
   */
  ofResult(text, raw, before) {
    if (raw[0] === null) {
      raw[0] = before.names;
      raw[1] = before.oids;
      raw[5] = before.meta;
      return before;
    }
    const known = this.#map.get(text);
    if (known !== undefined && known.id === raw[6]) return known;
    const shape = new Shape(raw[0], raw[1], raw[5], raw[6]);
    if (this.#map.size >= 256) this.#map.clear();
    this.#map.set(text, shape);
    return shape;
  }
}

/**
 * The rows of a packed batch `[names, oids, count, columns]` (with the
 * statement's field descriptions `meta`, see `toResult`; null for a
 * streamed batch, which has no text column for a parser), filled column
 * by column. `parserOf(oid)` gives the text parser of a column the core
 * passed on as text, or null; `shape` the statement's cached Shape (null:
 * build one).
 */
function fillRows(batch, meta, arrayMode, parserOf, shape) {
  const [names, oids, count, columns] = batch;
  const m = names.length;
  const rows = new Array(count);
  if (arrayMode) {
    for (let i = 0; i < count; i++) rows[i] = new Array(m);
  } else {
    const template = (shape ?? new Shape(names, oids, meta)).template;
    for (let i = 0; i < count; i++) rows[i] = { ...template };
  }
  for (let j = 0; j < m; j++) {
    const oid = oids[j];
    const column = columns[j];
    let parse = null;
    if (column[0] === K_TEXT && meta !== null && meta[j * 5 + 4] === 0) parse = parserOf(oid);
    try {
      fillColumn(rows, arrayMode ? j : names[j], column, oid, parse);
    } catch (e) {
      throw e instanceof EdgepgError ? e : new EdgepgError(`type parser for OID ${oid} (column "${names[j]}") threw: ${e?.message ?? e}`, "conversion", undefined, { cause: e });
    }
  }
  return rows;
}

/** Unix ms → Date; ±Infinity (PostgreSQL's ±infinity) stays a number. */
function utcDate(ms) {
  return Number.isFinite(ms) ? new Date(ms) : ms;
}

/**
 * The rows of a streamed batch (no type parsers: see `runQuery`) built by
 * the generated row builder of edgepg's own API (js/src/api.js
 * `rowBuilder`: one object literal per row), then given pg's mapping where
 * it differs from that API's: `date` and `timestamp` in local time, bytea
 * as Buffer. Null when no builder applies (no code generation in this
 * runtime, a "__proto__" column): `fillRows` does it then.
 */
function builtRows(batch, arrayMode) {
  const [names, oids, count, columns] = batch;
  const build = rowBuilder(names, columns, arrayMode);
  if (build === null) return null;
  const rows = build(count, columns, utcDate, parseJson);
  for (let j = 0; j < columns.length; j++) {
    const kind = columns[j][0];
    const key = arrayMode ? j : names[j];
    if (kind === K_DATE && (oids[j] === OID_DATE || oids[j] === OID_TIMESTAMP)) {
      for (let i = 0; i < count; i++) {
        const d = rows[i][key];
        // localDate gives the same instant where the offset is zero (UTC runtimes).
        if (d instanceof Date && d.getTimezoneOffset() !== 0) rows[i][key] = localDate(d.getTime());
      }
    } else if (kind === K_BYTES && HasBuffer) {
      for (let i = 0; i < count; i++) {
        const b = rows[i][key];
        if (b !== null) rows[i][key] = HasBuffer.from(b.buffer, b.byteOffset, b.length);
      }
    }
  }
  return rows;
}

/**
 * The one row of a raw result that came as its values (`raw[7]` given: see
 * wasm/src/js/pg.rs `result_to_js`), given pg's mapping where it differs
 * from the values' (the columns `raw[7]` lists: `date` and `timestamp` in
 * local time, bytea as Buffer), as an object (or the array with `arrayMode`).
 */
function oneRow(raw, arrayMode, shape) {
  const [names, oids, , values, , meta, , fix] = raw;
  if (fix !== 0) {
    for (let k = 0; k < fix.length; k++) {
      const j = fix[k];
      const v = values[j];
      if (v instanceof Date) {
        if (oids[j] === OID_DATE || oids[j] === OID_TIMESTAMP) values[j] = localDate(v.getTime());
      } else if (v instanceof Uint8Array && HasBuffer) {
        values[j] = HasBuffer.from(v.buffer, v.byteOffset, v.length);
      }
    }
  }
  if (arrayMode) return values;
  const row = { ...(shape ?? new Shape(names, oids, meta)).template };
  for (let j = 0; j < names.length; j++) row[names[j]] = values[j];
  return row;
}

/** The rows of a raw result (see `fillRows`; `oneRow` when it came as one row's values). */
function rawRows(raw, arrayMode, parserOf, shape) {
  return raw[7] !== undefined ? [oneRow(raw, arrayMode, shape)] : fillRows(raw, raw[5], arrayMode, parserOf, shape);
}

/**
 * One raw result `[names, oids, count, columns, tag, fields]` → pg's
 * `{ command, rowCount, oid, rows, fields }`. `parserOf`, `shape`: see
 * `fillRows`. `rows`: the rows when they came apart (streamed), else
 * undefined (built from `raw`).
 */
function toResult(raw, arrayMode, parserOf, shape, rows) {
  const [names, oids, , , tag, meta] = raw;
  const m = names.length;
  if (rows === undefined) rows = rawRows(raw, arrayMode, parserOf, shape);
  const fields = new Array(m);
  for (let j = 0; j < m; j++) {
    const oid = oids[j];
    fields[j] = {
      name: names[j],
      tableID: meta[j * 5],
      columnID: meta[j * 5 + 1],
      dataTypeID: oid,
      dataTypeSize: meta[j * 5 + 2],
      dataTypeModifier: meta[j * 5 + 3],
      format: meta[j * 5 + 4] === 1 ? "binary" : "text",
    };
  }
  const [command, rowCount, oid] = tag === null ? NO_TAG : readTag(tag);
  return { command, rowCount, oid, rows, fields, rowAsArray: !!arrayMode };
}

const NO_TAG = [null, null, null];

// ------------------------------------------------------------ queries

/**
 * Normalises pg's call forms: `(text)`, `(text, values)`, `(config)`,
 * `(config, values)` (drizzle), with or without a trailing callback.
 */
function queryArgs(a, b, c) {
  let config;
  let callback;
  if (typeof a === "string") {
    config = { text: a };
  } else if (a && typeof a === "object") {
    config = a;
  } else {
    throw new TypeError("Client was passed a null or undefined query");
  }
  if (typeof b === "function") {
    callback = b;
  } else {
    if (b !== undefined) config = { ...config, values: b };
    if (typeof c === "function") callback = c;
  }
  if (config.callback && !callback) callback = config.callback;
  return [config, callback];
}

/** pg's `toPostgres()` hook on argument objects. */
function prepareValues(values) {
  if (values === undefined || values === null) return values;
  if (!Array.isArray(values)) throw new TypeError("Query values must be an array");
  let out = values;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && typeof v === "object" && typeof v.toPostgres === "function") {
      if (out === values) out = values.slice();
      out[i] = v.toPostgres(prepareValue);
    }
  }
  return out;
}

function prepareValue(v) {
  if (v !== null && typeof v === "object" && typeof v.toPostgres === "function") return v.toPostgres(prepareValue);
  return v;
}

/**
 * Which columns come as the server's text for a parser, and the parser of
 * each: `[rawText, parserOf]`. A parser that is edgepg's own default for
 * the type changes nothing (the core's decoding gives the same value), so
 * only the columns with another parser are read as text.
 */
function parsing(queryTypes, clientTypes) {
  const t = queryTypes ?? clientTypes;
  if (t && typeof t.getTypeParser === "function") {
    // A query's own parsers (drizzle's): asked about the columns the
    // statement has, once each, when the core binds it.
    const seen = new Map();
    const parserOf = (oid) => {
      let p = seen.get(oid);
      if (p === undefined) {
        const f = t.getTypeParser(oid, "text");
        p = typeof f === "function" && f !== defaultParser(oid) ? f : null;
        seen.set(oid, p);
      }
      return p;
    };
    return [(oid) => parserOf(oid) !== null, parserOf];
  }
  if (customOids.length === 0) return NO_PARSING;
  return [customOids, (oid) => customText.get(oid) ?? null];
}

/** What types.getTypeParser gives for a type nobody set a parser for. */
function defaultParser(oid) {
  return DEFAULT_TEXT.get(oid) ?? identity;
}

const noParser = () => null;
const NO_PARSING = Object.freeze([undefined, noParser]);

/** Runs `promise` and settles `callback` (pg's callback style) or returns it. */
function settle(promise, callback) {
  if (!callback) return promise;
  promise.then((r) => callback(null, r), (e) => callback(e));
  return undefined;
}

function rethrow(e) {
  throw pgError(e);
}

/**
 * Runs one query on `target` (a raw connection or pool) and builds pg's
 * result: an array of results for a script of several statements.
 * `config` is the query's config object, or null for `query(text, values)`
 * (the common call: nothing else to read). Not an async function: the
 * core's promise is chained once, so a query costs no promise layer more
 * than the call itself.
 */
function runQuery(target, text, values, config, clientTypes, queryTimeout, shapes) {
  let run;
  try {
    checkTrapped();
    if (typeof text !== "string") throw new TypeError("A query must have either text or a name (and text)");
    values = prepareValues(values);
    // pg: without arguments (and without a name) the simple protocol runs the
    // text, so a script of several statements works; otherwise one statement.
    const simple = !config?.name && (!values || values.length === 0);
    const [rawText, parserOf] = parsing(config?.types, clientTypes);
    const arrayMode = config?.rowMode === "array";
    // Without type parsers (and not the tests' reference path), one
    // statement's rows come in batches while the rest is on the way
    // (`onBatch`; the rows that come with the end of the response are in
    // the result), and batches of several rows are built by the generated
    // row builder (`builtRows`).
    const reference = globalThis[REFERENCE] === true;
    const generated = rawText === undefined && !reference;
    let parts = null;
    // The statement's result shape as last seen: its id goes to the core,
    // which then leaves out what the shape already says (see `Shapes`).
    const before = shapes.known(text);
    const known = before?.id ?? 0;
    const onBatch = !generated ? undefined : (batch) => {
      (parts ??= []).push(builtRows(batch, arrayMode) ?? fillRows(batch, null, arrayMode, noParser, null));
    };
    // The core answers one statement's result as it is (its row count, a
    // number, third), a script's as an array of results (wasm/src/js/pg.rs
    // `results_to_js`).
    const shaped = (raw) => {
      if (typeof raw[2] === "number") {
        const shape = shapes.ofResult(text, raw, before);
        const rows = generated && raw[2] > 1 ? builtRows(raw, arrayMode) : null;
        if (parts === null) return toResult(raw, arrayMode, parserOf, shape, rows ?? undefined);
        parts.push(rows ?? rawRows(raw, arrayMode, parserOf, shape));
        return toResult(raw, arrayMode, parserOf, shape, join(parts));
      }
      if (raw.length === 0) return { command: null, rowCount: null, oid: null, rows: [], fields: [], rowAsArray: arrayMode };
      if (raw.length === 1) return toResult(raw[0], arrayMode, parserOf, null);
      return raw.map((r) => toResult(r, arrayMode, parserOf, null));
    };
    let flags = rawText === undefined ? INT8_STRING : INT8_STRING | RAW_TEXT_GIVEN;
    if (reference) flags |= DecodeFlag.Reference;
    // pg's query_timeout: the core abandons the call (cancelling it on the
    // server when that is safe) and the connection stays usable.
    const limit = config?.query_timeout ?? queryTimeout;
    if (!(limit > 0)) {
      // No values: `undefined`, not an empty array, crosses to the core.
      return target.pgQuery(text, values, simple, flags, rawText, onBatch, known, undefined).then(shaped, rethrow);
    }
    let timer;
    const cancel = new Promise((resolve) => { timer = setTimeout(() => resolve(new TimeoutError("Query read timeout")), limit); });
    run = target.pgQuery(text, values, simple, flags, rawText, onBatch, known, cancel);
    run = run.finally(() => clearTimeout(timer)).then(shaped, rethrow);
  } catch (e) {
    return Promise.reject(e);
  }
  return run;
}

// ------------------------------------------------------------ configuration

/** pg's defaults (the ones that make sense here). */
export const defaults = {
  host: undefined,
  user: undefined,
  database: undefined,
  password: undefined,
  port: 5432,
  max: 10,
  idleTimeoutMillis: 10000,
  connectionTimeoutMillis: 0,
  ssl: false,
  application_name: undefined,
  parseInputDatesAsUTC: false,
};

/**
 * Neon's `neonConfig`: connection settings every Client and Pool made
 * afterwards starts from (`wsProxy`, `useSecureWebSocket`,
 * `webSocketConstructor`, `pipelineConnect`...); a config object's own
 * settings win. Settings edgepg has no use for are accepted and ignored.
 */
export const neonConfig = {};

function env(name) {
  return globalThis.process?.env?.[name];
}

const DSN_KEYS = ["host", "port", "user", "password", "database", "ssl", "application_name", "options", "connectionString", "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "query_timeout"];
// pg config keys that are server settings, sent at startup (`-c name=value`).
const SERVER_SETTINGS = ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"];

/** `options` (libpq's) with the config's server settings added. */
function startupOptions(config, existing) {
  const parts = existing ? [existing] : [];
  for (const k of SERVER_SETTINGS) {
    const v = config[k];
    if (v !== undefined && v !== null && v !== false) parts.push(`-c ${k}=${Number(v)}`);
  }
  return parts.join(" ");
}

/** The DSN for a pg config (a connection string or the usual fields). */
function dsnOf(config) {
  if (config.connectionString) {
    let dsn = String(config.connectionString);
    const add = (k, v) => { dsn += (dsn.includes("?") ? "&" : "?") + `${k}=${encodeURIComponent(v)}`; };
    if (config.ssl !== undefined && !/[?&]sslmode=/.test(dsn)) add("sslmode", sslMode(config.ssl));
    const settings = startupOptions(config, "");
    if (settings) {
      if (!/^postgres(ql)?:\/\//.test(dsn) || /[?&]options=/.test(dsn)) {
        throw new InterfaceError("statement_timeout & co need a postgres:// connection string without its own options= (or put them in options=)");
      }
      add("options", settings);
    }
    return dsn;
  }
  const host = config.host ?? defaults.host ?? env("PGHOST") ?? "localhost";
  const port = config.port ?? env("PGPORT") ?? defaults.port;
  const user = config.user ?? defaults.user ?? env("PGUSER") ?? env("USER") ?? "postgres";
  const password = config.password ?? defaults.password ?? env("PGPASSWORD");
  const database = config.database ?? defaults.database ?? env("PGDATABASE") ?? user;
  const e = encodeURIComponent;
  const auth = password === undefined || password === null ? e(user) : `${e(user)}:${e(String(password))}`;
  const params = new URLSearchParams();
  params.set("sslmode", sslMode(config.ssl ?? defaults.ssl));
  const app = config.application_name ?? defaults.application_name;
  if (app) params.set("application_name", app);
  const options = startupOptions(config, config.options);
  if (options) params.set("options", options);
  const h = String(host).includes(":") && !String(host).startsWith("[") ? `[${host}]` : host;
  return `postgres://${auth}@${h}:${port}/${e(database)}?${params}`;
}

/** pg's `ssl` setting → sslmode. */
function sslMode(ssl) {
  if (!ssl) return "disable";
  if (typeof ssl === "object" && ssl.rejectUnauthorized === false) return "require";
  return typeof ssl === "object" ? "verify-full" : "require";
}

/** Options handed to the core: neonConfig, then the config's own (transport ones pass straight through). */
function coreOptions(config) {
  const o = { ...neonConfig };
  for (const [k, v] of Object.entries(config)) if (!DSN_KEYS.includes(k) && v !== undefined) o[k] = v;
  // pg's `ssl: { ca }` (a PEM string or Buffer): the root certificates to verify the server with.
  const ssl = config.ssl ?? defaults.ssl;
  if (ssl && typeof ssl === "object" && ssl.ca !== undefined && o.sslrootcert === undefined) {
    o.sslrootcert = Array.isArray(ssl.ca) ? ssl.ca.map(String).join("\n") : String(ssl.ca);
  }
  const timeout = config.connectionTimeoutMillis ?? defaults.connectionTimeoutMillis;
  if (timeout && o.connectTimeout === undefined) o.connectTimeout = timeout;
  return o;
}

function normalise(config) {
  if (typeof config === "string") return { connectionString: config };
  return config ?? {};
}

// ------------------------------------------------------------ escaping

/** `"ident"` with inner quotes doubled (pg's client.escapeIdentifier). */
export function escapeIdentifier(s) {
  return `"${String(s).replaceAll('"', '""')}"`;
}

/** `'literal'` with quotes doubled; with backslashes, an E'' string with them doubled. */
export function escapeLiteral(s) {
  s = String(s).replaceAll("'", "''");
  return s.includes("\\") ? ` E'${s.replaceAll("\\", "\\\\")}'` : `'${s}'`;
}

// ------------------------------------------------------------ Client

const kAttach = Symbol("attach");

/**
 * node-postgres's Client. `connect()`, `query()`, `end()`; events
 * `connect`, `error`, `end`, `notice`, `notification` (after a `LISTEN`). Queries sent together are pipelined
 * on the connection (the answers come back in order).
 */
export class Client extends Emitter {
  #config;
  #raw = null;
  #connecting = null;
  #ended = false;
  #stopNotices = null;
  #named = new Map(); // statement name -> text
  /** @internal set for pool clients */
  _pooled = false;
  /** @internal result shapes by statement text (a pool's clients share the pool's) */
  _shapes = new Shapes();

  constructor(config) {
    super();
    this.#config = normalise(config);
    const c = this.#config;
    this.connectionParameters = c;
    this.user = c.user ?? defaults.user;
    this.database = c.database ?? defaults.database;
    this.host = c.host ?? defaults.host;
    this.port = c.port ?? defaults.port;
    this.ssl = c.ssl ?? defaults.ssl;
    this.processID = null;
    this.secretKey = null;
  }

  /** Connects (resolves once the server accepted the password). */
  connect(callback) {
    return settle(this.#connect(), callback);
  }

  async #connect() {
    checkTrapped();
    if (this.#raw || this.#connecting) throw new InterfaceError("Client has already been connected. You cannot reuse a client.");
    if (this.#ended) throw new InterfaceError("Client was closed and is not queryable");
    this.#connecting = (async () => {
      const options = coreOptions(this.#config);
      try {
        return await rawConnect(dsnOf(this.#config), withSockets(options), undefined);
      } catch (e) {
        throw pgError(e);
      }
    })();
    try {
      this[kAttach](await this.#connecting);
    } finally {
      this.#connecting = null;
    }
    this.emit("connect");
  }

  /** @internal a connection the core opened (own or lent by a pool) */
  [kAttach](raw) {
    this.#raw = raw;
    this.processID = raw.getServerPid();
    if (this._pooled) return;
    raw.waitClosed().then(() => {
      if (this.#ended) return;
      // Closed without end(): the server or the network went away.
      this.#ended = true;
      this.#stopNotices?.();
      this.emit("error", new EdgepgError("Connection terminated unexpectedly", "closed"));
      this.emit("end");
    }, report);
    this.#listenNotices(raw);
  }

  /** Server notices → `notice`, and every NOTIFY the session LISTENs to → `notification`. */
  #listenNotices(raw) {
    const streams = [];
    let stopped = false;
    let stop;
    const stopping = new Promise((resolve) => { stop = () => resolve(null); });
    const pump = (open, emit) => {
      let stream;
      try {
        stream = open();
      } catch {
        return;
      }
      streams.push(stream);
      (async () => {
        while (!stopped) {
          let item;
          try {
            item = await stream.next(stopping);
          } catch {
            break;
          }
          if (item === null) break;
          emit(item);
        }
      })();
    };
    pump(() => raw.logStream(), (fields) => this.emit("notice", new DatabaseError(fields)));
    pump(() => raw.notificationStream(), ([processId, channel, payload]) =>
      this.emit("notification", { name: "notification", processId, channel, payload }));
    this.#stopNotices = () => {
      stopped = true;
      stop();
      for (const s of streams) {
        try { s.close(); } catch { /* gone */ }
      }
    };
  }

  /** The raw connection; as in pg, a query made while connect() runs waits for it. */
  async #whenConnected() {
    if (!this.#raw && this.#connecting) await this.#connecting.catch(() => {});
    return this._target();
  }

  /** @internal the raw connection, or a clear error */
  _target() {
    if (this.#raw) return this.#raw;
    if (this._released) throw new InterfaceError("Client has already been released to the pool: get a new one with pool.connect()");
    if (this.#ended) throw new InterfaceError("Client was closed and is not queryable");
    throw new InterfaceError("Client is not connected: call client.connect() first");
  }

  /**
   * pg's call forms: `(text)`, `(text, values)`, `({ text, values, rowMode,
   * types, name })`, `(config, values)`, each with an optional callback; a
   * Cursor is returned at once.
   */
  query(a, b, c) {
    const raw = this.#raw;
    if (typeof a === "string" && raw !== null && typeof b !== "function" && c === undefined) {
      // The common call, `query(text)` / `query(text, values)` on a connected
      // client: nothing to normalise.
      return runQuery(raw, a, b, null, this.#config.types, this.#config.query_timeout, this._shapes);
    }
    if (a instanceof Cursor) {
      a[kAttach](this._target(), this.#config.types);
      return a;
    }
    if (a && typeof a.submit === "function" && !(a instanceof Cursor)) {
      throw new InterfaceError("edgepg/pg runs only its own Cursor (import { Cursor } from \"edgepg/pg\"), not pg-cursor's or another Submittable");
    }
    let config, callback;
    try {
      [config, callback] = queryArgs(a, b, c);
    } catch (e) {
      if (typeof b === "function" || typeof c === "function") {
        const cb = typeof c === "function" ? c : b;
        queueMicrotask(() => cb(e));
        return undefined;
      }
      return Promise.reject(e);
    }
    if (config.name) {
      // pg: one name, one text, per connection.
      const known = this.#named.get(config.name);
      if (known !== undefined && known !== config.text) {
        const e = new InterfaceError(`Prepared statements must be unique - '${config.name}' was used for a different statement`);
        if (callback) { queueMicrotask(() => callback(e)); return undefined; }
        return Promise.reject(e);
      }
      this.#named.set(config.name, config.text);
    }
    // Connected: handed to the core now, so queries and cursors keep their
    // call order on the connection (as pg's queue does).
    const run = (target) => runQuery(target, config.text, config.values, config, this.#config.types, this.#config.query_timeout, this._shapes);
    const p = raw ? run(raw) : (async () => run(await this.#whenConnected()))();
    return settle(p, callback);
  }

  /** Closes the connection (queries already sent finish first). */
  end(callback) {
    return settle(this.#end(), callback);
  }

  async #end() {
    if (this.#ended && !this.#raw) return;
    this.#ended = true;
    this.#stopNotices?.();
    const raw = this.#raw;
    this.#raw = null;
    if (raw) {
      try {
        await raw.close(undefined);
      } catch (e) {
        throw pgError(e);
      } finally {
        this.emit("end");
      }
    }
  }

  /** @internal detaches the raw connection (pool release) */
  _detach() {
    const raw = this.#raw;
    this.#raw = null;
    return raw;
  }

  escapeIdentifier(s) { return escapeIdentifier(s); }
  escapeLiteral(s) { return escapeLiteral(s); }
}

// ------------------------------------------------------------ Pool

/**
 * node-postgres's Pool over the core's pool. `connect()` lends a client
 * (`release()` it; `release(err)` or `release(true)` closes it instead),
 * `query()` borrows one for the call, `end()`. Events `connect` (a new
 * connection), `acquire`, `release`, `remove`. Connections that fail while
 * idle are replaced by the core without an event: nothing can crash the
 * process for want of an `error` listener.
 */
export class Pool extends Emitter {
  #raw;
  #ready;
  #ending = false;
  #ended = false;
  #waiting = 0;
  #seen = new Set();
  #clients = new Set();
  /** @internal result shapes by statement text, shared with the clients it lends */
  _shapes = new Shapes();

  constructor(config) {
    super();
    const c = normalise(config);
    this.options = { ...c, max: c.max ?? defaults.max, idleTimeoutMillis: c.idleTimeoutMillis ?? defaults.idleTimeoutMillis };
    const o = coreOptions(c);
    for (const k of ["max", "min", "idleTimeoutMillis", "connectionTimeoutMillis", "maxUses", "allowExitOnIdle", "maxLifetimeSeconds", "log", "Client", "Promise", "types"]) delete o[k];
    o.maxSize = this.options.max;
    if (c.min !== undefined) o.minSize = c.min;
    if (this.options.idleTimeoutMillis) o.maxInactiveConnectionLifetime = this.options.idleTimeoutMillis;
    if (c.connectionTimeoutMillis) o.acquireTimeout = c.connectionTimeoutMillis;
    // pg's Pool never resets a session on release: what a client SETs, its
    // temporary tables and prepared statements stay for the next borrower,
    // and code written for pg counts on that (and on not paying a statement
    // per release). So the core pool runs without its reset hook here; it
    // still rolls back a transaction left open and drops the client-side
    // listeners, so nothing half-done reaches the next borrower. `reset:
    // true` asks for edgepg's reset (asyncpg's: DISCARD-like cleaning).
    if (o.reset === undefined) o.reset = false;
    this.#ready = rawCreatePool(dsnOf(c), withSockets(o), undefined).then((p) => (this.#raw = p));
    this.#ready.catch(() => {}); // reported by the first call
  }

  get totalCount() { return this.#raw ? this.#raw.getSize() : 0; }
  get idleCount() { return this.#raw ? this.#raw.getIdleSize() : 0; }
  get waitingCount() { return this.#waiting; }
  get expiredCount() { return 0; }
  get ending() { return this.#ending; }
  get ended() { return this.#ended; }

  async #pool() {
    checkTrapped();
    if (this.#ending) throw new InterfaceError("Cannot use a pool after calling end on the pool");
    try {
      return await this.#ready;
    } catch (e) {
      throw pgError(e);
    }
  }

  /** Lends a client; resolves once its connection is ready. */
  connect(callback) {
    return settle(this.#connect(), callback);
  }

  async #connect() {
    const p = await this.#pool();
    this.#waiting++;
    let raw;
    try {
      raw = await p.acquire(false, undefined);
    } catch (e) {
      throw pgError(e);
    } finally {
      this.#waiting--;
    }
    const client = new PoolClient(this, this.options);
    client[kAttach](raw);
    this.#clients.add(client);
    if (!this.#seen.has(client.processID)) {
      this.#seen.add(client.processID);
      this.emit("connect", client);
    }
    this.emit("acquire", client);
    return client;
  }

  /** @internal */
  _release(client, err) {
    this.#clients.delete(client);
    const raw = client._detach();
    this.emit("release", err instanceof Error ? err : undefined, client);
    if (!raw) return;
    if (err) {
      // A client given back with an error (or `true`) is closed, not reused.
      this.#seen.delete(client.processID);
      try { raw.terminate(); } catch { /* gone */ }
      this.emit("remove", client);
    } else {
      raw.close(undefined).catch(() => {});
    }
  }

  /** Runs one query on a connection borrowed for the call (pg's call forms). */
  query(a, b, c) {
    if (a instanceof Cursor || (a && typeof a.submit === "function")) {
      throw new InterfaceError("pool.query does not run a Cursor: get a client with pool.connect() and call client.query(cursor)");
    }
    const raw = this.#raw;
    if (typeof a === "string" && raw !== undefined && !this.#ending && typeof b !== "function" && c === undefined) {
      // The common call on a ready pool: straight to the core's pool.
      return runQuery(raw, a, b, null, this.options.types, this.options.query_timeout, this._shapes);
    }
    let config, callback;
    try {
      [config, callback] = queryArgs(a, b, c);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = raw !== undefined && !this.#ending
      ? runQuery(this.#raw, config.text, config.values, config, this.options.types, this.options.query_timeout, this._shapes)
      : (async () => runQuery(await this.#pool(), config.text, config.values, config, this.options.types, this.options.query_timeout, this._shapes))();
    return settle(p, callback);
  }

  /** Closes idle connections now and lent ones when they come back. */
  end(callback) {
    return settle(this.#end(), callback);
  }

  async #end() {
    if (this.#ending) throw new InterfaceError("Called end on pool more than once");
    this.#ending = true;
    let p;
    try {
      p = await this.#ready;
    } catch {
      this.#ended = true;
      return;
    }
    try {
      await p.close(undefined);
    } catch (e) {
      throw pgError(e);
    } finally {
      this.#ended = true;
      this.emit("end");
    }
  }
}

/** A client lent by a Pool: `release()` gives it back. */
class PoolClient extends Client {
  #pool;

  constructor(pool, config) {
    super(config);
    this.#pool = pool;
    this._pooled = true;
    this._shapes = pool._shapes;
    this._released = false;
  }

  /** Gives the client back; with an error (or `true`) its connection is closed instead. */
  release(err) {
    if (this._released) {
      throw new InterfaceError("Release called on client which has already been released to the pool.");
    }
    this._released = true;
    this.#pool._release(this, err);
  }

  connect() {
    return Promise.reject(new InterfaceError("a pool's client is already connected"));
  }

  end(callback) {
    // pg closes a pool client's connection on end(); here it is destroyed
    // the same way release(true) does.
    if (!this._released) this.release(true);
    return settle(Promise.resolve(), callback);
  }
}

// ------------------------------------------------------------ Cursor

/**
 * pg-cursor's Cursor: `client.query(new Cursor(text, values, { rowMode }))`
 * returns it at once; `read(n)` resolves to up to `n` rows (`[]` at the
 * end), `close()` ends it. Outside a transaction the core runs it inside one
 * of its own, committed at `close()`.
 */
export class Cursor extends Emitter {
  #raw = null;
  #config;
  #done = false;
  #types;

  constructor(text, values, config) {
    super();
    this.text = text;
    this.values = values ? prepareValues(values) : [];
    this.#config = config ?? {};
    this._result = null;
  }

  /** @internal */
  [kAttach](rawConnection, clientTypes) {
    if (this.#raw) throw new InterfaceError("this Cursor was already submitted");
    this.#types = this.#config.types ?? clientTypes;
    try {
      this.#raw = rawConnection.pgCursor(this.text, this.values);
    } catch (e) {
      throw pgError(e);
    }
  }

  /** Up to `rows` rows; `[]` once all were read. */
  read(rows, callback) {
    return settle(this.#read(rows), callback);
  }

  async #read(n) {
    checkTrapped();
    if (!this.#raw) throw new InterfaceError("this Cursor was not submitted: pass it to client.query() first");
    if (this.#done) return [];
    if (!Number.isInteger(n) || n < 1) throw new InterfaceError("Cursor.read needs a positive number of rows");
    let raw;
    try {
      raw = await this.#raw.read(n, INT8_STRING, undefined);
    } catch (e) {
      throw pgError(e);
    }
    const result = toResult(raw, this.#config.rowMode === "array", noParser);
    this.#checkParsers(result);
    this._result = result;
    if (result.rows.length < n) this.#done = true;
    for (const row of result.rows) this.emit("row", row, result);
    if (this.#done) this.emit("end", result);
    return result.rows;
  }

  /**
   * A cursor's rows come decoded by the core (its portal is bound once, in
   * binary); a text parser for one of its columns is applied to the value's
   * text when the value is one (int8, numeric, text...) and refused with an
   * error otherwise, never skipped silently.
   */
  #checkParsers(result) {
    const t = this.#types;
    for (let j = 0; j < result.fields.length; j++) {
      const oid = result.fields[j].dataTypeID;
      const parse = t && typeof t.getTypeParser === "function" ? t.getTypeParser(oid, "text") : customText.get(oid);
      if (!parse || parse === defaultParser(oid)) continue;
      const key = result.rowAsArray ? j : result.fields[j].name;
      for (const row of result.rows) {
        const v = row[key];
        if (v === null) continue;
        if (typeof v !== "string") {
          throw new InterfaceError(`a type parser is set for OID ${oid}, which a Cursor cannot apply to its decoded values: read it with client.query()`);
        }
        row[key] = parse(v);
      }
    }
  }

  /** Ends the cursor. */
  close(callback) {
    const raw = this.#raw;
    this.#done = true;
    const p = raw ? raw.close(undefined).catch((e) => { throw pgError(e); }) : Promise.resolve();
    return settle(p, callback);
  }
}

// ------------------------------------------------------------ default export

/** `import pg from "edgepg/pg"` as with `import pg from "pg"`. */
export default {
  Client, Pool, Cursor, DatabaseError, types, defaults, neonConfig, escapeIdentifier, escapeLiteral,
  native: null,
};
