// Vercel Edge / Next.js edge: the `?module` import yields a compiled
// WebAssembly.Module (compiling from bytes is not allowed there).
import wasm from "./edgepg_bg.wasm?module";
import { initSync } from "./edgepg.js";
initSync({ module: wasm });
export * from "./api.js";
