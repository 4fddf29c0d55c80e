// Cloudflare Workers (workerd): the .wasm is imported as a compiled
// WebAssembly.Module (workerd never compiles from bytes); TCP through
// cloudflare:sockets.
import wasm from "./edgepg_bg.wasm";
import { initSync } from "./edgepg.js";
import { useSockets } from "./api.js";
import { workerdSockets } from "./sockets-workerd.js";
initSync({ module: wasm });
useSockets(workerdSockets);
export * from "./api.js";
