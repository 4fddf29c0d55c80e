// edgepg/http: one-shot queries over HTTP (POST /sql), compatible with
// `neon()` of @neondatabase/serverless, against Neon's proxy or edgepg-proxy.
//
// No WebAssembly here: an HTTP query needs no PostgreSQL protocol, only JSON
// and a decoder for PostgreSQL's text output. The decoders below give the
// same JS values as the WebSocket path (int8 → BigInt, dates → Date, bytea →
// Uint8Array, json parsed, arrays nested, NULL → null; the same `int8` and
// `dates` options), so this import stays a few KB instead of the whole
// .wasm. js/test/proxy.test.mjs checks that both paths agree on a wide row.
import { EdgepgError, PostgresError, ConnectionError, AbortError, InterfaceError, ConversionError } from "./errors.js";

// ------------------------------------------------------------ SQL building

/** Text inserted into a query as it is (`sql.unsafe`): never from users. */
class UnsafeRawSql {
  constructor(sql) {
    this.sql = sql;
  }
}

/**
 * A query that runs when awaited (lazily, so `sql.transaction([...])` can
 * collect queries without running them one by one).
 */
export class QueryPromise {
  constructor(run, query, params, opts) {
    this._run = run;
    /** `{ query, params }` as sent. */
    this.parameterizedQuery = { query, params };
    this.opts = opts;
    this._promise = undefined;
  }
  _execute() {
    return (this._promise ??= this._run(this));
  }
  then(onFulfilled, onRejected) {
    return this._execute().then(onFulfilled, onRejected);
  }
  catch(onRejected) {
    return this._execute().catch(onRejected);
  }
  finally(onFinally) {
    return this._execute().finally(onFinally);
  }
  get [Symbol.toStringTag]() {
    return "QueryPromise";
  }
}

/** Appends a template (and nested templates) to `out`: values become `$n`. */
function compose(strings, values, out) {
  for (let i = 0; i < strings.length; i++) {
    out.text += strings[i];
    if (i >= values.length) continue;
    const v = values[i];
    if (v instanceof UnsafeRawSql) {
      out.text += v.sql;
    } else if (v instanceof QueryPromise && v._template) {
      compose(v._template.strings, v._template.values, out);
    } else {
      out.params.push(v);
      out.text += `$${out.params.length}`;
    }
  }
}

// ------------------------------------------------------------ parameters

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(bytes) {
  let s = "\\x";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]];
  return s;
}

/** A JS value as the JSON the proxy turns into PostgreSQL text. */
function prepareValue(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new ConversionError("an invalid Date cannot be a query parameter");
    return v.toISOString();
  }
  if (v instanceof Uint8Array) return hex(v);
  if (v instanceof ArrayBuffer) return hex(new Uint8Array(v));
  if (ArrayBuffer.isView(v)) return hex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  if (Array.isArray(v)) return v.map(prepareValue);
  if (typeof v === "object") return JSON.stringify(v);
  return v; // string, number, boolean: the proxy prints them
}

// ------------------------------------------------------------ decoding

// Array type OID → element type OID (PostgreSQL's built-in arrays).
const ELEMENT = {
  1000: 16, 1001: 17, 1002: 18, 1003: 19, 1016: 20, 1005: 21, 1007: 23, 1009: 25, 1028: 26, 199: 114,
  1021: 700, 1022: 701, 1014: 1042, 1015: 1043, 1182: 1082, 1183: 1083, 1115: 1114, 1185: 1184,
  1187: 1186, 1270: 1266, 1231: 1700, 2951: 2950, 3807: 3802, 651: 650, 1041: 869,
};

