// edgepg/pg for this runtime: the .wasm is initialised by ./node.js, then
// node-postgres's API (pg.js) is exported.
import "./node.js";
export * from "./pg.js";
export { default } from "./pg.js";
