/**
 * Options of the `pht`/`phts` listener and dialer (shared/spec/pht.md §1),
 * parsed from GOST metadata. Keys are read bare and with the `pht.` prefix
 * (the spelling the h3 listener and dialer use), the prefixed one first.
 * Paths must start with `/`; anything else falls back to the default, as in
 * GOST.
 *
 * Accepted and ignored: `mptcp`.
 *
 * dost-only keys (GOST has no equivalent): listener `heartbeat` and
 * `idleTimeout`; dialer `pipeline`, `readTimeout` and `handshakeTimeout`.
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";

/** @default "/authorize" */
export const DEFAULT_AUTHORIZE_PATH = "/authorize";
/** @default "/push" */
export const DEFAULT_PUSH_PATH = "/push";
/** @default "/pull" */
export const DEFAULT_PULL_PATH = "/pull";
/** Sessions waiting for `accept()`; a new session beyond it is refused with 429. @default 128 */
export const DEFAULT_BACKLOG = 128;
/** An idle pull sends a heartbeat line this often (milliseconds). @default 10000 */
export const DEFAULT_HEARTBEAT = 10_000;
/** A session without an outstanding pull or push for this long is closed (milliseconds). @default 60000 */
export const DEFAULT_IDLE_TIMEOUT = 60_000;
/** POSTs a client keeps in flight on its pipelined push connection. @default 4 */
export const DEFAULT_PIPELINE = 4;
/** A pull that delivers nothing, not even a heartbeat, for this long is dead (milliseconds). @default 30000 */
export const DEFAULT_READ_TIMEOUT = 30_000;
/** TLS handshake and authorize round trip, each (milliseconds). @default 10000 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;

/** The three endpoints. */
export interface PhtPaths {
  /** @default "/authorize" */
  authorizePath: string;
  /** @default "/push" */
  pushPath: string;
  /** @default "/pull" */
  pullPath: string;
}

/** Options of the pht/phts listener. */
export interface PhtListenerOptions extends PhtPaths {
  /** Sessions waiting for `accept()`. @default 128 */
  backlog: number;
  /** Heartbeat interval of idle pulls in milliseconds. @default 10000 */
  heartbeat: number;
  /** Milliseconds a session may go without any outstanding request before it is closed. @default 60000 */
  idleTimeout: number;
}

/** Options of the pht/phts dialer. */
export interface PhtDialerOptions extends PhtPaths {
  /** Host name for the URLs and the `Host` header; defaults to the node host. */
  host?: string;
  /** Extra request headers (YAML `header` map) on authorize, push and pull. */
  header?: Record<string, string>;
  /** POSTs in flight on the push connection (HTTP/1.1 pipelining); 1 waits for each answer. @default 4 */
  pipeline: number;
  /** Milliseconds a pull may stay silent (no data, no heartbeat) before the session fails. @default 30000 */
  readTimeout: number;
  /** Milliseconds for the TLS handshake (phts) and the authorize round trip. @default 10000 */
  handshakeTimeout: number;
}

function path(md: Metadata, key: string, fallback: string): string {
  const v = md.string(`pht.${key}`, key);
  return v && v.startsWith("/") ? v : fallback;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

function paths(md: Metadata): PhtPaths {
  const p = {
    authorizePath: path(md, "authorizePath", DEFAULT_AUTHORIZE_PATH),
    pushPath: path(md, "pushPath", DEFAULT_PUSH_PATH),
    pullPath: path(md, "pullPath", DEFAULT_PULL_PATH),
  };
  if (new Set([p.authorizePath, p.pushPath, p.pullPath]).size !== 3) {
    throw new TypeError(
      `PHT paths must differ: authorizePath "${p.authorizePath}", pushPath "${p.pushPath}", pullPath "${p.pullPath}"`,
    );
  }
  return p;
}

/** Keys: `authorizePath`, `pushPath`, `pullPath`, `backlog`, `heartbeat`, `idleTimeout` (each also `pht.`-prefixed). */
export function parseListenerMetadata(md: Metadata): PhtListenerOptions {
  return {
    ...paths(md),
    backlog: positive(md.int("pht.backlog", "backlog"), DEFAULT_BACKLOG),
    heartbeat: positive(md.duration("pht.heartbeat", "heartbeat"), DEFAULT_HEARTBEAT),
    idleTimeout: positive(md.duration("pht.idleTimeout", "idleTimeout"), DEFAULT_IDLE_TIMEOUT),
  };
}

/**
 * Keys: `host`, `header`, `authorizePath`, `pushPath`, `pullPath`,
 * `pipeline`, `readTimeout`, `handshakeTimeout` (each also `pht.`-prefixed).
 */
export function parseDialerMetadata(md: Metadata): PhtDialerOptions {
  const header = md.map("pht.header", "header");
  return {
    ...paths(md),
    host: md.string("pht.host", "host") || undefined,
    header: header && Object.keys(header).length > 0 ? header : undefined,
    pipeline: positive(md.int("pht.pipeline", "pipeline"), DEFAULT_PIPELINE),
    readTimeout: positive(md.duration("pht.readTimeout", "readTimeout"), DEFAULT_READ_TIMEOUT),
    handshakeTimeout: positive(md.duration("pht.handshakeTimeout", "handshakeTimeout"), DEFAULT_HANDSHAKE_TIMEOUT),
  };
}
