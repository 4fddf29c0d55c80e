// Byte integrity of large values in both directions, runnable in any runtime
// (Node, Bun, Deno, workerd, a browser): only Web APIs, no node: imports.
//
// Every check compares a SHA-256 the SERVER computes (sha256(...) in SQL)
// with one the client computes over its own bytes, so a corrupted transfer
// cannot hide behind a read-back through the same path. Sizes straddle the
// WebSocket transport's 1 MiB frame size (a value spans several frames).
//
//   const report = await runIntegrity(edgepg, dsn, options, { sizes });
//   report.failures -> [] when every byte arrived intact.

export const DEFAULT_SIZES = [0, (1 << 20) - 1, (1 << 20) + 1, 3 << 20, 16 << 20];

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

async function sha256(bytes) {
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

/** `n` pseudo-random bytes (getRandomValues takes at most 64 KiB a call). */
function randomBytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

// Text without COPY's special characters (tab, newline, backslash), with
// multi-byte UTF-8 (2, 3 and 4 bytes: a surrogate pair in JS) mixed in.
const ALPHABET = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", "é", "€", "😀"];

/** A string of exactly `n` UTF-8 bytes. */
function randomText(n) {
  const r = randomBytes(n);
  let parts = [];
  let bytes = 0;
  let chunk = "";
  for (let i = 0; bytes < n; i++) {
    let c = ALPHABET[r[i % n] % ALPHABET.length];
    const len = c === "é" ? 2 : c === "€" ? 3 : c === "😀" ? 4 : 1;
    if (bytes + len > n) c = "x";
    chunk += c;
    bytes += c === "x" ? 1 : len;
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = "";
    }
  }
  parts.push(chunk);
  return parts.join("");
}

/** Splits `bytes` into chunks of `size` for a ReadableStream source. */
function streamOf(bytes, size = 100_000) {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function collect(stream) {
  const chunks = [];
  let total = 0;
  for await (const c of stream) {
    chunks.push(c);
    total += c.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Runs every check for every size on one connection made by
 * `edgepg.connect(dsn, options)`. Returns `{ checks, failures }`: one entry
 * per check (`{ what, size, client, server }`), failures as messages.
 */
export async function runIntegrity(edgepg, dsn, options, { sizes = DEFAULT_SIZES } = {}) {
  const conn = await edgepg.connect(dsn, options);
  const checks = [];
  const failures = [];
  const check = (what, size, client, server) => {
    checks.push({ what, size, client, server });
    if (client !== server) failures.push(`${what} of ${size} bytes: client sha256 ${client}, server ${server}`);
  };
  try {
    await conn.execute("CREATE TEMP TABLE integrity_b (id int, b bytea); CREATE TEMP TABLE integrity_t (id int, t text)");
    for (const [i, size] of sizes.entries()) {
      // Parameters: the server hashes what it received.
      const bytes = randomBytes(size);
      const bytesHash = await sha256(bytes);
      const inserted = await conn.fetchval(
        "INSERT INTO integrity_b VALUES ($1, $2) RETURNING encode(sha256(b), 'hex')", [i, bytes]);
      check("bytea parameter", size, bytesHash, inserted);
      const text = randomText(size);
      const textBytes = new TextEncoder().encode(text);
      const textHash = await sha256(textBytes);
      const insertedText = await conn.fetchval(
        "INSERT INTO integrity_t VALUES ($1, $2) RETURNING encode(sha256(convert_to(t, 'UTF8')), 'hex')", [i, text]);
      check("text parameter", size, textHash, insertedText);

      // Result values: the client hashes what it received.
      const row = await conn.fetchrow(
        "SELECT b, encode(sha256(b), 'hex') AS h FROM integrity_b WHERE id = $1", [i]);
      check("bytea result", size, await sha256(row.b), row.h);
      const trow = await conn.fetchrow(
        "SELECT t, encode(sha256(convert_to(t, 'UTF8')), 'hex') AS h FROM integrity_t WHERE id = $1", [i]);
      check("text result", size, await sha256(new TextEncoder().encode(trow.t)), trow.h);

      // COPY FROM STDIN (text format: one row "id\ttext\n"), streamed in chunks.
      const line = new TextEncoder().encode(`${1000 + i}\t${text}\n`);
      await conn.copyToTable("integrity_t", { source: streamOf(line), columns: ["id", "t"] });
      check("copyToTable", size, textHash, await conn.fetchval(
        "SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex') FROM integrity_t WHERE id = $1", [1000 + i]));

      // Binary COPY of records.
      await conn.copyRecordsToTable("integrity_b", { records: [[2000 + i, bytes]], columns: ["id", "b"] });
      check("copyRecordsToTable", size, bytesHash, await conn.fetchval(
        "SELECT encode(sha256(b), 'hex') FROM integrity_b WHERE id = $1", [2000 + i]));

      // COPY TO STDOUT: the text row as it left the server.
      const out = await collect(conn.copyFromQuery(`SELECT t FROM integrity_t WHERE id = ${i}`, []));
      const body = out.length > 0 && out[out.length - 1] === 10 ? out.subarray(0, out.length - 1) : out;
      check("copyFromQuery", size, await sha256(body), textHash);
    }
  } finally {
    await conn.close();
  }
  return { checks, failures };
}
