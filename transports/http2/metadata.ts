/**
 * Options of the `http2` listener (the dialer has none), parsed from GOST
 * metadata.
 *
 * Accepted and ignored: `mptcp`, HEAD's TCP `keepalive*` keys.
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";
import { DEFAULT_PREFACE_TIMEOUT } from "../h2/mod.ts";

/** Requests waiting for `accept()`; beyond it new requests are refused (RST_STREAM REFUSED_STREAM). @default 128 */
export const DEFAULT_BACKLOG = 128;

export interface Http2ListenerOptions {
  /** @default 128 */
  backlog: number;
  /** Milliseconds for a client to send its first request bytes. @default 10000 */
  readHeaderTimeout: number;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

/** Keys: `backlog`, `readHeaderTimeout` (each also `http2.`-prefixed). */
export function parseListenerMetadata(md: Metadata): Http2ListenerOptions {
  return {
    backlog: positive(md.int("http2.backlog", "backlog"), DEFAULT_BACKLOG),
    readHeaderTimeout: positive(md.duration("http2.readHeaderTimeout", "readHeaderTimeout"), DEFAULT_PREFACE_TIMEOUT),
  };
}
