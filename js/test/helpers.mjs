// Shared test setup: the cluster's env (tests/cluster/start.sh) and options
// that reach it through websockify with the `ws` package (Node 20).
import WebSocket from "ws";

export const env = process.env;
if (!env.EDGEPG_TEST_WS_PORT) throw new Error("EDGEPG_TEST_WS_PORT is not set: source the cluster's env (tests/cluster/start.sh)");
export const host = env.EDGEPG_TEST_HOST;
export const port = env.EDGEPG_TEST_PORT;
export const db = env.EDGEPG_TEST_DB;
export const wsPort = env.EDGEPG_TEST_WS_PORT;

export function dsn(user = "edgepg", password = "edgepg_pw") {
  const auth = password === null ? user : `${user}:${encodeURIComponent(password)}`;
  return `postgres://${auth}@${host}:${port}/${db}`;
}

/**
 * The transport the API suites run over: WebSocket through websockify by
 * default, direct TCP with EDGEPG_TEST_TRANSPORT=tcp (js/test.sh runs the
 * API suites both ways).
 */
export const transport = env.EDGEPG_TEST_TRANSPORT === "tcp" ? "tcp" : "websocket";

export function opts(extra = {}, proxyPort = wsPort) {
  if (transport === "tcp" && proxyPort === wsPort) return { transport: "tcp", ...extra };
  return { wsProxy: `127.0.0.1:${proxyPort}/v1`, useSecureWebSocket: false, webSocketConstructor: WebSocket, ...extra };
}

// No call may leave an unhandled rejection behind.
export const unhandled = [];
process.on("unhandledRejection", (e) => unhandled.push(e));

/**
 * `call()` on the general (reference) decoding path: the switch the
 * exactness tests compare the fast paths against (api.js / pg.js read
 * `globalThis[Symbol.for("edgepg.referenceDecode")]` per call).
 */
export async function onReferencePath(call) {
  const REFERENCE = Symbol.for("edgepg.referenceDecode");
  globalThis[REFERENCE] = true;
  try {
    return await call();
  } finally {
    delete globalThis[REFERENCE];
  }
}
