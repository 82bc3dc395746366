/**
 * PHT's framing: standard base64 (with `=` padding) of the bytes, one line
 * per piece, each line ended by `\n` (shared/spec/pht.md §3–§4). Encoding
 * and decoding use the engine's native `Uint8Array` base64 (several GB/s).
 *
 * @module
 */

/**
 * Largest payload of one pull line: its base64 plus the `\n` must stay
 * below 64 KiB (Go's `bufio.Scanner` limit in GOST clients):
 * 49,149 bytes → 65,532 characters + `\n`.
 */
export const MAX_PULL_LINE_PAYLOAD = 3 * 16_383;
/** Longest line (without `\n`) a dost client accepts from a server. */
export const MAX_CLIENT_LINE = 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Characters of the base64 of `n` bytes. */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4;
}

/** Payload bytes encoded per string: 64 KiB of base64 keeps each string out of the engine's large-object space. */
const SLICE = 49_152;
/** Bytes of base64 text turned into one string at a time, for the same reason. */
export const TEXT_SLICE = 65_536;

/** `base64(data) + "\n"` as bytes: a push body. */
export function encodeLine(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(base64Length(data.length) + 1);
  let off = 0;
  for (let i = 0; i < data.length; i += SLICE) {
    off += encoder.encodeInto(data.subarray(i, Math.min(i + SLICE, data.length)).toBase64(), out.subarray(off)).written;
  }
  out[off] = 10;
  return out;
}

/**
 * `data` as consecutive lines of at most `maxPayload` bytes each, in one
 * array (what a pull writes in one go).
 */
export function encodeLines(data: Uint8Array, maxPayload = MAX_PULL_LINE_PAYLOAD): Uint8Array {
  const full = Math.floor(data.length / maxPayload);
  const rest = data.length - full * maxPayload;
  const size = full * (base64Length(maxPayload) + 1) + (rest > 0 ? base64Length(rest) + 1 : 0);
  const out = new Uint8Array(size);
  let off = 0;
  for (let i = 0; i < data.length; i += maxPayload) {
    const { written } = encoder.encodeInto(
      data.subarray(i, Math.min(i + maxPayload, data.length)).toBase64(),
      out.subarray(off),
    );
    off += written;
    out[off++] = 10;
  }
  return out;
}

/**
 * Decodes one line (without its `\n`; a trailing `\r` is dropped as Go's
 * line scanner does). Throws `SyntaxError` when it is not base64.
 */
export function decodeLine(line: string | Uint8Array): Uint8Array {
  let text = typeof line === "string" ? line : decoder.decode(line);
  if (text.endsWith("\r")) text = text.slice(0, -1);
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    throw new SyntaxError(`Invalid base64 line "${text.slice(0, 32)}${text.length > 32 ? "…" : ""}"`);
  }
}

/**
 * Decodes base64 text that arrived in pieces (any split, whitespace
 * allowed as by `Uint8Array.fromBase64`) without joining it into one big
 * string. Throws `SyntaxError` when it is not base64.
 */
export function decodeParts(parts: string[], chars: number): Uint8Array {
  const out = new Uint8Array(Math.ceil(chars / 4) * 3);
  let off = 0;
  let carry = "";
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    let text = carry ? carry + parts[i] : parts[i];
    if (last && text.endsWith("\r")) text = text.slice(0, -1);
    let r: { read: number; written: number };
    try {
      r = out.subarray(off).setFromBase64(text, { lastChunkHandling: last ? "loose" : "stop-before-partial" });
    } catch {
      throw new SyntaxError(`Invalid base64 line "${text.slice(0, 32)}${text.length > 32 ? "…" : ""}"`);
    }
    off += r.written;
    carry = text.slice(r.read);
  }
  return out.subarray(0, off);
}

/**
 * Splits a byte stream of base64 lines into lines. Feed it chunks; it calls
 * `onLine` with each complete line (without `\n`) as a string. The work is
 * done on strings: chunks are ASCII, decoding them is a fast copy, and the
 * engine's string search finds newlines several times faster than a byte
 * loop. A line longer than `max` throws `RangeError`.
 */
export class LineSplitter {
  readonly #max: number;
  #carry = "";

  constructor(max = MAX_CLIENT_LINE) {
    this.#max = max;
  }

  /** Characters of an unfinished line held back. */
  get pending(): number {
    return this.#carry.length;
  }

  push(chunk: Uint8Array, onLine: (line: string) => void): void {
    for (let i = 0; i < chunk.length; i += TEXT_SLICE) {
      this.#pushText(decoder.decode(chunk.subarray(i, Math.min(i + TEXT_SLICE, chunk.length))), onLine);
    }
  }

  #pushText(text: string, onLine: (line: string) => void): void {
    let start = 0;
    for (;;) {
      const i = text.indexOf("\n", start);
      if (i < 0) {
        if (this.#carry.length + text.length - start > this.#max) {
          throw new RangeError(`Line exceeds ${this.#max} bytes`);
        }
        this.#carry += text.slice(start);
        return;
      }
      if (this.#carry.length + i - start > this.#max) throw new RangeError(`Line exceeds ${this.#max} bytes`);
      const line = this.#carry ? this.#carry + text.slice(start, i) : text.slice(start, i);
      this.#carry = "";
      onLine(line);
      start = i + 1;
    }
  }
}
