/**
 * RFC 6455 frame layout: header encoding and parsing, and payload masking.
 *
 * ```
 *  0               1               2               3
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               | Masking-key, if MASK set to 1 |
 * +-------------------------------+-------------------------------+
 * ```
 *
 * @module
 */

/** Frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** Close status codes dost sends or recognises (RFC 6455 §7.4.1). */
export const CloseCode = {
  Normal: 1000,
  ProtocolError: 1002,
  /** Reserved: "no status code was present"; never sent on the wire. */
  NoStatus: 1005,
  MessageTooBig: 1009,
} as const;

/**
 * The largest frame payload dost accepts; a longer frame is refused with
 * close code 1009. Writes longer than this are split into several messages.
 * @default 67108864 (64 MiB)
 */
export const MAX_FRAME_SIZE = 64 * 1024 * 1024;

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** Largest frame header: 2 + 8 (64-bit length) + 4 (mask key). */
export const MAX_HEADER_SIZE = 14;

/** A violation of RFC 6455 by the peer; `closeCode` is what dost sends back. */
export class ProtocolError extends Error {
  readonly closeCode: number;
  constructor(message: string, closeCode: number = CloseCode.ProtocolError) {
    super(message);
    this.name = "ProtocolError";
    this.closeCode = closeCode;
  }
}

/** A parsed frame header. */
export interface FrameHeader {
  fin: boolean;
  /** The three RSV bits, as the high nibble of byte 0 without FIN (0 when no extension is used). */
  rsv: number;
  opcode: number;
  masked: boolean;
  /** Payload length in bytes. */
  length: number;
  /** The 4-byte masking key, or null for unmasked frames. */
  maskKey: Uint8Array | null;
  /** Bytes the header took on the wire (2–14). */
  headerLength: number;
}

/** Whether `opcode` is a control opcode (close, ping, pong, reserved 0xB–0xF). */
export function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Header size of a frame with `length` payload bytes. */
export function headerLength(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `out` at offset 0 and returns its length. With
 * `maskKey`, the MASK bit is set and the key follows the length.
 */
export function writeHeader(
  out: Uint8Array,
  fin: boolean,
  opcode: number,
  length: number,
  maskKey?: Uint8Array,
): number {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`Invalid frame length ${length}`);
  out[0] = (fin ? 0x80 : 0) | (opcode & 0x0f);
  const maskBit = maskKey ? 0x80 : 0;
  let off: number;
  if (length < 126) {
    out[1] = maskBit | length;
    off = 2;
  } else if (length <= 0xffff) {
    out[1] = maskBit | 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
    off = 4;
  } else {
    out[1] = maskBit | 127;
    const hi = Math.floor(length / 0x1_0000_0000);
    const lo = length >>> 0;
    out[2] = hi >>> 24;
    out[3] = (hi >>> 16) & 0xff;
    out[4] = (hi >>> 8) & 0xff;
    out[5] = hi & 0xff;
    out[6] = lo >>> 24;
    out[7] = (lo >>> 16) & 0xff;
    out[8] = (lo >>> 8) & 0xff;
    out[9] = lo & 0xff;
    off = 10;
  }
  if (maskKey) {
    out[off] = maskKey[0];
    out[off + 1] = maskKey[1];
    out[off + 2] = maskKey[2];
    out[off + 3] = maskKey[3];
    off += 4;
  }
  return off;
}

/**
 * Parses the frame header at the start of `buf`. Returns null when `buf`
 * holds too few bytes for the whole header. Throws `ProtocolError` for a
 * 64-bit length with the top bit set and for lengths above `maxLength`
 * (close code 1009). Opcode and mask rules are the caller's to check.
 */
export function parseHeader(buf: Uint8Array, maxLength: number = MAX_FRAME_SIZE): FrameHeader | null {
  if (buf.length < 2) return null;
  const b0 = buf[0];
  const b1 = buf[1];
  const masked = (b1 & 0x80) !== 0;
  const len7 = b1 & 0x7f;
  let off = 2;
  let length: number;
  if (len7 < 126) {
    length = len7;
  } else if (len7 === 126) {
    if (buf.length < 4) return null;
    length = (buf[2] << 8) | buf[3];
    off = 4;
  } else {
    if (buf.length < 10) return null;
    if (buf[2] & 0x80) throw new ProtocolError("Invalid frame length: most significant bit set");
    const hi = ((buf[2] << 24) | (buf[3] << 16) | (buf[4] << 8) | buf[5]) >>> 0;
    const lo = ((buf[6] << 24) | (buf[7] << 16) | (buf[8] << 8) | buf[9]) >>> 0;
    length = hi * 0x1_0000_0000 + lo;
    off = 10;
  }
  if (length > maxLength) {
    throw new ProtocolError(`Frame of ${length} bytes exceeds the ${maxLength}-byte limit`, CloseCode.MessageTooBig);
  }
  let maskKey: Uint8Array | null = null;
  if (masked) {
    if (buf.length < off + 4) return null;
    maskKey = buf.slice(off, off + 4);
    off += 4;
  }
  return { fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, length, maskKey, headerLength: off };
}

