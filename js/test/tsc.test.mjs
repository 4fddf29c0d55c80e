// The package's TypeScript types compile against a typed example.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { readFileSync, rmSync, writeFileSync } from "node:fs";

const dir = new URL(".", import.meta.url);

/** Runs tsc over `project` (a tsconfig beside this file); fails with its output. */
function tscAccepts(project) {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", project], { stdio: "pipe", cwd: dir });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
}

test("tsc accepts the typed example", () => tscAccepts("tsconfig.json"));

test("tsc accepts a CommonJS project with node10 module resolution (exports ignored: typesVersions)", () =>
  tscAccepts("tsconfig.node10.json"));

test("tsc accepts a CommonJS file with node16 module resolution (exports read: the .d.cts declarations)", () => {
  // The same file as a .cts: CommonJS whatever package.json says, so its
  // imports of edgepg become require()s, which node16 resolution refuses
  // to point at ES module declarations (TS1479). Without edgepg/http, which
  // is ESM only (require(esm) needs Node 20.19 / 22.12, and TypeScript's
  // nodenext for its types).
  const source = readFileSync(new URL("typed-cjs.ts", dir), "utf8");
  const cts = source.replace(/^import \{ neon \} from "edgepg\/http";\n/m, "").replace("void neon; ", "");
  assert.notEqual(cts, source, "typed-cjs.ts changed: update the edgepg/http lines removed here");
  writeFileSync(new URL("typed-cjs.cts", dir), cts);
  try {
    tscAccepts("tsconfig.node16.json");
  } finally {
    rmSync(new URL("typed-cjs.cts", dir), { force: true });
  }
});
