// edgepg/prisma for this runtime: initialises the .wasm (and the TCP sockets) as ./browser.js
// does, inline rather than by importing ./browser.js (a bundler may drop a bare import), then
// exports ./prisma.js.
import init from "./edgepg.js";
await init({ module_or_path: new URL("./edgepg_bg.wasm", import.meta.url) });
export * from "./prisma.js";
export { default } from "./prisma.js";
