/**
 * The stream under both obfuscations once the fake handshake is parsed:
 * bytes read ahead come first, and the handshake's own answer (a 101 head,
 * a ServerHello) rides with the first write, as gost sends it.
 *
 * @module
 */
import { closeQuietly, concat, writeAll } from "../_io/write_all.ts";
import type { Addr, Conn } from "../types.ts";

/** A conn with read-ahead bytes and a head that is sent with the first write (or on its own by `flush`). */
export class HeadConn implements Conn {
  protected readonly inner: Conn;
  #pre: Uint8Array | undefined;
  #out: Uint8Array | undefined;
  /** The write that carries the head, which later writes must follow. */
  #sending: Promise<void> | undefined;

  constructor(inner: Conn, out?: Uint8Array, pre?: Uint8Array) {
    this.inner = inner;
    this.#out = out?.length ? out : undefined;
    this.#pre = pre?.length ? pre : undefined;
  }

  get localAddr(): Addr {
    return this.inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.inner.remoteAddr;
  }

  /** Adds bytes to return before the inner conn is read again. */
  protected unread(pre: Uint8Array): void {
    if (pre.length) this.#pre = this.#pre ? concat(this.#pre, pre) : pre;
  }

  /** Takes up to `p.length` read-ahead bytes into `p`; 0 when there are none. */
  protected takePre(p: Uint8Array): number {
    const pre = this.#pre;
    if (!pre) return 0;
    const n = Math.min(pre.length, p.length);
    p.set(pre.subarray(0, n));
    this.#pre = n === pre.length ? undefined : pre.subarray(n);
    return n;
  }

  read(p: Uint8Array): Promise<number | null> {
    const n = this.takePre(p);
    return n ? Promise.resolve(n) : this.inner.read(p);
  }

  /** Sends the pending head on its own (before a read that waits for the peer, or a half-close). */
  protected flush(): Promise<void> {
    const out = this.#out;
    if (out) this.#send(out);
    return this.#sending ?? Promise.resolve();
  }

  #send(bytes: Uint8Array): Promise<void> {
    this.#out = undefined;
    const s = writeAll(this.inner, bytes);
    this.#sending = s;
    // Once the head is out, writes go straight through again.
    s.then(() => {
      if (this.#sending === s) this.#sending = undefined;
    }, () => {});
    return s;
  }

  /** Writes all of `framed`, after the pending head (in the same write) or behind the write sending it. */
  protected async writeFramed(framed: Uint8Array): Promise<void> {
    const out = this.#out;
    if (out) return await this.#send(concat(out, framed));
    if (this.#sending) await this.#sending;
    await writeAll(this.inner, framed);
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#out || this.#sending) {
      await this.writeFramed(p);
      return p.length;
    }
    return await this.inner.write(p);
  }

  async closeWrite(): Promise<void> {
    await this.flush();
    await this.inner.closeWrite();
  }

  close(): void {
    closeQuietly(this.inner);
  }
}
