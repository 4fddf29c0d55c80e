// A second harness for connect_first's "client CPU per op": one client per
// process, N connects (new connection, startup with a cleartext password,
// SELECT 1, close) after 30 untimed ones, then the process's CPU per connect
// and each thread's CPU from /proc (Linux): the main thread apart from V8's
// background threads (GC, wasm compilation and tier-up), which the
// benchmark's per-op figure also counts. Run with the cluster's env sourced
// (tests/cluster/start.sh) from bench/edge (its node_modules):
//   W=edgepg N=1000 node connect-cpu.mjs;  W=pg N=1000 node connect-cpu.mjs
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "edgepg";
import pg from "pg";

const env = process.env;
const dsn = `postgres://pw_user:pw_pw@127.0.0.1:${env.EDGEPG_TEST_PORT}/edgepg_test?sslmode=disable`;
const N = Number(env.N ?? 1000);
const which = env.W ?? "edgepg";
const once = which === "pg"
  ? async () => {
    const c = new pg.Client({ connectionString: dsn });
    await c.connect();
    const r = await c.query("SELECT 1 AS x");
    await c.end();
    return r.rows[0].x;
  }
  : async () => {
    const c = await connect(dsn, { transport: "tcp", pipelineConnect: "password", lazy: true });
    const v = await c.fetchval("SELECT 1");
    await c.close();
    return v;
  };

/** [main thread, other threads] CPU in ms so far (user + system), from /proc. */
function threads() {
  let main = 0;
  let other = 0;
  for (const t of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${t}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ms = (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
    if (Number(t) === process.pid) main += ms;
    else other += ms;
  }
  return [main, other];
}

for (let i = 0; i < 30; i++) await once();
const [main0, other0] = threads();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < N; i++) if ((await once()) !== 1) throw new Error("SELECT 1 did not answer 1");
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const [main1, other1] = threads();
const per = (us) => `${Math.round(us / N)} µs`;
console.log(`${which}: ${N} connects, ${(wall / N).toFixed(2)} ms each; CPU per connect ${per(cpu.user + cpu.system)} ` +
  `(main thread ${per((main1 - main0) * 1000)}, V8 background threads ${per((other1 - other0) * 1000)})`);
process.exit(0);
