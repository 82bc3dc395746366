/**
 * QPACK field compression (RFC 9204) without a dynamic table: dost
 * advertises SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0, so a peer may only use
 * the static table (Appendix A) and literals, with or without Huffman coding
 * (RFC 7541 §5.2). Any reference to the dynamic table is
 * QPACK_DECOMPRESSION_FAILED. The encoder uses static references and
 * literals, Huffman-coding a string when that makes it shorter.
 *
 * Field names and values are byte strings: one JavaScript character per
 * byte (Latin-1), the representation `Headers` uses.
 *
 * @module
 */
import { ErrorCode, H3Error } from "./frames.ts";
import { huffmanDecode, huffmanEncode, huffmanEncodedLength, HuffmanError } from "../_hpack/huffman.ts";

/** The QPACK static table, RFC 9204 Appendix A (index = position). */
// deno-fmt-ignore
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""], [":path", "/"], ["age", "0"], ["content-disposition", ""], ["content-length", "0"],
  ["cookie", ""], ["date", ""], ["etag", ""], ["if-modified-since", ""], ["if-none-match", ""],
  ["last-modified", ""], ["link", ""], ["location", ""], ["referer", ""], ["set-cookie", ""],
  [":method", "CONNECT"], [":method", "DELETE"], [":method", "GET"], [":method", "HEAD"], [":method", "OPTIONS"],
  [":method", "POST"], [":method", "PUT"], [":scheme", "http"], [":scheme", "https"], [":status", "103"],
  [":status", "200"], [":status", "304"], [":status", "404"], [":status", "503"], ["accept", "*/*"],
  ["accept", "application/dns-message"], ["accept-encoding", "gzip, deflate, br"], ["accept-ranges", "bytes"],
  ["access-control-allow-headers", "cache-control"], ["access-control-allow-headers", "content-type"],
  ["access-control-allow-origin", "*"], ["cache-control", "max-age=0"], ["cache-control", "max-age=2592000"],
  ["cache-control", "max-age=604800"], ["cache-control", "no-cache"], ["cache-control", "no-store"],
  ["cache-control", "public, max-age=31536000"], ["content-encoding", "br"], ["content-encoding", "gzip"],
  ["content-type", "application/dns-message"], ["content-type", "application/javascript"],
  ["content-type", "application/json"], ["content-type", "application/x-www-form-urlencoded"],
  ["content-type", "image/gif"], ["content-type", "image/jpeg"], ["content-type", "image/png"],
  ["content-type", "text/css"], ["content-type", "text/html; charset=utf-8"], ["content-type", "text/plain"],
  ["content-type", "text/plain;charset=utf-8"], ["range", "bytes=0-"],
  ["strict-transport-security", "max-age=31536000"],
  ["strict-transport-security", "max-age=31536000; includesubdomains"],
  ["strict-transport-security", "max-age=31536000; includesubdomains; preload"], ["vary", "accept-encoding"],
  ["vary", "origin"], ["x-content-type-options", "nosniff"], ["x-xss-protection", "1; mode=block"],
  [":status", "100"], [":status", "204"], [":status", "206"], [":status", "302"], [":status", "400"],
  [":status", "403"], [":status", "421"], [":status", "425"], [":status", "500"], ["accept-language", ""],
  ["access-control-allow-credentials", "FALSE"], ["access-control-allow-credentials", "TRUE"],
  ["access-control-allow-headers", "*"], ["access-control-allow-methods", "get"],
  ["access-control-allow-methods", "get, post, options"], ["access-control-allow-methods", "options"],
  ["access-control-expose-headers", "content-length"], ["access-control-request-headers", "content-type"],
  ["access-control-request-method", "get"], ["access-control-request-method", "post"], ["alt-svc", "clear"],
  ["authorization", ""], ["content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"],
  ["early-data", "1"], ["expect-ct", ""], ["forwarded", ""], ["if-range", ""], ["origin", ""],
  ["purpose", "prefetch"], ["server", ""], ["timing-allow-origin", "*"], ["upgrade-insecure-requests", "1"],
  ["user-agent", ""], ["x-forwarded-for", ""], ["x-frame-options", "deny"], ["x-frame-options", "sameorigin"],
];

