/**
 * A `node:stream` Duplex over any {@linkcode Conn}, so `node:tls` can run over
 * tunnel streams as well as sockets.
 *
 * Backpressure both ways: the read loop stops as soon as `push()` returns
 * false and starts again on the next `_read()`; `_write` completes only when
 * the inner conn took every byte.
 *
 * @module
 */
import { Duplex } from "node:stream";
import { Buffer } from "node:buffer";
import type { Conn } from "../types.ts";
import { writeAll } from "../_io/write_all.ts";

/** Size of each read from the inner conn. */
const READ_SIZE = 64 * 1024;
/** Reads shorter than this are copied out so the big read buffer can be reused. */
const COPY_BELOW = 8 * 1024;

type Callback = (err?: Error | null) => void;

export class ConnDuplex extends Duplex {
  readonly conn: Conn;
  #reading = false;
  #wanted = false;
  #held = false;
  #buf: Uint8Array = new Uint8Array(READ_SIZE);

  constructor(conn: Conn) {
    super({ allowHalfOpen: true, readableHighWaterMark: READ_SIZE, writableHighWaterMark: READ_SIZE });
    this.conn = conn;
    // The TLS socket on top sees failures through its own events; an 'error'
    // without any listener would otherwise take the whole process down.
    this.on("error", () => {});
  }

  override _read(): void {
    this.#wanted = true;
    if (this.#reading || this.#held) return;
    this.#reading = true;
    this.#readLoop();
  }

  /**
   * Stops reading the inner conn until {@linkcode release}. The TLS layer on
   * top takes every chunk pushed to it whatever its own state, so this is
   * how a TLS conn whose reader fell behind stops the peer.
   */
  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    if (this.#wanted) this._read();
  }

  async #readLoop(): Promise<void> {
    for (;;) {
      if (this.#held) {
        this.#reading = false;
        return;
      }
      let n: number | null;
      try {
        n = await this.conn.read(this.#buf);
      } catch (err) {
        this.#reading = false;
        if (!this.destroyed) this.destroy(err as Error);
        return;
      }
      if (this.destroyed) return;
      if (n === null) {
        this.#reading = false;
        this.push(null);
        return;
      }
      let chunk: Uint8Array;
      if (n < COPY_BELOW) {
        chunk = this.#buf.slice(0, n);
      } else {
        chunk = this.#buf.subarray(0, n);
        this.#buf = new Uint8Array(READ_SIZE);
      }
      if (!this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        this.#reading = false;
        this.#wanted = false;
        return;
      }
    }
  }

  override _write(chunk: Uint8Array, _enc: string, cb: Callback): void {
    writeAll(this.conn, chunk).then(() => cb(), (err) => cb(err));
  }

  override _writev(chunks: { chunk: Uint8Array }[], cb: Callback): void {
    const data = chunks.length === 1 ? chunks[0].chunk : Buffer.concat(chunks.map((c) => c.chunk));
    writeAll(this.conn, data).then(() => cb(), (err) => cb(err));
  }

  override _final(cb: Callback): void {
    this.conn.closeWrite().then(() => cb(), (err) => cb(err));
  }

  override _destroy(err: Error | null, cb: Callback): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    cb(err);
  }
}
