// Typed errors. Every failure the package reports is a VolleyError whose code says
// what happened; close reasons use the host's bye codes (docs/protocol.md, "bye").

/** What went wrong, or why a session ended. */
export type ErrorCode =
  /** The session was closed locally (Session.close). */
  | "closed"
  /** The host shut down (bye code "closed"). */
  | "server_closed"
  /** The game kicked this client. */
  | "kicked"
  /** Nothing heard from the host (or, in a host's bye, from us) for the timeout. */
  | "timeout"
  /** ICE, DTLS or SCTP failed, or a data channel closed without a goodbye. */
  | "connection_lost"
  /** The host says we sent commands faster than its rate limit. */
  | "flood"
  /** The host says we broke the protocol (or the host sent something malformed). */
  | "protocol"
  /** The host says we did not keep up with its reliable messages. */
  | "slow"
  /** The host rejected our data channels. */
  | "bad_channel"
  /** The host speaks another protocol version. */
  | "version_mismatch"
  /** The host's snapshot schema is not ours. */
  | "schema_mismatch"
  /** The host refused us: it is full. */
  | "host_full"
  /** The host refused us: too many handshakes in progress; try again shortly. */
  | "busy"
  /** The host refused us with a code this package does not know (see detail). */
  | "rejected"
  /** The signaling exchange failed or was aborted, or the host says a signal was out of place. */
  | "signaling"
  /** The session is not connected (yet, or any more). */
  | "not_connected"
  /** A message over its size limit. */
  | "too_large"
  /** A schema descriptor that does not check. */
  | "schema"
  /** The lobby answered with an error (detail holds its code). */
  | "lobby"
  /** Anything else (see message). */
  | "error";

/** VolleyError is the error type of this package. */
export class VolleyError extends Error {
  readonly code: ErrorCode;
  /** The lobby's error code, the host's refusal code, or the host's bye code. */
  readonly detail: string | undefined;
  /** For version and schema mismatches: the host's value and ours. */
  readonly host: string | number | undefined;
  readonly client: string | number | undefined;

  constructor(code: ErrorCode, message: string, opts: { detail?: string; host?: string | number; client?: string | number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "VolleyError";
    this.code = code;
    this.detail = opts.detail;
    this.host = opts.host;
    this.client = opts.client;
  }
}

/** The bye codes of docs/protocol.md and the error codes they map to. */
const byeCodes: Record<string, ErrorCode> = {
  left: "closed",
  closed: "server_closed",
  kicked: "kicked",
  timeout: "timeout",
  flood: "flood",
  protocol: "protocol",
  slow: "slow",
  bad_channel: "bad_channel",
  version_mismatch: "version_mismatch",
  schema_mismatch: "schema_mismatch",
  host_full: "host_full",
  busy: "busy",
  signaling: "signaling",
  draining: "server_closed", // the host drains (Server.Drain); detail says "draining"
};

/** errorOfBye maps a host's bye code to the session's close reason. */
export function errorOfBye(code: string | undefined, reason: string | undefined): VolleyError {
  const c = (code && byeCodes[code]) || "connection_lost";
  return new VolleyError(c, `host says: ${reason || code || "goodbye"}`, code ? { detail: code } : {});
}

/**
 * errorOfRefusal maps the code of a host's refusal (a reject signal, or a bye before
 * the welcome) to an error; detail holds the code as sent.
 */
export function errorOfRefusal(code: string | undefined, reason: string | undefined): VolleyError {
  const c = (code && code !== "left" && byeCodes[code]) || "rejected";
  return new VolleyError(c, `host refused: ${reason || code || "no reason given"}`, { detail: code ?? "" });
}
