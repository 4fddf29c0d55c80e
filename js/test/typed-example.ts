// Compiled with tsc --noEmit by the tests: the public types must describe real use.
import { connect, createPool, query, PostgresError, AbortError, type Connection, type Notification, type Pool, type Transaction, type Cursor } from "edgepg";
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
  const lazy: Connection = await connect(dsn, { lazy: true, pipelineConnect: "password" });
  await lazy.close();
  const rows: User[] = await query<User>(dsn, "SELECT id, name FROM users WHERE id = $1", [1], { timeout: 5000 });
  const raw: unknown[][] = await query(dsn, "SELECT 1", [], { arrayMode: true, pipelineConnect: "disable" });
  void [rows, raw];
  const pool = createPool(dsn, { maxSize: 5, acquireTimeout: 1000 });
  const c2 = await pool.acquire();
  await pool.release(c2);
  const v = await pool.fetchval<string>("SELECT 'x'");
  await pool.close();
  void [users, first, arrays, status, v, x];
  return (n ?? 0) + pool.getSize();
}

// Transactions, cursors and COPY.
export async function more(conn: Connection, pool: Pool): Promise<number> {
  const id: number = await conn.transaction(async (tx: Transaction) => {
    await tx.execute("INSERT INTO users VALUES ($1, $2)", [1, "a"]);
    await tx.transaction(async (sp) => { await sp.execute("SELECT 1"); });
    for await (const row of tx.cursor<User>("SELECT id, name FROM users", [], { prefetch: 100 })) {
      const u: User = row;
      if (u.id > 10n) break;
    }
    const cur: Cursor<User> = await tx.cursor<User>("SELECT id, name FROM users").open();
    const some: User[] = await cur.fetch(10);
    const skipped: number = await cur.forward(5);
    cur.close();
    return some.length + skipped;
  }, { isolation: "serializable", readonly: false, deferrable: false, timeout: 5000 });
  const tx = await conn.transaction({ isolation: "repeatable_read" }).start();
  const active: boolean = tx.isActive;
  await tx.rollback();
  const n1: number = await conn.copyRecordsToTable("users", { records: [[1n, "a"], { id: 2, name: "b" }], columns: ["id", "name"] });
  async function* lines() { yield "1,a\n"; yield new TextEncoder().encode("2,b\n"); }
  const n2: number = await conn.copyToTable("users", { source: lines(), format: "csv", columns: ["id", "name"], where: "id > 0" });
  const n3: number = await conn.copyToTable("users", { source: "3\tc\n" });
  const stream: ReadableStream<Uint8Array> = conn.copyFromQuery("SELECT * FROM users WHERE id > $1", [0], { format: "csv", header: true });
  const n4 = await conn.copyToTable("users", { source: stream, format: "csv", header: true });
  const out: ReadableStream<Uint8Array> = pool.copyFromTable("users", { columns: ["id"], forceQuote: true, format: "csv" });
  await pool.copyToTable("users_copy", { source: out, format: "csv" });
  const v: string = await pool.transaction(async (t) => (await t.fetchval<string>("SELECT 'x'")) ?? "");
  void [active, v];
  return id + n1 + n2 + n3 + n4;
}
