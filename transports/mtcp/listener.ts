/**
 * The `mtcp` / `mtls` listener: every accepted TCP (or TLS) conn carries one
 * smux server session, and every stream the client opens is one accepted conn.
 *
 * @module
 */
import { Metadata } from "../metadata.ts";
import { TcpListener } from "../tcp/mod.ts";
import type { Listener, ListenerOptions } from "../types.ts";
import { SessionListener } from "../_mux/session_listener.ts";
import { parseListenerMetadata } from "./metadata.ts";

/**
 * Streams of all sessions, from a TCP or TLS listener: the shared
 * {@linkcode SessionListener} (bounded stream queue, a bad session dies
 * alone, graceful drain).
 */
export class MtcpListener extends SessionListener {}

/** The `mtcp` listener: smux (v2 by default) over TCP. */
export function listenMtcp(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata, false);
  return Promise.resolve(new MtcpListener(TcpListener.listen(opts.addr), md.mux, md.backlog, opts.log));
}

/** The `mtls` listener: smux (v1 by default) over TLS. */
export async function listenMtls(opts: ListenerOptions): Promise<Listener> {
  const md = parseListenerMetadata(opts.metadata, true);
  // The TLS layer gets none of the options: GOST's mtls reads no TLS keys (its handshakes run with
  // TLS defaults), and `backlog` is the stream queue, not the handshaken-conn queue.
  const { listenTls } = await import("../tls/mod.ts");
  const inner = await listenTls({ ...opts, metadata: new Metadata() });
  return new MtcpListener(inner, md.mux, md.backlog, opts.log);
}
