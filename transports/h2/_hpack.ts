/**
 * HPACK header compression (RFC 7541).
 *
 * The decoder is complete (static and dynamic table, Huffman strings, table
 * size updates). The encoder never adds to the dynamic table, so its only
 * state is whether a size update is owed: it uses the static table where it
 * can, `never indexed` for credentials, and Huffman strings when shorter.
 * That is valid against any peer's table size and costs a few bytes per
 * request at most.
 *
 * Header names and values are handled as byte strings (one char per octet).
 *
 * @module
 */
import { huffmanDecode, huffmanEncodedLength, huffmanEncodeInto } from "../_hpack/huffman.ts";

/** A header field: lower-case name and value. */
export type HeaderField = [name: string, value: string];

/** RFC 7541 Appendix A, index 1..61. */
export const STATIC_TABLE: readonly HeaderField[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** Per-entry overhead in the dynamic table size (RFC 7541 §4.1). */
const ENTRY_OVERHEAD = 32;
/** Default SETTINGS_HEADER_TABLE_SIZE. */
export const DEFAULT_TABLE_SIZE = 4096;

/** Raised for a header block that cannot be decoded (a connection error: COMPRESSION_ERROR). */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

/** Octets to a byte string. */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/** A byte string to octets (chars above 0xff are replaced by `?`, as no HTTP/2 peer accepts them). */
export function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i] = c > 0xff ? 0x3f : c;
  }
  return out;
}

/** The result of decoding one header block. */
export interface DecodedBlock {
  headers: HeaderField[];
  /** The list exceeded the size limit; `headers` is incomplete (the table was still kept in sync). */
  tooLarge: boolean;
}

/** HPACK decoder: one per connection direction. */
export class HpackDecoder {
  /** Newest entry first. */
  #table: HeaderField[] = [];
  #size = 0;
  #maxSize: number;
  /** The limit we advertised (SETTINGS_HEADER_TABLE_SIZE); size updates above it are errors. */
  #limit: number;

  constructor(limit = DEFAULT_TABLE_SIZE) {
    this.#limit = limit;
    this.#maxSize = limit;
  }

  /** Entries in the dynamic table (tests). */
  get tableLength(): number {
    return this.#table.length;
  }

  /** Decodes a complete header block. `maxListSize` bounds the decoded list (RFC 9113 §6.5.2 accounting). */
  decode(block: Uint8Array, maxListSize = Infinity): DecodedBlock {
    const headers: HeaderField[] = [];
    let listSize = 0;
    let tooLarge = false;
    const r = { b: block, i: 0 };
    const add = (f: HeaderField) => {
      listSize += f[0].length + f[1].length + ENTRY_OVERHEAD;
      if (listSize > maxListSize) tooLarge = true;
      if (!tooLarge) headers.push(f);
    };
    while (r.i < block.length) {
      const b = block[r.i];
      if (b & 0x80) {
        add(this.#get(readInt(r, 7)));
      } else if (b & 0x40) {
        const f = this.#literal(r, 6);
        this.#insert(f);
        add(f);
      } else if (b & 0x20) {
        const size = readInt(r, 5);
        if (size > this.#limit) throw new HpackError(`HPACK table size update to ${size} exceeds ${this.#limit}`);
        this.#maxSize = size;
        this.#evict(0);
      } else {
        // 0000 (without indexing) or 0001 (never indexed): same for a decoder.
        add(this.#literal(r, 4));
      }
    }
    return { headers, tooLarge };
  }

  #get(index: number): HeaderField {
    if (index === 0) throw new HpackError("HPACK index 0");
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1] as HeaderField;
    const f = this.#table[index - STATIC_TABLE.length - 1];
    if (!f) throw new HpackError(`HPACK index ${index} out of range`);
    return f;
  }

  #literal(r: { b: Uint8Array; i: number }, prefix: number): HeaderField {
    const index = readInt(r, prefix);
    const name = index === 0 ? readString(r) : this.#get(index)[0];
    return [name, readString(r)];
  }

