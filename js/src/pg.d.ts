// Types of edgepg/pg: node-postgres's API over edgepg's core.
import type { ConnectOptions, PostgresError } from "./index.js";

/** Connection settings: pg's, plus edgepg's / Neon's transport settings (wsProxy, useSecureWebSocket, webSocketConstructor, pipelineConnect...). */
export interface ClientConfig extends Omit<ConnectOptions, "signal" | "timeout"> {
  connectionString?: string;
  host?: string;
  port?: number | string;
  user?: string;
  password?: string;
  database?: string;
  /** true → sslmode=require; `{ rejectUnauthorized: false }` → require; another object → verify-full. */
  ssl?: boolean | { rejectUnauthorized?: boolean; [key: string]: unknown };
  application_name?: string;
  options?: string;
  connectionTimeoutMillis?: number;
  /** Text parsers for every query of this client (like pg's `types` option). */
  types?: CustomTypesConfig;
  [key: string]: unknown;
}

export interface PoolConfig extends ClientConfig {
  /** Maximum number of connections (default 10). */
  max?: number;
  /** Connections opened up front (default 0). */
  min?: number;
  /** An idle connection is closed after this many ms (default 10000; 0: never). */
  idleTimeoutMillis?: number;
  /**
   * Clean a session when its client goes back to the pool (edgepg's reset:
   * settings, advisory locks, LISTEN, temporary tables...). Default false,
   * as in pg, whose Pool never resets: a transaction left open is still
   * rolled back.
   */
  reset?: boolean;
  /**
   * How many `pool.query()` calls of one plain statement may be pipelined on one connection once every
   * connection is busy (default 8, as postgres.js queues its callers; 1: one query per connection, as in pg).
   * A query with a `query_timeout` always gets a connection of its own.
   */
  pipelineDepth?: number;
}

export type TypeParser = (text: string) => any;

export interface CustomTypesConfig {
  getTypeParser(oid: number, format?: "text" | "binary"): TypeParser;
}

export interface FieldDef {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  /** The wire format edgepg used: "binary" where it has a codec, "text" otherwise (pg always says "text"). */
  format: "text" | "binary";
}

export interface QueryResult<R = any> {
  /** The command tag's verb: "SELECT", "INSERT", "CREATE"...; null for an empty query. */
  command: string | null;
  /** Rows returned or affected (from the command tag); null for commands without a count. */
  rowCount: number | null;
  /** The OID of an INSERT's tag (always 0 on PostgreSQL ≥ 12), else null. */
  oid: number | null;
  rows: R[];
  fields: FieldDef[];
}

export interface QueryArrayResult<R extends any[] = any[]> extends QueryResult<R> {}

export interface QueryConfig<I extends any[] = any[]> {
  text: string;
  values?: I;
  /** A prepared statement kept on the connection (edgepg: the connection's statement cache). */
  name?: string;
  rowMode?: "array";
  /** Text parsers for this query: every column is read as text and parsed by them, as in pg. */
  types?: CustomTypesConfig;
}

type Callback<T> = (err: Error | null, result: T) => void;

declare class Emitter {
  on(event: string, listener: (...args: any[]) => void): this;
  addListener(event: string, listener: (...args: any[]) => void): this;
  once(event: string, listener: (...args: any[]) => void): this;
  off(event: string, listener: (...args: any[]) => void): this;
  removeListener(event: string, listener: (...args: any[]) => void): this;
  removeAllListeners(event?: string): this;
  listenerCount(event: string): number;
  listeners(event: string): Function[];
  emit(event: string, ...args: any[]): boolean;
}

/** node-postgres's Client. */
export declare class Client extends Emitter {
  constructor(config?: string | ClientConfig);
  readonly processID: number | null;
  connect(): Promise<void>;
  connect(callback: (err: Error | null) => void): void;
  query<R = any>(text: string, values?: any[]): Promise<QueryResult<R>>;
  query<R = any>(config: QueryConfig & { rowMode: "array" }, values?: any[]): Promise<QueryArrayResult<any[]>>;
  query<R = any>(config: QueryConfig, values?: any[]): Promise<QueryResult<R>>;
  query<T extends Cursor>(cursor: T): T;
  query(text: string | QueryConfig, values: any[], callback: Callback<QueryResult>): void;
  query(text: string | QueryConfig, callback: Callback<QueryResult>): void;
  end(): Promise<void>;
  end(callback: (err?: Error | null) => void): void;
  escapeIdentifier(s: string): string;
  escapeLiteral(s: string): string;
}

/** A client lent by a Pool. */
export interface PoolClient extends Client {
  /** Gives it back; with an error (or true) its connection is closed instead. */
  release(err?: Error | boolean): void;
}

/** node-postgres's Pool. */
export declare class Pool extends Emitter {
  constructor(config?: string | PoolConfig);
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  readonly ending: boolean;
  readonly ended: boolean;
  readonly options: PoolConfig;
  connect(): Promise<PoolClient>;
  connect(callback: (err: Error | null, client: PoolClient) => void): void;
  query<R = any>(text: string, values?: any[]): Promise<QueryResult<R>>;
  query<R = any>(config: QueryConfig, values?: any[]): Promise<QueryResult<R>>;
  query(text: string | QueryConfig, values: any[], callback: Callback<QueryResult>): void;
  end(): Promise<void>;
  end(callback: (err?: Error | null) => void): void;
}

/** pg-cursor's Cursor: `client.query(new Cursor(text, values))`, then `read(n)` until `[]`, then `close()`. */
export declare class Cursor<R = any> extends Emitter {
  constructor(text: string, values?: any[], config?: { rowMode?: "array"; types?: CustomTypesConfig });
  read(rows: number): Promise<R[]>;
  read(rows: number, callback: Callback<R[]>): void;
  close(): Promise<void>;
  close(callback: (err?: Error | null) => void): void;
}

/** A server error with pg's field names (positions and `line` as strings, as in pg). */
export declare class DatabaseError extends PostgresError {
  position?: any;
  internalPosition?: any;
  line?: any;
}

export declare const types: {
  builtins: Record<string, number>;
  setTypeParser(oid: number, parse: TypeParser): void;
  setTypeParser(oid: number, format: "text", parse: TypeParser): void;
  getTypeParser(oid: number, format?: "text" | "binary"): TypeParser;
};

export declare const defaults: {
  host?: string;
  user?: string;
  database?: string;
  password?: string;
  port: number;
  max: number;
  idleTimeoutMillis: number;
  connectionTimeoutMillis: number;
  ssl: boolean | object;
  application_name?: string;
  parseInputDatesAsUTC: boolean;
  [key: string]: unknown;
};

/** Neon's neonConfig: settings every Client / Pool made afterwards starts from. */
export declare const neonConfig: Partial<ClientConfig> & { [key: string]: unknown };

export declare function escapeIdentifier(s: string): string;
export declare function escapeLiteral(s: string): string;

declare const pg: {
  Client: typeof Client;
  Pool: typeof Pool;
  Cursor: typeof Cursor;
  DatabaseError: typeof DatabaseError;
  types: typeof types;
  defaults: typeof defaults;
  neonConfig: typeof neonConfig;
  escapeIdentifier: typeof escapeIdentifier;
  escapeLiteral: typeof escapeLiteral;
  native: null;
};
export default pg;
