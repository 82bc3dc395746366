/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B).
 *
 * The code in Appendix B is canonical: ordering the symbols by (code length,
 * symbol) and counting up gives every code. So only the 257 code lengths are
 * written down here, one letter per symbol (`A` = 5 bits … `Z` = 30 bits),
 * and the codes are computed from them; the tests check the result against
 * the examples of RFC 7541 Appendix C.4 and C.6 and against python3-hpack.
 *
 * @module
 */

/** Code length of symbols 0..256 (256 = EOS), as `"A".charCodeAt(0) + length - 5`. */
const LENGTHS =
  "ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHFIBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAAB" +
  "CCCCCKGJIXPRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRSVVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVW" +
  "VVWWWWWXWWWWWVZ";

const EOS = 256;

/** Code length per symbol. */
const codeLen = new Uint8Array(257);
/** Code per symbol, right-aligned. */
const codes = new Uint32Array(257);
/** Decoding tree: `tree[2n + bit]` is the next node, or `-(symbol + 1)` at a leaf. */
const tree: Int32Array = (() => {
  if (LENGTHS.length !== 257) throw new Error("HPACK Huffman table has the wrong size");
  for (let s = 0; s < 257; s++) codeLen[s] = LENGTHS.charCodeAt(s) - 65 + 5;
  const order = [...Array(257).keys()].sort((a, b) => codeLen[a] - codeLen[b] || a - b);
  let code = 0;
  for (let i = 0; i < order.length; i++) {
    if (i > 0) code = (code + 1) * 2 ** (codeLen[order[i]] - codeLen[order[i - 1]]);
    codes[order[i]] = code;
  }
  // A complete prefix code of 257 leaves has 256 inner nodes.
  const t = new Int32Array(2 * 256);
  let nodes = 1;
  for (let s = 0; s < 257; s++) {
    let node = 0;
    for (let i = codeLen[s] - 1; i >= 0; i--) {
      const slot = 2 * node + ((codes[s] >>> i) & 1);
      if (i === 0) {
        t[slot] = -(s + 1);
      } else {
        if (t[slot] === 0) t[slot] = nodes++;
        node = t[slot];
      }
    }
  }
  return t;
})();

/** Raised for a Huffman string that is not valid HPACK. */
export class HuffmanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HuffmanError";
  }
}

/** Decodes a Huffman-coded string; throws {@linkcode HuffmanError} on EOS, bad padding or a truncated code. */
export function huffmanDecode(src: Uint8Array): Uint8Array {
  // Every symbol takes at least 5 bits.
  const out = new Uint8Array(Math.ceil((src.length * 8) / 5));
  let n = 0;
  let node = 0;
  let depth = 0;
  let ones = true;
  for (let i = 0; i < src.length; i++) {
    const byte = src[i];
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >>> b) & 1;
      const next = tree[2 * node + bit];
      if (next < 0) {
        const sym = -next - 1;
        if (sym === EOS) throw new HuffmanError("Huffman string contains EOS");
        out[n++] = sym;
        node = 0;
        depth = 0;
        ones = true;
      } else {
        node = next;
        depth++;
        if (bit === 0) ones = false;
      }
    }
  }
  if (depth > 7 || !ones) throw new HuffmanError("Huffman string has invalid padding");
  return out.subarray(0, n);
}

/** Length in bytes of the Huffman coding of `src`. */
export function huffmanEncodedLength(src: Uint8Array): number {
  let bits = 0;
  for (let i = 0; i < src.length; i++) bits += codeLen[src[i]];
  return Math.ceil(bits / 8);
}

/** Huffman-codes `src` into `dst` at `off`; returns the new offset. `dst` must have room. */
export function huffmanEncode(src: Uint8Array, dst: Uint8Array, off: number): number {
  let cur = 0;
  let used = 0;
  for (let i = 0; i < src.length; i++) {
    const code = codes[src[i]];
    for (let b = codeLen[src[i]] - 1; b >= 0; b--) {
      cur = (cur << 1) | ((code >>> b) & 1);
      if (++used === 8) {
        dst[off++] = cur;
        cur = 0;
        used = 0;
      }
    }
  }
  if (used > 0) dst[off++] = (cur << (8 - used)) | (0xff >>> used);
  return off;
}
