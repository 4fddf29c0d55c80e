// edgepg/prisma for this runtime: the .wasm is initialised by ./workerd.js, then
// the Prisma driver adapter (prisma.js) is exported.
import "./workerd.js";
export * from "./prisma.js";
export { default } from "./prisma.js";
