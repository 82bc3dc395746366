import { closeQuietly } from "./write_all.ts";
import type { Addr, Conn } from "../types.ts";

/**
 * A Conn with a read-ahead buffer, for protocol parsers that must peek at or
 * read a few bytes and then hand the untouched rest of the stream on.
 * Bytes read ahead are returned by `read` before the inner conn is read again,
 * so nothing a client sent early (e.g. a TLS ClientHello after CONNECT) is lost.
 */
const EMPTY = new Uint8Array(0);

export class BufferedConn implements Conn {
  #inner: Conn;
  readonly #size: number;
  /** The read-ahead buffer; empty once drained by `read`, so a long-lived conn does not keep it. */
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #eof = false;

  constructor(inner: Conn, size = 4096) {
    this.#inner = inner instanceof BufferedConn && inner.buffered === 0 ? inner.inner : inner;
    this.#size = size;
    this.#buf = new Uint8Array(size);
  }

  get inner(): Conn {
    return this.#inner;
  }
  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }
  /** Number of bytes read ahead and not yet consumed. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Reads more into the buffer; false at end of stream or when full. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#buf.length === 0) this.#buf = new Uint8Array(this.#size);
    if (this.#start > 0 && this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      if (this.#start === 0) return false;
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const n = await this.#inner.read(this.#buf.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /**
   * Returns at least `n` buffered bytes without consuming them, or fewer at
   * end of stream. `n` must not exceed the buffer size.
   */
  async peek(n: number): Promise<Uint8Array> {
    if (n > this.#size) throw new RangeError(`Cannot peek ${n} bytes: buffer is ${this.#size}`);
    while (this.buffered < n && await this.#fill()) {
      // keep filling
    }
    return this.#buf.subarray(this.#start, this.#start + Math.min(n, this.buffered));
  }

  /** Reads exactly `n` bytes; throws on early end of stream. */
  async readExact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const r = await this.read(out.subarray(off));
      if (r === null) throw new Deno.errors.UnexpectedEof(`Unexpected end of stream: wanted ${n} bytes, got ${off}`);
      off += r;
    }
    return out;
  }

  /** Reads one byte; throws on end of stream. */
  async readByte(): Promise<number> {
    if (this.buffered === 0 && !(await this.#fill())) {
      throw new Deno.errors.UnexpectedEof("Unexpected end of stream");
    }
    return this.#buf[this.#start++];
  }

  /**
   * Reads up to and including the first occurrence of `delim` (e.g. CRLFCRLF),
   * with at most `max` bytes. Returns null on a clean end of stream before any
   * byte; throws on a truncated or oversized head.
   */
  async readUntil(delim: Uint8Array, max: number): Promise<Uint8Array | null> {
    const out: number[] = [];
    let scanFrom = 0;
    for (;;) {
      const view = this.#buf.subarray(this.#start, this.#end);
      const idx = indexOf(view, delim, scanFrom);
      if (idx >= 0) {
        const take = idx + delim.length;
        if (out.length + take > max) throw new RangeError(`Header exceeds ${max} bytes`);
        const res = new Uint8Array(out.length + take);
        res.set(out);
        res.set(view.subarray(0, take), out.length);
        this.#start += take;
        return res;
      }
      // Move all but the last delim.length-1 bytes out of the buffer.
      const keep = Math.min(view.length, delim.length - 1);
      const move = view.length - keep;
      for (let i = 0; i < move; i++) out.push(view[i]);
      this.#start += move;
      scanFrom = 0;
      if (out.length + keep > max) throw new RangeError(`Header exceeds ${max} bytes`);
      if (!(await this.#fill())) {
        if (out.length === 0 && this.buffered === 0) return null;
        throw new Deno.errors.UnexpectedEof("Unexpected end of stream inside header");
      }
    }
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#end > this.#start) return Promise.resolve(this.readReady(p));
    if (this.#eof) return Promise.resolve(null);
    return this.#inner.read(p);
  }

  /** The bytes read ahead, then what the inner conn already holds (see `Conn.readReady`). */
  readReady(p: Uint8Array): number {
    const n = Math.min(this.#end - this.#start, p.length);
    p.set(this.#buf.subarray(this.#start, this.#start + n));
    this.#start += n;
    if (this.#start === this.#end) {
      // Drained: reads pass through from now on, so the buffer goes (a later peek makes a new one).
      this.#buf = EMPTY;
      this.#start = this.#end = 0;
    }
    if (n === p.length || this.#eof) return n;
    return n + (this.#inner.readReady?.(p.subarray(n)) ?? 0);
  }

  write(p: Uint8Array): Promise<number> {
    return this.#inner.write(p);
  }
  closeWrite(): Promise<void> {
    return this.#inner.closeWrite();
  }
  close(): void {
    closeQuietly(this.#inner);
  }

  /**
   * Returns the inner conn when nothing is buffered, so the hot path copies
   * straight from the socket; otherwise this wrapper.
   */
  unwrap(): Conn {
    return this.buffered === 0 && !this.#eof ? this.#inner : this;
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (
    let i = hay.indexOf(first, from);
    i >= 0 && i <= hay.length - needle.length;
    i = hay.indexOf(first, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
