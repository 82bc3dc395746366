/**
 * Test helpers: an in-memory Conn pair (no socket), TCP loopback pairs, and hashing.
 *
 * @module
 */
import type { Addr, Conn } from "../types.ts";
export { readAll, readExactly as readN, sha256, tcpPair } from "../_testing.ts";

const MEM_ADDR: Addr = { transport: "tcp", hostname: "memory", port: 0 };

/** One direction of a memory pipe. */
class Channel {
  chunks: Uint8Array[] = [];
  queued = 0;
  ended = false;
  broken = false;
  readers: (() => void)[] = [];
  writers: (() => void)[] = [];
  wake(list: (() => void)[]) {
    for (const f of list.splice(0)) f();
  }
}

/** Options of `memoryPipe`. */
export interface MemoryPipeOptions {
  /** Deliver writes in pieces of at most this many bytes (exercises parsers). */
  maxChunk?: number;
  /** Writers wait while more than this many bytes are unread. @default 1048576 */
  highWater?: number;
}

class MemoryConn implements Conn {
  #in: Channel;
  #out: Channel;
  #opts: MemoryPipeOptions;
  #closed = false;

  constructor(inCh: Channel, outCh: Channel, opts: MemoryPipeOptions) {
    this.#in = inCh;
    this.#out = outCh;
    this.#opts = opts;
  }
  readonly localAddr = MEM_ADDR;
  readonly remoteAddr = MEM_ADDR;

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource("Memory conn closed");
      const ch = this.#in;
      if (ch.chunks.length > 0) {
        const c = ch.chunks[0];
        const n = Math.min(c.length, p.length);
        p.set(c.subarray(0, n));
        if (n === c.length) ch.chunks.shift();
        else ch.chunks[0] = c.subarray(n);
        ch.queued -= n;
        ch.wake(ch.writers);
        return n;
      }
      if (ch.ended) return null;
      await new Promise<void>((r) => ch.readers.push(r));
    }
  }

  async write(p: Uint8Array): Promise<number> {
    const ch = this.#out;
    const high = this.#opts.highWater ?? 1 << 20;
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource("Memory conn closed");
      if (ch.broken) throw new Deno.errors.BrokenPipe("Peer closed");
      if (ch.ended) throw new Deno.errors.BrokenPipe("Write side closed");
      if (ch.queued < high) break;
      await new Promise<void>((r) => ch.writers.push(r));
    }
    const copy = p.slice();
    const step = this.#opts.maxChunk ?? copy.length;
    for (let off = 0; off < copy.length; off += step) ch.chunks.push(copy.subarray(off, off + step));
    ch.queued += copy.length;
    ch.wake(ch.readers);
    return p.length;
  }

  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(new Deno.errors.BadResource("Memory conn closed"));
    this.#out.ended = true;
    this.#out.wake(this.#out.readers);
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out.ended = true;
    this.#in.broken = true;
    this.#out.wake(this.#out.readers);
    this.#in.wake(this.#in.readers);
    this.#in.wake(this.#in.writers);
    this.#out.wake(this.#out.writers);
  }
}

/** Two connected in-memory Conns. */
export function memoryPipe(opts: MemoryPipeOptions = {}): [Conn, Conn] {
  const ab = new Channel();
  const ba = new Channel();
  return [new MemoryConn(ba, ab, opts), new MemoryConn(ab, ba, opts)];
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Streaming FNV-1a-like 32-bit digest over byte chunks (cheap, order-sensitive). */
export class Digest {
  #h = 0x811c9dc5;
  #n = 0;
  update(p: Uint8Array): void {
    let h = this.#h;
    for (let i = 0; i < p.length; i++) h = Math.imul(h ^ p[i], 0x01000193);
    this.#h = h;
    this.#n += p.length;
  }
  get value(): string {
    return `${this.#n}:${(this.#h >>> 0).toString(16)}`;
  }
}