const EXACT = new Map<string, number>();
const BY_NAME = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  const key = `${name}\0${value}`;
  if (!EXACT.has(key)) EXACT.set(key, i);
  if (!BY_NAME.has(name)) BY_NAME.set(name, i);
});

/** A field line: lower-case name and value, both byte strings. */
export type Field = [name: string, value: string];

/**
 * Bound on a decoded field section, counted as RFC 9114 §4.2.2 does (name +
 * value + 32 per line); dost advertises it as SETTINGS_MAX_FIELD_SECTION_SIZE.
 * @default 65536
 */
export const DEFAULT_MAX_FIELD_SECTION_SIZE = 64 * 1024;

/** Names that are never worth indexing by an intermediary (the N bit). */
const SENSITIVE = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie"]);

function decompressionFailed(message: string): H3Error {
  return new H3Error(ErrorCode.QPACK_DECOMPRESSION_FAILED, message);
}

/** A prefix integer (RFC 7541 §5.1) and where it ended. */
export interface PrefixInt {
  value: number;
  next: number;
}

/**
 * Decodes an integer with an `n`-bit prefix starting at `buf[off]`. Returns
 * `null` when the buffer ends inside it; throws a RangeError above 2^53.
 */
export function decodePrefixInt(buf: Uint8Array, off: number, n: number): PrefixInt | null {
  if (off >= buf.length) return null;
  const max = (1 << n) - 1;
  let value = buf[off] & max;
  off++;
  if (value < max) return { value, next: off };
  let shift = 0;
  for (;;) {
    if (off >= buf.length) return null;
    const b = buf[off++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!Number.isSafeInteger(value) || shift > 63) throw new RangeError("QPACK integer too large");
    if ((b & 0x80) === 0) return { value, next: off };
  }
}

/** Appends an integer with an `n`-bit prefix; `flags` fills the bits above the prefix. */
export function encodePrefixInt(out: number[], flags: number, n: number, value: number): void {
  const max = (1 << n) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

function bytesToLatin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

function latin1ToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) throw new TypeError(`Field contains a non-Latin-1 character: ${JSON.stringify(s)}`);
    out[i] = c;
  }
  return out;
}

/**
 * Reads a string literal whose length has an `n`-bit prefix and whose H flag
 * is the bit just above it. `budget` bounds the decoded length.
 */
function decodeString(buf: Uint8Array, off: number, n: number, budget: number): { value: string; next: number } {
  const huffman = (buf[off] & (1 << n)) !== 0;
  let len: PrefixInt | null;
  try {
    len = decodePrefixInt(buf, off, n);
  } catch {
    throw decompressionFailed("QPACK string length too large");
  }
  if (!len || len.next + len.value > buf.length) throw decompressionFailed("Truncated QPACK string");
  const raw = buf.subarray(len.next, len.next + len.value);
  let bytes = raw;
  if (huffman) {
    try {
      bytes = huffmanDecode(raw, budget);
    } catch (err) {
      if (err instanceof HuffmanError && err.tooLong) throw tooLarge(budget);
      throw decompressionFailed(err instanceof Error ? err.message : String(err));
    }
  } else if (raw.length > budget) {
    throw tooLarge(budget);
  }
  return { value: bytesToLatin1(bytes), next: len.next + len.value };
}

function tooLarge(limit: number): H3Error {
  // Not a connection error: the request can be refused with 431 (RFC 9114 §4.2.2).
  return new H3Error(ErrorCode.H3_EXCESSIVE_LOAD, `Field section larger than ${limit} bytes`, false);
}

/**
 * Decodes an encoded field section (the payload of a HEADERS frame).
 * Dynamic-table references and malformed input throw an H3Error with
 * QPACK_DECOMPRESSION_FAILED (a connection error); a section larger than
 * `maxSize` throws a stream-level H3_EXCESSIVE_LOAD.
 */
