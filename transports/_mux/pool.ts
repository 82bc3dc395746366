/**
 * Process-wide recycling of frame buffers (GOST's smux uses a shared
 * allocator too). Shared rather than per session so that many mostly idle
 * sessions do not each pin buffers after a burst; bounded per size.
 *
 * Recycling matters for speed, not only memory: every fresh ArrayBuffer is
 * zero-filled and counts as external memory, whose growth makes V8 run full
 * garbage collections; a bulk transfer that allocated per frame spent about a
 * tenth of its CPU time on that.
 */
const MAX_PER_SIZE = 64;
/** Bytes one size may keep idle (so few big buffers are kept). */
const MAX_BYTES_PER_SIZE = 8 << 20;
/** Distinct sizes kept; a frame size or two per transport are ever in use. */
const MAX_SIZES = 16;
const pools = new Map<number, ArrayBuffer[]>();

/** An ArrayBuffer of exactly `size` bytes, recycled when one is free. */
export function takeBuffer(size: number): ArrayBuffer {
  return pools.get(size)?.pop() ?? new ArrayBuffer(size);
}

/** Gives `ab` back; the caller must not touch it afterwards. */
export function giveBuffer(ab: ArrayBuffer): void {
  let pool = pools.get(ab.byteLength);
  if (!pool) {
    if (pools.size >= MAX_SIZES) return;
    pools.set(ab.byteLength, pool = []);
  }
  if (pool.length < Math.min(MAX_PER_SIZE, MAX_BYTES_PER_SIZE / ab.byteLength)) pool.push(ab);
}

/**
 * Size classes for buffers of varying length: powers of two from 16 KiB to
 * `max`, each with `slack` bytes on top (room for frame headers). Smaller
 * requests are cheap to allocate and larger ones rare, so neither is pooled.
 */
export class SizeClasses {
  readonly #sizes: number[];
  constructor(slack: number, max = 256 << 10) {
    this.#sizes = [];
    for (let s = 16 << 10; s <= max; s *= 2) this.#sizes.push(s + slack);
  }

  /** A view of `n` bytes, on a pooled buffer when `n` falls in a class. */
  alloc(n: number): Uint8Array {
    if (n >= 4096) {
      for (const size of this.#sizes) if (n <= size) return new Uint8Array(takeBuffer(size), 0, n);
    }
    return new Uint8Array(n);
  }

  /** Gives back the buffer under a view {@linkcode alloc} returned (others are left to GC). */
  free(view: Uint8Array): void {
    const ab = view.buffer as ArrayBuffer;
    if (this.#sizes.includes(ab.byteLength)) giveBuffer(ab);
  }
}
