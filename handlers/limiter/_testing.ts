/**
 * Test helpers of the limiter tests: in-memory conns with a chosen client
 * address, a fake clock, and a check for "settles without waiting".
 *
 * @module
 */
import type { Addr, Conn } from "../../transports/types.ts";

/** A conn from `host` whose reads come from `source` (then end) and whose writes are counted. */
export class FakeConn implements Conn {
  written = 0;
  closed = false;
  #source: Uint8Array;
  readonly remoteAddr: Addr;
  readonly localAddr: Addr = { transport: "tcp", hostname: "127.0.0.1", port: 8080 };

  constructor(host: string | Addr, source: Uint8Array = new Uint8Array(0)) {
    this.remoteAddr = typeof host === "string" ? { transport: "tcp", hostname: host, port: 40000 } : host;
    this.#source = source;
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    if (this.#source.length === 0) return Promise.resolve(null);
    const n = Math.min(p.length, this.#source.length);
    p.set(this.#source.subarray(0, n));
    this.#source = this.#source.subarray(n);
    return Promise.resolve(n);
  }

  write(p: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("closed"));
    this.written += p.length;
    return Promise.resolve(p.length);
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.closed = true;
  }
}

/** A clock for limiters: frozen until `advance`d, so no bucket refills by itself. */
export class FakeClock {
  t = 1_000_000;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/**
 * True when `p` settles before any timer can fire (it took no throttling
 * wait); false when it is still pending then. A rejection counts as settled
 * and stays observable to other awaiters.
 */
export async function settlesNow(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setTimeout(r, 0));
  return done;
}
