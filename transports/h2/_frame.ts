/**
 * HTTP/2 frame layout (RFC 9113 §4, §6): constants, the 9-byte header, and
 * SETTINGS / GOAWAY / RST_STREAM / WINDOW_UPDATE / PING payloads.
 *
 * @module
 */

/** Bytes of a frame header. */
export const FRAME_HEADER_SIZE = 9;

/** The client connection preface (RFC 9113 §3.4). */
export const PREFACE: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

// Frame types.
export const DATA = 0x0;
export const HEADERS = 0x1;
export const PRIORITY = 0x2;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const PUSH_PROMISE = 0x5;
export const PING = 0x6;
export const GOAWAY = 0x7;
export const WINDOW_UPDATE = 0x8;
export const CONTINUATION = 0x9;

// Flags.
export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

// SETTINGS identifiers.
export const SETTINGS_HEADER_TABLE_SIZE = 0x1;
export const SETTINGS_ENABLE_PUSH = 0x2;
export const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
export const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
export const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const SETTINGS_MAX_HEADER_LIST_SIZE = 0x6;

/** Error codes (RFC 9113 §7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const ERROR_NAMES = Object.fromEntries(Object.entries(ErrorCode).map(([k, v]) => [v, k])) as Record<number, string>;

/** `CANCEL`, `PROTOCOL_ERROR`, … or `0x1f` for unknown codes. */
export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** Smallest and largest legal SETTINGS_MAX_FRAME_SIZE. */
export const MIN_MAX_FRAME_SIZE = 16_384;
export const MAX_MAX_FRAME_SIZE = 16_777_215;
/** Largest flow-control window (2^31 - 1). */
export const MAX_WINDOW = 0x7fffffff;
/** Window every stream and the connection start with. */
export const DEFAULT_WINDOW = 65_535;

/** Writes a frame header at `off`. */
export function putFrameHeader(b: Uint8Array, off: number, length: number, type: number, flags: number, id: number) {
  b[off] = length >>> 16;
  b[off + 1] = (length >>> 8) & 0xff;
  b[off + 2] = length & 0xff;
  b[off + 3] = type;
  b[off + 4] = flags;
  putU32(b, off + 5, id & 0x7fffffff);
}

export function putU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

export function getU32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

/** A whole frame: header plus `payload`. */
export function frameBytes(type: number, flags: number, id: number, payload?: Uint8Array): Uint8Array {
  const n = payload?.length ?? 0;
  const out = new Uint8Array(FRAME_HEADER_SIZE + n);
  putFrameHeader(out, 0, n, type, flags, id);
  if (payload) out.set(payload, FRAME_HEADER_SIZE);
  return out;
}

/** A SETTINGS frame with the given `[id, value]` pairs (or an ACK). */
export function settingsFrame(settings: [number, number][], ack = false): Uint8Array {
  const p = new Uint8Array(settings.length * 6);
  settings.forEach(([id, v], i) => {
    p[i * 6] = id >>> 8;
    p[i * 6 + 1] = id & 0xff;
    putU32(p, i * 6 + 2, v);
  });
  return frameBytes(SETTINGS, ack ? FLAG_ACK : 0, 0, p);
}

/** Parses a SETTINGS payload into `[id, value]` pairs. */
export function parseSettings(p: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i + 6 <= p.length; i += 6) out.push([(p[i] << 8) | p[i + 1], getU32(p, i + 2)]);
  return out;
}

/** True when a SETTINGS payload is well formed and every known value is in range (RFC 9113 §6.5.2). */
export function validSettings(p: Uint8Array): boolean {
  if (p.length % 6 !== 0) return false;
  for (const [id, v] of parseSettings(p)) {
    if (id === SETTINGS_ENABLE_PUSH && v > 1) return false;
    if (id === SETTINGS_INITIAL_WINDOW_SIZE && v > MAX_WINDOW) return false;
    if (id === SETTINGS_MAX_FRAME_SIZE && (v < MIN_MAX_FRAME_SIZE || v > MAX_MAX_FRAME_SIZE)) return false;
  }
  return true;
}

export function windowUpdateFrame(id: number, increment: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_SIZE + 4);
  putFrameHeader(out, 0, 4, WINDOW_UPDATE, 0, id);
  putU32(out, FRAME_HEADER_SIZE, increment);
  return out;
}

export function rstStreamFrame(id: number, code: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_SIZE + 4);
  putFrameHeader(out, 0, 4, RST_STREAM, 0, id);
  putU32(out, FRAME_HEADER_SIZE, code);
  return out;
}

export function goawayFrame(lastStreamId: number, code: number, debug = ""): Uint8Array {
  const d = new TextEncoder().encode(debug);
  const p = new Uint8Array(8 + d.length);
  putU32(p, 0, lastStreamId & 0x7fffffff);
  putU32(p, 4, code);
  p.set(d, 8);
  return frameBytes(GOAWAY, 0, 0, p);
}

export function pingFrame(data: Uint8Array, ack = false): Uint8Array {
  return frameBytes(PING, ack ? FLAG_ACK : 0, 0, data);
}
