// edgepg/pg for this runtime: the .wasm is initialised by ./workerd.js, then
// node-postgres's API (pg.js) is exported.
import "./workerd.js";
export * from "./pg.js";
export { default } from "./pg.js";
