// Node (ESM), Deno and Bun: read the .wasm next to this file.
import { readFileSync } from "node:fs";
import { initSync } from "./edgepg.js";
initSync({ module: readFileSync(new URL("./edgepg_bg.wasm", import.meta.url)) });
export * from "./api.js";
