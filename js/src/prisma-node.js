// edgepg/prisma for this runtime: initialises the .wasm (and the TCP sockets) as ./node.js
// does, inline rather than by importing ./node.js (a bundler may drop a bare import), then
// exports ./prisma.js.
import { readFileSync } from "node:fs";
import { initSync } from "./edgepg.js";
import { useSockets } from "./api.js";
import { nodeSockets } from "./sockets-node.js";
initSync({ module: readFileSync(new URL("./edgepg_bg.wasm", import.meta.url)) });
useSockets(nodeSockets);
export * from "./prisma.js";
export { default } from "./prisma.js";
