// Builds dist/node.cjs (Node `require`) from the ESM files: one scope holding
// the wasm-bindgen glue, errors.js, api.js and the node:net socket adapter, with import/export statements
// removed, then the .wasm read next to the file.
import { readFileSync, writeFileSync } from "node:fs";
const dist = new URL("../dist/", import.meta.url);
const names = new Set();
const INTERNAL = new Set(["trapError", "checkTrapped"]);
let body = "";
for (const file of ["edgepg.js", "errors.js", "api.js", "sockets-node.js"]) {
  let s = readFileSync(new URL(file, dist), "utf8");
  // Node built-ins become require()s; imports of our own files are in this scope already.
  s = s.replace(/^import\s+([\w$]+)\s+from\s*["'](node:[^"']+)["'];/gm, 'const $1 = require("$2");');
  s = s.replace(/^import\s+(\{[^}]*\})\s+from\s*["'](node:[^"']+)["'];/gm, 'const $1 = require("$2");');
  s = s.replace(/^import\s[^;]*?from\s*["'][^"']+["'];/gms, "");
  s = s.replace(/^export\s*\{[^}]*\}\s*(from\s*["'][^"']+["'])?;/gms, "");
  s = s.replace(/^export\s+((?:async\s+)?function\*?|class|const|let)\s+([A-Za-z_$][\w$]*)/gm, (_, kw, name) => {
    // errors.js's trap helpers are internal (api.js re-exports only the error classes).
    if (file !== "edgepg.js" && !INTERNAL.has(name)) names.add(name);
    return `${kw} ${name}`;
  });
  s = s.replaceAll("import.meta.url", 'require("node:url").pathToFileURL(__filename)');
  body += `// ---- ${file}\n${s}\n`;
}
body += 'initSync({ module: require("node:fs").readFileSync(require("node:path").join(__dirname, "edgepg_bg.wasm")) });\n';
body += "useSockets(nodeSockets);\n";
body += `module.exports = { ${[...names].join(", ")} };\n`;
writeFileSync(new URL("node.cjs", dist), `"use strict";\n${body}`);
