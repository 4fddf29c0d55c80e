// Direct TCP in Node (issue #9): libpq's sslmode semantics over node:tls,
// SCRAM with channel binding, the transport choice, and bad input from the
// network — each a typed error within its timeout, never a hang, an
// unhandled rejection or a wasm trap; the pool never lends a broken
// connection again.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import WebSocket from "ws";
import { readFileSync } from "node:fs";
import {
  connect, createPool, ConnectionError, ConfigError, PostgresError, TimeoutError, EdgepgError,
} from "edgepg";
import { env, host, port, db, unhandled } from "./helpers.mjs";

const closers = [];
after(async () => {
  for (const c of closers) await c();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

const TCP = { transport: "tcp" };
const url = (user, password, h = host, query = "") =>
  `postgres://${user}:${password}@${h}:${port}/${db}${query}`;
const sslOf = (c) => c.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");

test("sslmode: disable, prefer (default), require, verify-ca and verify-full with sslrootcert", async () => {
  const expect = { disable: false, allow: false, prefer: true, require: true };
  for (const [mode, ssl] of Object.entries(expect)) {
    const c = await connect(url("edgepg", "edgepg_pw", host, `?sslmode=${mode}`), TCP);
    assert.equal(await sslOf(c), ssl, mode);
    await c.close();
  }
  const dflt = await connect(url("edgepg", "edgepg_pw"), TCP);
  assert.equal(await sslOf(dflt), true, "prefer is the default, as libpq");
  await dflt.close();
  // The server certificate is for DNS:localhost, signed by the test CA.
  for (const mode of ["verify-ca", "verify-full"]) {
    const viaPath = await connect(url("edgepg", "edgepg_pw", "localhost", `?sslmode=${mode}`), { ...TCP, sslrootcert: env.EDGEPG_TEST_CA });
    assert.equal(await sslOf(viaPath), true, mode);
    await viaPath.close();
  }
  const pemText = readFileSync(env.EDGEPG_TEST_CA, "utf8");
  const viaPem = await connect(url("edgepg", "edgepg_pw", "localhost", "?sslmode=verify-full"), { ...TCP, sslrootcert: pemText });
  assert.equal(await sslOf(viaPem), true);
  await viaPem.close();
  // The DSN's sslrootcert works too.
  const viaDsn = await connect(url("edgepg", "edgepg_pw", "localhost", `?sslmode=verify-full&sslrootcert=${encodeURIComponent(env.EDGEPG_TEST_CA)}`), TCP);
  assert.equal(await sslOf(viaDsn), true);
  await viaDsn.close();
});

test("TLS failures are typed: wrong CA, host name mismatch, missing sslrootcert file", async () => {
  const wrongCa = await connect(url("edgepg", "edgepg_pw", "localhost", "?sslmode=verify-ca"), { ...TCP, sslrootcert: env.EDGEPG_TEST_WRONG_CA }).catch((e) => e);
  assert.ok(wrongCa instanceof ConnectionError && wrongCa.kind === "tls", String(wrongCa));
  assert.ok(wrongCa.cause, "the runtime's TLS error is the cause");
  // 127.0.0.1 is not a name in the certificate: verify-full refuses, verify-ca accepts.
  const mismatch = await connect(url("edgepg", "edgepg_pw", "127.0.0.1", "?sslmode=verify-full"), { ...TCP, sslrootcert: env.EDGEPG_TEST_CA }).catch((e) => e);
  assert.ok(mismatch instanceof ConnectionError && mismatch.kind === "tls", String(mismatch));
  assert.match(mismatch.message, /127\.0\.0\.1/);
  const chainOnly = await connect(url("edgepg", "edgepg_pw", "127.0.0.1", "?sslmode=verify-ca"), { ...TCP, sslrootcert: env.EDGEPG_TEST_CA });
  assert.equal(await sslOf(chainOnly), true);
  await chainOnly.close();
  const missing = await connect(url("edgepg", "edgepg_pw", "localhost", "?sslmode=verify-full"), { ...TCP, sslrootcert: "/nonexistent/ca.pem" }).catch((e) => e);
  assert.ok(missing instanceof EdgepgError, String(missing));
  assert.match(missing.message, /\/nonexistent\/ca\.pem/);
});

test("SCRAM over TCP, with channel binding (SCRAM-SHA-256-PLUS) over TLS", async () => {
  const plain = await connect(url("scram_user", "scram_pw", host, "?sslmode=disable"), TCP);
  assert.equal(await plain.fetchval("SELECT current_user"), "scram_user");
  await plain.close();
  const bound = await connect(url("scram_user", "scram_pw", "localhost", "?sslmode=require&channel_binding=require"), TCP);
  assert.equal(await bound.fetchval("SELECT current_user"), "scram_user");
  await bound.close();
  const unbound = await connect(url("scram_user", "scram_pw", host, "?sslmode=disable&channel_binding=require"), TCP).catch((e) => e);
  assert.ok(unbound instanceof EdgepgError, String(unbound));
  assert.match(unbound.message, /channel.binding/i);
  const wrong = await connect(url("scram_user", "nope", host), TCP).catch((e) => e);
  assert.ok(wrong instanceof PostgresError && wrong.code === "28P01", String(wrong));
});

test("transport option: validation, and WebSocket where wsProxy is set", async () => {
  const bad = await connect(url("edgepg", "edgepg_pw"), { transport: "carrier-pigeon" }).catch((e) => e);
  assert.ok(bad instanceof ConfigError, String(bad));
  assert.match(bad.message, /transport/);
  // wsProxy given and no transport: WebSocket (an unreachable proxy shows which was used).
  const ws = await connect(url("edgepg", "edgepg_pw"), { wsProxy: `127.0.0.1:${await freePort()}/v1`, useSecureWebSocket: false, connectTimeout: 3000 }).catch((e) => e);
  assert.ok(ws instanceof ConnectionError, String(ws));
  assert.match(ws.message, /WebSocket/);
  // A Unix socket directory is not reachable from the edge package.
  const unix = await connect(`postgres://edgepg:edgepg_pw@/${db}?host=/tmp`, TCP).catch((e) => e);
  assert.ok(unix instanceof ConfigError, String(unix));
});

test("a runtime without sockets asked for transport tcp: a ConfigError naming the runtime", async () => {
  // edgepg/slim installs no socket adapter (as in a browser or Vercel Edge); a fresh process
  // so that the Node entry's adapter is not loaded.
  const { spawnSync } = await import("node:child_process");
  const script = `
    import { readFileSync } from "node:fs";
    import { createRequire } from "node:module";
    const require = createRequire(import.meta.url);
    const slim = await import("edgepg/slim");
    slim.initSync({ module: readFileSync(require.resolve("edgepg/package.json").replace("package.json", "dist/edgepg_bg.wasm")) });
    const e = await slim.connect(${JSON.stringify(url("edgepg", "edgepg_pw"))}, { transport: "tcp" }).catch((e) => e);
    console.log(JSON.stringify({ config: e instanceof slim.ConfigError, message: e.message }));
  `;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", cwd: process.cwd() });
  assert.equal(run.status, 0, run.stderr);
  const got = JSON.parse(run.stdout.trim().split("\n").pop());
  assert.ok(got.config, got.message);
  assert.match(got.message, /"tcp" needs sockets, and this JavaScript runtime has none/);
  assert.match(got.message, /websocket/);
});

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port: p } = s.address();
  await new Promise((r) => s.close(r));
  return p;
}

