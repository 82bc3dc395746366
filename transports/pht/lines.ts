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

/** `base64(data) + "\n"` as bytes: a push body. */
export function encodeLine(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(base64Length(data.length) + 1);
  const { written } = encoder.encodeInto(data.toBase64(), out);
  out[written] = 10;
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
export function decodeLine(line: Uint8Array): Uint8Array {
  let end = line.length;
  if (end > 0 && line[end - 1] === 13) end--;
  const text = decoder.decode(line.subarray(0, end));
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    throw new SyntaxError(`Invalid base64 line "${text.slice(0, 32)}${text.length > 32 ? "…" : ""}"`);
  }
}

/**
 * Splits a byte stream into lines. Feed it chunks; it calls `onLine` with
 * each complete line (without `\n`). A line longer than `max` throws
 * `RangeError`.
 */
export class LineSplitter {
  readonly #max: number;
  #carry: Uint8Array = new Uint8Array(0);
  #carryLen = 0;

  constructor(max = MAX_CLIENT_LINE) {
    this.#max = max;
  }

  /** Bytes of an unfinished line held back. */
  get pending(): number {
    return this.#carryLen;
  }

  push(chunk: Uint8Array, onLine: (line: Uint8Array) => void): void {
    let start = 0;
    for (;;) {
      const i = chunk.indexOf(10, start);
      if (i < 0) {
        this.#append(chunk.subarray(start));
        return;
      }
      if (this.#carryLen > 0) {
        this.#append(chunk.subarray(start, i));
        const line = this.#carry.subarray(0, this.#carryLen);
        this.#carryLen = 0;
        onLine(line);
        // The callback consumed the line synchronously: the carry buffer can be reused.
      } else {
        if (i - start > this.#max) throw new RangeError(`Line exceeds ${this.#max} bytes`);
        onLine(chunk.subarray(start, i));
      }
      start = i + 1;
    }
  }

  #append(p: Uint8Array): void {
    if (p.length === 0) return;
    const need = this.#carryLen + p.length;
    if (need > this.#max) throw new RangeError(`Line exceeds ${this.#max} bytes`);
    if (need > this.#carry.length) {
      const next = new Uint8Array(Math.min(this.#max, Math.max(need, this.#carry.length * 2, 4096)));
      next.set(this.#carry.subarray(0, this.#carryLen));
      this.#carry = next;
    }
    this.#carry.set(p, this.#carryLen);
    this.#carryLen = need;
  }
}
