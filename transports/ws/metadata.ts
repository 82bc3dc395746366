/**
 * Options of the `ws`/`wss` listener and dialer (also the WebSocket part of
 * `mws`/`mwss`), parsed from GOST metadata. Keys are read with and without
 * the `ws.` prefix (`ws.path` or `path`), the prefixed one first, as GOST does.
 *
 * Accepted and ignored (nothing to tune in dost's framer, or not supported):
 * `readBufferSize`, `writeBufferSize`, `enableCompression` (no
 * permessage-deflate is negotiated, which every peer must accept), `mptcp`,
 * and the listener's TCP `keepalive*` keys.
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEPALIVE_TTL, DEFAULT_PATH } from "../_ws/mod.ts";

export { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEPALIVE_TTL, DEFAULT_PATH };

/** Upgraded conns (ws) or streams (mws) waiting for `accept()`; beyond it new ones are closed. @default 128 */
export const DEFAULT_BACKLOG = 128;

/** Options of the ws/wss listener. */
export interface WsListenerOptions {
  /** Path served (exact match, query ignored). @default "/ws" */
  path: string;
  /** Ready conns kept for `accept()`; a conn upgraded while the queue is full is closed. @default 128 */
  backlog: number;
  /** Extra headers on the 101 response (YAML `header` map). */
  header?: Record<string, string>;
  /** Milliseconds for a client to send its request and receive the 101 (and for TLS, its handshake). @default 10000 */
  handshakeTimeout: number;
}

/** Options of the ws/wss dialer. */
export interface WsDialerOptions {
  /** `Host` header; defaults to the node address including its port. */
  host?: string;
  /** Request path. @default "/ws" */
  path: string;
  /** Extra request headers (YAML `header` map); a `Host` entry overrides `host`. */
  header?: Record<string, string>;
  /** Milliseconds for the TLS and WebSocket handshakes, each. @default 10000 */
  handshakeTimeout: number;
  /** Send a ping every `ttl` and fail the conn when no pong came for 2 × `ttl`. @default false */
  keepalive: boolean;
  /** Keepalive interval in milliseconds. @default 15000 */
  ttl: number;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

/** The handshake timeout: `handshakeTimeout`, else `readHeaderTimeout`, else the default. */
function handshakeTimeout(md: Metadata): number {
  const hs = md.duration("ws.handshakeTimeout", "handshakeTimeout");
  if (hs !== undefined && hs > 0) return hs;
  return positive(md.duration("ws.readHeaderTimeout", "readHeaderTimeout"), DEFAULT_HANDSHAKE_TIMEOUT);
}

/** Keys: `path`, `backlog`, `header`, `handshakeTimeout`, `readHeaderTimeout` (each also `ws.`-prefixed). */
export function parseListenerMetadata(md: Metadata): WsListenerOptions {
  return {
    path: md.string("ws.path", "path") || DEFAULT_PATH,
    backlog: positive(md.int("ws.backlog", "backlog"), DEFAULT_BACKLOG),
    header: nonEmpty(md.map("ws.header", "header")),
    handshakeTimeout: handshakeTimeout(md),
  };
}

/**
 * Keys: `host`, `path`, `header`, `handshakeTimeout`, `readHeaderTimeout`,
 * `keepalive` (each also `ws.`-prefixed), and `ttl` / `keepalive.interval`
 * (used only when `keepalive` is true).
 */
export function parseDialerMetadata(md: Metadata): WsDialerOptions {
  const keepalive = md.bool("ws.keepalive", "keepalive") ?? false;
  return {
    host: md.string("ws.host", "host") || undefined,
    path: md.string("ws.path", "path") || DEFAULT_PATH,
    header: nonEmpty(md.map("ws.header", "header")),
    handshakeTimeout: handshakeTimeout(md),
    keepalive,
    ttl: keepalive ? positive(md.duration("ttl", "keepalive.interval"), DEFAULT_KEEPALIVE_TTL) : DEFAULT_KEEPALIVE_TTL,
  };
}

function nonEmpty(m: Record<string, string> | undefined): Record<string, string> | undefined {
  return m && Object.keys(m).length > 0 ? m : undefined;
}
