// Node (ESM), Deno and Bun: read the .wasm next to this file; TCP through node:net/node:tls.
import { readFileSync } from "node:fs";
import { initSync } from "./edgepg.js";
import { useSockets } from "./api.js";
import { nodeSockets } from "./sockets-node.js";
initSync({ module: readFileSync(new URL("./edgepg_bg.wasm", import.meta.url)) });
useSockets(nodeSockets);
export * from "./api.js";
