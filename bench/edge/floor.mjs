// Diagnostic "floor" clients: the least a client can do per operation, to
// tell a client's own cost from the transport's. A hand-written minimal
// PostgreSQL client (simple query protocol, text results, cleartext auth,
// every write sent at once, replies matched in order; connect sends startup,
// password and the first query in one write like pipelineConnect) over either
//   * ws-floor:  the `ws` package through websockify (edgepg's and Neon's path), or
//   * tcp-floor: node:net straight to the server (pg's and postgres.js's path).
// The gap edgepg -> ws-floor is edgepg's own cost (JS glue + wasm); the gap
// ws-floor -> tcp-floor is what the WebSocket hop through websockify costs.
//   * tcp-floor-bin: as tcp-floor, but each query goes the way edgepg sends it
//     (extended protocol: Parse/Bind/Execute/Sync, every result column in BINARY
//     format) and the DataRow messages are only counted, nothing decoded: the
//     least any client can spend on edgepg's decode_200k query over TCP.
// Not a product, no error recovery: it throws on anything unexpected.
import net from "node:net";
import WebSocket from "ws";

const enc = new TextEncoder();
const dec = new TextDecoder();

function message(type, body) {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  out.set(body, 5);
  return out;
}
const cstr = (s) => Buffer.concat([Buffer.from(enc.encode(s)), Buffer.from([0])]);
const query = (sql) => message("Q", cstr(sql));
// Unnamed statement, no parameters, one result format code (1: binary) for every column.
const BIND_BINARY = message("B", Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 1]));
const EXECUTE_SYNC = Buffer.concat([message("E", Buffer.from([0, 0, 0, 0, 0])), message("S", Buffer.alloc(0))]);
const binaryQuery = (sql) =>
  Buffer.concat([message("P", Buffer.concat([Buffer.from([0]), cstr(sql), Buffer.from([0, 0])])), BIND_BINARY, EXECUTE_SYNC]);

function startup(user, database) {
  const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), cstr("user"), cstr(user), cstr("database"), cstr(database), Buffer.from([0])]);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeInt32BE(4 + body.length, 0);
  out.set(body, 4);
  return out;
}

/** One connection: `send(buf)`, `onData(buf)` wiring supplied by the transport. */
class Session {
  constructor(send, password) {
    this.send = send;
    this.password = password;
    this.buf = Buffer.alloc(0);
    this.pending = []; // FIFO of { resolve, reject, rows: [] }
    this.ready = null;
  }
  onData(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    while (this.buf.length - off >= 5) {
      const len = this.buf.readInt32BE(off + 1);
      if (this.buf.length - off < 1 + len) break;
      this.onMessage(this.buf[off], this.buf.subarray(off + 5, off + 1 + len));
      off += 1 + len;
    }
    this.buf = this.buf.subarray(off);
  }
  onMessage(type, body) {
    const head = this.pending[0];
    switch (type) {
      case 0x52: { // R: authentication
        const code = body.readInt32BE(0);
        if (code === 3) { if (!this.passwordSent) this.send(message("p", cstr(this.password))); }
        else if (code !== 0) throw new Error(`floor: auth method ${code} unsupported`);
        return;
      }
      case 0x44: { // D: DataRow, keep the first column as text (or only count it)
        if (head.count !== undefined) { head.count++; return; }
        const n = body.readInt16BE(0);
        if (n > 0) {
          const l = body.readInt32BE(2);
          head.rows.push(l < 0 ? null : dec.decode(body.subarray(6, 6 + l)));
        } else head.rows.push(null);
        return;
      }
      case 0x45: // E: error
        head.error = new Error(`floor: server error ${dec.decode(body)}`);
        return;
      case 0x5a: // Z: ReadyForQuery
        this.pending.shift();
        if (head.error) head.reject(head.error);
        else head.resolve(head.count !== undefined ? head.count : head.rows);
        return;
      default: // T, C, S, K, N...: not needed
    }
  }
  /** Sends now; resolves with the first column of every row (text). */
  query(sql) {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, rows: [] });
      this.send(query(sql));
    });
  }
  /** Extended protocol, binary results; resolves with the number of DataRows. */
  countBinary(sql) {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, rows: null, count: 0 });
      this.send(binaryQuery(sql));
    });
  }
  /** Startup + password; resolves at the first ReadyForQuery. */
  start(user, database) {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, rows: [] });
      this.send(startup(user, database));
    });
  }
  /**
   * Startup, cleartext password and a first query in ONE write (what
   * pipelineConnect "password" does); resolves with that query's rows.
   */
  startPipelined(user, database, sql) {
    this.passwordSent = true;
    this.pending.push({ resolve: () => {}, reject: () => {}, rows: [] });
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, rows: [] });
      this.send(Buffer.concat([startup(user, database), message("p", cstr(this.password)), query(sql)]));
    });
  }
}

