// Traces one edgepg connect + first query on the wire: when the WebSocket is
// created and opens, and every frame sent and received, relative to the start.
// Shows how many flights connect_first costs and where the milliseconds go.
//   . <cluster dir>/env && node bench/edge/trace-connect.mjs [times=3]
// (run.sh installs edgepg into bench/edge/node_modules first.)
import WebSocket from "ws";
import { connect } from "edgepg";

const env = process.env;
if (!env.EDGEPG_TEST_WS_PORT) throw new Error("source the cluster env (tests/cluster/start.sh) first");
let t0 = 0;
let log = [];
const note = (s) => log.push([performance.now() - t0, s]);
class TracedWebSocket extends WebSocket {
  constructor(...a) {
    super(...a);
    note("new WebSocket");
    this.addEventListener("open", () => note("open"));
    this.addEventListener("message", (e) => note(`recv ${e.data.byteLength ?? e.data.length} B`));
  }
  send(d, ...rest) {
    note(`send ${d.byteLength ?? d.length} B`);
    return super.send(d, ...rest);
  }
}
const dsn = `postgres://pw_user:pw_pw@${env.EDGEPG_TEST_HOST ?? "127.0.0.1"}:${env.EDGEPG_TEST_PORT}/${env.EDGEPG_TEST_DB ?? "edgepg_test"}`;
const options = {
  wsProxy: `127.0.0.1:${env.EDGEPG_TEST_WS_PORT}/v1`, useSecureWebSocket: false,
  webSocketConstructor: TracedWebSocket, pipelineConnect: "password",
};
const times = Number(process.argv[2] ?? 3);
for (let i = 0; i <= times; i++) {
  log = [];
  t0 = performance.now();
  const c = await connect(dsn, options);
  note("connect() resolved");
  await c.fetchval("SELECT 1");
  note("first result");
  await c.close();
  if (i > 0) console.log(`${log.map(([t, s]) => `${t.toFixed(2).padStart(7)} ms  ${s}`).join("\n")}\n`); // 0: warm-up
}
process.exit(0);
