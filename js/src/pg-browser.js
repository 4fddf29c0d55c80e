// edgepg/pg for this runtime: the .wasm is initialised by ./browser.js, then
// node-postgres's API (pg.js) is exported.
import "./browser.js";
export * from "./pg.js";
export { default } from "./pg.js";