/** Milliseconds of a PostgreSQL ISO date/timestamp text; ±Infinity for infinity. */
function dateMs(text, withTime) {
  if (text === "infinity") return Infinity;
  if (text === "-infinity") return -Infinity;
  const m = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?( BC)?$/.exec(text);
  if (!m) return NaN;
  let year = Number(m[1]);
  if (m[12]) year = 1 - year; // 1 BC is year 0
  const frac = m[7] ? Number(m[7].padEnd(6, "0")) / 1000 : 0;
  const d = new Date(0);
  d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(withTime ? Number(m[4] ?? 0) : 0, withTime ? Number(m[5] ?? 0) : 0, withTime ? Number(m[6] ?? 0) : 0, 0);
  let ms = d.getTime() + Math.floor(frac);
  if (m[8]) {
    const offset = (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)) * 1000;
    ms -= m[8] === "-" ? -offset : offset;
  }
  return ms;
}

function bytes(text) {
  if (!text.startsWith("\\x")) {
    // The `escape` output format (bytea_output = escape): octal escapes.
    const out = [];
    for (let i = 0; i < text.length; i++) {
      if (text[i] === "\\") {
        if (text[i + 1] === "\\") { out.push(92); i++; } else { out.push(parseInt(text.slice(i + 1, i + 4), 8)); i += 3; }
      } else out.push(text.charCodeAt(i));
    }
    return new Uint8Array(out);
  }
  const n = (text.length - 2) >> 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = parseInt(text.substr(2 + i * 2, 2), 16);
  return out;
}

