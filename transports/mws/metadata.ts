/**
 * Options of the `mws`/`mwss` listener and dialer: the WebSocket options of
 * `ws` (`path`, `header`, `host`, `keepalive`, `ttl`, …) plus the smux
 * session options (`mux.version`, `mux.keepaliveInterval`, …).
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";
import { type MuxConfig, parseMuxMetadata } from "../_mux/mod.ts";
import {
  parseDialerMetadata as parseWsDialer,
  parseListenerMetadata as parseWsListener,
  type WsDialerOptions,
  type WsListenerOptions,
} from "../ws/mod.ts";

/** Options of the mws/mwss listener. `backlog` bounds accepted streams waiting for `accept()`. */
export interface MwsListenerOptions extends WsListenerOptions {
  mux: MuxConfig;
}

/** Options of the mws/mwss dialer. */
export interface MwsDialerOptions extends WsDialerOptions {
  mux: MuxConfig;
}

/** The ws listener keys plus `mux.*`; throws RangeError for a session config smux would reject. */
export function parseListenerMetadata(md: Metadata): MwsListenerOptions {
  return { ...parseWsListener(md), mux: parseMuxMetadata(md) };
}

/** The ws dialer keys plus `mux.*`; throws RangeError for a session config smux would reject. */
export function parseDialerMetadata(md: Metadata): MwsDialerOptions {
  return { ...parseWsDialer(md), mux: parseMuxMetadata(md) };
}
