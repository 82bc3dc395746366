/**
 * UDP: the `udp` listener (one pseudo-connection per peer), direct UDP
 * dialing and the `udp` dialer, and a datagram-preserving relay.
 *
 * @module
 */
export { dialUdp, resolveHost, UdpConn, UdpDialer, udpDialer } from "./dial.ts";
export { listenUdp, PacketListener } from "./listener.ts";
export {
  DEFAULT_BACKLOG,
  DEFAULT_PACKET_LISTENER_OPTIONS,
  DEFAULT_READ_BUFFER_SIZE,
  DEFAULT_READ_QUEUE_SIZE,
  DEFAULT_TTL,
  type PacketListenerOptions,
  parsePacketListenerMetadata,
  RUDP_LISTENER_DEFAULTS,
  UDP_LISTENER_DEFAULTS,
} from "./metadata.ts";
export { type Datagram, MAX_DATAGRAM, type PacketConn, peerKey, SocketPacketConn } from "./packet.ts";
export { pipeDatagrams } from "./pipe.ts";
