// edgepg/prisma for this runtime: initialises the .wasm (and the TCP sockets) as ./workerd.js
// does, inline rather than by importing ./workerd.js (a bundler may drop a bare import), then
// exports ./prisma.js.
import wasm from "./edgepg_bg.wasm";
import { initSync } from "./edgepg.js";
import { useSockets } from "./api.js";
import { workerdSockets } from "./sockets-workerd.js";
initSync({ module: wasm });
useSockets(workerdSockets);
export * from "./prisma.js";
export { default } from "./prisma.js";
