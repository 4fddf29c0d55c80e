// edgepg/pg for this runtime: the .wasm is initialised by ./edge-light.js, then
// node-postgres's API (pg.js) is exported.
import "./edge-light.js";
export * from "./pg.js";
export { default } from "./pg.js";
