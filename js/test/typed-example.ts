// Compiled with tsc --noEmit by the tests: the public types must describe real use.
import { connect, createPool, PostgresError, AbortError, type Connection, type Notification } from "edgepg";
declare const WebSocket: new (url: string) => unknown;

interface User { id: bigint; name: string }

export async function example(dsn: string): Promise<number> {
  const conn: Connection = await connect(dsn, { wsProxy: "127.0.0.1:8080/v1", useSecureWebSocket: false, webSocketConstructor: WebSocket, pipelineConnect: "password", int8: "bigint" });
  const users: User[] = await conn.fetch<User>("SELECT id, name FROM users WHERE id > $1", [0n]);
  const first: User | null = await conn.fetchrow<User>("SELECT id, name FROM users LIMIT 1");
  const arrays = await conn.fetch("SELECT 1, 2", [], { arrayMode: true });
  const n = await conn.fetchval<number>("SELECT count(*)::int4 FROM users", [], { timeout: 1000, signal: AbortSignal.timeout(5000) });
  const status: string = await conn.execute("UPDATE users SET name = $1", ["x"]);
  await conn.executemany("INSERT INTO users VALUES ($1, $2)", [[1, "a"], [2n, "b"]]);
  const stmt = await conn.prepare("SELECT $1::int4 AS x");
  const x = await stmt.fetchval<number>([1]);
  await conn.addListener("chan", (msg: Notification) => { void msg.payload; });
  try {
    await conn.execute("SELECT 1/0");
  } catch (e) {
    if (e instanceof PostgresError) { const c: string = e.code; void [c, e.detail, e.constraint, e.position]; }
    if (e instanceof AbortError) { void e.cause; }
  }
  await conn.close();
  const pool = createPool(dsn, { maxSize: 5, acquireTimeout: 1000 });
  const c2 = await pool.acquire();
  await pool.release(c2);
  const v = await pool.fetchval<string>("SELECT 'x'");
  await pool.close();
  void [users, first, arrays, status, v, x];
  return (n ?? 0) + pool.getSize();
}
