// Bad input from the network: every case is a clear typed error within the
// timeout — never a hang, an unhandled rejection, or a wasm trap.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { WebSocketServer } from "ws";
import { connect, ConnectionError, TimeoutError, EdgepgError } from "edgepg";
import { dsn, opts, unhandled } from "./helpers.mjs";

const closers = [];
after(async () => {
  for (const c of closers) await c();
  assert.deepEqual(unhandled, [], "no unhandled promise rejections");
});

/** A WebSocket server that answers the client's first message with `behave(ws, data)`. */
async function fakeProxy(behave) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (ws) => ws.once("message", (data) => behave(ws, data)));
  closers.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }));
  return wss.address().port;
}

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const LIMIT = { timeout: 5000 };

test("unreachable proxy", async () => {
  const e = await connect(dsn(), opts(LIMIT, await freePort())).catch((e) => e);
  assert.ok(e instanceof ConnectionError, String(e));
  assert.equal(e.kind, "connect");
});

test("WebSocket that never opens", async () => {
  // Accepts TCP but never answers the HTTP upgrade.
  const sockets = [];
  const server = net.createServer((s) => sockets.push(s));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => { sockets.forEach((s) => s.destroy()); server.close(r); }));
  const e = await connect(dsn(), opts({ timeout: 300 }, server.address().port)).catch((e) => e);
  assert.ok(e instanceof TimeoutError, String(e));
  const e2 = await connect(dsn(), opts({ connectTimeout: 300 }, server.address().port)).catch((e) => e);
  assert.ok(e2 instanceof EdgepgError && e2.kind === "timeout", String(e2));
});

test("text frame", async () => {
  const port = await fakeProxy((ws) => ws.send("hello, I am not PostgreSQL"));
  const e = await connect(dsn(), opts(LIMIT, port)).catch((e) => e);
  assert.ok(e instanceof ConnectionError, String(e));
  assert.equal(e.kind, "protocol");
  assert.match(e.message, /text frame/);
});

test("garbage bytes", async () => {
  for (const garbage of [
    Buffer.from("HTTP/1.1 400 Bad Request\r\n\r\n"),
    Buffer.from([0x52, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]), // 'R' with a huge length
    Buffer.from([0x52, 0, 0, 0, 3]), // length shorter than itself
    Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff)),
  ]) {
    const port = await fakeProxy((ws) => ws.send(garbage));
    const e = await connect(dsn(), opts(LIMIT, port)).catch((e) => e);
    assert.ok(e instanceof EdgepgError, String(e));
    assert.notEqual(e.kind, "panic", e.message);
    assert.notEqual(e.kind, "timeout", e.message);
  }
});

test("proxy closes mid-query; the module still works afterwards", async () => {
  // A relay to the real proxy that cuts the connection once the client sends a query ('Q' or 'P').
  const real = opts().wsProxy.split("/")[0];
  const { WebSocket, WebSocketServer: Server } = await import("ws");
  const wss = new Server({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => wss.once("listening", r));
  closers.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }));
  wss.on("connection", (client, req) => {
    const upstream = new WebSocket(`ws://${real}${req.url}`);
    const pending = [];
    upstream.on("open", () => pending.splice(0).forEach((d) => upstream.send(d)));
    upstream.on("message", (d) => client.send(d));
    upstream.on("error", () => client.terminate());
    client.on("message", (d) => {
      if (d[0] === 0x50 && String(d).includes("pg_sleep")) { client.terminate(); upstream.terminate(); return; }
      upstream.readyState === 1 ? upstream.send(d) : pending.push(d);
    });
  });
  const c = await connect(dsn(), opts({}, wss.address().port));
  assert.equal(await c.fetchval("SELECT 1"), 1);
  const e = await c.fetchval("SELECT pg_sleep(0)", [], LIMIT).catch((e) => e);
  assert.ok(e instanceof ConnectionError, String(e));
  assert.ok(c.isClosed());
  const again = await c.fetchval("SELECT 1", [], LIMIT).catch((e) => e);
  assert.ok(again instanceof EdgepgError);
  // A healthy connection still works: nothing trapped.
  const ok = await connect(dsn(), opts());
  assert.equal(await ok.fetchval("SELECT 2"), 2);
  await ok.close();
});
