// edgepg/prisma for this runtime: the .wasm is initialised by ./node.js, then
// the Prisma driver adapter (prisma.js) is exported.
import "./node.js";
export * from "./prisma.js";
export { default } from "./prisma.js";
