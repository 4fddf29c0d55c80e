// Types of edgepg/prisma: a Prisma 7 driver adapter over edgepg/pg's Pool.
import type { Pool, PoolConfig } from "./pg.js";

export interface PrismaEdgepgOptions {
  /** The schema Prisma reports to the query engine (getConnectionInfo). */
  schema?: string;
}

/**
 * Prisma's `SqlDriverAdapterFactory`: `new PrismaClient({ adapter: new PrismaEdgepg(pool) })`.
 * Structurally typed (no dependency on @prisma/driver-adapter-utils).
 */
export declare class PrismaEdgepg {
  constructor(poolOrConfig: Pool | string | PoolConfig, options?: PrismaEdgepgOptions);
  readonly provider: "postgres";
  readonly adapterName: "edgepg";
  connect(): Promise<any>;
}
export { PrismaEdgepg as PrismaPg };
export default PrismaEdgepg;

/** Thrown with one of Prisma's error kinds as `cause` (Prisma maps it to P2002 & co). */
export declare class DriverAdapterError extends Error {
  constructor(cause: { kind: string; [key: string]: unknown });
  cause: { kind: string; [key: string]: unknown };
}
