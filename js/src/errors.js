// Error classes of the edgepg JS API. Rust hands plain objects
// ({ edgepgError: true, kind, message, code?, detail?, ... }); they become
// these classes here, in the caller's realm, with a JS stack.

/** Base class of every error edgepg throws; `code` says what happened. */
export class EdgepgError extends Error {
  constructor(message, kind, code, options) {
    super(message, options);
    this.name = "EdgepgError";
    /** The error family: connect, io, closed, protocol, tls, auth, server, timeout, config, conversion, interface, aborted, panic. */
    this.kind = kind;
    /** `EDGEPG_<KIND>`, or the SQLSTATE for a PostgresError. */
    this.code = code ?? `EDGEPG_${String(kind).toUpperCase()}`;
  }
}

/** The server answered with an ErrorResponse; every field is kept. */
export class PostgresError extends EdgepgError {
  constructor(fields) {
    super(fields.message, fields.kind, fields.code, causeOf(fields));
    this.name = "PostgresError";
    // Every ErrorResponse field the wasm side sent (severity, detail, hint,
    // position, where, schema, table, ...): the list is defined once, in
    // wasm/src/js/errors.rs, and only the envelope's own keys are skipped.
    for (const key of Object.keys(fields)) {
      if (!ENVELOPE.has(key)) this[key] = fields[key];
    }
  }
}
const ENVELOPE = new Set(["edgepgError", "kind", "message", "code", "cause", "unsent", "name", "stack"]);

/** The WebSocket or the session failed: cannot connect, closed, broken, or a protocol violation. */
export class ConnectionError extends EdgepgError {
  constructor(message, kind, options) { super(message, kind, undefined, options); this.name = "ConnectionError"; }
}
/** An operation ran past its `timeout` (or a connect/acquire timeout). */
export class TimeoutError extends EdgepgError {
  constructor(message, options) { super(message, "timeout", undefined, options); this.name = "TimeoutError"; }
}
/** The caller's AbortSignal fired; `cause` is the signal's reason. */
export class AbortError extends EdgepgError {
  constructor(reason) {
    super("the operation was aborted", "aborted", undefined, { cause: reason });
    this.name = "AbortError";
  }
}
/** A bad DSN or option. */
export class ConfigError extends EdgepgError {
  constructor(message, options) { super(message, "config", undefined, options); this.name = "ConfigError"; }
}
/** A value that cannot be converted to or from its PostgreSQL type. */
export class ConversionError extends EdgepgError {
  constructor(message, options) { super(message, "conversion", undefined, options); this.name = "ConversionError"; }
}
/** The API was used wrongly (bad argument, released connection...). */
export class InterfaceError extends EdgepgError {
  constructor(message, options) { super(message, "interface", undefined, options); this.name = "InterfaceError"; }
}

/** Turns whatever a raw call rejected with into an Error. */
export function toError(e) {
  if (e instanceof Error) return e;
  if (e && e.edgepgError) {
    if (e.code && (e.kind === "server" || e.kind === "auth")) return new PostgresError(e);
    const error = fromKind(e);
    // Nothing of the call reached the server (its socket refused the write):
    // running it again elsewhere cannot run it twice.
    if (e.unsent) error.unsent = true;
    return error;
  }
  return new EdgepgError(String(e), "unknown");
}

function causeOf(fields) {
  return "cause" in fields ? { cause: fields.cause } : undefined;
}

function fromKind(e) {
  // The JS exception behind the error (a socket's, a callback's), if any.
  const options = causeOf(e);
  switch (e.kind) {
    case "connect": case "io": case "closed": case "protocol": case "tls":
      return new ConnectionError(e.message, e.kind, options);
    case "timeout": return new TimeoutError(e.message, options);
    case "config": return new ConfigError(e.message, options);
    case "conversion": return new ConversionError(e.message, options);
    case "interface": return new InterfaceError(e.message, options);
    default: return new EdgepgError(e.message, e.kind, undefined, options);
  }
}

// A trap (a Rust panic under panic=abort) leaves the one wasm instance
// unusable: every later call, through any entry (edgepg, edgepg/pg...), then
// fails at once with this error instead of misbehaving. One state for all.
let trapped = null;

/** Records a WebAssembly trap and returns its error, or null for anything else. */
export function trapError(e) {
  if (typeof WebAssembly !== "undefined" && e instanceof WebAssembly.RuntimeError) {
    trapped = new EdgepgError(
      `edgepg's WebAssembly module trapped (${e.message}); this is a bug in edgepg, please report it. ` +
        "The module instance cannot be used any more: restart the worker or process.",
      "panic",
      undefined,
      { cause: e },
    );
    return trapped;
  }
  return null;
}

/** Throws the recorded trap, if the module trapped before. */
export function checkTrapped() {
  if (trapped) throw trapped;
}
