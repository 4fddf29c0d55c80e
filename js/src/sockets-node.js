// Sockets for Node, Bun and Deno: node:net and node:tls adapted to the duplex
// contract of the wasm side (wasm/src/socket.rs), and in Bun its own
// `Bun.connect` for plaintext connections (measured faster than Bun's node:net:
// 8 % on a quiet machine, ~2x on a loaded one; see bench/RESULTS.md). Only
// bytes move here: the SSLRequest, the sslmode decisions and the protocol are
// Rust's.
import net from "node:net";
import tls from "node:tls";
import { readFileSync } from "node:fs";

/** PEM text as is; anything else is a file path to read. */
function pem(value, what) {
  if (value === undefined || value === null) return undefined;
  if (value.includes("-----BEGIN")) return value;
  try {
    return readFileSync(value, "utf8");
  } catch (e) {
    throw new Error(`could not read ${what} file "${value}": ${e.code ?? e.message}`, { cause: e });
  }
}

/** node:tls options for the TLS options Rust decided (see wasm/src/tcp.rs). */
function tlsOptions(o) {
  const options = {
    // SNI only for names, never for IP literals (RFC 6066).
    servername: net.isIP(o.servername) ? undefined : o.servername,
    rejectUnauthorized: o.verify !== "none",
    ca: pem(o.ca, "sslrootcert"),
  };
  // Client certificate (libpq's sslcert / sslkey / sslpassword).
  if (o.cert !== undefined) options.cert = pem(o.cert, "sslcert");
  if (o.key !== undefined) options.key = pem(o.key, "sslkey");
  if (o.passphrase !== undefined) options.passphrase = o.passphrase;
  if (o.verify === "chain") options.checkServerIdentity = () => undefined;
  // Always against the name the user asked for: without SNI (an IP literal)
  // node:tls would check the certificate against "localhost".
  if (o.verify === "full") options.checkServerIdentity = (_, cert) => tls.checkServerIdentity(o.servername, cert);
  if (o.alpn) options.ALPNProtocols = [o.alpn];
  return options;
}

class NodeDuplex {
  #socket;
  #handlers = null;
  #listeners = null;

  constructor(socket) {
    this.#socket = socket;
  }

  listen(onData, onEnd, onError, onDrain) {
    this.#handlers = { onData, onEnd, onError, onDrain };
    this.#attach();
  }

