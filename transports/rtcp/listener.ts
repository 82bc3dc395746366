/**
 * The `rtcp` listener (GOST `listener/rtcp`): with a chain it binds the
 * service address on the chain's far end (relay BIND, SOCKS5 MBIND) and
 * accepts the connections the far end carries back; without one it is a
 * plain TCP listener.
 *
 * @module
 */
import { TcpListener } from "../tcp/listener.ts";
import type { Listener, ListenerOptions } from "../types.ts";
import { ReverseListener } from "./reverse.ts";

export function listenRtcp(opts: ListenerOptions): Promise<Listener> {
  if (!opts.bind) return Promise.resolve(TcpListener.listen(opts.addr));
  return Promise.resolve(new ReverseListener(opts.bind, "tcp", opts.addr, { log: opts.log }));
}