  #insert(f: HeaderField): void {
    const size = f[0].length + f[1].length + ENTRY_OVERHEAD;
    if (size > this.#maxSize) {
      // RFC 7541 §4.4: an entry larger than the table empties it and is not added.
      this.#table = [];
      this.#size = 0;
      return;
    }
    this.#evict(size);
    this.#table.unshift(f);
    this.#size += size;
  }

  /** Evicts until `room` more octets fit. */
  #evict(room: number): void {
    while (this.#size + room > this.#maxSize && this.#table.length > 0) {
      const f = this.#table.pop()!;
      this.#size -= f[0].length + f[1].length + ENTRY_OVERHEAD;
    }
  }
}

/** Reads an HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function readInt(r: { b: Uint8Array; i: number }, prefix: number): number {
  if (r.i >= r.b.length) throw new HpackError("HPACK block truncated");
  const mask = (1 << prefix) - 1;
  let v = r.b[r.i++] & mask;
  if (v < mask) return v;
  let m = 0;
  for (;;) {
    if (r.i >= r.b.length) throw new HpackError("HPACK integer truncated");
    const b = r.b[r.i++];
    v += (b & 0x7f) * 2 ** m;
    m += 7;
    // Zero continuation bytes do not grow `v`, but past 2^1023 `0 * 2 ** m` is NaN: bound the length too.
    if (v > 0x7fffffff || m > 63) throw new HpackError("HPACK integer too large");
    if ((b & 0x80) === 0) return v;
  }
}

function readString(r: { b: Uint8Array; i: number }): string {
  if (r.i >= r.b.length) throw new HpackError("HPACK block truncated");
  const huffman = (r.b[r.i] & 0x80) !== 0;
  const len = readInt(r, 7);
  if (r.i + len > r.b.length) throw new HpackError("HPACK string truncated");
  const raw = r.b.subarray(r.i, r.i + len);
  r.i += len;
  try {
    return latin1(huffman ? huffmanDecode(raw) : raw);
  } catch (err) {
    throw new HpackError((err as Error).message);
  }
}

/** Names whose values are sent as `never indexed` so no intermediary caches them. */
const SENSITIVE = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie"]);

const staticExact = new Map<string, number>();
const staticName = new Map<string, number>();
STATIC_TABLE.forEach(([n, v], i) => {
  if (v !== "") staticExact.set(`${n}\0${v}`, i + 1);
  if (!staticName.has(n)) staticName.set(n, i + 1);
});

/** HPACK encoder without a dynamic table. */
export class HpackEncoder {
  #sizeUpdate = false;

  /** The peer changed SETTINGS_HEADER_TABLE_SIZE: the next block starts with a size update (to 0). */
  tableSizeChanged(): void {
    this.#sizeUpdate = true;
  }

  encode(headers: readonly HeaderField[]): Uint8Array {
    const w = new Writer();
    if (this.#sizeUpdate) {
      this.#sizeUpdate = false;
      w.int(0, 5, 0x20);
    }
    for (const [name, value] of headers) {
      const exact = staticExact.get(`${name}\0${value}`);
      if (exact !== undefined) {
        w.int(exact, 7, 0x80);
        continue;
      }
      const idx = staticName.get(name) ?? 0;
      w.int(idx, 4, SENSITIVE.has(name) ? 0x10 : 0x00);
      if (idx === 0) w.str(name);
      w.str(value);
    }
    return w.bytes();
  }
}

class Writer {
  #buf = new Uint8Array(256);
  #n = 0;

  #room(n: number): void {
    if (this.#n + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#n + n));
    next.set(this.#buf.subarray(0, this.#n));
    this.#buf = next;
  }

  int(v: number, prefix: number, bits: number): void {
    this.#room(6);
    const mask = (1 << prefix) - 1;
    if (v < mask) {
      this.#buf[this.#n++] = bits | v;
      return;
    }
    this.#buf[this.#n++] = bits | mask;
    v -= mask;
    while (v >= 0x80) {
      this.#buf[this.#n++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#n++] = v;
  }

  str(s: string): void {
    const raw = latin1Bytes(s);
    const hlen = huffmanEncodedLength(raw);
    if (hlen < raw.length) {
      this.int(hlen, 7, 0x80);
      this.#room(hlen);
      this.#n = huffmanEncodeInto(raw, this.#buf, this.#n);
    } else {
      this.int(raw.length, 7, 0);
      this.#room(raw.length);
      this.#buf.set(raw, this.#n);
      this.#n += raw.length;
    }
  }

  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#n);
  }
}