const rotated = new Uint8Array(4);
const rotatedWord = new Uint32Array(rotated.buffer);

/**
 * XORs `buf` in place with the 4-byte `key`, starting at key phase `pos`
 * (the payload offset of `buf[0]`, mod 4). Returns the phase after `buf`.
 * Works on 32-bit words for the aligned middle of the buffer.
 */
export function maskBytes(buf: Uint8Array, key: Uint8Array, pos = 0): number {
  const n = buf.length;
  let i = 0;
  pos &= 3;
  if (n >= 16) {
    // Bytes up to the first 4-byte-aligned address.
    const lead = (4 - (buf.byteOffset & 3)) & 3;
    for (; i < lead; i++) buf[i] ^= key[(pos + i) & 3];
    const phase = (pos + lead) & 3;
    rotated[0] = key[phase];
    rotated[1] = key[(phase + 1) & 3];
    rotated[2] = key[(phase + 2) & 3];
    rotated[3] = key[(phase + 3) & 3];
    const w = rotatedWord[0];
    const words = (n - lead) >>> 2;
    const u32 = new Uint32Array(buf.buffer, buf.byteOffset + lead, words);
    let k = 0;
    const end8 = words & ~7;
    for (; k < end8; k += 8) {
      u32[k] ^= w;
      u32[k + 1] ^= w;
      u32[k + 2] ^= w;
      u32[k + 3] ^= w;
      u32[k + 4] ^= w;
      u32[k + 5] ^= w;
      u32[k + 6] ^= w;
      u32[k + 7] ^= w;
    }
    for (; k < words; k++) u32[k] ^= w;
    i = lead + words * 4;
  }
  for (; i < n; i++) buf[i] ^= key[(pos + i) & 3];
  return (pos + n) & 3;
}

const KEY_POOL_SIZE = 4096;
const keyPool = new Uint8Array(KEY_POOL_SIZE);
let keyPoolPos = KEY_POOL_SIZE;

/** Writes a fresh random 4-byte masking key into `out` at `offset`. */
export function randomMaskKey(out: Uint8Array, offset = 0): void {
  if (keyPoolPos === KEY_POOL_SIZE) {
    crypto.getRandomValues(keyPool);
    keyPoolPos = 0;
  }
  out[offset] = keyPool[keyPoolPos];
  out[offset + 1] = keyPool[keyPoolPos + 1];
  out[offset + 2] = keyPool[keyPoolPos + 2];
  out[offset + 3] = keyPool[keyPoolPos + 3];
  keyPoolPos += 4;
}

/** Options of `encodeFrame`. */
export interface EncodeOptions {
  /** Set FIN. @default true */
  fin?: boolean;
  /** Mask the payload: `true` for a random key, or the key to use. @default false */
  mask?: boolean | Uint8Array;
}

/**
 * Encodes one complete frame (header and payload, masked when asked) into a
 * new buffer. `payload` is not modified.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, opts: EncodeOptions = {}): Uint8Array {
  const masked = opts.mask !== undefined && opts.mask !== false;
  const hlen = headerLength(payload.length, masked);
  // Leading pad so the payload starts 4-byte aligned for word-wise masking.
  const pad = masked ? (4 - (hlen & 3)) & 3 : 0;
  const frame = new Uint8Array(pad + hlen + payload.length).subarray(pad);
  let key: Uint8Array | undefined;
  if (masked) {
    key = opts.mask instanceof Uint8Array ? opts.mask : new Uint8Array(4);
    if (opts.mask === true) randomMaskKey(key);
  }
  writeHeader(frame, opts.fin ?? true, opcode, payload.length, key);
  frame.set(payload, hlen);
  if (key) maskBytes(frame.subarray(hlen), key, 0);
  return frame;
}

/** Builds a close frame payload: the status code, big-endian, then the UTF-8 reason. */
export function closePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined || code === CloseCode.NoStatus) return new Uint8Array(0);
  const text = new TextEncoder().encode(reason);
  if (text.length > MAX_CONTROL_PAYLOAD - 2) throw new RangeError(`Close reason of ${text.length} bytes is too long`);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}
