/**
 * Options of the `h3` listener and the `h3`/`http3` dialer (PHT over
 * HTTP/3), parsed from GOST metadata: the QUIC keys of GOST's
 * `listener/http3/h3` and `dialer/http3` plus the PHT keys, which are read
 * with and without the `pht.` prefix (`pht.pushPath` or `pushPath`).
 *
 * GOST: the listener keeps QUIC connections alive only with
 * `keepalive=true` (every `ttl`, default 10 s); the dialer keeps alive by
 * default (`keepalive=false` turns it off). `maxIdleTimeout` 0 means
 * quic-go's 30 s, `handshakeTimeout` 0 its 5 s. Accepted and ignored:
 * `mptcp`.
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";
import {
  parseDialerMetadata as parsePhtDialer,
  parseListenerMetadata as parsePhtListener,
  type PhtDialerOptions,
  type PhtListenerOptions,
} from "../pht/mod.ts";

/** Keepalive period when keepalive is on and `ttl` is unset (GOST). @default 10000 */
export const DEFAULT_KEEPALIVE_PERIOD = 10_000;
/** quic-go's handshake timeout. @default 5000 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5_000;
/** quic-go's idle timeout. @default 30000 */
export const DEFAULT_MAX_IDLE_TIMEOUT = 30_000;
/** Concurrent request streams a peer may open (quic-go's default). @default 100 */
export const DEFAULT_MAX_STREAMS = 100;

/** QUIC settings shared by both sides. */
export interface QuicOptions {
  /** Milliseconds between keepalive packets; 0 = none. */
  keepAlivePeriod: number;
  /** @default 5000 */
  handshakeTimeout: number;
  /** @default 30000 */
  maxIdleTimeout: number;
  /** @default 100 */
  maxStreams: number;
}

/** Options of the h3 listener. */
export interface H3ListenerOptions extends QuicOptions {
  pht: PhtListenerOptions;
}

/** Options of the h3/http3 dialer. */
export interface H3DialerOptions extends QuicOptions {
  pht: PhtDialerOptions;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

function quic(md: Metadata, keepAliveDefault: boolean): QuicOptions {
  const keepalive = md.bool("keepalive", "keepAlive") ?? keepAliveDefault;
  const ttl = md.duration("ttl");
  return {
    keepAlivePeriod: keepalive ? positive(ttl, DEFAULT_KEEPALIVE_PERIOD) : 0,
    handshakeTimeout: positive(md.duration("handshakeTimeout"), DEFAULT_HANDSHAKE_TIMEOUT),
    maxIdleTimeout: positive(md.duration("maxIdleTimeout"), DEFAULT_MAX_IDLE_TIMEOUT),
    maxStreams: positive(md.int("maxStreams"), DEFAULT_MAX_STREAMS),
  };
}

/** Keys: `keepalive` (default false), `ttl`, `handshakeTimeout`, `maxIdleTimeout`, `maxStreams`, `backlog`, PHT paths. */
export function parseListenerMetadata(md: Metadata): H3ListenerOptions {
  return { ...quic(md, false), pht: parsePhtListener(md) };
}

/** Keys: `keepalive` (default true), `ttl`, `handshakeTimeout`, `maxIdleTimeout`, `maxStreams`, `host`, `header`, PHT paths. */
export function parseDialerMetadata(md: Metadata): H3DialerOptions {
  return { ...quic(md, true), pht: parsePhtDialer(md) };
}
