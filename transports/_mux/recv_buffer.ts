/**
 * Received bytes that no read was waiting for, kept in pooled blocks (every
 * block but the last is full) for the multiplexed streams (smux, HTTP/2).
 * Copying each piece into a fresh ArrayBuffer instead cost a bulk transfer
 * GC time and RSS (docs/benchmarks.md); a drained block goes back to the
 * pool at once, so an idle stream holds none.
 */
import { giveBuffer, takeBuffer } from "./pool.ts";
import { Queue } from "./queue.ts";

/** Size of the pooled blocks. */
const BLOCK = 64 * 1024;

export class RecvBuffer {
  readonly #blocks = new Queue<Uint8Array>();
  #tail: Uint8Array | null = null;
  /** Read offset in the first block. */
  #headOff = 0;
  /** Write offset in the last block. */
  #tailEnd = 0;
  #size = 0;

  /** Bytes held. */
  get size(): number {
    return this.#size;
  }

  /** Appends a copy of `data`. */
  push(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) {
      let tail = this.#tail;
      if (tail === null || this.#tailEnd === tail.length) {
        tail = this.#tail = new Uint8Array(takeBuffer(BLOCK));
        this.#blocks.push(tail);
        this.#tailEnd = 0;
      }
      const m = Math.min(data.length - off, tail.length - this.#tailEnd);
      tail.set(m === data.length ? data : data.subarray(off, off + m), this.#tailEnd);
      this.#tailEnd += m;
      off += m;
    }
    this.#size += data.length;
  }

  /** Moves up to `p.length` bytes into `p`, oldest first; returns how many. */
  drainInto(p: Uint8Array): number {
    let n = 0;
    while (n < p.length && this.#size > 0) {
      const block = this.#blocks.peek()!;
      const limit = block === this.#tail ? this.#tailEnd : block.length;
      const take = Math.min(limit - this.#headOff, p.length - n);
      p.set(block.subarray(this.#headOff, this.#headOff + take), n);
      n += take;
      this.#size -= take;
      this.#headOff += take;
      if (this.#headOff === limit) {
        this.#blocks.shift();
        if (block === this.#tail) this.#tail = null;
        this.#headOff = 0;
        giveBuffer(block.buffer as ArrayBuffer);
      }
    }
    return n;
  }

  /** Drops everything held (the blocks go back to the pool). */
  clear(): void {
    for (const block of this.#blocks) giveBuffer(block.buffer as ArrayBuffer);
    this.#blocks.clear();
    this.#tail = null;
    this.#headOff = 0;
    this.#size = 0;
  }
}
