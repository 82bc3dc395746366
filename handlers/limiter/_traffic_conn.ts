/**
 * The conn a traffic limiter hands out: reads (`in`, client to proxy) and
 * writes (`out`, proxy to client) are charged to token buckets and wait on
 * a timer when the buckets are in debt (go-gost/x v0.8.1
 * `limiter/traffic/wrapper/conn.go`).
 *
 * @module
 */
import { type Addr, ClosedError, type Conn } from "../../transports/types.ts";
import type { TokenBucket } from "./token_bucket.ts";

/** `in`: bytes read from the client; `out`: bytes written to it. */
export type Direction = "in" | "out";

/** What a limited conn asks its limiter before each read and write. */
export interface TrafficBudget {
  /** The buckets that throttle `dir` now; empty when it is unlimited. */
  buckets(dir: Direction): readonly TokenBucket[];
  /** The clock the buckets run on, in milliseconds. */
  now(): number;
}

interface Wait {
  timer: ReturnType<typeof setTimeout>;
  reject(err: Error): void;
}

function minBurst(bs: readonly TokenBucket[]): number {
  let m = Infinity;
  for (const b of bs) if (b.burst < m) m = b.burst;
  return Math.max(1, Math.floor(m));
}

/**
 * A read or write takes at most one burst of the slowest bucket; a read
 * that got more than that (the limits dropped while it was in flight) keeps
 * the rest and returns it on the next reads. Closing the conn rejects a
 * pending wait with {@linkcode ClosedError} and clears its timer.
 */
export class LimitedConn implements Conn {
  readonly #inner: Conn;
  readonly #budget: TrafficBudget;
  /** Bytes read from the client and not yet returned. */
  #pending: Uint8Array | null = null;
  #closed = false;
  readonly #waits = new Set<Wait>();

  constructor(inner: Conn, budget: TrafficBudget) {
    this.#inner = inner;
    this.#budget = budget;
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }

  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed || p.length === 0) return this.#inner.read(p);
    const bs = this.#budget.buckets("in");
    if (this.#pending) return this.#readPending(p, bs);
    if (bs.length === 0) return this.#inner.read(p);
    return this.#read(p, bs);
  }

  async #readPending(p: Uint8Array, bs: readonly TokenBucket[]): Promise<number> {
    const src = this.#pending!;
    let n = Math.min(p.length, src.length);
    if (bs.length > 0) n = Math.min(n, minBurst(bs));
    // Taken at once, so a second read cannot return the same bytes.
    p.set(src.subarray(0, n));
    this.#pending = n < src.length ? src.subarray(n) : null;
    if (bs.length > 0) await this.#charge(bs, n);
    return n;
  }

  async #read(p: Uint8Array, bs: readonly TokenBucket[]): Promise<number | null> {
    const want = Math.min(p.length, minBurst(bs));
    const n = await this.#inner.read(want < p.length ? p.subarray(0, want) : p);
    if (n === null || n === 0) return n;
    // The limits may have changed while the read was in flight.
    const now = this.#budget.buckets("in");
    const take = now.length > 0 ? Math.min(n, minBurst(now)) : n;
    if (take < n) this.#pending = p.slice(take, n);
    if (now.length > 0) await this.#charge(now, take);
    return take;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed || p.length === 0) return this.#inner.write(p);
    const bs = this.#budget.buckets("out");
    if (bs.length === 0) return this.#inner.write(p);
    return this.#write(p, bs);
  }

  async #write(p: Uint8Array, bs: readonly TokenBucket[]): Promise<number> {
    const n = Math.min(p.length, minBurst(bs));
    await this.#charge(bs, n);
    const m = await this.#inner.write(n < p.length ? p.subarray(0, n) : p);
    if (m < n) {
      const now = this.#budget.now();
      for (const b of bs) b.refund(n - m, now);
    }
    return m;
  }

  closeWrite(): Promise<void> {
    return this.#inner.closeWrite();
  }

  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#pending = null;
      const err = new ClosedError();
      for (const w of this.#waits) {
        clearTimeout(w.timer);
        w.reject(err);
      }
      this.#waits.clear();
    }
    this.#inner.close();
  }

  /** Charges `n` to every bucket at once and waits for the one deepest in debt. */
  #charge(bs: readonly TokenBucket[], n: number): Promise<void> | void {
    const now = this.#budget.now();
    let wait = 0;
    for (const b of bs) wait = Math.max(wait, b.reserve(n, now));
    if (wait <= 0) return;
    if (this.#closed) return Promise.reject(new ClosedError());
    return new Promise((resolve, reject) => {
      const w: Wait = {
        reject,
        timer: setTimeout(() => {
          this.#waits.delete(w);
          resolve();
        }, Math.ceil(wait)),
      };
      this.#waits.add(w);
    });
  }
}
