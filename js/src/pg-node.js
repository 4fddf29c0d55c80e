// edgepg/pg for this runtime: initialises the .wasm as ./node.js does (inline, not
// by importing ./node.js: the package is "sideEffects": false, so a bundler may drop
// a bare import), then exports ./pg.js.
import { readFileSync } from "node:fs";
import { initSync } from "./edgepg.js";
initSync({ module: readFileSync(new URL("./edgepg_bg.wasm", import.meta.url)) });
export * from "./pg.js";
export { default } from "./pg.js";