function parseJson(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A decoder for one type OID, honouring the `int8` and `dates` options. */
function decoder(oid, o) {
  switch (oid) {
    case 16: return (t) => t === "t";
    case 21: case 23: case 26: case 700: case 701: return Number;
    case 20:
      return o.int8 === "number" ? Number : o.int8 === "string" ? (t) => t : (t) => BigInt(t);
    case 17: return bytes;
    case 114: case 3802: return parseJson;
    case 1082: return o.dates === "string" ? (t) => t : (t) => toDate(dateMs(t, false));
    case 1114: case 1184: return o.dates === "string" ? (t) => t : (t) => toDate(dateMs(t, true));
    default: {
      const element = ELEMENT[oid];
      if (element !== undefined) {
        const each = decoder(element, o);
        return (t) => parseArray(t, each);
      }
      return (t) => t;
    }
  }
}

// ±Infinity stay numbers, as on the WebSocket path.
function toDate(ms) {
  return Number.isFinite(ms) ? new Date(ms) : ms;
}

/** `{1,NULL,"a \"b\""}`, nested, optional `[lo:hi]=` prefix. */
function parseArray(text, each) {
  let i = text[0] === "[" ? text.indexOf("=") + 1 : 0;
  const level = () => {
    const items = [];
    i++; // '{'
    if (text[i] === "}") { i++; return items; }
    for (;;) {
      if (text[i] === "{") {
        items.push(level());
      } else if (text[i] === '"') {
        let s = "";
        i++;
        while (text[i] !== '"') {
          if (text[i] === "\\") i++;
          s += text[i++];
        }
        i++;
        items.push(each(s));
      } else {
        let j = i;
        while (text[j] !== "," && text[j] !== "}") j++;
        const s = text.slice(i, j);
        i = j;
        items.push(s === "NULL" ? null : each(s));
      }
      if (text[i++] === "}") return items;
    }
  };
  return level();
}

// ------------------------------------------------------------ HTTP

/** Neon's default: the first DNS label of the host becomes `api` (or `apiauth` with a JWT). */
function defaultEndpoint(host, _port, { jwtAuth }) {
  return `https://${host.replace(/^[^.]+\./, jwtAuth ? "apiauth." : "api.")}/sql`;
}

const ISOLATION = ["ReadUncommitted", "ReadCommitted", "RepeatableRead", "Serializable"];

/**
 * Makes a tagged-template query function for `connectionString`, like
 * `neon()` of `@neondatabase/serverless`:
 *
 *   const sql = neon(dsn, { fetchEndpoint: "http://localhost:4444/sql" });
 *   const rows = await sql`SELECT * FROM t WHERE id = ${id}`;   // a parameter, never spliced in
 *   await sql.query("SELECT $1::int AS n", [1], { fullResults: true });
 *   await sql.transaction((tx) => [tx`INSERT ...`, tx`SELECT ...`], { isolationLevel: "Serializable" });
 *
 * Options (also per query/transaction): arrayMode, fullResults, fetchOptions
 * (e.g. `{ signal }`), authToken (string or (async) function → Bearer),
 * isolationLevel, readOnly, deferrable (transactions); int8 ("bigint" |
 * "number" | "string") and dates ("date" | "string") as on the WebSocket
 * path; fetchEndpoint (URL string or `(host, port, { jwtAuth }) => url`) and
 * fetchFunction for self-hosted gateways and tests.
 */
export function neon(connectionString, options = {}) {
  if (typeof connectionString !== "string" || !connectionString) {
    throw new InterfaceError("neon(): pass a connection string, e.g. postgresql://user:password@host/db");
  }
  let url;
  try {
    url = new URL(connectionString.replace(/^postgres(ql)?:/, "http:"));
  } catch {
    throw new InterfaceError("neon(): the connection string is not a valid postgresql:// URL");
  }
  if (!url.hostname) throw new InterfaceError("neon(): the connection string has no host");
  const defaults = { arrayMode: false, fullResults: false, ...options };

  const execute = async (body, opts, results) => {
    const { fetchOptions, authToken } = opts;
    const token = typeof authToken === "function" ? await authToken() : authToken;
    const endpoint = opts.fetchEndpoint ?? defaultEndpoint;
    const target = typeof endpoint === "function" ? endpoint(url.hostname, url.port || "5432", { jwtAuth: token !== undefined }) : endpoint;
    const headers = {
      "Neon-Connection-String": connectionString,
      "Neon-Raw-Text-Output": "true",
      "Neon-Array-Mode": "true",
    };
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;
    if (body.queries) {
      if (opts.isolationLevel !== undefined) {
        if (!ISOLATION.includes(opts.isolationLevel)) throw new InterfaceError(`isolationLevel must be one of ${ISOLATION.join(", ")}`);
        headers["Neon-Batch-Isolation-Level"] = opts.isolationLevel;
      }
      if (opts.readOnly !== undefined) headers["Neon-Batch-Read-Only"] = String(!!opts.readOnly);
      if (opts.deferrable !== undefined) headers["Neon-Batch-Deferrable"] = String(!!opts.deferrable);
    }
    const signal = fetchOptions?.signal;
    if (signal?.aborted) throw new AbortError(signal.reason);
    const fetchFn = opts.fetchFunction ?? globalThis.fetch;
    let response;
    try {
      // No Content-Type: a text/plain body needs no extra CORS permission.
      response = await fetchFn(target, {
        method: "POST",
        body: JSON.stringify(body),
        ...fetchOptions,
        headers: { ...fetchOptions?.headers, ...headers },
      });
    } catch (e) {
      if (signal?.aborted) throw new AbortError(signal.reason);
      throw new ConnectionError(`HTTP request to ${target} failed: ${e?.message ?? e}`, "connect");
    }
    let json;
    const text = await response.text().catch((e) => {
      if (signal?.aborted) throw new AbortError(signal.reason);
      throw new ConnectionError(`reading the HTTP response failed: ${e?.message ?? e}`, "io");
    });
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) throw httpError(response.status, json, text);
    if (json === undefined) throw new ConnectionError(`the gateway's answer is not JSON (HTTP ${response.status})`, "protocol");
    return results(json);
  };

  const runOne = async (qp) => {
    const opts = qp.opts;
    const body = { query: qp.parameterizedQuery.query, params: qp.parameterizedQuery.params.map(prepareValue) };
    return execute(body, opts, (json) => shape(json, opts));
  };

  const make = (text, params, opts) => new QueryPromise(runOne, text, params, { ...defaults, ...opts });

  const sql = (strings, ...values) => {
    if (!Array.isArray(strings) || !Array.isArray(strings.raw)) {
      throw new InterfaceError(
        "sql must be used as a tagged template: sql`SELECT ${value}` (values become parameters); for a query string use sql.query(text, params)",
      );
    }
    const out = { text: "", params: [] };
    compose(strings, values, out);
    const qp = make(out.text, out.params, {});
    qp._template = { strings, values };
    return qp;
  };
  sql.query = (text, params = [], opts = {}) => {
    if (typeof text !== "string") throw new InterfaceError("sql.query(text, params, options): text must be a string");
    if (!Array.isArray(params)) throw new InterfaceError("sql.query(text, params, options): params must be an array");
    return make(text, params, opts);
  };
  sql.unsafe = (rawSql) => new UnsafeRawSql(String(rawSql));
  sql.transaction = (queries, txOptions = {}) => {
    if (typeof queries === "function") queries = queries(sql);
    if (!Array.isArray(queries) || !queries.every((q) => q instanceof QueryPromise)) {
      throw new InterfaceError("sql.transaction() takes an array of sql`...` / sql.query(...) queries (or a function returning one)");
    }
    const opts = { ...defaults, ...txOptions };
    // Parameters are prepared inside the promise: a bad one rejects, never throws.
    return Promise.resolve().then(() => {
      const body = {
        queries: queries.map((q) => ({ query: q.parameterizedQuery.query, params: q.parameterizedQuery.params.map(prepareValue) })),
      };
      return execute(body, opts, results);
    });
    function results(json) {
      if (!Array.isArray(json.results)) throw new ConnectionError("the gateway's answer has no results array", "protocol");
      // Each query keeps its own arrayMode/fullResults unless the transaction sets them.
      return json.results.map((r, i) => shape(r, { ...queries[i].opts, ...txOptions }));
    }
  };
  return sql;
}

