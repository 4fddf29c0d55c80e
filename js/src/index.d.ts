// Types of the edgepg npm package (every entry point exports the same API).

/** A value as edgepg returns it (see the type mapping in the README). */
export type PgValue =
  | null | boolean | number | bigint | string | Date | Uint8Array
  | PgValue[] | { [key: string]: unknown } | unknown;

/** A value edgepg accepts as a query argument. */
export type PgParam =
  | null | undefined | boolean | number | bigint | string | Date | Uint8Array | ArrayBuffer
  | PgParam[] | { [key: string]: unknown };

/** A row as an object keyed by column name. */
export type Row = Record<string, any>;

/** Options every call accepts. */
export interface CallOptions {
  /** Abort the call: it rejects with an AbortError; the connection stays usable. */
  signal?: AbortSignal;
  /** Milliseconds before the call rejects with a TimeoutError. */
  timeout?: number;
}

/** How results are converted to JS values. */
export interface DecodeOptions {
  /** int8 as bigint (default, lossless), number (may lose precision) or string. */
  int8?: "bigint" | "number" | "string";
  /** date/timestamp/timestamptz as Date (default) or PostgreSQL's text. */
  dates?: "date" | "string";
}

export interface QueryOptions extends CallOptions, DecodeOptions {
  /** Rows as arrays of values instead of objects. */
  arrayMode?: boolean;
}

export interface ArrayModeOptions extends QueryOptions {
  arrayMode: true;
}

/** A WebSocket class, e.g. the `ws` package's on Node 20. */
export type WebSocketConstructor = new (url: string) => unknown;

export interface ConnectOptions extends CallOptions, DecodeOptions {
  /** Rows as arrays by default. */
  arrayMode?: boolean;
  /**
   * How to reach PostgreSQL. "tcp": the runtime's sockets (node:net/node:tls in
   * Node, Bun and Deno; cloudflare:sockets in Workers), with libpq's sslmode
   * semantics. "websocket": through a WebSocket proxy. Default: "websocket"
   * for Neon hosts, when `wsProxy` is set, and where the runtime has no sockets
   * (browsers); "tcp" otherwise.
   */
  transport?: "tcp" | "websocket";
  /**
   * TCP only: the CA certificate(s) to trust for sslmode verify-ca/verify-full,
   * as PEM text or a file path (Node, Bun, Deno). Overrides the DSN's sslrootcert.
   */
  sslrootcert?: string;
  /** TCP only: the client certificate (libpq's sslcert), PEM text or a file path (Node, Bun, Deno). */
  sslcert?: string;
  /** TCP only: the client certificate's key (libpq's sslkey), PEM text or a file path; `sslpassword` in the DSN decrypts it. */
  sslkey?: string;
  /** `host:port/path` of a WebSocket proxy (`?address=host:port` is appended), or `(host, port) => url`. Default: Neon's `<host>/v2`. */
  wsProxy?: string | ((host: string, port: number) => string);
  /** wss (default true) or ws. */
  useSecureWebSocket?: boolean;
  /** WebSocket class for runtimes without a global one. */
  webSocketConstructor?: WebSocketConstructor;
  /**
   * "password": send the cleartext password with the startup message, and the
   * first query with both (connect + first result in one round trip after the
   * WebSocket opens). A server that asks for SCRAM, MD5 or nothing instead is
   * reconnected to without pipelining, transparently. false (or "disable"):
   * wait for the server's authentication request. Default: "password" when
   * `useSecureWebSocket` is true (the default), false over plain ws; a
   * `pipeline_connect` in the DSN also counts.
   */
  pipelineConnect?: "password" | "disable" | false;
  /**
   * connect() only. true: resolve as soon as the WebSocket is open; the first
   * call carries the startup messages (one round trip for connect + first
   * result) and rejects with a PostgresError (code 28P01) on a wrong password.
   * Default false: resolve once the password was accepted.
   */
  lazy?: boolean;
  /** Milliseconds to open the WebSocket and authenticate (not lazy: only opening the WebSocket). */
  connectTimeout?: number;
  /** Prepared statements cached per connection (0 disables; PgBouncer transaction mode). */
  statementCacheSize?: number;
}

