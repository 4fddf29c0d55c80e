// edgepg/prisma: a Prisma 7 driver adapter (`SqlDriverAdapterFactory` of
// @prisma/driver-adapter-utils) over edgepg/pg's Pool. It adapts shapes
// only: Prisma's arguments to query values, results to Prisma's column
// types and value forms, server errors to Prisma's error kinds. Queries,
// pooling and transactions run in edgepg's core.
import { Pool, types as pgTypes } from "./pg.js";

/** Prisma's column type codes (`ColumnTypeEnum`). */
const T = {
  Int32: 0, Int64: 1, Float: 2, Double: 3, Numeric: 4, Boolean: 5, Character: 6, Text: 7, Date: 8, Time: 9,
  DateTime: 10, Json: 11, Enum: 12, Bytes: 13, Set: 14, Uuid: 15, Int32Array: 64, Int64Array: 65, FloatArray: 66,
  DoubleArray: 67, NumericArray: 68, BooleanArray: 69, CharacterArray: 70, TextArray: 71, DateArray: 72,
  TimeArray: 73, DateTimeArray: 74, JsonArray: 75, EnumArray: 76, BytesArray: 77, UuidArray: 78, UnknownNumber: 128,
};

/** Type OID → Prisma column type (built-in types; user-defined ones are text). */
const COLUMN_TYPES = new Map([
  [21, T.Int32], [23, T.Int32], [20, T.Int64], [26, T.Int64], [700, T.Float], [701, T.Double],
  [1700, T.Numeric], [790, T.Numeric], [16, T.Boolean], [1082, T.Date], [1083, T.Time], [1266, T.Time],
  [1114, T.DateTime], [1184, T.DateTime], [114, T.Json], [3802, T.Json], [2950, T.Uuid], [17, T.Bytes],
  [25, T.Text], [1043, T.Text], [1042, T.Text], [19, T.Text], [1560, T.Text], [1562, T.Text], [869, T.Text],
  [650, T.Text], [142, T.Text], [18, T.Character],
  [1005, T.Int32Array], [1007, T.Int32Array], [1016, T.Int64Array], [1028, T.Int64Array], [1021, T.FloatArray],
  [1022, T.DoubleArray], [1231, T.NumericArray], [791, T.NumericArray], [1000, T.BooleanArray],
  [1002, T.CharacterArray], [1009, T.TextArray], [1015, T.TextArray], [1014, T.TextArray], [1561, T.TextArray],
  [1563, T.TextArray], [1041, T.TextArray], [651, T.TextArray], [143, T.TextArray], [1182, T.DateArray],
  [1183, T.TimeArray], [1115, T.DateTimeArray], [1185, T.DateTimeArray], [199, T.JsonArray], [3807, T.JsonArray],
  [1001, T.BytesArray], [2951, T.UuidArray],
]);

/** The first OID of user-defined types (enums, domains...): read as text. */
const FIRST_USER_OID = 16384;

/**
 * An error Prisma maps to its own (P2002...): recognised by its name and a
 * `cause` object holding one of Prisma's error kinds.
 */
export class DriverAdapterError extends Error {
  constructor(cause) {
    super(cause.message ?? cause.kind);
    this.name = "DriverAdapterError";
    this.cause = cause;
  }
}

function columnType(oid) {
  const t = COLUMN_TYPES.get(oid);
  if (t !== undefined) return t;
  if (oid >= FIRST_USER_OID) return T.Text;
  throw new DriverAdapterError({ kind: "UnsupportedNativeDataType", type: `oid ${oid}` });
}

