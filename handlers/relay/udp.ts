/**
 * Relay UDP on the server side (`relay.md` §2.1): the client stream carries
 * datagrams as `LEN(2, BE) ‖ DATA`; the OK response is glued to the first
 * datagram sent back (or written at once with `nodelay`).
 *
 * @module
 */
import { closeQuietly, concat, writeAll } from "../../transports/_io/write_all.ts";
import type { Addr, Conn } from "../../transports/types.ts";
import { readFull } from "./protocol.ts";

/** Largest datagram a length prefix can describe. */
export const MAX_RELAY_DATAGRAM = 0xffff;

/**
 * The client stream of a relay UDP CONNECT as a datagram Conn: each read
 * returns one length-prefixed datagram (truncated to the buffer), each write
 * sends one, the first behind `head` (the deferred OK response) if given.
 */
export class RelayDatagramConn implements Conn {
  readonly #inner: Conn;
  #head: Uint8Array | null;
  readonly #len = new Uint8Array(2);

  constructor(inner: Conn, head: Uint8Array | null) {
    this.#inner = inner;
    this.#head = head;
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (!(await readFull(this.#inner, this.#len, "datagram length"))) return null;
    const n = (this.#len[0] << 8) | this.#len[1];
    if (n === 0) return 0;
    const fits = n <= p.length;
    const dst = fits ? p.subarray(0, n) : new Uint8Array(n);
    if (!(await readFull(this.#inner, dst, "datagram"))) {
      throw new Deno.errors.UnexpectedEof(`Truncated relay datagram: wanted ${n} bytes, got 0`);
    }
    if (fits) return n;
    p.set(dst.subarray(0, p.length));
    return p.length;
  }

  async write(p: Uint8Array): Promise<number> {
    if (p.length > MAX_RELAY_DATAGRAM) {
      throw new RangeError(`Datagram of ${p.length} bytes exceeds the relay maximum of ${MAX_RELAY_DATAGRAM}`);
    }
    const head = this.#head ?? new Uint8Array(0);
    this.#head = null;
    await writeAll(this.#inner, concat(head, new Uint8Array([p.length >> 8, p.length & 0xff]), p));
    return p.length;
  }

  async closeWrite(): Promise<void> {
    const head = this.#head;
    this.#head = null;
    if (head) await writeAll(this.#inner, head);
    await this.#inner.closeWrite();
  }

  close(): void {
    closeQuietly(this.#inner);
  }
}
