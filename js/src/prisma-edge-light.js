// edgepg/prisma for this runtime: initialises the .wasm as ./edge-light.js does (inline, not
// by importing ./edge-light.js: the package is "sideEffects": false, so a bundler may drop
// a bare import), then exports ./prisma.js.
import wasm from "./edgepg_bg.wasm?module";
import { initSync } from "./edgepg.js";
initSync({ module: wasm });
export * from "./prisma.js";
export { default } from "./prisma.js";