export interface PoolOptions extends Omit<ConnectOptions, "signal" | "timeout" | "lazy"> {
  /** Connections opened up front (default 0: lazy). */
  minSize?: number;
  /** Most connections at once (default 10). */
  maxSize?: number;
  /** Close a connection after this many queries (default 50000; 0 = never). */
  maxQueries?: number;
  /**
   * How many one-call shortcuts (`pool.fetch`, `pool.fetchval`, `pool.fetchrow`, `pool.execute`) may be
   * pipelined on one connection once every connection is busy (default 8; 1: each call has its connection
   * to itself, as in asyncpg). Only single plain statements (SELECT, INSERT, UPDATE, DELETE, WITH, VALUES,
   * TABLE, MERGE) without a signal or timeout share; the session reset runs between two calls, so each
   * starts from a clean session. A connection that finished no call for 50 ms takes no new one.
   */
  pipelineDepth?: number;
  /** Close idle connections above minSize after this many ms (default 300000; 0 = never). */
  maxInactiveConnectionLifetime?: number;
  /** Bound on acquire, in ms (default 30000; 0 = wait forever). */
  acquireTimeout?: number;
  /** Check a connection idle this many ms before lending it (default 30000). */
  healthCheckAfter?: number;
  /** Bound on cleaning a released connection, in ms (default 30000). */
  releaseTimeout?: number;
  /** false: no session reset on release (PgBouncer transaction mode). */
  reset?: false;
}

export interface Notification {
  processId: number;
  channel: string;
  payload: string;
}

export interface Column {
  name: string;
  typeOid: number;
}

/** asyncpg's isolation level names. */
export type IsolationLevel = "read_committed" | "repeatable_read" | "serializable" | "read_uncommitted";

export interface TransactionOptions extends CallOptions {
  /** Default: the server's (normally read committed). A savepoint can only repeat the outer one's. */
  isolation?: IsolationLevel;
  /** READ ONLY (true) or READ WRITE (false). */
  readonly?: boolean;
  /** DEFERRABLE (serializable read-only transactions). */
  deferrable?: boolean;
}

export interface CursorOptions extends QueryOptions {
  /** Rows fetched per round trip when iterating (default 50). Not with open(). */
  prefetch?: number;
}

/** The COPY options (asyncpg's names in camelCase); which apply depends on the direction. */
export interface CopyOptions extends CallOptions {
  /** Schema of the table (default: search_path). */
  schemaName?: string;
  /** Columns, in order (default: all). */
  columns?: readonly string[];
  /** FORMAT (default text). */
  format?: "text" | "csv" | "binary";
  delimiter?: string;
  /** The string standing for NULL. */
  null?: string;
  header?: boolean;
  quote?: string;
  escape?: string;
  /** CSV, COPY TO: quote these columns, or every non-NULL value with `true`. */
  forceQuote?: readonly string[] | boolean;
  /** CSV, COPY FROM. */
  forceNotNull?: readonly string[];
  /** CSV, COPY FROM. */
  forceNull?: readonly string[];
  encoding?: string;
  /** COPY FROM. */
  freeze?: boolean;
}

/** Data for copyToTable. */
export type CopySource =
  | ReadableStream<Uint8Array | string>
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>
  | Uint8Array
  | ArrayBuffer
  | string;

export interface CopyToTableOptions extends CopyOptions {
  /** The data, already in `format`. A source that throws aborts the COPY: no row lands. */
  source: CopySource;
  /** COPY FROM ... WHERE condition (SQL). */
  where?: string;
}

export type CopyRecord = readonly PgParam[] | Record<string, PgParam>;

export interface CopyRecordsOptions extends CallOptions {
  /** Records: arrays in `columns` order, or objects keyed by the `columns` names. */
  records: Iterable<CopyRecord> | AsyncIterable<CopyRecord>;
  columns?: readonly string[];
  schemaName?: string;
  /** COPY FROM ... WHERE condition (SQL). */
  where?: string;
}