/** A result object (raw text, array mode) as rows or full results. */
function shape(r, opts) {
  const fields = r.fields ?? [];
  const decoders = fields.map((f) => decoder(f.dataTypeID, opts));
  const n = fields.length;
  const rows = (r.rows ?? []).map((raw) => {
    if (opts.arrayMode) {
      const row = new Array(n);
      for (let j = 0; j < n; j++) row[j] = raw[j] === null ? null : decoders[j](raw[j]);
      return row;
    }
    const row = {};
    for (let j = 0; j < n; j++) {
      const key = fields[j].name;
      const value = raw[j] === null ? null : decoders[j](raw[j]);
      // A column named __proto__ must be an own property, not the prototype.
      if (key === "__proto__") Object.defineProperty(row, key, { value, enumerable: true, writable: true, configurable: true });
      else row[key] = value;
    }
    return row;
  });
  if (!opts.fullResults) return rows;
  return { fields, command: r.command, rowCount: r.rowCount, rows, rowAsArray: !!opts.arrayMode };
}

/** A non-200 answer: the server's error fields, or the gateway's message. */
function httpError(status, json, text) {
  const code = json && typeof json.code === "string" && /^[0-9A-Z]{5}$/.test(json.code) ? json.code : undefined;
  if (code && code.startsWith("08") && !json.severity) {
    // The gateway could not reach PostgreSQL (no server error fields).
    const e = new ConnectionError(`HTTP ${status}: ${json.message}`, "connect");
    e.status = status;
    e.sqlstate = code;
    return e;
  }
  if (code) {
    const kind = code.startsWith("28") ? "auth" : "server";
    const e = new PostgresError({ ...json, kind, message: json.message ?? `HTTP ${status}` });
    e.status = status;
    return e;
  }
  const message = (json && (json.message ?? json.msg)) || text || `HTTP ${status}`;
  const e = new EdgepgError(`HTTP ${status}: ${message}`, "http");
  e.status = status;
  return e;
}

export { EdgepgError, PostgresError, ConnectionError, AbortError, InterfaceError, ConversionError };
