// Types of edgepg/http: one-shot queries over HTTP, compatible with neon() of @neondatabase/serverless.
import { EdgepgError, PostgresError, ConnectionError, AbortError, InterfaceError, ConversionError } from "./index.js";
export { EdgepgError, PostgresError, ConnectionError, AbortError, InterfaceError, ConversionError };

export interface HttpField {
  name: string;
  dataTypeID: number;
  tableID: number;
  columnID: number;
  dataTypeSize: number;
  dataTypeModifier: number;
  format: string;
}

export interface FullQueryResults<R> {
  fields: HttpField[];
  command: string;
  rowCount: number | null;
  rows: R[];
  rowAsArray: boolean;
}

export type IsolationLevel = "ReadUncommitted" | "ReadCommitted" | "RepeatableRead" | "Serializable";

export interface HttpQueryOptions {
  /** Rows as arrays instead of objects. */
  arrayMode?: boolean;
  /** `{ fields, command, rowCount, rows, rowAsArray }` instead of the rows. */
  fullResults?: boolean;
  /** Merged into the fetch() call, e.g. `{ signal: AbortSignal.timeout(5000) }`. */
  fetchOptions?: RequestInit;
  /** Sent as `Authorization: Bearer <token>` (Neon's JWT auth). */
  authToken?: string | (() => string | Promise<string>);
  /** int8 as BigInt (default), number or string — as on the WebSocket path. */
  int8?: "bigint" | "number" | "string";
  /** date/timestamp/timestamptz as Date (default) or the server's text. */
  dates?: "date" | "string";
  /** Where to POST: a URL, or `(host, port, { jwtAuth }) => url`. Default: Neon's `https://api.<host minus first label>/sql`. */
  fetchEndpoint?: string | ((host: string, port: string, options: { jwtAuth: boolean }) => string);
  /** The fetch to use (default: globalThis.fetch). */
  fetchFunction?: typeof fetch;
}

export interface HttpTransactionOptions extends HttpQueryOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
  deferrable?: boolean;
}

/** A query that runs when awaited. */
export interface QueryPromise<T = any> extends Promise<T> {
  readonly parameterizedQuery: { query: string; params: unknown[] };
  readonly opts: HttpQueryOptions;
}

export interface UnsafeRawSql {
  readonly sql: string;
}

export interface NeonQueryFunction {
  /** A tagged template: interpolated values become parameters ($1, $2, ...), never SQL text. */
  (strings: TemplateStringsArray, ...values: unknown[]): QueryPromise;
  query(text: string, params?: unknown[], options?: HttpQueryOptions): QueryPromise;
  /** Trusted SQL text to insert into a template as it is. */
  unsafe(rawSql: string): UnsafeRawSql;
  /** Every query in one HTTP request, in one BEGIN … COMMIT. */
  transaction(
    queries: QueryPromise[] | ((sql: NeonQueryFunction) => QueryPromise[]),
    options?: HttpTransactionOptions,
  ): Promise<any[]>;
}

export function neon(connectionString: string, options?: HttpTransactionOptions): NeonQueryFunction;
