// A CommonJS TypeScript project with TypeScript's older module resolution
// (`"module": "CommonJS"`, `moduleResolution` node10: NestJS's default), which
// ignores package.json `exports`: the subpath entries' types must still be
// found (package.json `typesVersions`). tsc.test.mjs also compiles it as a
// .cts file with node16 resolution, which reads `exports` and takes the
// CommonJS declarations (`types.require`: dist/*.d.cts).
import { Pool, Client, DatabaseError } from "edgepg/pg";
import { connect, PostgresError } from "edgepg";
import { PrismaPg } from "edgepg/prisma";
import PrismaDefault from "edgepg/prisma";
import { neon } from "edgepg/http";

export async function demo(): Promise<number> {
  const pool = new Pool({ connectionString: "postgres://u@localhost/db", max: 2 });
  const { rows } = await pool.query<{ n: number }>("SELECT 1 AS n");
  const err: unknown = null;
  if (err instanceof DatabaseError && err instanceof PostgresError) return -1;
  void Client; void connect; void neon; void new PrismaPg(pool); void new PrismaDefault(pool);
  return rows[0].n;
}