/** What connections and transactions share. */
export declare class Queryable {
  protected constructor();
  execute(sql: string, args?: readonly PgParam[], options?: CallOptions): Promise<string>;
  execute(sql: string, options?: CallOptions): Promise<string>;
  executemany(sql: string, rows: readonly (readonly PgParam[])[], options?: CallOptions): Promise<void>;
  fetch<T = Row>(sql: string, args?: readonly PgParam[], options?: QueryOptions & { arrayMode?: false }): Promise<T[]>;
  fetch(sql: string, args: readonly PgParam[] | undefined, options: ArrayModeOptions): Promise<PgValue[][]>;
  fetch<T = Row>(sql: string, options?: QueryOptions & { arrayMode?: false }): Promise<T[]>;
  fetchrow<T = Row>(sql: string, args?: readonly PgParam[], options?: QueryOptions & { arrayMode?: false }): Promise<T | null>;
  fetchrow(sql: string, args: readonly PgParam[] | undefined, options: ArrayModeOptions): Promise<PgValue[] | null>;
  fetchrow<T = Row>(sql: string, options?: QueryOptions & { arrayMode?: false }): Promise<T | null>;
  fetchval<T = any>(sql: string, args?: readonly PgParam[], options?: QueryOptions): Promise<T | null>;
  fetchval<T = any>(sql: string, options?: QueryOptions): Promise<T | null>;
  prepare(sql: string, options?: CallOptions): Promise<PreparedStatement>;
  /** Runs `callback` in a transaction (a savepoint on a Transaction): commit on return, rollback on throw. */
  transaction<T>(callback: (tx: Transaction) => Promise<T> | T, options?: TransactionOptions): Promise<T>;
  /** A transaction to `start()`, then `commit()` or `rollback()`. */
  transaction(options?: TransactionOptions): Transaction;
  /** A server-side cursor (needs a transaction): `for await` it, or `open()` it. */
  cursor<T = Row>(sql: string, args?: readonly PgParam[], options?: CursorOptions & { arrayMode?: false }): CursorFactory<T>;
  cursor(sql: string, args: readonly PgParam[] | undefined, options: CursorOptions & { arrayMode: true }): CursorFactory<PgValue[]>;
  cursor<T = Row>(sql: string, options?: CursorOptions & { arrayMode?: false }): CursorFactory<T>;
  /** Binary COPY of records into `table`; resolves to the row count. */
  copyRecordsToTable(table: string, options: CopyRecordsOptions): Promise<number>;
  /** COPY FROM STDIN with data from `source`; resolves to the row count. */
  copyToTable(table: string, options: CopyToTableOptions): Promise<number>;
  /** COPY TO STDOUT of a table, read on demand. */
  copyFromTable(table: string, options?: CopyOptions): ReadableStream<Uint8Array>;
  /** COPY TO STDOUT of a query (`args` inlined as quoted literals), read on demand. */
  copyFromQuery(sql: string, args?: readonly PgParam[], options?: CopyOptions): ReadableStream<Uint8Array>;
  copyFromQuery(sql: string, options?: CopyOptions): ReadableStream<Uint8Array>;
  isInTransaction(): boolean;
}

