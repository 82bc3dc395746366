/**
 * Options of the `h2` / `h2c` listener and dialer, parsed from GOST
 * metadata. Keys are read with and without the `h2.` prefix (`h2.path` or
 * `path`), the prefixed one first.
 *
 * Accepted and ignored: `mptcp` and the listener's TCP `keepalive*` keys.
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";
import { DEFAULT_PREFACE_TIMEOUT } from "./_server.ts";

/** Accepted tunnels waiting for `accept()`; beyond it a new tunnel is ended right after its 200. @default 128 */
export const DEFAULT_BACKLOG = 128;
/** How long a dial waits for the server's answer to its request. @default 30000 */
export const DEFAULT_RESPONSE_TIMEOUT = 30_000;
/** `user-agent` of tunnel requests (GOST's Go HTTP/2 client). */
export const USER_AGENT = "Go-http-client/2.0";

/** Options of the h2/h2c listener. */
export interface H2ListenerOptions {
  /** Empty: only `CONNECT` is accepted (405 otherwise). Set: the request path must equal it (400 otherwise). */
  path: string;
  /** @default 128 */
  backlog: number;
  /** Milliseconds for a client to send the HTTP/2 preface. @default 10000 */
  prefaceTimeout: number;
}

/** Options of the h2/h2c dialer. */
export interface H2DialerOptions {
  /** `:authority` of tunnel requests; defaults to the node address including its port. */
  host?: string;
  /** Empty: `CONNECT`. Set: `GET <path>` (the server must be configured with the same path). */
  path: string;
  /** Extra request headers (YAML `header` map). */
  header?: Record<string, string>;
  /** @default 30000 */
  responseTimeout: number;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

/** Keys: `path`, `backlog`, `handshakeTimeout` (each also `h2.`-prefixed). */
export function parseListenerMetadata(md: Metadata): H2ListenerOptions {
  return {
    path: md.string("h2.path", "path") ?? "",
    backlog: positive(md.int("h2.backlog", "backlog"), DEFAULT_BACKLOG),
    prefaceTimeout: positive(md.duration("h2.handshakeTimeout", "handshakeTimeout"), DEFAULT_PREFACE_TIMEOUT),
  };
}

/** Keys: `host`, `path`, `header`, `timeout` (each also `h2.`-prefixed). */
export function parseDialerMetadata(md: Metadata): H2DialerOptions {
  const header = md.map("h2.header", "header");
  return {
    host: md.string("h2.host", "host") || undefined,
    path: md.string("h2.path", "path") ?? "",
    header: header && Object.keys(header).length > 0 ? header : undefined,
    responseTimeout: positive(md.duration("h2.timeout", "timeout"), DEFAULT_RESPONSE_TIMEOUT),
  };
}
