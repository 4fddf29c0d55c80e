// The Worker's entry module. worker-build (workers-rs' build tool) would
// generate one like it; written by hand so that building needs only cargo
// and wasm-bindgen (./build.sh). workerd imports the .wasm as a compiled
// module (Workers never compile WebAssembly from bytes at run time).
import wasm from "./build/index_bg.wasm";
import { initSync, fetch } from "./build/index.js";

initSync({ module: wasm });

export default { fetch };
