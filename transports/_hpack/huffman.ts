/**
 * The HPACK/QPACK Huffman code (RFC 7541 §5.2 and Appendix B), shared by the
 * HTTP/2 HPACK coder (`h2/_hpack.ts`) and the HTTP/3 QPACK coder (`_h3/qpack.ts`).
 *
 * Appendix B is a canonical Huffman code: within each code length, codes
 * are consecutive in symbol order, and each length starts where the shorter
 * ones ended. So the table is kept as its code lengths alone and the codes are
 * rebuilt from them; the unit tests check the result against rows of the RFC
 * table and against the RFC's encoded examples.
 *
 * @module
 */

/** Code length in bits of symbols 0..255 and EOS (256), from RFC 7541 Appendix B. */
// deno-fmt-ignore
const LENGTHS: readonly number[] = [
  // 0..31 (control characters)
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  // 32..63: ' ' ! " # $ % & ' ( ) * + , - . / 0-9 : ; < = > ?
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  // 64..95: @ A-Z [ \ ] ^ _
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  // 96..127: ` a-z { | } ~ DEL
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  // 128..255
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  // EOS
  30,
];

/** Index of the end-of-string symbol. */
export const EOS = 256;

/** Code of each symbol, right-aligned (as in the RFC's "as hex" column). */
export const CODES: readonly number[] = buildCodes();
/** Code length of each symbol in bits. */
export const CODE_LENGTHS: readonly number[] = LENGTHS;

function buildCodes(): number[] {
  if (LENGTHS.length !== 257) throw new Error("Huffman table must have 257 entries");
  const order = [...LENGTHS.keys()].sort((a, b) => LENGTHS[a] - LENGTHS[b] || a - b);
  const codes = new Array<number>(257);
  let code = 0;
  let len = LENGTHS[order[0]];
  for (const sym of order) {
    code *= 2 ** (LENGTHS[sym] - len);
    len = LENGTHS[sym];
    codes[sym] = code;
    code++;
  }
  // A complete code ends exactly at 2^len.
  if (code !== 2 ** len) throw new Error("Huffman code lengths do not form a complete code");
  return codes;
}

/**
 * Decoding tree as a flat array: node `i` has children at `2i` (bit 0) and
 * `2i + 1` (bit 1); a positive entry is the next node, a negative one is a
 * leaf `-(symbol + 1)`, and 0 means "no such code" (impossible for a
 * complete code, kept as a guard).
 */
const TREE: Int32Array = buildTree();

function buildTree(): Int32Array {
  const tree = new Int32Array(2 * 512);
  let next = 1;
  for (let sym = 0; sym < 257; sym++) {
    const code = CODES[sym];
    const len = LENGTHS[sym];
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      const slot = 2 * node + bit;
      if (i === 0) {
        tree[slot] = -(sym + 1);
      } else {
        if (tree[slot] === 0) tree[slot] = next++;
        node = tree[slot];
      }
    }
  }
  return tree;
}

/** Raised for an invalid Huffman string (EOS inside, bad or long padding). */
export class HuffmanError extends Error {
  /** True when the input was valid so far but decodes to more than `maxLength` bytes. */
  readonly tooLong: boolean;
  constructor(message: string, tooLong = false) {
    super(message);
    this.name = "HuffmanError";
    this.tooLong = tooLong;
  }
}

/**
 * Decodes a Huffman-coded string. Throws {@linkcode HuffmanError} when it
 * contains EOS, or when the padding is longer than 7 bits or not all ones
 * (RFC 7541 §5.2). `maxLength` bounds the decoded size.
 */
export function huffmanDecode(src: Uint8Array, maxLength = Infinity): Uint8Array {
  // Every symbol takes at least 5 bits, so the output is at most 8/5 of the input.
  const out = new Uint8Array(Math.min(Math.ceil((src.length * 8) / 5), maxLength + 1));
  let n = 0;
  let node = 0;
  let depth = 0; // bits since the last symbol boundary
  let allOnes = true;
  for (let i = 0; i < src.length; i++) {
    const byte = src[i];
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >> b) & 1;
      const next = TREE[2 * node + bit];
      depth++;
      if (bit === 0) allOnes = false;
      if (next < 0) {
        const sym = -next - 1;
        if (sym === EOS) throw new HuffmanError("Huffman string contains EOS");
        if (n >= maxLength) throw new HuffmanError(`Huffman string longer than ${maxLength} bytes`, true);
        out[n++] = sym;
        node = 0;
        depth = 0;
        allOnes = true;
      } else if (next === 0) {
        throw new HuffmanError("Invalid Huffman code");
      } else {
        node = next;
      }
    }
  }
  if (depth > 7) throw new HuffmanError("Huffman padding longer than 7 bits");
  if (!allOnes) throw new HuffmanError("Huffman padding is not the EOS prefix");
  return out.subarray(0, n);
}

/** Length in bytes of `src` once Huffman-coded. */
export function huffmanEncodedLength(src: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < src.length; i++) bits += LENGTHS[src[i]];
  return Math.ceil(bits / 8);
}

/** Huffman-codes `src`, padding the last byte with ones (the EOS prefix). */
export function huffmanEncode(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(src));
  huffmanEncodeInto(src, out, 0);
  return out;
}

/**
 * Huffman-codes `src` into `dst` at `off` (padding as {@linkcode huffmanEncode});
 * returns the new offset. `dst` must have room for {@linkcode huffmanEncodedLength} bytes.
 */
export function huffmanEncodeInto(src: Uint8Array, dst: Uint8Array, off: number): number {
  let acc = 0; // pending bits, at most 7 + 30 (exact in a double)
  let bits = 0;
  for (let i = 0; i < src.length; i++) {
    const len = LENGTHS[src[i]];
    acc = acc * 2 ** len + CODES[src[i]];
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      const div = 2 ** bits;
      dst[off++] = Math.floor(acc / div) & 0xff;
      acc %= div;
    }
  }
  if (bits > 0) dst[off++] = ((acc << (8 - bits)) | (0xff >> bits)) & 0xff;
  return off;
}