/** A transaction, or (made on a Transaction) a savepoint. Dropped unended: rolled back. */
export declare class Transaction extends Queryable {
  private constructor();
  /** BEGIN (SAVEPOINT when nested); resolves to this transaction. */
  start(options?: CallOptions): Promise<this>;
  /** COMMIT (RELEASE SAVEPOINT when nested). */
  commit(options?: CallOptions): Promise<void>;
  /** ROLLBACK (ROLLBACK TO SAVEPOINT when nested). */
  rollback(options?: CallOptions): Promise<void>;
  /** Started and not yet ended. */
  readonly isActive: boolean;
  /** A savepoint. */
  readonly isNested: boolean;
  /** Rolls back unless ended (`await using`). */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A cursor not opened yet. */
export declare class CursorFactory<T = Row> implements AsyncIterable<T> {
  private constructor();
  [Symbol.asyncIterator](): AsyncIterator<T, undefined>;
  /** Declares the cursor for fetch/forward. */
  open(options?: CallOptions): Promise<Cursor<T>>;
}

/** An open cursor. */
export declare class Cursor<T = Row> {
  private constructor();
  /** The next `n` rows (fewer at the end). */
  fetch(n: number, options?: CallOptions): Promise<T[]>;
  fetchrow(options?: CallOptions): Promise<T | null>;
  /** Skips `n` rows; resolves to how many were skipped. */
  forward(n: number, options?: CallOptions): Promise<number>;
  close(): void;
  [Symbol.asyncDispose](): Promise<void>;
}

export declare class Connection extends Queryable {
  private constructor();
  addListener(channel: string, callback: (n: Notification) => void | Promise<void>, options?: CallOptions): Promise<void>;
  removeListener(channel: string, callback: (n: Notification) => void | Promise<void>): Promise<void>;
  addTerminationListener(callback: () => void): void;
  removeTerminationListener(callback: () => void): void;
  addLogListener(callback: (notice: PostgresError) => void): void;
  removeLogListener(callback: (notice: PostgresError) => void): void;
  close(options?: CallOptions): Promise<void>;
  terminate(): void;
  isClosed(): boolean;
  getServerPid(): number;
  getServerVersion(): string | null;
  getSetting(name: string): string | null;
  getSettings(): Record<string, string>;
  [Symbol.asyncDispose](): Promise<void>;
}

export declare class PreparedStatement {
  private constructor();
  readonly query: string;
  /** Parameter type OIDs. */
  readonly parameters: number[];
  readonly columns: Column[];
  fetch<T = Row>(args?: readonly PgParam[], options?: QueryOptions & { arrayMode?: false }): Promise<T[]>;
  fetch(args: readonly PgParam[] | undefined, options: ArrayModeOptions): Promise<PgValue[][]>;
  fetchrow<T = Row>(args?: readonly PgParam[], options?: QueryOptions & { arrayMode?: false }): Promise<T | null>;
  fetchrow(args: readonly PgParam[] | undefined, options: ArrayModeOptions): Promise<PgValue[] | null>;
  fetchval<T = any>(args?: readonly PgParam[], options?: QueryOptions): Promise<T | null>;
  execute(args?: readonly PgParam[], options?: CallOptions): Promise<string>;
  executemany(rows: readonly (readonly PgParam[])[], options?: CallOptions): Promise<void>;
}

export declare class Pool {
  private constructor();
  /** Resolves once minSize connections are open. */
  ready(): Promise<this>;
  acquire(options?: CallOptions): Promise<Connection>;
  release(connection: Connection, options?: CallOptions): Promise<void>;
  execute(sql: string, args?: readonly PgParam[], options?: CallOptions): Promise<string>;
  execute(sql: string, options?: CallOptions): Promise<string>;
  executemany(sql: string, rows: readonly (readonly PgParam[])[], options?: CallOptions): Promise<void>;
  fetch<T = Row>(sql: string, args?: readonly PgParam[], options?: QueryOptions & { arrayMode?: false }): Promise<T[]>;
  fetch(sql: string, args: readonly PgParam[] | undefined, options: ArrayModeOptions): Promise<PgValue[][]>;
  fetch<T = Row>(sql: string, options?: QueryOptions & { arrayMode?: false }): Promise<T[]>;
  fetchrow<T = Row>(sql: string, args?: readonly PgParam[], options?: QueryOptions & { arrayMode?: false }): Promise<T | null>;
  fetchrow(sql: string, args: readonly PgParam[] | undefined, options: ArrayModeOptions): Promise<PgValue[] | null>;
  fetchval<T = any>(sql: string, args?: readonly PgParam[], options?: QueryOptions): Promise<T | null>;
  fetchval<T = any>(sql: string, options?: QueryOptions): Promise<T | null>;
  /** Runs `callback` in a transaction on a borrowed connection. */
  transaction<T>(callback: (tx: Transaction) => Promise<T> | T, options?: TransactionOptions): Promise<T>;
  copyRecordsToTable(table: string, options: CopyRecordsOptions): Promise<number>;
  copyToTable(table: string, options: CopyToTableOptions): Promise<number>;
  /** The connection goes back to the pool when the stream ends or is cancelled. */
  copyFromTable(table: string, options?: CopyOptions): ReadableStream<Uint8Array>;
  copyFromQuery(sql: string, args?: readonly PgParam[], options?: CopyOptions): ReadableStream<Uint8Array>;
  copyFromQuery(sql: string, options?: CopyOptions): ReadableStream<Uint8Array>;
  close(options?: CallOptions): Promise<void>;
  terminate(): void;
  expireConnections(): Promise<void>;
  getSize(): number;
  getIdleSize(): number;
  getMinSize(): number;
  getMaxSize(): number;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Opens a connection; resolves once authenticated (or, `lazy: true`, once the WebSocket is open). */
export declare function connect(dsn: string, options?: ConnectOptions): Promise<Connection>;
/** Options of the one-shot query(): connect()'s and fetch()'s; signal/timeout bound the whole. */
export type OneShotOptions = Omit<ConnectOptions, "lazy"> & QueryOptions;
/**
 * One query on a connection of its own (connect lazily, fetch, close): one
 * round trip after the WebSocket opens with cleartext password auth.
 */
export declare function query<T = Row>(dsn: string, sql: string, args?: readonly PgParam[], options?: OneShotOptions & { arrayMode?: false }): Promise<T[]>;
export declare function query(dsn: string, sql: string, args: readonly PgParam[] | undefined, options: OneShotOptions & { arrayMode: true }): Promise<PgValue[][]>;
export declare function query<T = Row>(dsn: string, sql: string, options?: OneShotOptions & { arrayMode?: false }): Promise<T[]>;
export declare function createPool(dsn: string, options?: PoolOptions): Pool;

/** A connected byte stream from a socket adapter (see wasm/src/socket.rs for the contract). */
export interface SocketDuplex {
  write(bytes: Uint8Array): boolean;
  listen(onData: (chunk: Uint8Array) => void, onEnd: () => void, onError: (error: unknown) => void, onDrain: () => void): void;
  pause(): void;
  resume(): void;
  startTls(options: { servername: string; verify: "none" | "chain" | "full"; sslmode: string; ca?: string; alpn?: string }): Promise<void>;
  peerCertificate(): Uint8Array | null;
  close(): void;
}
/** A runtime's sockets for `transport: "tcp"`. */
export interface SocketAdapter {
  name: string;
  connect(host: string, port: number, options: { tls: object | null; starttls: boolean }): Promise<SocketDuplex>;
}
/**
 * Installs the sockets used by `transport: "tcp"`. The package's entry points
 * install node:net (Node, Bun, Deno) and cloudflare:sockets (Workers) already.
 */
export declare function useSockets(adapter: SocketAdapter): void;

export type ErrorKind =
  | "connect" | "io" | "closed" | "protocol" | "tls" | "auth" | "server" | "timeout"
  | "config" | "conversion" | "interface" | "aborted" | "panic" | "unknown";

export declare class EdgepgError extends Error {
  readonly kind: ErrorKind;
  /** true when nothing of the call reached the server (its socket refused the write). */
  readonly unsent?: boolean;
  /** `EDGEPG_<KIND>`, or the SQLSTATE for a PostgresError. */
  readonly code: string;
}
export declare class PostgresError extends EdgepgError {
  readonly kind: "server" | "auth";
  /** SQLSTATE, e.g. "23505". */
  readonly code: string;
  readonly severity: string;
  readonly detail?: string;
  readonly hint?: string;
  /** 1-based character position in the query. */
  readonly position?: number;
  readonly internalPosition?: number;
  readonly internalQuery?: string;
  readonly where?: string;
  readonly schema?: string;
  readonly table?: string;
  readonly column?: string;
  readonly dataType?: string;
  readonly constraint?: string;
  readonly file?: string;
  readonly line?: number;
  readonly routine?: string;
}
export declare class ConnectionError extends EdgepgError {
  readonly kind: "connect" | "io" | "closed" | "protocol" | "tls";
}
export declare class TimeoutError extends EdgepgError { readonly kind: "timeout"; }
export declare class AbortError extends EdgepgError { readonly kind: "aborted"; }
export declare class ConfigError extends EdgepgError { readonly kind: "config"; }
export declare class ConversionError extends EdgepgError { readonly kind: "conversion"; }
export declare class InterfaceError extends EdgepgError { readonly kind: "interface"; }
