/**
 * HTTP/3 framing (RFC 9114 §7) and QUIC variable-length integers
 * (RFC 9000 §16): the codes, the varint codec, frame headers, SETTINGS and
 * the single-varint frames (GOAWAY, MAX_PUSH_ID, CANCEL_PUSH).
 *
 * Varints decode to JavaScript numbers: exact up to 2^53 - 1, which covers
 * every length, stream id and setting dost acts on. Larger values (greased
 * frame or setting types) lose low bits but can never equal a known type, so
 * they are still ignored correctly.
 *
 * @module
 */

/** HTTP/3 frame types (RFC 9114 §7.2). */
export const FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
} as const;

/** HTTP/2 frame types that must not appear in HTTP/3 (RFC 9114 §7.2.8). */
export const RESERVED_H2_FRAME_TYPES: ReadonlySet<number> = new Set([0x02, 0x06, 0x08, 0x09]);

/** Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2). */
export const StreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
} as const;

/** SETTINGS identifiers (RFC 9114 §7.2.4.1, RFC 9204 §5). */
export const Setting = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
} as const;

/** HTTP/2 settings that must not appear in HTTP/3 (RFC 9114 §7.2.4.1). */
export const RESERVED_H2_SETTINGS: ReadonlySet<number> = new Set([0x02, 0x03, 0x04, 0x05]);

/** HTTP/3 and QPACK error codes (RFC 9114 §8.1, RFC 9204 §6). */
export const ErrorCode = {
  H3_NO_ERROR: 0x100,
  H3_GENERAL_PROTOCOL_ERROR: 0x101,
  H3_INTERNAL_ERROR: 0x102,
  H3_STREAM_CREATION_ERROR: 0x103,
  H3_CLOSED_CRITICAL_STREAM: 0x104,
  H3_FRAME_UNEXPECTED: 0x105,
  H3_FRAME_ERROR: 0x106,
  H3_EXCESSIVE_LOAD: 0x107,
  H3_ID_ERROR: 0x108,
  H3_SETTINGS_ERROR: 0x109,
  H3_MISSING_SETTINGS: 0x10a,
  H3_REQUEST_REJECTED: 0x10b,
  H3_REQUEST_CANCELLED: 0x10c,
  H3_REQUEST_INCOMPLETE: 0x10d,
  H3_MESSAGE_ERROR: 0x10e,
  H3_CONNECT_ERROR: 0x10f,
  H3_VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
} as const;

const ERROR_NAMES = new Map<number, string>(Object.entries(ErrorCode).map(([k, v]) => [v, k]));

/** The name of an HTTP/3 or QPACK error code, or its hex value. */
export function errorName(code: number): string {
  return ERROR_NAMES.get(code) ?? `0x${code.toString(16)}`;
}

/**
 * A protocol violation. `connection` errors close the whole QUIC connection
 * with `code`; stream errors end only the stream they happened on.
 */
export class H3Error extends Error {
  constructor(readonly code: number, message: string, readonly connection = true) {
    super(message);
    this.name = "H3Error";
  }
}

/** Largest value a QUIC varint can carry: 2^62 - 1. */
export const MAX_VARINT = 2 ** 62 - 1;

/** Bytes needed to encode `v` as a varint. */
export function varintLength(v: number): 1 | 2 | 4 | 8 {
  if (v < 0x40) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x4000_0000) return 4;
  return 8;
}

/** Writes `v` into `buf` at `off`; returns the offset after it. */
export function writeVarint(buf: Uint8Array, off: number, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`Cannot encode varint ${v}`);
  const n = varintLength(v);
  if (off + n > buf.length) throw new RangeError(`No room for a ${n}-byte varint`);
  switch (n) {
    case 1:
      buf[off] = v;
      break;
    case 2:
      buf[off] = 0x40 | (v >>> 8);
      buf[off + 1] = v & 0xff;
      break;
    case 4:
      buf[off] = 0x80 | (v >>> 24);
      buf[off + 1] = (v >>> 16) & 0xff;
      buf[off + 2] = (v >>> 8) & 0xff;
      buf[off + 3] = v & 0xff;
      break;
    default: {
      const hi = Math.floor(v / 2 ** 32);
      const lo = v >>> 0;
      buf[off] = 0xc0 | (hi >>> 24);
      buf[off + 1] = (hi >>> 16) & 0xff;
      buf[off + 2] = (hi >>> 8) & 0xff;
      buf[off + 3] = hi & 0xff;
      buf[off + 4] = lo >>> 24;
      buf[off + 5] = (lo >>> 16) & 0xff;
      buf[off + 6] = (lo >>> 8) & 0xff;
      buf[off + 7] = lo & 0xff;
    }
  }
  return off + n;
}

