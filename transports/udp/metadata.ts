/**
 * Typed options of the UDP listeners (`udp`, `rudp`), parsed from GOST's
 * metadata keys (`listener/udp/metadata.go`, `listener/rudp/metadata.go`).
 *
 * @module
 */
import type { Metadata } from "../metadata.ts";

/** Idle time after which a pseudo-connection is closed. */
export const DEFAULT_TTL = 5_000;
/** Receive buffer; longer datagrams are truncated. */
export const DEFAULT_READ_BUFFER_SIZE = 4096;
/** Datagrams queued per pseudo-connection before new ones are dropped. */
export const DEFAULT_READ_QUEUE_SIZE = 128;
/** New pseudo-connections waiting for accept before new peers are dropped. */
export const DEFAULT_BACKLOG = 128;

/** Options of a pseudo-connection listener. */
export interface PacketListenerOptions {
  /** Idle time in ms (`ttl`, `keepalive.ttl`) before a peer's pseudo-connection closes. @default 5000 */
  ttl: number;
  /** Largest datagram read (`readBufferSize`, `udp.bufferSize`), at most 65535. @default 4096 */
  readBufferSize: number;
  /** Per-peer queue length (`readQueueSize`, `recvQueueSize`). @default 128 */
  readQueueSize: number;
  /** Pending new peers (`backlog`). @default 128 */
  backlog: number;
  /**
   * Keep a pseudo-connection after it answered (`keepalive`). Without it a
   * pseudo-connection ends with its first datagram back (GOST's `udp`
   * listener default: one answer per request, as DNS needs); with it, only
   * the `ttl` ends it.
   */
  keepalive: boolean;
}

/** Defaults of a pseudo-connection listener: long-lived sessions, GOST's sizes. */
export const DEFAULT_PACKET_LISTENER_OPTIONS: Readonly<PacketListenerOptions> = Object.freeze({
  ttl: DEFAULT_TTL,
  readBufferSize: DEFAULT_READ_BUFFER_SIZE,
  readQueueSize: DEFAULT_READ_QUEUE_SIZE,
  backlog: DEFAULT_BACKLOG,
  keepalive: true,
});

/** GOST's `udp` listener defaults: `keepalive` off. */
export const UDP_LISTENER_DEFAULTS: Readonly<PacketListenerOptions> = Object.freeze({
  ...DEFAULT_PACKET_LISTENER_OPTIONS,
  keepalive: false,
});

/** GOST's `rudp` listener defaults: 8 KiB reads, 1024 queued datagrams, sessions end by `ttl` only. */
export const RUDP_LISTENER_DEFAULTS: Readonly<PacketListenerOptions> = Object.freeze({
  ...DEFAULT_PACKET_LISTENER_OPTIONS,
  readBufferSize: 8192,
  readQueueSize: 1024,
});

/** Parses the listener options; zero, negative or absent values keep the defaults, as in GOST. */
export function parsePacketListenerMetadata(
  md: Metadata,
  defaults: Readonly<PacketListenerOptions> = UDP_LISTENER_DEFAULTS,
): PacketListenerOptions {
  const pos = (v: number | undefined, def: number) => (v !== undefined && v > 0 ? v : def);
  return {
    ttl: pos(md.duration("ttl", "keepalive.ttl"), defaults.ttl),
    readBufferSize: Math.min(pos(md.int("readBufferSize", "udp.bufferSize"), defaults.readBufferSize), 65535),
    readQueueSize: pos(md.int("readQueueSize", "recvQueueSize"), defaults.readQueueSize),
    backlog: pos(md.int("backlog"), defaults.backlog),
    keepalive: md.bool("keepalive") ?? defaults.keepalive,
  };
}
