// The experiment behind sockets-node.js's choice of socket API per runtime: edgepg over
// plaintext TCP through node:net (`node`) or through the runtime's own API (`native`:
// Deno.connect with a read loop, Bun.connect), seq_select1 and decode_200k, median of 5.
// A minimal duplex for each (plaintext only, no TLS), installed with useSockets().
//   cd bench/edge && . <cluster>/env && bun native-sockets.mjs node && bun native-sockets.mjs native
//   deno run -A native-sockets.mjs node && deno run -A native-sockets.mjs native
// (bench/edge/run.sh installs the package into bench/edge/node_modules.) Result: Bun.connect
// ahead of node:net in Bun (~2x loaded, 8 % quiet), so Bun uses it for plaintext; Deno.connect
// slower than Deno's node:net.
import { connect, useSockets } from "edgepg";
const env = process.env;
const dsn = `postgres://pw_user:pw_pw@${env.EDGEPG_TEST_HOST}:${env.EDGEPG_TEST_PORT}/${env.EDGEPG_TEST_DB}?sslmode=disable`;

class DenoDuplex {
  constructor(conn) { this.conn = conn; this.paused = false; this.closed = false; }
  listen(onData, onEnd, onError, onDrain) {
    this.h = { onData, onEnd, onError, onDrain };
    this.#loop();
  }
  async #loop() {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.paused && !this.closed) {
        const buf = new Uint8Array(65536);
        const n = await this.conn.read(buf);
        if (this.closed) return;
        if (n === null) { this.h.onEnd(); return; }
        this.h.onData(buf.subarray(0, n));
      }
    } catch (e) { if (!this.closed) this.h.onError(e); }
    finally { this.running = false; }
  }
  write(bytes) { return this.conn.write(bytes).then(() => undefined); }
  pause() { this.paused = true; }
  resume() { this.paused = false; this.#loop(); }
  startTls() { throw new Error("no"); }
  peerCertificate() { return null; }
  close() { this.closed = true; try { this.conn.close(); } catch {} }
}

class BunDuplex {
  constructor() { this.queue = []; this.h = null; }
  attach(socket) { this.socket = socket; }
  listen(onData, onEnd, onError, onDrain) { this.h = { onData, onEnd, onError, onDrain }; for (const q of this.queue) onData(q); this.queue = []; }
  data(chunk) { if (this.h) this.h.onData(chunk); else this.queue.push(chunk); }
  write(bytes) { const n = this.socket.write(bytes); if (n < bytes.length) { this.pending = bytes.subarray(n); return false; } return true; }
  drain() { if (this.pending) { const n = this.socket.write(this.pending); this.pending = n < this.pending.length ? this.pending.subarray(n) : null; } if (!this.pending) this.h?.onDrain(); }
  pause() { this.socket.pause?.(); }
  resume() { this.socket.resume?.(); }
  startTls() { throw new Error("no"); }
  peerCertificate() { return null; }
  close() { this.socket.end(); }
}

const which = process.argv[2];
if (which === "native" && typeof Deno !== "undefined") {
  useSockets({ name: "Deno", connect: async (host, port) => { const c = await Deno.connect({ hostname: host, port }); c.setNoDelay(true); return new DenoDuplex(c); } });
} else if (which === "native" && typeof Bun !== "undefined") {
  useSockets({ name: "Bun", connect: (host, port) => new Promise((resolve, reject) => {
    const d = new BunDuplex();
    Bun.connect({ hostname: host, port, socket: {
      open(s) { d.attach(s); s.setNoDelay?.(true); resolve(d); },
      data(s, chunk) { d.data(chunk); },
      drain() { d.drain(); },
      close() { d.h?.onEnd(); }, end() { d.h?.onEnd(); },
      error(s, e) { d.h ? d.h.onError(e) : reject(e); },
      connectError(s, e) { reject(e); },
    } }).catch(reject);
  }) });
}
const conn = await connect(dsn, { transport: "tcp" });
const SQL = "SELECT g::int8 AS id, 'row ' || g AS name, g * 1.5::float8 AS f, '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 s' AS ts, (g * 1.25)::numeric(12,2) AS n FROM generate_series(1, 200000) g";
const seq = [], dec = [];
for (let r = 0; r < 6; r++) {
  let t = performance.now();
  for (let i = 0; i < 2000; i++) await conn.fetchval("SELECT 1");
  if (r) seq.push(2000 / ((performance.now() - t) / 1000));
  t = performance.now();
  const rows = await conn.fetch(SQL);
  if (rows.length !== 200000) throw new Error("rows");
  if (r) dec.push(200000 / ((performance.now() - t) / 1000));
}
await conn.close();
const med = (x) => Math.round(x.sort((a, b) => a - b)[2]);
console.log(which, "seq", med(seq), "decode", med(dec));
