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
  /** `host:port/path` of a WebSocket proxy (`?address=host:port` is appended), or `(host, port) => url`. Default: Neon's `<host>/v2`. */
  wsProxy?: string | ((host: string, port: number) => string);
  /** wss (default true) or ws. */
  useSecureWebSocket?: boolean;
  /** WebSocket class for runtimes without a global one. */
  webSocketConstructor?: WebSocketConstructor;
  /** "password": send the cleartext password with the startup message (one round trip fewer). */
  pipelineConnect?: "password" | false;
  /** Milliseconds to open the WebSocket and authenticate. */
  connectTimeout?: number;
  /** Prepared statements cached per connection (0 disables; PgBouncer transaction mode). */
  statementCacheSize?: number;
}

export interface PoolOptions extends Omit<ConnectOptions, "signal" | "timeout"> {
  /** Connections opened up front (default 0: lazy). */
  minSize?: number;
  /** Most connections at once (default 10). */
  maxSize?: number;
  /** Close a connection after this many queries (default 50000; 0 = never). */
  maxQueries?: number;
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

export declare class Connection {
  private constructor();
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
  addListener(channel: string, callback: (n: Notification) => void | Promise<void>, options?: CallOptions): Promise<void>;
  removeListener(channel: string, callback: (n: Notification) => void | Promise<void>): Promise<void>;
  addTerminationListener(callback: () => void): void;
  removeTerminationListener(callback: () => void): void;
  addLogListener(callback: (notice: PostgresError) => void): void;
  removeLogListener(callback: (notice: PostgresError) => void): void;
  close(options?: CallOptions): Promise<void>;
  terminate(): void;
  isClosed(): boolean;
  isInTransaction(): boolean;
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
  close(options?: CallOptions): Promise<void>;
  terminate(): void;
  expireConnections(): Promise<void>;
  getSize(): number;
  getIdleSize(): number;
  getMinSize(): number;
  getMaxSize(): number;
  [Symbol.asyncDispose](): Promise<void>;
}

export declare function connect(dsn: string, options?: ConnectOptions): Promise<Connection>;
export declare function createPool(dsn: string, options?: PoolOptions): Pool;

export type ErrorKind =
  | "connect" | "io" | "closed" | "protocol" | "tls" | "auth" | "server" | "timeout"
  | "config" | "conversion" | "interface" | "aborted" | "panic" | "unknown";

export declare class EdgepgError extends Error {
  readonly kind: ErrorKind;
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
