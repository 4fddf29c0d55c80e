// Cloudflare Workers (workerd): the .wasm is imported as a compiled
// WebAssembly.Module (workerd never compiles from bytes).
import wasm from "./edgepg_bg.wasm";
import { initSync } from "./edgepg.js";
initSync({ module: wasm });
export * from "./api.js";