export function decodeFieldSection(buf: Uint8Array, maxSize = DEFAULT_MAX_FIELD_SECTION_SIZE): Field[] {
  let ric: PrefixInt | null;
  let base: PrefixInt | null;
  try {
    ric = decodePrefixInt(buf, 0, 8);
    base = ric && decodePrefixInt(buf, ric.next, 7);
  } catch {
    throw decompressionFailed("QPACK prefix integer too large");
  }
  if (!ric || !base) throw decompressionFailed("Truncated field section prefix");
  // With a table capacity of 0 the only valid Required Insert Count is 0 (RFC 9204 §4.5.1.1).
  if (ric.value !== 0) throw decompressionFailed("Field section references the dynamic table");
  const fields: Field[] = [];
  let size = 0;
  let off = base.next;
  const budget = () => Math.max(0, maxSize - size - 32);
  const add = (name: string, value: string) => {
    size += name.length + value.length + 32;
    if (size > maxSize) throw tooLarge(maxSize);
    fields.push([name, value]);
  };
  const staticEntry = (index: number) => {
    const e = STATIC_TABLE[index];
    if (!e) throw decompressionFailed(`Static table index ${index} out of range`);
    return e;
  };
  while (off < buf.length) {
    const b = buf[off];
    let idx: PrefixInt | null;
    try {
      if (b & 0x80) {
        // Indexed field line: 1 T index(6)
        if ((b & 0x40) === 0) throw decompressionFailed("Indexed field line references the dynamic table");
        idx = decodePrefixInt(buf, off, 6);
        if (!idx) throw decompressionFailed("Truncated indexed field line");
        const [name, value] = staticEntry(idx.value);
        add(name, value);
        off = idx.next;
      } else if (b & 0x40) {
        // Literal with name reference: 01 N T index(4)
        if ((b & 0x10) === 0) throw decompressionFailed("Literal field line references the dynamic table");
        idx = decodePrefixInt(buf, off, 4);
        if (!idx || idx.next >= buf.length) throw decompressionFailed("Truncated literal field line");
        const [name] = staticEntry(idx.value);
        const v = decodeString(buf, idx.next, 7, budget());
        add(name, v.value);
        off = v.next;
      } else if (b & 0x20) {
        // Literal with literal name: 001 N H len(3)
        const n = decodeString(buf, off, 3, budget());
        if (n.next >= buf.length) throw decompressionFailed("Truncated literal field line");
        const v = decodeString(buf, n.next, 7, budget());
        add(n.value, v.value);
        off = v.next;
      } else {
        // 0001 xxxx (post-base index) and 0000 xxxx (post-base name reference)
        throw decompressionFailed("Field line references the dynamic table (post-base)");
      }
    } catch (err) {
      if (err instanceof H3Error) throw err;
      throw decompressionFailed(err instanceof Error ? err.message : String(err));
    }
  }
  return fields;
}

function pushString(out: number[], flags: number, n: number, s: string, huffman: boolean): void {
  const raw = latin1ToBytes(s);
  if (huffman && raw.length > 0) {
    const hlen = huffmanEncodedLength(raw);
    if (hlen < raw.length) {
      encodePrefixInt(out, flags | (1 << n), n, hlen);
      for (const b of huffmanEncode(raw)) out.push(b);
      return;
    }
  }
  encodePrefixInt(out, flags, n, raw.length);
  for (const b of raw) out.push(b);
}

/** Options for {@linkcode encodeFieldSection}. */
export interface EncodeOptions {
  /** Huffman-code strings that get shorter. @default true */
  huffman?: boolean;
}

/**
 * Encodes field lines with static references and literals only (Required
 * Insert Count 0, Base 0). Names must already be lower case.
 */
export function encodeFieldSection(fields: Iterable<readonly [string, string]>, opts: EncodeOptions = {}): Uint8Array {
  const huffman = opts.huffman ?? true;
  const out: number[] = [0x00, 0x00];
  for (const [name, value] of fields) {
    const exact = EXACT.get(`${name}\0${value}`);
    if (exact !== undefined) {
      encodePrefixInt(out, 0xc0, 6, exact);
      continue;
    }
    const never = SENSITIVE.has(name) ? 0x20 : 0;
    const nameIdx = BY_NAME.get(name);
    if (nameIdx !== undefined) {
      encodePrefixInt(out, 0x50 | never, 4, nameIdx);
    } else {
      pushString(out, 0x20 | (never >> 1), 3, name, huffman);
    }
    pushString(out, 0x00, 7, value, huffman);
  }
  return Uint8Array.from(out);
}
