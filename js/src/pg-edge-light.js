// edgepg/pg for this runtime: initialises the .wasm as ./edge-light.js does (inline, not
// by importing ./edge-light.js: the package is "sideEffects": false, so a bundler may drop
// a bare import), then exports ./pg.js.
import wasm from "./edgepg_bg.wasm?module";
import { initSync } from "./edgepg.js";
initSync({ module: wasm });
export * from "./pg.js";
export { default } from "./pg.js";
