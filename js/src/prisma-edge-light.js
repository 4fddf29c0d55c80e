// edgepg/prisma for this runtime: initialises the .wasm (and the TCP sockets) as ./edge-light.js
// does, inline rather than by importing ./edge-light.js (a bundler may drop a bare import), then
// exports ./prisma.js.
import wasm from "./edgepg_bg.wasm?module";
import { initSync } from "./edgepg.js";
initSync({ module: wasm });
export * from "./prisma.js";
export { default } from "./prisma.js";
