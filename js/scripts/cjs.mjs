// Builds the CommonJS entries (Node `require`) from the ESM files in dist/:
//
// * node.cjs (`require("edgepg")`): one scope holding the wasm-bindgen glue,
//   errors.js, api.js and the node:net socket adapter, with import/export
//   statements removed, then the .wasm read next to the file. Every name of
//   that scope is also reachable (not enumerable) under INTERNALS, for the
//   entries below;
// * pg.cjs (`require("edgepg/pg")`) and prisma.cjs (`require("edgepg/prisma")`):
//   pg.js and prisma.js whose imports of our own files become reads of
//   node.cjs's INTERNALS (and of pg.cjs), so every entry shares one .wasm
//   instance and one set of error classes, as the ESM entries do.
import { readFileSync, writeFileSync } from "node:fs";
const dist = new URL("../dist/", import.meta.url);
const INTERNALS = 'Symbol.for("edgepg.cjs.internals")';
const read = (file) => readFileSync(new URL(file, dist), "utf8");

/** Node built-ins become require()s. */
function builtins(s) {
  s = s.replace(/^import\s+([\w$]+)\s+from\s*["'](node:[^"']+)["'];/gm, 'const $1 = require("$2");');
  return s.replace(/^import\s+(\{[^}]*\})\s+from\s*["'](node:[^"']+)["'];/gm, 'const $1 = require("$2");');
}

/** `export` keywords off declarations; their names go to `names`. */
function unexport(s, names) {
  return s.replace(/^export\s+((?:async\s+)?function\*?|class|const|let)\s+([A-Za-z_$][\w$]*)/gm, (_, kw, name) => {
    names?.add(name);
    return `${kw} ${name}`;
  });
}

// ---- node.cjs
{
  const names = new Set(); // the public CommonJS API: errors.js's and api.js's exports
  const all = new Set(); // every exported name of every file, for INTERNALS
  const INTERNAL = new Set(["trapError", "checkTrapped"]);
  let body = "";
  for (const file of ["edgepg.js", "errors.js", "api.js", "sockets-node.js"]) {
    let s = builtins(read(file));
    // Imports of our own files are in this scope already.
    s = s.replace(/^import\s[^;]*?from\s*["'][^"']+["'];/gms, "");
    s = s.replace(/^export\s*\{[^}]*\}\s*(from\s*["'][^"']+["'])?;/gms, "");
    const declared = new Set();
    s = unexport(s, declared);
    for (const name of declared) {
      all.add(name);
      // errors.js's trap helpers are internal (api.js re-exports only the error classes).
      if (file !== "edgepg.js" && !INTERNAL.has(name)) names.add(name);
    }
    s = s.replaceAll("import.meta.url", 'require("node:url").pathToFileURL(__filename)');
    body += `// ---- ${file}\n${s}\n`;
  }
  body += 'initSync({ module: require("node:fs").readFileSync(require("node:path").join(__dirname, "edgepg_bg.wasm")) });\n';
  body += "useSockets(nodeSockets);\n";
  body += `module.exports = { ${[...names].join(", ")} };\n`;
  body += `Object.defineProperty(module.exports, ${INTERNALS}, { value: Object.freeze({ ${[...all].join(", ")} }) });\n`;
  writeFileSync(new URL("node.cjs", dist), `"use strict";\n${body}`);
}

/**
 * `file` (an ESM entry whose own imports are from `from`'s keys) as a
 * CommonJS module: `module.exports` holds its named exports and, as pg's
 * own CommonJS module does, the properties of its default export, which is
 * also `default`.
 */
function entry(file, from) {
  const names = new Set();
  let s = builtins(read(file));
  s = s.replace(/^import\s*\{([^}]*)\}\s*from\s*["'](\.\/[^"']+)["'];/gm, (_, list, path) => {
    const source = from[path];
    if (!source) throw new Error(`cjs.mjs: ${file} imports ${path}, which has no CommonJS source here`);
    return `const {${list.replace(/\bas\b/g, ":")}} = ${source};`;
  });
  if (/^import\s/m.test(s)) throw new Error(`cjs.mjs: ${file} has an import this script cannot convert`);
  s = s.replace(/^export\s*\{([^}]*)\};/gm, (_, list) => {
    for (const part of list.split(",")) {
      const [local, exported = local] = part.trim().split(/\s+as\s+/);
      names.add(`${exported}: ${local}`);
    }
    return "";
  });
  s = s.replace(/^export\s+default\s+/m, "const __default = ");
  s = unexport(s, names);
  const exports = [...names].map((n) => (n.includes(":") ? n : `${n}: ${n}`));
  s += `\nmodule.exports = { ...__default, ${exports.join(", ")}, default: __default };\n`;
  // What compiled TypeScript and Babel check before taking `default`:
  // without it `import PrismaPg from "edgepg/prisma"` compiled to CommonJS
  // gets module.exports itself, not the class. Not enumerable, as theirs.
  s += `Object.defineProperty(module.exports, "__esModule", { value: true });\n`;
  return `"use strict";\n${s}`;
}

const internals = `require("./node.cjs")[${INTERNALS}]`;
const own = { "./edgepg.js": internals, "./api.js": internals, "./errors.js": internals };
writeFileSync(new URL("pg.cjs", dist), entry("pg.js", own));
writeFileSync(new URL("prisma.cjs", dist), entry("prisma.js", { ...own, "./pg.js": 'require("./pg.cjs")' }));