/** `v` as a varint. */
export function encodeVarint(v: number): Uint8Array {
  const out = new Uint8Array(varintLength(v));
  writeVarint(out, 0, v);
  return out;
}

/** A decoded varint and the bytes it took. */
export interface Varint {
  value: number;
  length: number;
}

/** Decodes the varint at `off`, or returns `null` when `buf` ends inside it. */
export function readVarint(buf: Uint8Array, off = 0): Varint | null {
  if (off >= buf.length) return null;
  const first = buf[off];
  const length = 1 << (first >> 6);
  if (off + length > buf.length) return null;
  let value = first & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + buf[off + i];
  return { value, length };
}

/** A frame's type and payload length. */
export interface FrameHeader {
  type: number;
  length: number;
}

/** The type and length varints that start a frame. */
export function encodeFrameHeader(type: number, length: number): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(length));
  writeVarint(out, writeVarint(out, 0, type), length);
  return out;
}

/** A whole frame: header and payload in one buffer. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const hl = varintLength(type) + varintLength(payload.length);
  const out = new Uint8Array(hl + payload.length);
  writeVarint(out, writeVarint(out, 0, type), payload.length);
  out.set(payload, hl);
  return out;
}

/** Decodes a frame header at `off`; `null` when incomplete. */
export function readFrameHeader(buf: Uint8Array, off = 0): (FrameHeader & { size: number }) | null {
  const t = readVarint(buf, off);
  if (!t) return null;
  const l = readVarint(buf, off + t.length);
  if (!l) return null;
  return { type: t.value, length: l.value, size: t.length + l.length };
}

/** A SETTINGS frame carrying `settings` in order. */
export function encodeSettings(settings: Iterable<readonly [number, number]>): Uint8Array {
  const parts: number[] = [];
  for (const [id, value] of settings) parts.push(id, value);
  let n = 0;
  for (const v of parts) n += varintLength(v);
  const payload = new Uint8Array(n);
  let off = 0;
  for (const v of parts) off = writeVarint(payload, off, v);
  return encodeFrame(FrameType.SETTINGS, payload);
}

/**
 * Parses a SETTINGS payload. Duplicates and HTTP/2 settings are
 * H3_SETTINGS_ERROR; a truncated pair is H3_FRAME_ERROR. Unknown
 * identifiers are kept (callers ignore them).
 */
export function decodeSettings(payload: Uint8Array): Map<number, number> {
  const out = new Map<number, number>();
  let off = 0;
  while (off < payload.length) {
    const id = readVarint(payload, off);
    const value = id && readVarint(payload, off + id.length);
    if (!id || !value) throw new H3Error(ErrorCode.H3_FRAME_ERROR, "Truncated SETTINGS frame");
    if (RESERVED_H2_SETTINGS.has(id.value)) {
      throw new H3Error(ErrorCode.H3_SETTINGS_ERROR, `HTTP/2 setting 0x${id.value.toString(16)} in SETTINGS`);
    }
    if (out.has(id.value)) {
      throw new H3Error(ErrorCode.H3_SETTINGS_ERROR, `Duplicate setting 0x${id.value.toString(16)}`);
    }
    out.set(id.value, value.value);
    off += id.length + value.length;
  }
  return out;
}

/** Decodes a payload that must be exactly one varint (GOAWAY, MAX_PUSH_ID, CANCEL_PUSH). */
export function decodeSingleVarint(payload: Uint8Array, frame: string): number {
  const v = readVarint(payload, 0);
  if (!v || v.length !== payload.length) throw new H3Error(ErrorCode.H3_FRAME_ERROR, `Malformed ${frame} frame`);
  return v.value;
}

/** A GOAWAY frame naming the first request stream id that will not be processed. */
export function encodeGoaway(id: number): Uint8Array {
  return encodeFrame(FrameType.GOAWAY, encodeVarint(id));
}
