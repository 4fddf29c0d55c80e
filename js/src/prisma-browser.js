// edgepg/prisma for this runtime: the .wasm is initialised by ./browser.js, then
// the Prisma driver adapter (prisma.js) is exported.
import "./browser.js";
export * from "./prisma.js";
export { default } from "./prisma.js";
