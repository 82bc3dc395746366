/**
 * A Conn over a fixed byte string for the in-process fuzz targets: reads
 * hand the bytes out in chunk sizes drawn from the case's RNG (so parsers
 * see every split), then end of stream; writes are counted and dropped.
 *
 * @module
 */
import type { Addr, Conn } from "../../transports/types.ts";
import type { Rng } from "./mutator.ts";

const ADDR: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };

export class BytesConn implements Conn {
  readonly localAddr: Addr = ADDR;
  readonly remoteAddr: Addr = ADDR;
  #data: Uint8Array;
  #off = 0;
  #rng: Rng;
  #closed = false;
  /** Bytes written by the code under test. */
  written = 0;
  /** Reads served, a guard against a parser that loops on zero-length reads. */
  reads = 0;

  constructor(data: Uint8Array, rng: Rng) {
    this.#data = data;
    this.#rng = rng;
  }

  read(p: Uint8Array): Promise<number | null> {
    if (++this.reads > 1_000_000) return Promise.reject(new Error("BytesConn: more than 1e6 reads (a read loop?)"));
    if (this.#closed || this.#off >= this.#data.length || p.length === 0) {
      return Promise.resolve(p.length === 0 && !this.#closed ? 0 : null);
    }
    const left = this.#data.length - this.#off;
    const want = this.#rng.chance(0.5) ? left : 1 + this.#rng.below(Math.min(left, 64));
    const n = Math.min(want, p.length);
    p.set(this.#data.subarray(this.#off, this.#off + n));
    this.#off += n;
    return Promise.resolve(n);
  }

  readReady(_p: Uint8Array): number {
    return 0;
  }

  write(p: Uint8Array): Promise<number> {
    this.written += p.length;
    return Promise.resolve(p.length);
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.#closed = true;
  }
}

/** Splits `b` into 1–4 pieces at RNG-chosen offsets. */
export function splitChunks(b: Uint8Array, rng: Rng): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  const k = rng.below(4);
  for (let i = 0; i < k && off < b.length; i++) {
    const n = rng.below(b.length - off + 1);
    out.push(b.subarray(off, off + n));
    off += n;
  }
  out.push(b.subarray(off));
  return out;
}
