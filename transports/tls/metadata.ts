/**
 * Options of the `tls` listener and dialer, parsed from GOST metadata.
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";
import { DEFAULT_HANDSHAKE_TIMEOUT } from "./conn.ts";

/** Handshaken conns a listener keeps ready for `accept()`. @default 128 (GOST's backlog) */
export const DEFAULT_BACKLOG = 128;

export interface TlsListenerOptions {
  /** Completed handshakes waiting for `accept()` before the listener stops accepting. @default 128 */
  backlog: number;
  /** Per-connection handshake timeout in milliseconds. @default 10000 */
  handshakeTimeout: number;
}

export interface TlsDialerOptions {
  /** Handshake timeout in milliseconds. @default 10000 */
  handshakeTimeout: number;
  /** Conns are long-lived sessions: learn the server's chain first (see `dialTls`). @default false */
  learnPin?: boolean;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

/** Keys: `backlog`, `handshakeTimeout` (also `tls.` prefixed). */
export function parseListenerMetadata(md: Metadata): TlsListenerOptions {
  return {
    backlog: positive(md.int("tls.backlog", "backlog"), DEFAULT_BACKLOG),
    handshakeTimeout: positive(
      md.duration("tls.handshakeTimeout", "handshakeTimeout", "handshake_timeout"),
      DEFAULT_HANDSHAKE_TIMEOUT,
    ),
  };
}

/** Keys: `handshakeTimeout` (GOST's tls dialer option; also `tls.` prefixed). */
export function parseDialerMetadata(md: Metadata): TlsDialerOptions {
  return {
    handshakeTimeout: positive(
      md.duration("tls.handshakeTimeout", "handshakeTimeout", "handshake_timeout"),
      DEFAULT_HANDSHAKE_TIMEOUT,
    ),
  };
}
