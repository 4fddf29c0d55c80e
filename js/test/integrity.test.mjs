// Large values arrive byte-identical (issue #16): parameters, results and
// COPY both ways at 0, 1 MiB ± 1, 3 MiB and 16 MiB, each checked against a
// hash the server computes. Node over WebSocket and TCP here (js/test.sh); the same checks run in
// workerd (workerd.test.mjs) and the other runtimes (runtimes.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as edgepg from "edgepg";
import { dsn, opts, transport } from "./helpers.mjs";
import { runIntegrity, DEFAULT_SIZES } from "./integrity.mjs";

test(`Node, ${transport}: large values arrive byte-identical in both directions`, async () => {
  const { checks, failures } = await runIntegrity(edgepg, dsn(), opts());
  assert.deepEqual(failures, []);
  assert.equal(checks.length, DEFAULT_SIZES.length * 7, "every check ran");
});
