/**
 * Typed SOCKS5 handler and connector options, parsed from GOST metadata keys
 * (`handler/socks/v5/metadata.go`, `connector/socks/v5/metadata.go`).
 *
 * @module
 */
import type { Metadata } from "../../transports/metadata.ts";

/** Time a client gets for method negotiation, sub-negotiation and the request. */
export const DEFAULT_READ_TIMEOUT = 15_000;
/** UDP relay buffer size. */
export const DEFAULT_UDP_BUFFER_SIZE = 4096;

export interface HandlerMetadata {
  /** Deadline (ms) covering negotiation and request. @default 15000 */
  readTimeout: number;
  /** Never choose the TLS methods 0x80/0x82. @default false */
  noTLS: boolean;
  /** Allow BIND and MBIND (and UDP-TUN with a port). @default false */
  enableBind: boolean;
  /** Allow UDP ASSOCIATE and UDP-TUN. @default false */
  enableUDP: boolean;
  /** UDP buffer size, clamped to 512..65536. @default 4096 */
  udpBufferSize: number;
  /** GOST v2 compatibility: MBIND streams carry no leading reply. @default false */
  compatibilityMode: boolean;
  /** Address reported in BIND/UDP replies instead of the local IP. */
  publicAddr?: string;
}

export function parseHandlerMetadata(md: Metadata): HandlerMetadata {
  const readTimeout = md.duration("readTimeout") ?? 0;
  const bs = md.int("udp.bufferSize", "udpBufferSize") ?? 0;
  return {
    readTimeout: readTimeout > 0 ? readTimeout : DEFAULT_READ_TIMEOUT,
    noTLS: md.bool("notls") ?? false,
    enableBind: md.bool("bind") ?? false,
    enableUDP: md.bool("udp") ?? false,
    udpBufferSize: bs > 0 ? Math.min(Math.max(bs, 512), 64 * 1024) : DEFAULT_UDP_BUFFER_SIZE,
    compatibilityMode: md.bool("comp") ?? false,
    publicAddr: md.string("publicAddr", "socks.publicAddr") || undefined,
  };
}

export interface ConnectorMetadata {
  /** Do not offer the TLS methods 0x80/0x82. @default false */
  noTLS: boolean;
  /** Deadline (ms) for the handshake and for the request; 0 = none. @default 0 */
  timeout: number;
}

export function parseConnectorMetadata(md: Metadata): ConnectorMetadata {
  return {
    noTLS: md.bool("notls") ?? false,
    timeout: Math.max(md.duration("timeout") ?? 0, 0),
  };
}
