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
}

export const DEFAULT_PACKET_LISTENER_OPTIONS: Readonly<PacketListenerOptions> = Object.freeze({
  ttl: DEFAULT_TTL,
  readBufferSize: DEFAULT_READ_BUFFER_SIZE,
  readQueueSize: DEFAULT_READ_QUEUE_SIZE,
  backlog: DEFAULT_BACKLOG,
});

/** Parses the listener options; zero, negative or absent values keep the defaults, as in GOST. */
export function parsePacketListenerMetadata(md: Metadata): PacketListenerOptions {
  const pos = (v: number | undefined, def: number) => (v !== undefined && v > 0 ? v : def);
  return {
    ttl: pos(md.duration("ttl", "keepalive.ttl"), DEFAULT_TTL),
    readBufferSize: Math.min(pos(md.int("readBufferSize", "udp.bufferSize"), DEFAULT_READ_BUFFER_SIZE), 65535),
    readQueueSize: pos(md.int("readQueueSize", "recvQueueSize"), DEFAULT_READ_QUEUE_SIZE),
    backlog: pos(md.int("backlog"), DEFAULT_BACKLOG),
  };
}