  #attach() {
    const { onData, onEnd, onError, onDrain } = this.#handlers;
    const s = this.#socket;
    // `close` covers a reset without `end`; onEnd is idempotent on the Rust side.
    this.#listeners = { data: onData, end: onEnd, close: onEnd, error: onError, drain: onDrain };
    for (const [event, f] of Object.entries(this.#listeners)) s.on(event, f);
  }

  #detach() {
    for (const [event, f] of Object.entries(this.#listeners ?? {})) this.#socket.off(event, f);
    this.#listeners = null;
  }

  write(bytes) {
    return this.#socket.write(bytes);
  }

  pause() { this.#socket.pause(); }
  resume() { this.#socket.resume(); }

  /** Upgrades in place after the server's 'S'. */
  startTls(o) {
    const plain = this.#socket;
    this.#detach();
    return new Promise((resolve, reject) => {
      const secure = tls.connect({ socket: plain, ...tlsOptions(o) });
      const failed = (e) => {
        secure.destroy();
        reject(e);
      };
      secure.once("error", failed);
      secure.once("secureConnect", () => {
        secure.off("error", failed);
        this.#socket = secure;
        this.#attach();
        resolve();
      });
    });
  }

  peerCertificate() {
    const cert = this.#socket.getPeerCertificate?.();
    return cert && cert.raw ? new Uint8Array(cert.raw) : null;
  }

  close() {
    // The Rust side is letting go: no callback may reach it after this.
    this.#detach();
    this.#socket.on("error", () => {});
    // Terminate was written already: end gracefully.
    this.#socket.end();
  }
}

/**
 * A plaintext `Bun.connect` socket as the duplex. Bun calls back per socket
 * (`data`, `drain`, `end`, `close`, `error`); its `write` takes what the kernel
 * accepts and returns that count, so the rest waits here for `drain`.
 */
class BunDuplex {
  #socket = null;
  #handlers = null;
  #early = [];
  #pending = null;
  #closed = false;

  attach(socket) { this.#socket = socket; }

  listen(onData, onEnd, onError, onDrain) {
    this.#handlers = { onData, onEnd, onError, onDrain };
    // Anything that arrived before Rust listened (a fast server).
    for (const [kind, value] of this.#early.splice(0)) this.#dispatch(kind, value);
  }

  /** Bun's callbacks land here. */
  event(kind, value) {
    if (this.#closed) return;
    if (kind === "drain") {
      this.#flushPending();
      return;
    }
    if (!this.#handlers) this.#early.push([kind, value]);
    else this.#dispatch(kind, value);
  }

  #dispatch(kind, value) {
    const h = this.#handlers;
    if (kind === "data") h.onData(value);
    else if (kind === "end") h.onEnd();
    else if (kind === "error") h.onError(value);
  }

  #flushPending() {
    if (this.#pending) {
      const n = this.#socket.write(this.#pending);
      this.#pending = n < this.#pending.length ? this.#pending.subarray(Math.max(n, 0)) : null;
    }
    if (!this.#pending) this.#handlers?.onDrain();
  }

  write(bytes) {
    // The wasm side waits for onDrain after a false, so writes never overlap a pending rest.
    const n = this.#socket.write(bytes);
    if (n >= bytes.length) return true;
    this.#pending = bytes.subarray(Math.max(n, 0));
    return false;
  }

  pause() { this.#socket.pause(); }
  resume() { this.#socket.resume(); }

  startTls() {
    // Never asked: connections that may upgrade are opened with node:net (see bunSockets).
    return Promise.reject(new Error("edgepg: a plaintext Bun socket cannot upgrade to TLS"));
  }

  peerCertificate() { return null; }

  close() {
    // The Rust side is letting go: no callback may reach it after this.
    this.#closed = true;
    this.#socket?.end();
  }
}

/** Plaintext TCP through `Bun.connect`. */
function bunConnect(host, port) {
  const duplex = new BunDuplex();
  return Bun.connect({
    hostname: host,
    port,
    socket: {
      open(socket) {
        duplex.attach(socket);
        socket.setNoDelay?.(true);
        socket.setKeepAlive?.(true, 60_000);
      },
      data(_socket, chunk) { duplex.event("data", chunk); },
      drain() { duplex.event("drain"); },
      end() { duplex.event("end"); },
      close() { duplex.event("end"); },
      error(_socket, error) { duplex.event("error", error); },
    },
  }).then((socket) => {
    duplex.attach(socket);
    return duplex;
  });
}

/** The adapter the wasm side calls: `connect(host, port, { tls })`. */
export const nodeSockets = {
  name: typeof Deno !== "undefined" ? "Deno" : typeof Bun !== "undefined" ? "Bun" : "Node",
  connect(host, port, options) {
    // Bun: its own sockets for plaintext; node:tls where TLS is or may be
    // needed (startTls, certificates for SCRAM-SHA-256-PLUS and verify-ca are
    // node:tls's, tested in every runtime).
    if (typeof Bun !== "undefined" && typeof Bun.connect === "function" && !options?.tls && !options?.starttls) {
      return bunConnect(host, port);
    }
    return new Promise((resolve, reject) => {
      const direct = options?.tls;
      let socket;
      try {
        socket = direct
          ? tls.connect({ host, port, ...tlsOptions(direct) })
          : net.connect({ host, port });
      } catch (e) {
        reject(e);
        return;
      }
      socket.setNoDelay?.(true);
      socket.setKeepAlive?.(true, 60_000);
      const failed = (e) => {
        socket.destroy();
        reject(e);
      };
      socket.once("error", failed);
      socket.once(direct ? "secureConnect" : "connect", () => {
        socket.off("error", failed);
        resolve(new NodeDuplex(socket));
      });
    });
  },
};
