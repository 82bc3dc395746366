/**
 * Options of the `wt` (WebTransport) listener and dialer, parsed from GOST
 * metadata as GOST's `listener/http3/wt` and `dialer/http3/wt` read them:
 *
 * - `wt.path` or `path`: the CONNECT path (default `/wt`);
 * - `keepalive` / `ttl`: QUIC keepalive. The listener keeps connections
 *   alive only with `keepalive=true`; the dialer does unless
 *   `keepalive=false`. The period is `ttl`, default 10 s;
 * - `handshakeTimeout`, `maxIdleTimeout`, `maxStreams`: the QUIC settings
 *   (0 or unset means quic-go's 5 s, 30 s and 100);
 * - listener: `backlog` (accepted streams waiting for the service, default 128);
 * - dialer: `wt.host` or `host` (the CONNECT authority; its port is dropped,
 *   as GOST does) and `wt.header` or `header` (extra request headers, YAML map).
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";

/** The CONNECT path GOST uses. @default "/wt" */
export const DEFAULT_PATH = "/wt";
/** Accepted streams waiting for the service before new ones are refused. @default 128 */
export const DEFAULT_BACKLOG = 128;
/** Keepalive period when keepalive is on and `ttl` is unset (GOST). @default 10000 */
export const DEFAULT_KEEPALIVE_PERIOD = 10_000;
/** quic-go's handshake timeout. @default 5000 */
export const DEFAULT_HANDSHAKE_TIMEOUT = 5_000;
/** quic-go's idle timeout. @default 30000 */
export const DEFAULT_MAX_IDLE_TIMEOUT = 30_000;
/** Concurrent streams a peer may open (quic-go's default). @default 100 */
export const DEFAULT_MAX_STREAMS = 100;

/** QUIC settings shared by both sides. */
export interface WtQuicOptions {
  /** Milliseconds between keepalive packets; 0 = none. */
  keepAlivePeriod: number;
  /** @default 5000 */
  handshakeTimeout: number;
  /** @default 30000 */
  maxIdleTimeout: number;
  /** @default 100 */
  maxStreams: number;
}

/** Options of the wt listener. */
export interface WtListenerOptions extends WtQuicOptions {
  /** @default "/wt" */
  path: string;
  /** @default 128 */
  backlog: number;
}

/** Options of the wt dialer. */
export interface WtDialerOptions extends WtQuicOptions {
  /** @default "/wt" */
  path: string;
  /** CONNECT authority instead of the node host (without port). */
  host?: string;
  /** Extra CONNECT request headers. */
  header?: Record<string, string>;
}

function positive(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

function quic(md: Metadata, keepAliveDefault: boolean): WtQuicOptions {
  const keepalive = md.bool("keepalive") ?? keepAliveDefault;
  return {
    keepAlivePeriod: keepalive ? positive(md.duration("ttl"), DEFAULT_KEEPALIVE_PERIOD) : 0,
    handshakeTimeout: positive(md.duration("handshakeTimeout"), DEFAULT_HANDSHAKE_TIMEOUT),
    maxIdleTimeout: positive(md.duration("maxIdleTimeout"), DEFAULT_MAX_IDLE_TIMEOUT),
    maxStreams: positive(md.int("maxStreams"), DEFAULT_MAX_STREAMS),
  };
}

function path(md: Metadata): string {
  const p = md.string("wt.path", "path") || DEFAULT_PATH;
  if (!p.startsWith("/")) throw new TypeError(`Option "path" must start with "/", got "${p}"`);
  return p;
}

/** Keys: `wt.path`/`path`, `backlog`, `keepalive` (default false), `ttl`, `handshakeTimeout`, `maxIdleTimeout`, `maxStreams`. */
export function parseListenerMetadata(md: Metadata): WtListenerOptions {
  return { ...quic(md, false), path: path(md), backlog: positive(md.int("backlog"), DEFAULT_BACKLOG) };
}

/** Keys: `wt.path`/`path`, `wt.host`/`host`, `wt.header`/`header`, `keepalive` (default true), `ttl`, the QUIC keys. */
export function parseDialerMetadata(md: Metadata): WtDialerOptions {
  const header = md.map("wt.header", "header");
  let host = md.string("wt.host", "host") || undefined;
  // GOST builds the CONNECT URL from the host alone: a port given with it is dropped.
  if (host) host = stripPort(host);
  return {
    ...quic(md, true),
    path: path(md),
    host: host || undefined,
    header: header && Object.keys(header).length > 0 ? header : undefined,
  };
}

/** `host:port` or `[v6]:port` to the host; a bare host (or bare IPv6) unchanged. */
export function stripPort(hostport: string): string {
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(hostport);
  if (v6) return v6[1].includes(":") ? `[${v6[1]}]` : v6[1];
  const i = hostport.lastIndexOf(":");
  if (i < 0 || hostport.indexOf(":") !== i) return hostport; // no port, or a bare IPv6 address
  return hostport.slice(0, i);
}