/** A TCP server that treats each client with `behave(socket, firstChunk)`. */
async function fakeServer(behave) {
  const sockets = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    s.on("error", () => {});
    s.once("data", (d) => behave(s, d));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => { sockets.forEach((s) => s.destroy()); server.close(r); }));
  return server.address().port;
}

const fake = (p, query = "?sslmode=disable") => `postgres://u:p@127.0.0.1:${p}/db${query}`;

test("bad input from the network: refused, unknown host, silence, garbage, a wrong SSLRequest answer", async () => {
  const refused = await connect(fake(await freePort()), { ...TCP, connectTimeout: 5000 }).catch((e) => e);
  assert.ok(refused instanceof ConnectionError && refused.kind === "connect", String(refused));
  assert.match(refused.message, /ECONNREFUSED|refused/);

  const unknown = await connect("postgres://u:p@no-such-host.invalid:5432/db", { ...TCP, connectTimeout: 5000 }).catch((e) => e);
  assert.ok(unknown instanceof ConnectionError, String(unknown));
  assert.match(unknown.message, /no-such-host\.invalid/);

  const silent = await fakeServer(() => {});
  const t0 = Date.now();
  const hang = await connect(fake(silent), { ...TCP, connectTimeout: 300 }).catch((e) => e);
  assert.ok(hang instanceof EdgepgError && hang.kind === "timeout", String(hang));
  assert.ok(Date.now() - t0 < 5000);

  const garbage = await fakeServer((s) => s.write(Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n")));
  const g = await connect(fake(garbage), { ...TCP, connectTimeout: 5000 }).catch((e) => e);
  assert.ok(g instanceof ConnectionError && g.kind === "protocol", String(g));

  // More than the one-byte answer to SSLRequest (CVE-2021-23222): refused.
  const injected = await fakeServer((s) => s.write(Buffer.from("SZ\0\0\0\x05I")));
  const inj = await connect(fake(injected, "?sslmode=require"), { ...TCP, connectTimeout: 5000 }).catch((e) => e);
  assert.ok(inj instanceof ConnectionError && inj.kind === "protocol", String(inj));

  // A server without TLS under sslmode=require: a clear TLS error; prefer goes on in clear.
  const noTls = await fakeServer((s) => s.write("N"));
  const nt = await connect(fake(noTls, "?sslmode=require"), { ...TCP, connectTimeout: 5000 }).catch((e) => e);
  assert.ok(nt instanceof ConnectionError && nt.kind === "tls", String(nt));
  assert.match(nt.message, /does not support TLS/);
});

test("the server drops the socket mid-query and mid-COPY: typed errors, the pool lends a fresh connection", async () => {
  const pool = createPool(url("edgepg", "edgepg_pw", host, "?sslmode=disable"), { ...TCP, maxSize: 1 });
  const pid = await pool.fetchval("SELECT pg_backend_pid()");
  const killer = await connect(url("edgepg", "edgepg_pw", host, "?sslmode=disable"), TCP);
  const running = pool.fetchval("SELECT pg_sleep(30)::text").catch((e) => e);
  await new Promise((r) => setTimeout(r, 200));
  await killer.fetchval("SELECT pg_terminate_backend($1)", [pid]);
  const e = await running;
  assert.ok(e instanceof EdgepgError, String(e));
  assert.notEqual(await pool.fetchval("SELECT pg_backend_pid()"), pid, "the broken connection is not lent again");

  // Mid-COPY: the copy fails, no row lands.
  await pool.execute("CREATE TABLE IF NOT EXISTS tcp_copy (n int)");
  await pool.execute("TRUNCATE tcp_copy");
  const copyPid = await pool.fetchval("SELECT pg_backend_pid()");
  let sent = 0;
  const source = new ReadableStream({
    async pull(c) {
      if (sent === 5) await killer.fetchval("SELECT pg_terminate_backend($1)", [copyPid]);
      if (sent > 2000) return c.close();
      c.enqueue(new TextEncoder().encode(`${sent++}\n`.repeat(100)));
      await new Promise((r) => setTimeout(r, 1));
    },
  });
  const copyError = await pool.copyToTable("tcp_copy", { source }).catch((e) => e);
  assert.ok(copyError instanceof EdgepgError, String(copyError));
  assert.equal(await pool.fetchval("SELECT count(*)::int4 FROM tcp_copy"), 0, "nothing half-written");
  await killer.close();
  await pool.close();
});

test("reading pauses under a slow consumer: the server waits instead of memory filling up", async () => {
  const c = await connect(url("edgepg", "edgepg_pw", host, "?sslmode=disable"), TCP);
  const watcher = await connect(url("edgepg", "edgepg_pw", host, "?sslmode=disable"), TCP);
  const pid = await c.fetchval("SELECT pg_backend_pid()");
  // 40 MB, far more than the socket buffers and the 1 MiB pause threshold.
  const stream = c.copyFromQuery("SELECT repeat('x', 1000) FROM generate_series(1, 40000)", []);
  const reader = stream.getReader();
  let total = 0;
  for (let i = 0; i < 3; i++) total += (await reader.read()).value.length;
  // Nobody reads now: a paused socket leaves the server blocked writing.
  await new Promise((r) => setTimeout(r, 500));
  const activity = await watcher.fetchrow("SELECT state, wait_event FROM pg_stat_activity WHERE pid = $1", [pid]);
  assert.deepEqual(activity, { state: "active", wait_event: "ClientWrite" });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
  }
  assert.equal(total, 40000 * 1001);
  assert.equal(await c.fetchval("SELECT 1"), 1, "the connection is usable after the stream");
  await c.close();
  await watcher.close();
});

test("client certificates over TCP: sslcert/sslkey (PEM paths or text), an encrypted key, refusal without one", async () => {
  const dir = env.EDGEPG_TEST_CLIENT_CERTS;
  const base = `postgres://cert_user@localhost:${port}/${db}?sslmode=verify-full`;
  const opts = { ...TCP, sslrootcert: env.EDGEPG_TEST_CA };
  const whoami = "SELECT current_user::text AS u, (SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS dn";
  const viaDsn = await connect(`${base}&sslcert=${encodeURIComponent(`${dir}/client.crt`)}&sslkey=${encodeURIComponent(`${dir}/client.key`)}`, opts);
  assert.deepEqual(await viaDsn.fetchrow(whoami), { u: "cert_user", dn: "/CN=cert_user" });
  await viaDsn.close();
  const viaText = await connect(base, { ...opts, sslcert: readFileSync(`${dir}/client-rsa.crt`, "utf8"), sslkey: readFileSync(`${dir}/client-rsa.key`, "utf8") });
  assert.equal((await viaText.fetchrow(whoami)).u, "cert_user");
  await viaText.close();
  const encrypted = await connect(`${base}&sslpassword=client_key_pw`, { ...opts, sslcert: `${dir}/client.crt`, sslkey: `${dir}/client-enc.key` });
  assert.equal((await encrypted.fetchrow(whoami)).u, "cert_user");
  await encrypted.close();
  const none = await connect(base, opts).catch((e) => e);
  assert.ok(none instanceof EdgepgError, String(none));
  const wrongCa = await connect(base, { ...opts, sslcert: `${dir}/client-wrong-ca.crt`, sslkey: `${dir}/client.key` }).catch((e) => e);
  assert.ok(wrongCa instanceof EdgepgError, String(wrongCa));
});

// Issue #14 on the JS TCP transport: PgBouncer (started by scripts/test.sh) serves a self-signed
// certificate that is its own CA, valid for DNS:localhost only. node:tls, like libpq's OpenSSL,
// accepts it when it is the sslrootcert, and still checks its name with verify-full.
test("a self-signed server certificate given as sslrootcert is trusted; its name is still checked", async (t) => {
  const cert = env.EDGEPG_TEST_PGBOUNCER_SELF_SIGNED_CERT;
  if (!cert) return t.skip("PgBouncer is not running (scripts/test.sh starts it)");
  const bouncer = (h, mode) =>
    `postgres://edgepg:edgepg_pw@${h}:${env.EDGEPG_TEST_PGBOUNCER_PORT}/${db}?statement_cache_size=0&sslmode=${mode}`;
  const ok = await connect(bouncer("localhost", "verify-full"), { ...TCP, sslrootcert: cert });
  assert.equal(await ok.fetchval("SELECT 1"), 1);
  await ok.close();
  const chain = await connect(bouncer("127.0.0.1", "verify-ca"), { ...TCP, sslrootcert: cert });
  assert.equal(await chain.fetchval("SELECT 1"), 1);
  await chain.close();
  const name = await connect(bouncer("127.0.0.1", "verify-full"), { ...TCP, sslrootcert: cert }).catch((e) => e);
  assert.ok(name instanceof ConnectionError && name.kind === "tls", String(name));
  const untrusted = await connect(bouncer("localhost", "verify-full"), { ...TCP, sslrootcert: env.EDGEPG_TEST_CA }).catch((e) => e);
  assert.ok(untrusted instanceof ConnectionError && untrusted.kind === "tls", String(untrusted));
});

// SASLprep (RFC 4013) of SCRAM passwords in the npm build: the wasm leaves the `stringprep`
// crate's Unicode tables out and normalises with JS's `normalize("NFKC")`. The server SASLpreps
// the password when it stores the verifier: "I\u00ADX\u2168" (soft hyphen, ROMAN NUMERAL NINE)
// is stored as "IXIX", so the raw bytes would fail and every SASLprep-equivalent spelling works.
test("SCRAM passwords are SASLprep-ed (JS's NFKC inside the wasm), over TCP and WebSocket", async () => {
  const admin = await connect(url("edgepg", "edgepg_pw", host, "?sslmode=disable"), TCP);
  const role = "saslprep_user";
  await admin.execute(`DROP ROLE IF EXISTS ${role}`);
  await admin.execute("SET password_encryption = 'scram-sha-256'");
  await admin.execute(`CREATE ROLE ${role} LOGIN PASSWORD 'I\u00ADX\u2168'`);
  const ws = { wsProxy: `127.0.0.1:${env.EDGEPG_TEST_WS_PORT}/v1`, useSecureWebSocket: false, webSocketConstructor: WebSocket };
  for (const [name, options] of [["tcp", TCP], ["websocket", ws]]) {
    for (const pw of ["I\u00ADX\u2168", "IXIX", "\u2168\u2168", "\uFF29\uFF38IX", "I\u200DX\u00ADIX"]) {
      const c = await connect(url(role, encodeURIComponent(pw), host, "?sslmode=disable"), options);
      assert.equal(await c.fetchval("SELECT current_user"), role, `${name} ${JSON.stringify(pw)}`);
      await c.close();
    }
    for (const pw of ["I X\u2168", "ix\u2168", "I\u0007X\u2168"]) {
      const e = await connect(url(role, encodeURIComponent(pw), host, "?sslmode=disable"), options).catch((e) => e);
      assert.ok(e instanceof PostgresError && e.code === "28P01", `${name} ${JSON.stringify(pw)}: ${e}`);
    }
  }
  await admin.execute(`DROP ROLE ${role}`);
  await admin.close();
});
