// edgepg/prisma for this runtime: the .wasm is initialised by ./edge-light.js, then
// the Prisma driver adapter (prisma.js) is exported.
import "./edge-light.js";
export * from "./prisma.js";
export { default } from "./prisma.js";
