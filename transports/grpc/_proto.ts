/**
 * GOST's gRPC tunnel messages (shared/spec/h2-and-grpc.md §2): the service
 * path, the `Chunk { bytes data = 1; }` protobuf message, and the gRPC
 * length-prefixed framing, written by hand (they are tiny).
 *
 * @module
 */

/** Full method name of GOST's tunnel (no protobuf package, one `n` in "Tunel"). */
export const DEFAULT_METHOD_PATH = "/GostTunel/Tunnel";
/** Largest message accepted (gRPC's default receive limit). */
export const MAX_MESSAGE_SIZE = 4 * 1024 * 1024;
/** Largest payload one message carries when writing (GOST writes at most 32 KiB; peers accept 4 MiB). */
export const MAX_CHUNK = 256 * 1024;
/** Bytes of the gRPC message prefix: compressed flag and big-endian length. */
export const PREFIX_SIZE = 5;
/** Protobuf tag of `Chunk.data`: field 1, wire type 2 (length-delimited). */
export const CHUNK_DATA_TAG = 0x0a;

/** gRPC status codes used here. */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/**
 * The method path for GOST's `path` option: leading and trailing `/`
 * trimmed, split at the first `/` into service and method; no method means
 * `Tunnel`, further `/` in the method become `-`.
 */
export function methodPath(option: string | undefined): string {
  const p = (option ?? "").replace(/^\/+|\/+$/g, "");
  if (p === "") return DEFAULT_METHOD_PATH;
  const i = p.indexOf("/");
  if (i < 0) return `/${p}/Tunnel`;
  return `/${p.slice(0, i)}/${p.slice(i + 1).replaceAll("/", "-")}`;
}

/** Length of `n` as a protobuf varint. */
export function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes `n` as a varint at `off`; returns the new offset. */
export function putVarint(b: Uint8Array, off: number, n: number): number {
  while (n >= 0x80) {
    b[off++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  b[off++] = n;
  return off;
}

/**
 * The gRPC prefix and protobuf header of one `Chunk` message carrying
 * `dataLength` bytes: the payload itself follows. An empty chunk is an
 * empty message (proto3 omits empty fields).
 */
export function chunkHeader(dataLength: number): Uint8Array {
  const body = dataLength === 0 ? 0 : 1 + varintSize(dataLength) + dataLength;
  const head = new Uint8Array(PREFIX_SIZE + (dataLength === 0 ? 0 : 1 + varintSize(dataLength)));
  head[0] = 0;
  new DataView(head.buffer).setUint32(1, body);
  if (dataLength > 0) {
    head[PREFIX_SIZE] = CHUNK_DATA_TAG;
    putVarint(head, PREFIX_SIZE + 1, dataLength);
  }
  return head;
}

/** A whole `Chunk` message with `data` (tests, peers). */
export function encodeChunkMessage(data: Uint8Array): Uint8Array {
  const head = chunkHeader(data.length);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** Raised for bytes that are not a valid gRPC `Chunk` stream; `status` is the gRPC status to report. */
export class GrpcFramingError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "GrpcFramingError";
    this.status = status;
  }
}
