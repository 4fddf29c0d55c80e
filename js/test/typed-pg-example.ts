// Compiled with tsc --noEmit by the tests: edgepg/pg's and edgepg/prisma's
// types must describe the node-postgres-shaped use the README shows.
import pg, { Client, Pool, Cursor, DatabaseError, types, neonConfig, escapeIdentifier, type QueryResult, type PoolClient } from "edgepg/pg";
import { PrismaEdgepg } from "edgepg/prisma";
declare const WebSocket: new (url: string) => unknown;

interface User { id: number; name: string }

export async function pgExample(connectionString: string): Promise<number> {
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = "127.0.0.1:8080/v1";
  const client = new Client({ connectionString, useSecureWebSocket: false });
  await client.connect();
  const r: QueryResult<User> = await client.query<User>("SELECT id, name FROM users WHERE id = $1", [1]);
  const count: number | null = r.rowCount;
  const cmd: string | null = r.command;
  const table: number = r.fields[0].tableID;
  const arr = await client.query({ text: "SELECT 1", rowMode: "array" });
  const viaConfig = await client.query({ text: "SELECT $1::int4", values: [1], name: "one", types: { getTypeParser: () => (v: string) => v } }, [2]);
  client.query("SELECT 1", (err, res) => { void [err, res.rows]; });
  client.on("notice", (n: unknown) => void n);
  const cursor = client.query(new Cursor<User>("SELECT id, name FROM users"));
  const batch: User[] = await cursor.read(100);
  await cursor.close();
  await client.end();
  types.setTypeParser(types.builtins.INT8, (v) => parseInt(v, 10));
  const pool = new pg.Pool({ connectionString, max: 5, idleTimeoutMillis: 1000 });
  const pc: PoolClient = await pool.connect();
  try {
    await pc.query("BEGIN");
    await pc.query("COMMIT");
  } catch (e) {
    if (e instanceof DatabaseError) void [e.code, e.detail, e.constraint, e.position];
  } finally {
    pc.release();
  }
  const total: number = pool.totalCount + pool.idleCount + pool.waitingCount;
  await pool.end();
  const other = new Pool(connectionString);
  const adapter = new PrismaEdgepg(other, { schema: "public" });
  await adapter.connect();
  void [count, cmd, table, arr.rows, viaConfig, batch, escapeIdentifier("x"), new PrismaEdgepg(connectionString)];
  return total;
}