async function openWs(url, user, password, database, first) {
  const ws = new WebSocket(url);
  ws.binaryType = "nodebuffer";
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  const s = new Session((b) => ws.send(b), password);
  ws.on("message", (d) => s.onData(d));
  s.first = first ? await s.startPipelined(user, database, first) : await s.start(user, database);
  s.close = () => new Promise((r) => { ws.once("close", r); ws.close(); });
  return s;
}

async function openTcp(host, port, user, password, database, first) {
  const sock = net.connect({ host, port: Number(port), noDelay: true });
  await new Promise((resolve, reject) => { sock.once("connect", resolve); sock.once("error", reject); });
  const s = new Session((b) => sock.write(b), password);
  sock.on("data", (d) => s.onData(d));
  s.first = first ? await s.startPipelined(user, database, first) : await s.start(user, database);
  s.close = () => new Promise((r) => { sock.once("close", r); sock.end(message("X", Buffer.alloc(0))); });
  return s;
}

export function floorClients(env) {
  const host = env.EDGEPG_TEST_HOST ?? "127.0.0.1";
  const port = env.EDGEPG_TEST_PORT;
  const db = env.EDGEPG_TEST_DB ?? "edgepg_test";
  const url = `ws://127.0.0.1:${env.EDGEPG_TEST_WS_PORT}/v1?address=${host}:${port}`;
  const make = (name, transport, open) => ({
    name,
    diagnostic: true,
    transport,
    open: () => open(),
    close: (s) => s.close(),
    async connectFirst() {
      const t0 = performance.now();
      const s = await open("SELECT 1");
      const v = s.first[0];
      const ms = performance.now() - t0;
      await s.close();
      if (v !== "1") throw new Error(`${name}: got ${v}`);
      return ms;
    },
    select1: async (s) => Number((await s.query("SELECT 1"))[0]),
    // Text rows, first column only: the bytes cross the transport, nothing is decoded.
    fetchAll: async (s, sql) => (await s.query(sql)).map((id) => ({ id })),
    fetchArrays: async (s, sql) => (await s.query(sql)).map((id) => [id]),
    addOne: async (s, i) => Number((await s.query(`SELECT ${i}::int8 + 1`))[0]),
  });
  const tcpBin = make("tcp-floor-bin", "minimal hand-written client, extended protocol, binary results only counted, node:net",
    (first) => openTcp(host, port, "pw_user", "pw_pw", db, first));
  // Rows not even decoded: `length` is all bench.mjs reads of a yardstick's decode result.
  tcpBin.fetchAll = tcpBin.fetchArrays = async (s, sql) => ({ length: await s.countBinary(sql) });
  return [
    make("ws-floor", "minimal hand-written client, simple protocol, `ws` through websockify",
      (first) => openWs(url, "pw_user", "pw_pw", db, first)),
    make("tcp-floor", "minimal hand-written client, simple protocol, node:net",
      (first) => openTcp(host, port, "pw_user", "pw_pw", db, first)),
    tcpBin,
  ];
}
