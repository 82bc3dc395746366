/**
 * The server side of one PHT session as a {@linkcode Conn}: what clients
 * push comes out of `read`, what the handler writes goes out through the
 * pull. Both directions are unbuffered hand-overs, so backpressure runs end
 * to end: a push is answered only once the handler has read its bytes, and
 * a `write` resolves only once a pull has taken its bytes for the wire.
 *
 * Closing: the client's close POST ends the read side (EOF for the
 * handler) while the pull goes on delivering what the handler still writes,
 * so dost clients get a real half-close; the handler's `closeWrite()` ends
 * the pull stream (EOF for the client). When both sides are done, or on
 * `close()`, the session is gone and the server forgets its token.
 *
 * @module
 */
import { type Addr, ClosedError, type Conn } from "../types.ts";

interface Inbound {
  data: Uint8Array;
  off: number;
  done(consumed: boolean): void;
}

interface Outbound {
  data: Uint8Array;
  off: number;
  resolve(): void;
  reject(err: unknown): void;
}

/** What a pull waiting for data was woken by. */
export type PullWake = "data" | "end" | "timeout" | "superseded";

/** One PHT session (server side). */
export class PhtSession implements Conn {
  readonly token: string;
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  /** `performance.now()` of the last request that touched this session. */
  lastActive = performance.now();
  /** Pushes waiting for the handler to read them. */
  readonly #in: Inbound[] = [];
  readonly #out: Outbound[] = [];
  #outBytes = 0;
  #readWake: (() => void) | undefined;
  #pullWake: ((w: PullWake) => void) | undefined;
  /** The pull currently attached (a newer pull replaces an older one). */
  #pull: symbol | undefined;
  #readEnd = false;
  #writeEnd = false;
  /** The pull delivered the end of the stream to the client. */
  #endSent = false;
  #closed = false;
  readonly #onClose: (s: PhtSession) => void;
  readonly #closedP = Promise.withResolvers<void>();

  constructor(token: string, localAddr: Addr, remoteAddr: Addr, onClose: (s: PhtSession) => void) {
    this.token = token;
    this.localAddr = localAddr;
    this.remoteAddr = remoteAddr;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }
  /** The client sent its close POST (no more pushes). */
  get readEnded(): boolean {
    return this.#readEnd;
  }
  /** The end of the stream went out to the client (the handler closed its write side). */
  get endSent(): boolean {
    return this.#endSent;
  }
  /** A pull is attached. */
  get pulling(): boolean {
    return this.#pull !== undefined;
  }
  /** Pushes waiting for the handler. */
  get pendingPushes(): number {
    return this.#in.length;
  }
  /** Resolves once the session is closed. */
  get done(): Promise<void> {
    return this.#closedP.promise;
  }

