/**
 * Process-wide recycling of full-size frame buffers (GOST's smux uses a
 * shared allocator too). Shared rather than per session so that many mostly
 * idle sessions do not each pin buffers after a burst; bounded per size.
 */
const MAX_PER_SIZE = 64;
const pools = new Map<number, ArrayBuffer[]>();

/** An ArrayBuffer of exactly `size` bytes, recycled when one is free. */
export function takeBuffer(size: number): ArrayBuffer {
  return pools.get(size)?.pop() ?? new ArrayBuffer(size);
}

/** Gives `ab` back; the caller must not touch it afterwards. */
export function giveBuffer(ab: ArrayBuffer): void {
  let pool = pools.get(ab.byteLength);
  if (!pool) {
    if (pools.size >= 8) return; // only a few distinct maxFrameSize values are ever in use
    pools.set(ab.byteLength, pool = []);
  }
  if (pool.length < MAX_PER_SIZE) pool.push(ab);
}
