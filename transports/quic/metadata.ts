/**
 * Options of the `quic` listener and dialer, parsed from GOST metadata with
 * the keys of GOST's `listener/quic` and `dialer/quic`.
 *
 * GOST: the listener keeps connections alive only with `keepAlive=true`
 * (every `ttl`, default 10 s); the dialer keeps alive unless `keepAlive` is
 * present and false. `handshakeTimeout` 0 means quic-go's 5 s,
 * `maxIdleTimeout` 0 its 30 s, `maxStreams` 0 its 100. `backlog` (listener)
 * bounds the queue of accepted streams (default 128). On the dialer,
 * `maxStreams` bounds streams the *server* may open, which neither GOST's
 * nor dost's server ever does: the dialer parses it and allows none.
 *
 * `enableDatagram` / `quic.enableDatagram` only advertises QUIC DATAGRAM
 * support in GOST; neither GOST's nor dost's quic transport ever sends a
 * datagram, and Deno always advertises the support, so the key is parsed
 * (and must be a boolean) but changes nothing. `cipherKey` (GOST's
 * AES-wrapped UDP packets) is not read: Deno's QUIC owns its UDP socket, so
 * dost refuses the key at start.
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";

/** Keepalive period when keepalive is on and `ttl` is unset (GOST). @default 10000 */
export const DEFAULT_KEEPALIVE_PERIOD = 10_000;
/** quic-go's handshake timeout, used when `handshakeTimeout` is unset or 0. @default 5000 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5_000;
/** quic-go's idle timeout, used when `maxIdleTimeout` is unset or 0. @default 30000 */
export const DEFAULT_MAX_IDLE_TIMEOUT = 30_000;
/** Concurrent streams a client may open on one connection (quic-go's default). @default 100 */
export const DEFAULT_MAX_STREAMS = 100;
/** Accepted streams waiting for `accept()` before new ones are discarded (GOST). @default 128 */
export const DEFAULT_BACKLOG = 128;

/** QUIC settings both sides have. */
export interface QuicOptions {
  /** Milliseconds between keepalive packets; 0 = none. */
  keepAlivePeriod: number;
  /** Time a QUIC handshake may take. @default 5000 */
  handshakeTimeout: number;
  /** Idle time after which a connection is dropped. @default 30000 */
  maxIdleTimeout: number;
  /** Concurrent streams the peer may open. @default 100 */
  maxStreams: number;
  /** GOST's `enableDatagram`; has no effect (see the module doc). @default false */
  enableDatagram: boolean;
}

/** Options of the quic listener. */
export interface QuicListenerOptions extends QuicOptions {
  /** @default 128 */
  backlog: number;
}

/** Options of the quic dialer. */
export type QuicDialerOptions = QuicOptions;

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

function common(md: Metadata, keepalive: boolean): QuicOptions {
  return {
    keepAlivePeriod: keepalive ? positive(md.duration("ttl"), DEFAULT_KEEPALIVE_PERIOD) : 0,
    handshakeTimeout: positive(md.duration("handshakeTimeout"), DEFAULT_HANDSHAKE_TIMEOUT),
    maxIdleTimeout: positive(md.duration("maxIdleTimeout"), DEFAULT_MAX_IDLE_TIMEOUT),
    maxStreams: positive(md.int("maxStreams"), DEFAULT_MAX_STREAMS),
    enableDatagram: md.bool("quic.enableDatagram", "enableDatagram") ?? false,
  };
}

/** Keys: `keepAlive` (default false), `ttl`, `handshakeTimeout`, `maxIdleTimeout`, `maxStreams`, `backlog`, `enableDatagram`. */
export function parseListenerMetadata(md: Metadata): QuicListenerOptions {
  return {
    ...common(md, md.bool("keepAlive") ?? false),
    backlog: positive(md.int("backlog"), DEFAULT_BACKLOG),
  };
}

/** Keys: `keepAlive` (default true), `ttl`, `handshakeTimeout`, `maxIdleTimeout`, `maxStreams`, `enableDatagram`. */
export function parseDialerMetadata(md: Metadata): QuicDialerOptions {
  return common(md, md.bool("keepAlive") ?? true);
}
