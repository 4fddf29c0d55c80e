// Browsers and bundlers (and the default): fetch the .wasm next to this file.
import init from "./edgepg.js";
await init({ module_or_path: new URL("./edgepg_bg.wasm", import.meta.url) });
export * from "./api.js";
