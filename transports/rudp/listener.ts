/**
 * The `rudp` listener (GOST `listener/rudp`): with a chain it binds a UDP
 * port on the chain's far end (relay BIND 0x82, SOCKS5 UDP-TUN) and yields one
 * pseudo-connection per remote sender from the tunnel; without one it is a
 * plain `udp` listener (but with `keepalive` on). Options: `ttl` (5 s),
 * `readBufferSize` (8192), `readQueueSize` (1024), `backlog` (128).
 *
 * @module
 */
import { listenHost, splitHostPort } from "../addr.ts";
import { ReverseListener } from "../rtcp/reverse.ts";
import type { Listener, ListenerOptions } from "../types.ts";
import { PacketListener } from "../udp/listener.ts";
import { parsePacketListenerMetadata, RUDP_LISTENER_DEFAULTS } from "../udp/metadata.ts";
import { SocketPacketConn } from "../udp/packet.ts";

export function listenRudp(opts: ListenerOptions): Promise<Listener> {
  const udp = parsePacketListenerMetadata(opts.metadata, RUDP_LISTENER_DEFAULTS);
  if (!opts.bind) {
    const { host, port } = splitHostPort(opts.addr);
    return Promise.resolve(new PacketListener(SocketPacketConn.listen(listenHost(host), port), udp));
  }
  return Promise.resolve(new ReverseListener(opts.bind, "udp", opts.addr, { log: opts.log, bind: { udp } }));
}
