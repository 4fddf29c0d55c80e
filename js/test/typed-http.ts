// Compiled with tsc --noEmit by the tests (tsc.test.mjs): edgepg/http's types describe real use.
import { neon, PostgresError, AbortError, type FullQueryResults, type NeonQueryFunction } from "edgepg/http";

export async function httpExample(dsn: string): Promise<number> {
  const sql: NeonQueryFunction = neon(dsn, { fetchEndpoint: "http://localhost:4444/sql", int8: "number" });
  const id = 1;
  const rows = await sql`SELECT * FROM users WHERE id = ${id} AND ${sql.unsafe("true")}`;
  const full: FullQueryResults<unknown[]> = await sql.query("SELECT $1::int", [1], { arrayMode: true, fullResults: true });
  const results = await sql.transaction((tx) => [tx`SELECT 1`, tx`SELECT 2`], { isolationLevel: "Serializable", readOnly: true });
  const local = neon(dsn, { fetchEndpoint: (host, port) => `http://${host}:${port}/sql`, authToken: async () => "jwt" });
  try {
    await local.query("SELECT 1", [], { fetchOptions: { signal: AbortSignal.timeout(100) } });
  } catch (e) {
    if (e instanceof PostgresError) return e.code.length;
    if (e instanceof AbortError) return -1;
  }
  return rows.length + full.rows.length + results.length;
}
