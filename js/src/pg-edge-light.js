// edgepg/pg for this runtime: initialises the .wasm (and the TCP sockets) as ./edge-light.js
// does, inline rather than by importing ./edge-light.js (a bundler may drop a bare import), then
// exports ./pg.js.
import wasm from "./edgepg_bg.wasm?module";
import { initSync } from "./edgepg.js";
initSync({ module: wasm });
export * from "./pg.js";
export { default } from "./pg.js";
