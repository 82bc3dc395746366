/**
 * The wire constants and small codecs of WebTransport over HTTP/3 as
 * quic-go/webtransport-go v0.9.0 (gost 3.2.6) speaks it: draft-ietf-webtrans-http3-02
 * with RFC 9297 capsules and datagrams.
 *
 * - SETTINGS: ENABLE_WEBTRANSPORT (0x2b603742) = 1, H3_DATAGRAM (0x33) = 1,
 *   and from the server ENABLE_CONNECT_PROTOCOL (0x08) = 1. QUIC datagram
 *   support must be negotiated too (Deno's QUIC always offers it).
 * - A session is an extended CONNECT (`:protocol webtransport`) on a request
 *   stream, with `sec-webtransport-http3-draft02: 1`; the server answers 2xx
 *   with `sec-webtransport-http3-draft: draft02`. Its id is that stream's id.
 * - A bidirectional stream of the session starts with the varints 0x41
 *   (WEBTRANSPORT_STREAM) and the session id, then carries raw bytes.
 * - After the response, the CONNECT stream carries capsules inside DATA
 *   frames; CLOSE_WEBTRANSPORT_SESSION (0x2843: u32 code, message) or a FIN
 *   ends the session and every stream of it.
 *
 * @module
 */
import { encodeFrame, FrameType, readVarint, varintLength, writeVarint } from "../_h3/frames.ts";

/** SETTINGS_ENABLE_WEBTRANSPORT (draft-02). */
export const SETTINGS_ENABLE_WEBTRANSPORT = 0x2b603742;
/** SETTINGS_H3_DATAGRAM (RFC 9297). */
export const SETTINGS_H3_DATAGRAM = 0x33;
/** SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220). */
export const SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x08;
/** The signal value that opens a WebTransport bidirectional stream. */
export const WT_BIDI_STREAM = 0x41;
/** The type of a WebTransport unidirectional stream. */
export const WT_UNI_STREAM = 0x54;
/** The CLOSE_WEBTRANSPORT_SESSION capsule type. */
export const CLOSE_SESSION_CAPSULE = 0x2843;
/** H3_DATAGRAM_ERROR (RFC 9297): a malformed datagram. */
export const H3_DATAGRAM_ERROR = 0x33;
/** The request header a draft-02 client sends, and its value. */
export const DRAFT_OFFER_HEADER = "sec-webtransport-http3-draft02";
/** The response header a draft-02 server sends, and its value. */
export const DRAFT_HEADER = "sec-webtransport-http3-draft";
export const DRAFT_VALUE = "draft02";
/** Largest CLOSE_WEBTRANSPORT_SESSION message the draft allows, in bytes. */
export const MAX_CLOSE_MESSAGE = 1024;

/** The settings a client sends. */
export const CLIENT_SETTINGS: readonly (readonly [number, number])[] = [
  [SETTINGS_H3_DATAGRAM, 1],
  [SETTINGS_ENABLE_WEBTRANSPORT, 1],
];
/** The settings a server sends. */
export const SERVER_SETTINGS: readonly (readonly [number, number])[] = [
  [SETTINGS_ENABLE_CONNECT_PROTOCOL, 1],
  [SETTINGS_H3_DATAGRAM, 1],
  [SETTINGS_ENABLE_WEBTRANSPORT, 1],
];

/** The prefix of a bidirectional stream of session `id`. */
export function streamHeader(id: number): Uint8Array {
  const out = new Uint8Array(varintLength(WT_BIDI_STREAM) + varintLength(id));
  writeVarint(out, writeVarint(out, 0, WT_BIDI_STREAM), id);
  return out;
}

/** A DATA frame carrying a CLOSE_WEBTRANSPORT_SESSION capsule. */
export function closeCapsuleFrame(code: number, message: string): Uint8Array {
  const msg = new TextEncoder().encode(message).subarray(0, MAX_CLOSE_MESSAGE);
  const value = new Uint8Array(4 + msg.length);
  new DataView(value.buffer).setUint32(0, code >>> 0);
  value.set(msg, 4);
  const capsule = new Uint8Array(varintLength(CLOSE_SESSION_CAPSULE) + varintLength(value.length) + value.length);
  const off = writeVarint(capsule, writeVarint(capsule, 0, CLOSE_SESSION_CAPSULE), value.length);
  capsule.set(value, off);
  return encodeFrame(FrameType.DATA, capsule);
}

/** How a session ended, as the peer said. */
export interface CloseInfo {
  code: number;
  message: string;
}

/** Raised for a malformed capsule sequence: the session is closed. */
export class CapsuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CapsuleError";
  }
}

/**
 * Parses the capsule byte stream of a CONNECT stream (the concatenated DATA
 * payloads) incrementally. Unknown capsules are skipped without being held;
 * only a CLOSE capsule is collected, and it may be at most
 * 4 + {@linkcode MAX_CLOSE_MESSAGE} bytes, so memory stays bounded whatever
 * the peer sends.
 */
export class CapsuleParser {
  #head = new Uint8Array(16); // type and length varints
  #headLen = 0;
  #type = -1;
  #left = 0; // value bytes still to come
  #value: Uint8Array | undefined; // collected CLOSE value
  #valueLen = 0;

  /** Feeds bytes; returns the CLOSE capsule's content once complete, else undefined. */
  push(bytes: Uint8Array): CloseInfo | undefined {
    let off = 0;
    while (off < bytes.length) {
      if (this.#type < 0) {
        // Gather the two varints byte by byte (at most 16 bytes).
        this.#head[this.#headLen++] = bytes[off++];
        const t = readVarint(this.#head.subarray(0, this.#headLen), 0);
        const l = t && readVarint(this.#head.subarray(0, this.#headLen), t.length);
        if (!t || !l) continue;
        this.#headLen = 0;
        this.#type = t.value;
        this.#left = l.value;
        if (this.#type === CLOSE_SESSION_CAPSULE) {
          if (this.#left < 4 || this.#left > 4 + MAX_CLOSE_MESSAGE) {
            throw new CapsuleError(`CLOSE_WEBTRANSPORT_SESSION capsule of ${this.#left} bytes`);
          }
          this.#value = new Uint8Array(this.#left);
          this.#valueLen = 0;
        }
      }
      const k = Math.min(this.#left, bytes.length - off);
      if (this.#value) this.#value.set(bytes.subarray(off, off + k), this.#valueLen);
      this.#valueLen += k;
      this.#left -= k;
      off += k;
      if (this.#left === 0) {
        const v = this.#value;
        this.#type = -1;
        this.#value = undefined;
        if (v) {
          return {
            code: new DataView(v.buffer, v.byteOffset).getUint32(0),
            message: new TextDecoder().decode(v.subarray(4)),
          };
        }
      }
    }
    return undefined;
  }

  /** True when the stream may end here (not inside a capsule). */
  get idle(): boolean {
    return this.#type < 0 && this.#headLen === 0;
  }
}