// Result values as Prisma's engine reads them. Dates and times come as the
// server's text (asked for per column through `types`): Prisma wants
// "YYYY-MM-DD", "HH:MM:SS[.f]" and ISO date-times in UTC; JSON as its text.
const toIsoUtc = (text) => {
  // "2024-01-02 03:04:05.123456+00" (the session's zone may differ from UTC).
  if (/\+00$/.test(text)) return `${text.slice(0, -3).replace(" ", "T")}+00:00`;
  const d = new Date(text.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00"));
  return Number.isNaN(d.getTime()) ? text : d.toISOString().replace("Z", "+00:00");
};
const TEXT_PARSERS = new Map([
  [1082, (t) => t],
  [1083, (t) => t],
  [1266, (t) => t.replace(/[+-]\d\d(:\d\d)?$/, "")],
  [1114, (t) => `${t.replace(" ", "T")}+00:00`],
  [1184, toIsoUtc],
  [114, (t) => t],
  [3802, (t) => t],
  [790, (t) => t.replace(/^-?\$/, (m) => (m[0] === "-" ? "-" : "")).replaceAll(",", "")],
]);
const prismaTypes = {
  getTypeParser: (oid, format) => TEXT_PARSERS.get(oid) ?? pgTypes.getTypeParser(oid, format),
};

const pad = (n, w = 2) => String(n).padStart(w, "0");
const ymd = (d) => `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
const hms = (d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;

/** Elements of array columns decoded by the core, in Prisma's forms. */
function arrayElements(type) {
  const map = (f) => function walk(v) {
    if (v === null || v === undefined) return null;
    return Array.isArray(v) ? v.map(walk) : f(v);
  };
  switch (type) {
    case T.DateArray: return map((d) => (d instanceof Date ? ymd(d) : d));
    case T.DateTimeArray: return map((d) => (d instanceof Date ? d.toISOString().replace("Z", "+00:00") : d));
    case T.JsonArray: return map((j) => JSON.stringify(j));
    case T.NumericArray: return map((n) => (typeof n === "string" ? n.replace(/^-?\$/, (m) => (m[0] === "-" ? "-" : "")).replaceAll(",", "") : n));
    default: return null;
  }
}

// Arguments: Prisma sends int64 and decimals as strings (sent as text, the
// server parses them), dates as Date or ISO strings, bytes as base64.
function base64Bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function mapArg(arg, argType) {
  if (arg === null || arg === undefined) return null;
  if (Array.isArray(arg) && argType?.arity === "list") return arg.map((v) => mapArg(v, argType));
  if (typeof arg === "string" && argType?.scalarType === "datetime") arg = new Date(arg);
  if (arg instanceof Date) {
    // As text in UTC: a `timestamp` column keeps the UTC wall clock whatever
    // the session's TimeZone, as Prisma expects.
    switch (argType?.dbType) {
      case "TIME": case "TIMETZ": return hms(arg);
      case "DATE": return ymd(arg);
      default: return `${ymd(arg)} ${hms(arg)}`;
    }
  }
  if (typeof arg === "string" && argType?.scalarType === "bytes") return base64Bytes(arg);
  if (ArrayBuffer.isView(arg) && !(arg instanceof Uint8Array)) return new Uint8Array(arg.buffer, arg.byteOffset, arg.byteLength);
  return arg;
}

/** A server error → Prisma's error kinds (P2002 for a unique violation...). */
function mapError(e) {
  if (e instanceof DriverAdapterError) return e;
  if (!e || typeof e.code !== "string" || typeof e.severity !== "string") {
    if (e && (e.kind === "closed" || e.kind === "io")) return new DriverAdapterError({ kind: "ConnectionClosed" });
    if (e && e.kind === "connect") return new DriverAdapterError({ kind: "DatabaseNotReachable" });
    return e;
  }
  const base = { originalCode: e.code, originalMessage: e.message };
  const keyFields = () => e.detail?.match(/Key \(([^)]+)\)/)?.[1]?.split(", ");
  const quoted = () => e.message.match(/"([^"]+)"/)?.[1];
  let mapped;
  switch (e.code) {
    case "22001": mapped = { kind: "LengthMismatch", column: e.column }; break;
    case "22003": mapped = { kind: "ValueOutOfRange", cause: e.message }; break;
    case "22P02": mapped = { kind: "InvalidInputValue", message: e.message }; break;
    case "23505": {
      const fields = keyFields();
      mapped = { kind: "UniqueConstraintViolation", constraint: e.constraint ? { index: e.constraint } : fields ? { fields } : undefined, table: e.table };
      break;
    }
    case "23502": mapped = { kind: "NullConstraintViolation", constraint: e.column ? { fields: [e.column] } : undefined }; break;
    case "23503": mapped = { kind: "ForeignKeyConstraintViolation", constraint: e.column ? { fields: [e.column] } : e.constraint ? { index: e.constraint } : undefined }; break;
    case "23001": mapped = { kind: "RestrictViolation", constraint: e.constraint ? { index: e.constraint } : undefined }; break;
    case "40001": case "40P01": mapped = { kind: "TransactionWriteConflict" }; break;
    case "42P01": mapped = { kind: "TableDoesNotExist", table: quoted() }; break;
    case "42703": mapped = { kind: "ColumnNotFound", column: quoted() }; break;
    case "28P01": mapped = { kind: "AuthenticationFailed", user: quoted() }; break;
    case "28000": mapped = { kind: "DatabaseAccessDenied" }; break;
    case "3D000": mapped = { kind: "DatabaseDoesNotExist", db: quoted() }; break;
    case "42P04": mapped = { kind: "DatabaseAlreadyExists", db: quoted() }; break;
    case "53300": mapped = { kind: "TooManyConnections", cause: e.message }; break;
    default:
      mapped = { kind: "postgres", code: e.code, severity: e.severity, message: e.message, detail: e.detail, column: e.column, hint: e.hint };
  }
  return new DriverAdapterError({ ...base, ...mapped });
}

const ADAPTER_NAME = "edgepg";

/** queryRaw / executeRaw on a pg Pool or a pool client. */
class Queryable {
  provider = "postgres";
  adapterName = ADAPTER_NAME;

  constructor(client) {
    this.client = client;
  }

  /** Rows as arrays with Prisma's column types. */
  async queryRaw(query) {
    const { fields, rows } = await this.#run(query);
    const columnTypes = fields.map((f) => columnType(f.dataTypeID));
    for (let j = 0; j < columnTypes.length; j++) {
      const f = arrayElements(columnTypes[j]);
      if (f) for (const row of rows) row[j] = f(row[j]);
    }
    return { columnNames: fields.map((f) => f.name), columnTypes, rows };
  }

  /** The number of rows the statement affected. */
  async executeRaw(query) {
    return (await this.#run(query)).rowCount ?? 0;
  }

  async #run({ sql, args, argTypes }) {
    const values = (args ?? []).map((a, i) => mapArg(a, argTypes?.[i]));
    try {
      // With values, one statement on the extended protocol (binary results
      // where no text parser is asked for); without, the simple protocol.
      const r = await this.client.query({ text: sql, values, rowMode: "array", types: prismaTypes });
      return Array.isArray(r) ? r[r.length - 1] : r;
    } catch (e) {
      throw mapError(e);
    }
  }
}

/** An interactive transaction on one pooled connection. */
class Transaction extends Queryable {
  // Prisma sends BEGIN's end itself (COMMIT / ROLLBACK through executeRaw),
  // then calls commit() / rollback() to let the connection go.
  options = { usePhantomQuery: false };
  #released = false;

  async commit() { this.#release(); }
  async rollback() { this.#release(); }

  #release() {
    if (this.#released) return;
    this.#released = true;
    this.client.release();
  }

  async createSavepoint(name) { await this.executeRaw({ sql: `SAVEPOINT ${name}`, args: [], argTypes: [] }); }
  async rollbackToSavepoint(name) { await this.executeRaw({ sql: `ROLLBACK TO SAVEPOINT ${name}`, args: [], argTypes: [] }); }
  async releaseSavepoint(name) { await this.executeRaw({ sql: `RELEASE SAVEPOINT ${name}`, args: [], argTypes: [] }); }
}

const ISOLATION = new Set(["READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]);

/** What `connect()` resolves to: Prisma's SqlDriverAdapter. */
class Adapter extends Queryable {
  #options;
  #dispose;

  constructor(pool, options, dispose) {
    super(pool);
    this.#options = options;
    this.#dispose = dispose;
  }

  /** BEGIN (with the isolation level in the same statement) on a connection of its own. */
  async startTransaction(isolationLevel) {
    if (isolationLevel !== undefined && !ISOLATION.has(isolationLevel)) {
      throw new DriverAdapterError({ kind: "InvalidIsolationLevel", level: isolationLevel });
    }
    let conn;
    try {
      conn = await this.client.connect();
    } catch (e) {
      throw mapError(e);
    }
    try {
      await conn.query(isolationLevel ? `BEGIN ISOLATION LEVEL ${isolationLevel}` : "BEGIN");
    } catch (e) {
      conn.release(e);
      throw mapError(e);
    }
    return new Transaction(conn);
  }

  /** A script of several statements, in one round trip (the simple protocol). */
  async executeScript(script) {
    try {
      await this.client.query(script);
    } catch (e) {
      throw mapError(e);
    }
  }

  getConnectionInfo() {
    return { schemaName: this.#options?.schema, supportsRelationJoins: true };
  }

  async dispose() {
    await this.#dispose?.();
  }
}

/**
 * The Prisma driver adapter factory: `new PrismaClient({ adapter: new
 * PrismaEdgepg(poolOrConfig, { schema }) })`. `poolOrConfig` is an
 * edgepg/pg Pool (left open by `$disconnect()`), or a connection string or
 * pg config object for a pool of the adapter's own (with edgepg's / Neon's
 * settings: wsProxy, webSocketConstructor...).
 */
export class PrismaEdgepg {
  provider = "postgres";
  adapterName = ADAPTER_NAME;
  #pool;
  #config;
  #options;

  constructor(poolOrConfig, options = {}) {
    this.#options = options;
    if (poolOrConfig instanceof Pool) this.#pool = poolOrConfig;
    else this.#config = typeof poolOrConfig === "string" ? { connectionString: poolOrConfig } : poolOrConfig;
  }

  async connect() {
    if (this.#pool) return new Adapter(this.#pool, this.#options, null);
    const pool = new Pool(this.#config);
    return new Adapter(pool, this.#options, () => pool.end());
  }
}

export { PrismaEdgepg as PrismaPg };
export default PrismaEdgepg;
