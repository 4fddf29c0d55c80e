// Sockets for Cloudflare Workers: `cloudflare:sockets` adapted to the duplex
// contract of the wasm side (wasm/src/socket.rs). Only bytes move here: the
// SSLRequest, the sslmode decisions and the protocol are Rust's.
//
// Workers' TLS always verifies the server against the runtime's trust store
// (and, in production, the host name): it cannot skip verification or take
// another CA. So every sslmode that uses TLS gets full verification (against
// a publicly trusted certificate, or in miniflare what NODE_EXTRA_CA_CERTS
// lists); sslrootcert fails with a message that says so; prefer falls back to
// plain TCP when the handshake fails, as libpq does (Rust decides that).
import { connect as cfConnect } from "cloudflare:sockets";

/**
 * Throws when the TLS Rust asks for is something Workers' TLS cannot do. A
 * mode that verifies less (prefer, require, verify-ca) still gets Workers'
 * full verification: more than asked, never less; a failure says why.
 */
function checkTls(o) {
  if (o.cert || o.key) {
    throw new Error(
      "sslcert/sslkey cannot be used in Cloudflare Workers: cloudflare:sockets has no client certificates " +
        "(use mTLS certificates bound in wrangler.toml with fetch, or password authentication)",
    );
  }
  if (o.ca) {
    throw new Error(
      "sslrootcert cannot be used in Cloudflare Workers: their TLS trusts only the runtime's store " +
        "(in miniflare/wrangler dev: the certificates in NODE_EXTRA_CA_CERTS)",
    );
  }
}

/** A TLS failure with what Workers always check, and the runtime's error as cause. */
function tlsError(o, e) {
  const strict = o.verify === "full" ? "" :
    ` (sslmode=${o.sslmode} would not verify it, but Workers always do)`;
  return new Error(
    `Cloudflare Workers' TLS did not accept the server's certificate for ${o.servername}${strict}: ` +
      "it must chain to a root the runtime trusts and match the host name",
    { cause: e },
  );
}

class WorkerdDuplex {
  #socket;
  #reader = null;
  #writer = null;
  #handlers = null;
  #paused = false;
  #pumping = false;
  // Bumped when the socket is swapped for its TLS successor: the old pump stops.
  #generation = 0;
  // Before a STARTTLS upgrade: deliver one chunk (the answer to SSLRequest),
  // then read no further, because workerd cannot release a reader with a
  // read outstanding, and startTls needs the streams released.
  #oneChunk;
  // Set by close(): the timer that cuts off a server that does not hang up.
  #closing = null;

  constructor(socket, starttls) {
    this.#socket = socket;
    this.#oneChunk = starttls;
    this.#open();
  }

  #open() {
    this.#reader = this.#socket.readable.getReader();
    this.#writer = this.#socket.writable.getWriter();
  }

  listen(onData, onEnd, onError, onDrain) {
    this.#handlers = { onData, onEnd, onError, onDrain };
    this.#pump();
  }

  async #pump() {
    if (this.#pumping || this.#paused || !(this.#handlers || this.#closing)) return;
    this.#pumping = true;
    const generation = this.#generation;
    const reader = this.#reader;
    try {
      while (!this.#paused && generation === this.#generation) {
        const { value, done } = await reader.read();
        if (generation !== this.#generation) return;
        if (done) {
          this.#handlers?.onEnd();
          if (this.#closing) this.#finish(this.#socket);
          return;
        }
        if (value && value.byteLength > 0) {
          if (this.#oneChunk) this.#paused = true;
          this.#handlers?.onData(value);
        }
      }
    } catch (e) {
      if (generation === this.#generation) this.#handlers?.onError(e);
      if (this.#closing) this.#finish(this.#socket);
    } finally {
      if (generation === this.#generation) this.#pumping = false;
    }
  }

  /**
   * Returns the write's promise: Rust's flush waits for it, and a rejection
   * means these bytes were not written (Workers reject a socket used by
   * another request this way, before anything is sent).
   */
  write(bytes) {
    return this.#writer.write(bytes);
  }

  pause() { this.#paused = true; }
  resume() {
    this.#oneChunk = false;
    if (!this.#paused) return;
    this.#paused = false;
    this.#pump();
  }

  async startTls(o) {
    checkTls(o);
    // The pump stopped after the one-byte answer (see #oneChunk).
    this.#generation++;
    this.#pumping = false;
    this.#oneChunk = false;
    this.#paused = false;
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    this.#socket = this.#socket.startTls({ expectedServerHostname: o.servername });
    try {
      await this.#socket.opened;
    } catch (e) {
      throw tlsError(o, e);
    }
    this.#open();
    this.#pump();
  }

  peerCertificate() { return null; }

  close() {
    // The Rust side is letting go: no callback may reach it after this.
    this.#handlers = null;
    // Closing a socket with a read outstanding makes workerd report an
    // unhandled rejection ("Stream was cancelled") from a promise of its own
    // that no handler here can reach, and so does closing the writable side
    // (allowHalfOpen is off). Terminate was written already: the pump reads
    // on until the server ends the connection, then closes the socket; a
    // server that does not within a second is cut off.
    const socket = this.#socket;
    this.#closing = setTimeout(() => this.#finish(socket), 1000);
    this.#oneChunk = false;
    this.#paused = false;
    this.#pump();
  }

  #finish(socket) {
    clearTimeout(this.#closing);
    try {
      socket.close().catch(() => {});
    } catch {
      // A socket of another request's: workerd closes it with that request.
    }
  }
}

/** The adapter the wasm side calls: `connect(host, port, { tls })`. */
export const workerdSockets = {
  name: "Cloudflare Workers",
  async connect(host, port, options) {
    const direct = options?.tls;
    if (direct) checkTls(direct);
    const socket = cfConnect(
      { hostname: host, port },
      { secureTransport: direct ? "on" : options?.starttls ? "starttls" : "off", allowHalfOpen: false },
    );
    try {
      await socket.opened;
    } catch (e) {
      throw direct ? tlsError(direct, e) : e;
    }
    return new WorkerdDuplex(socket, !direct && !!options?.starttls);
  },
};
