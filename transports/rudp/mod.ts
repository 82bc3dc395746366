/**
 * Remote UDP port forwarding: the `rudp` listener and the UDP-tunnel framing
 * (`socks5.md` §5) with its client and server ends.
 *
 * @module
 */
export { listenRudp } from "./listener.ts";
export {
  ATYP_DOMAIN,
  ATYP_IPV4,
  ATYP_IPV6,
  encodeFrame,
  encodeSocksAddr,
  FRAG,
  type Frame,
  frameAddrString,
  FrameReader,
  type HostPort,
  MAX_FRAME_DATA,
} from "./frame.ts";
export { serveUdpTunnel, TunnelConn, TunnelPacketConn, type TunnelStats } from "./tunnel.ts";
