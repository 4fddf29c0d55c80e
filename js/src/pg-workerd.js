// edgepg/pg for this runtime: initialises the .wasm (and the TCP sockets) as ./workerd.js
// does, inline rather than by importing ./workerd.js (a bundler may drop a bare import), then
// exports ./pg.js.
import wasm from "./edgepg_bg.wasm";
import { initSync } from "./edgepg.js";
import { useSockets } from "./api.js";
import { workerdSockets } from "./sockets-workerd.js";
initSync({ module: wasm });
useSockets(workerdSockets);
export * from "./pg.js";
export { default } from "./pg.js";
