// The edge half of ./scripts/demo.sh: edgepg's npm build (WebAssembly) in Node,
// tunnelled through a WebSocket proxy (websockify) to the throwaway cluster.
// Needs EDGEPG_TEST_* from tests/cluster/start.sh; run after js/build.sh.
import ws from "ws";
import { connect, query, PostgresError } from "./dist/node.js";

const env = process.env;
const dsn = `postgres://pw_user:pw_pw@${env.EDGEPG_TEST_HOST}:${env.EDGEPG_TEST_PORT}/${env.EDGEPG_TEST_DB}`;
const options = {
  wsProxy: (host, port) => `127.0.0.1:${env.EDGEPG_TEST_WS_PORT}/v1?address=${host}:${port}`,
  useSecureWebSocket: false,     // websockify on loopback: ws://
  webSocketConstructor: ws,      // Node 20 has no global WebSocket
  pipelineConnect: "password",   // startup, password and first query in one flight
};

// One query, one round trip after the WebSocket opens.
const [{ now }] = await query(dsn, "SELECT now()::text AS now", [], options);
console.log(`edge: one-shot query over WebSocket at ${now}`);

const conn = await connect(dsn, options);
console.log(`edge: connected, backend pid ${conn.getServerPid()}`);
await conn.execute("CREATE TEMP TABLE edge_items (id int8, name text, price numeric, at timestamptz)");
await conn.executemany("INSERT INTO edge_items VALUES ($1, $2, $3, now())", [[1, "one", "1.50"], [2, "two", "2.25"]]);
for (const row of await conn.fetch("SELECT * FROM edge_items ORDER BY id")) {
  console.log(`  ${row.id} (${typeof row.id}) ${row.name} ${row.price} ${row.at instanceof Date ? "Date" : typeof row.at}`);
}
await conn.transaction(async (tx) => {
  await tx.execute("INSERT INTO edge_items VALUES (3, 'three', 3, now())");
});
console.log(`edge: ${await conn.fetchval("SELECT count(*) FROM edge_items")} rows after a transaction`);
try {
  await conn.execute("SELECT 1/0");
} catch (e) {
  console.log(`edge: expected error: ${e instanceof PostgresError ? "PostgresError" : e.name} ${e.code} ${e.message}`);
}
await conn.close();
console.log("edge: closed");