  // ---- Conn (the handler's side) ----

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new ClosedError("PHT session closed");
      const c = this.#in[0];
      if (c) {
        const n = Math.min(p.length, c.data.length - c.off);
        p.set(c.data.subarray(c.off, c.off + n));
        c.off += n;
        if (c.off === c.data.length) {
          this.#in.shift();
          c.done(true);
        }
        return n;
      }
      if (this.#readEnd) return null;
      await new Promise<void>((r) => (this.#readWake = r));
    }
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new ClosedError("PHT session closed"));
    if (this.#writeEnd) return Promise.reject(new Deno.errors.BrokenPipe("Write after closeWrite on a PHT session"));
    if (p.length === 0) return Promise.resolve(0);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#out.push({ data: p, off: 0, resolve, reject });
    this.#outBytes += p.length;
    this.#wakePull("data");
    return promise.then(() => p.length);
  }

  closeWrite(): Promise<void> {
    if (this.#closed || this.#writeEnd) return Promise.resolve();
    this.#writeEnd = true;
    this.#wakePull("end");
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = new ClosedError("PHT session closed");
    for (const c of this.#in.splice(0)) c.done(false);
    for (const o of this.#out.splice(0)) o.reject(err);
    this.#outBytes = 0;
    this.#readWake?.();
    this.#readWake = undefined;
    this.#wakePull("end");
    this.#closedP.resolve();
    this.#onClose(this);
  }

  // ---- the HTTP side ----

  /** Hands a push's bytes to the handler; resolves true once it read them all, false if the session closed. */
  deliver(data: Uint8Array): Promise<boolean> {
    this.lastActive = performance.now();
    if (this.#closed || this.#readEnd) return Promise.resolve(false);
    if (data.length === 0) return Promise.resolve(true);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    this.#in.push({ data, off: 0, done: resolve });
    this.#readWake?.();
    this.#readWake = undefined;
    return promise;
  }

  /** The client's close POST: EOF for the handler; the pull goes on until the handler ends its side. */
  endRead(): void {
    this.lastActive = performance.now();
    if (this.#closed || this.#readEnd) return;
    this.#readEnd = true;
    this.#readWake?.();
    this.#readWake = undefined;
    if (this.#endSent) this.close();
  }

  /** Attaches a pull; an older one still attached is told to end. */
  attachPull(): symbol {
    this.lastActive = performance.now();
    const id = Symbol("pull");
    if (this.#pull) this.#wakePull("superseded");
    this.#pull = id;
    return id;
  }

  /** Detaches pull `id` (its response ended or the client went away). */
  detachPull(id: symbol): void {
    this.lastActive = performance.now();
    if (this.#pull === id) this.#pull = undefined;
  }

  /** True while pull `id` is the attached one. */
  isCurrentPull(id: symbol): boolean {
    return this.#pull === id;
  }

  /**
   * Waits (as pull `id`) until there are bytes to send, the stream ended,
   * `ms` passed, or a newer pull took over.
   */
  waitOut(id: symbol, ms: number, signal?: AbortSignal): Promise<PullWake> {
    if (this.#pull !== id) return Promise.resolve("superseded");
    if (this.#outBytes > 0) return Promise.resolve("data");
    if (this.#closed || this.#writeEnd || signal?.aborted) return Promise.resolve("end");
    return new Promise<PullWake>((resolve) => {
      const finish = (w: PullWake) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (this.#pullWake === finish) this.#pullWake = undefined;
        resolve(w);
      };
      const onAbort = () => finish("end");
      const timer = setTimeout(() => finish("timeout"), ms);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pullWake = finish;
    });
  }

  /** Takes up to `max` bytes written by the handler (resolving the writes fully taken), or null when none wait. */
  take(max: number): Uint8Array | null {
    if (this.#outBytes === 0) return null;
    const first = this.#out[0];
    // Common case: one write covers the batch; hand out a view without copying.
    if (first.data.length - first.off >= max || this.#out.length === 1) {
      const n = Math.min(max, first.data.length - first.off);
      const view = first.data.subarray(first.off, first.off + n);
      first.off += n;
      this.#outBytes -= n;
      if (first.off === first.data.length) {
        this.#out.shift();
        // The bytes are still referenced by `view`; the caller encodes them before the writer may reuse the buffer.
        queueMicrotask(first.resolve);
      }
      return view;
    }
    const size = Math.min(max, this.#outBytes);
    const buf = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const o = this.#out[0];
      const n = Math.min(size - off, o.data.length - o.off);
      buf.set(o.data.subarray(o.off, o.off + n), off);
      o.off += n;
      off += n;
      this.#outBytes -= n;
      if (o.off === o.data.length) {
        this.#out.shift();
        o.resolve();
      }
    }
    return buf;
  }

  /** True when the handler ended its side and everything it wrote was taken. */
  get outEnded(): boolean {
    return (this.#writeEnd || this.#closed) && this.#outBytes === 0;
  }

  /** Records that a pull delivered the end of the stream; the session goes once the client closed too. */
  markEndSent(): void {
    this.#endSent = true;
    if (this.#readEnd) this.close();
  }

  #wakePull(w: PullWake): void {
    const wake = this.#pullWake;
    this.#pullWake = undefined;
    wake?.(w);
  }
}
