/**
 * The `mws` / `mwss` listener: every upgraded WebSocket carries one smux
 * server session, and every stream the client opens is one accepted conn.
 *
 * @module
 */
import type { Listener, ListenerOptions } from "../types.ts";
import { SessionListener } from "../_mux/session_listener.ts";
import { listenWs, listenWss } from "../ws/mod.ts";
import { parseListenerMetadata } from "./metadata.ts";

/**
 * Streams of all sessions, from a listener of WebSocket conns: the shared
 * {@linkcode SessionListener} (bounded stream queue, graceful drain).
 */
export class MwsListener extends SessionListener {}

/** The `mws` listener: smux over WebSocket over TCP. */
export async function listenMws(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  // The WebSocket layer queues upgraded conns only until the session listener takes them; `backlog` applies to streams.
  return new MwsListener(await listenWs(opts), md.mux, md.backlog, opts.log);
}

/** The `mwss` listener: smux over WebSocket over TLS. */
export async function listenMwss(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata);
  return new MwsListener(await listenWss(opts), md.mux, md.backlog, opts.log);
}
