/**
 * A small deterministic mutator for the fuzzer: bit flips, byte sets,
 * insertions, deletions, duplications, splices with another seed,
 * truncation and length-field boundary values. Every case is a pure function
 * of `(seed, target, index)`, so a crash is reproduced by its index alone.
 *
 * @module
 */

/** xorshift128+-free, tiny and fast: mulberry32 over a 32-bit state. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in `[0, n)`; 0 when `n <= 0`. */
  below(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

/** FNV-1a of a string, to mix a target name into the seed. */
export function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The RNG of case `index` of `target` under `seed`. */
export function caseRng(seed: number, target: string, index: number): Rng {
  return new Rng((Math.imul(seed ^ hashName(target), 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0);
}

const INTERESTING_8 = [
  0x00,
  0x01,
  0x02,
  0x03,
  0x04,
  0x05,
  0x0a,
  0x0d,
  0x20,
  0x3a,
  0x3f,
  0x40,
  0x7f,
  0x80,
  0x81,
  0xc0,
  0xfe,
  0xff,
];
const INTERESTING_16 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x4000, 0x7fff, 0x8000, 0xfffe, 0xffff];
const INTERESTING_32 = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x10000, 0xffff, 0x4000_0000, 0x3fff_ffff];
/** Tokens that matter to text protocols (HTTP heads, URLs, YAML). */
const TOKENS = [
  "\r\n",
  "\n",
  "\r\n\r\n",
  ":",
  " ",
  "\0",
  "%",
  "%00",
  "[",
  "]",
  "::1",
  "@",
  "?",
  "&",
  "=",
  "/",
  "//",
  "#",
  ",",
  "-",
  "0x",
  "-1",
  "99999999999999999999",
  "Content-Length: ",
  "Transfer-Encoding: chunked",
  "Host: ",
  "Upgrade: websocket",
  "\t",
  "{",
  "}",
  "*",
  "&a",
  "!!binary",
  "\u00ff",
  "\ud800",
];
const enc = new TextEncoder();
const TOKEN_BYTES = TOKENS.map((t) => enc.encode(t));

function insert(b: Uint8Array, at: number, ins: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length + ins.length);
  out.set(b.subarray(0, at));
  out.set(ins, at);
  out.set(b.subarray(at), at + ins.length);
  return out;
}

function remove(b: Uint8Array, at: number, n: number): Uint8Array {
  const out = new Uint8Array(b.length - n);
  out.set(b.subarray(0, at));
  out.set(b.subarray(at + n), at);
  return out;
}

/** Writes `v` as a `size`-byte integer (big or little endian) at `at`, clipped to the buffer. */
function putInt(b: Uint8Array, at: number, size: number, v: number, little: boolean): void {
  for (let i = 0; i < size && at + i < b.length; i++) {
    const shift = little ? i : size - 1 - i;
    b[at + i] = Math.floor(v / 2 ** (8 * shift)) & 0xff;
  }
}

/** One mutation step on a copy of `b`. */
function step(b: Uint8Array, rng: Rng, others: readonly Uint8Array[]): Uint8Array {
  const n = b.length;
  switch (rng.below(14)) {
    case 0: { // bit flip
      if (n === 0) return rng.bytes(1 + rng.below(8));
      const out = b.slice();
      out[rng.below(n)] ^= 1 << rng.below(8);
      return out;
    }
    case 1: { // random byte
      if (n === 0) return rng.bytes(1);
      const out = b.slice();
      out[rng.below(n)] = rng.u32() & 0xff;
      return out;
    }
    case 2: { // interesting byte
      if (n === 0) return new Uint8Array([rng.pick(INTERESTING_8)]);
      const out = b.slice();
      out[rng.below(n)] = rng.pick(INTERESTING_8);
      return out;
    }
    case 3: // insert random bytes
      return insert(b, rng.below(n + 1), rng.bytes(1 + rng.below(rng.chance(0.1) ? 512 : 8)));
    case 4: { // delete a range
      if (n === 0) return b;
      const at = rng.below(n);
      return remove(b, at, 1 + rng.below(Math.min(n - at, rng.chance(0.2) ? n : 8)));
    }
    case 5: { // duplicate a range
      if (n === 0) return b;
      const at = rng.below(n);
      const len = 1 + rng.below(Math.min(n - at, 64));
      const chunk = b.slice(at, at + len);
      let out = b;
      for (let i = 0, k = 1 + rng.below(rng.chance(0.1) ? 64 : 3); i < k; i++) {
        out = insert(out, rng.below(out.length + 1), chunk);
      }
      return out;
    }
    case 6: { // splice with another seed
      const o = others.length ? rng.pick(others) : rng.bytes(16);
      const cut = rng.below(n + 1);
      const from = rng.below(o.length + 1);
      const out = new Uint8Array(cut + o.length - from);
      out.set(b.subarray(0, cut));
      out.set(o.subarray(from), cut);
      return out;
    }
    case 7: // truncate
      return b.slice(0, rng.below(n + 1));
    case 8: // 16-bit length field boundary
    case 9: { // 32-bit length field boundary
      if (n === 0) return rng.bytes(4);
      const out = b.slice();
      const wide = rng.below(2) === 0 ? 2 : 4;
      const v = wide === 2 ? rng.pick(INTERESTING_16) : rng.pick(INTERESTING_32);
      const delta = rng.chance(0.3) ? rng.below(5) - 2 : 0;
      putInt(out, rng.below(n), wide, Math.max(0, v + delta), rng.chance(0.3));
      return out;
    }
    case 10: { // text token
      return insert(b, rng.below(n + 1), rng.pick(TOKEN_BYTES));
    }
    case 11: { // add or subtract a small number at a byte
      if (n === 0) return rng.bytes(1);
      const out = b.slice();
      const at = rng.below(n);
      out[at] = (out[at] + rng.below(35) - 17) & 0xff;
      return out;
    }
    case 12: // append random bytes
      return insert(b, n, rng.bytes(1 + rng.below(32)));
    default: { // overwrite a range with one repeated byte
      if (n === 0) return b;
      const out = b.slice();
      const at = rng.below(n);
      out.fill(rng.pick(INTERESTING_8), at, at + 1 + rng.below(Math.min(n - at, 32)));
      return out;
    }
  }
}

/**
 * A mutated copy of one of `seeds` (or, rarely, pure random bytes), at most
 * `maxLen` bytes long. Deterministic in `rng`.
 */
export function mutate(seeds: readonly Uint8Array[], rng: Rng, maxLen = 64 * 1024): Uint8Array {
  if (seeds.length === 0 || rng.chance(0.02)) return rng.bytes(rng.below(Math.min(maxLen, 256) + 1));
  let b = rng.pick(seeds);
  // A few unmutated seeds keep the deep paths warm; most get 1–6 steps.
  if (rng.chance(0.01)) return b.slice(0, maxLen);
  const steps = 1 + (rng.chance(0.5) ? 0 : rng.below(6));
  for (let i = 0; i < steps; i++) b = step(b, rng, seeds);
  return b.length > maxLen ? b.subarray(0, maxLen) : b;
}
