/**
 * smux frame layout (xtaci/smux v1.5.31, spec websocket.md §5.1):
 *
 * ```
 * VER(1) CMD(1) LENGTH(u16 LE) SID(u32 LE) DATA(LENGTH)
 * ```
 *
 * @module
 */

/** Size of every frame header. */
export const HEADER_SIZE = 8;
/** Largest payload a LENGTH field can carry; receivers must accept it. */
export const MAX_PAYLOAD = 0xffff;

/** Open stream `sid`. */
export const CMD_SYN = 0;
/** Sender closed stream `sid` (no half-close in smux). */
export const CMD_FIN = 1;
/** Stream data. */
export const CMD_PSH = 2;
/** Keepalive, `sid` 0. */
export const CMD_NOP = 3;
/** Version 2 window update: consumed(u32 LE) ‖ window(u32 LE). */
export const CMD_UPD = 4;

/** Payload size of an UPD frame. */
export const UPD_SIZE = 8;

/** A decoded frame header. */
export interface FrameHeader {
  version: number;
  cmd: number;
  length: number;
  sid: number;
}

/** Writes a header at `off` of `buf`. */
export function putHeader(buf: Uint8Array, off: number, version: number, cmd: number, length: number, sid: number) {
  buf[off] = version;
  buf[off + 1] = cmd;
  buf[off + 2] = length & 0xff;
  buf[off + 3] = length >>> 8;
  buf[off + 4] = sid & 0xff;
  buf[off + 5] = (sid >>> 8) & 0xff;
  buf[off + 6] = (sid >>> 16) & 0xff;
  buf[off + 7] = sid >>> 24;
}

/** Reads a u32 LE at `off`. */
export function getU32(buf: Uint8Array, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
}

/** Reads the header at `off`; the caller guarantees 8 bytes are there. */
export function decodeHeader(buf: Uint8Array, off = 0): FrameHeader {
  return {
    version: buf[off],
    cmd: buf[off + 1],
    length: buf[off + 2] | (buf[off + 3] << 8),
    sid: getU32(buf, off + 4),
  };
}

/**
 * Builds a whole frame in one allocation, so it goes out in one write (one
 * WebSocket message for mws). `payload` must be at most 65535 bytes.
 */
export function encodeFrame(version: number, cmd: number, sid: number, payload?: Uint8Array): Uint8Array {
  const len = payload ? payload.length : 0;
  if (len > MAX_PAYLOAD) throw new RangeError(`smux frame payload too large: ${len} bytes`);
  const out = new Uint8Array(HEADER_SIZE + len);
  putHeader(out, 0, version, cmd, len, sid);
  if (len > 0) out.set(payload!, HEADER_SIZE);
  return out;
}

/** Builds a version 2 window update frame. */
export function encodeUpd(version: number, sid: number, consumed: number, window: number): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE + UPD_SIZE);
  putHeader(out, 0, version, CMD_UPD, UPD_SIZE, sid);
  const dv = new DataView(out.buffer);
  dv.setUint32(HEADER_SIZE, consumed >>> 0, true);
  dv.setUint32(HEADER_SIZE + 4, window >>> 0, true);
  return out;
}
