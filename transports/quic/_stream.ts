/**
 * One QUIC bidirectional stream as a {@linkcode Conn} (GOST's `quicConn`:
 * the stream, with the connection's addresses).
 *
 * Reads go through a BYOB reader into a scratch buffer of this conn's own
 * and are copied out: a BYOB read detaches the buffer it is given, and the
 * caller owns `p`. So at most one scratch buffer is held per stream.
 *
 * Deno reports a peer's RESET_STREAM as a plain end of stream, so a reset
 * reads as EOF here.
 *
 * @module
 */
import { ClosedError, type Conn } from "../types.ts";

/** Largest scratch buffer one stream reads into. @default 262144 */
export const MAX_READ = 256 * 1024;

/** A QUIC stream adapted to the read/write/closeWrite/close shape. */
export class QuicStreamConn implements Conn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  readonly #reader: ReadableStreamBYOBReader;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #onClose: (() => void) | undefined;
  #scratch: ArrayBuffer | undefined;
  #writing = false;
  #writeClosed = false;
  #eof = false;
  #closed = false;

  constructor(
    stream: Deno.QuicBidirectionalStream,
    localAddr: Deno.NetAddr,
    remoteAddr: Deno.NetAddr,
    onClose?: () => void,
  ) {
    this.#reader = stream.readable.getReader({ mode: "byob" });
    this.#writer = stream.writable.getWriter();
    // A failed write or close rejects `closed` too; the error surfaces where it happened.
    this.#writer.closed.catch(() => {});
    this.#reader.closed.catch(() => {});
    this.localAddr = localAddr;
    this.remoteAddr = remoteAddr;
    this.#onClose = onClose;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) throw new ClosedError();
    if (this.#eof) return null;
    if (p.length === 0) return 0;
    const want = Math.min(p.length, MAX_READ);
    const scratch = this.#scratch && this.#scratch.byteLength >= want ? this.#scratch : new ArrayBuffer(want);
    this.#scratch = undefined;
    const { value, done } = await this.#reader.read(new Uint8Array(scratch, 0, want));
    if (value) this.#scratch = value.buffer;
    if (this.#closed) throw new ClosedError();
    if (done) {
      this.#eof = true;
      return null;
    }
    p.set(value);
    return value.length;
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw new ClosedError();
    if (this.#writeClosed) throw new ClosedError("Write on a half-closed stream");
    if (p.length === 0) return 0;
    this.#writing = true;
    try {
      // Resolves once Deno has taken the bytes, so the caller may reuse `p`.
      await this.#writer.write(p);
    } catch (err) {
      if (this.#closed) throw new ClosedError();
      throw err;
    } finally {
      this.#writing = false;
    }
    return p.length;
  }

  /** Sends FIN; reading goes on. */
  async closeWrite(): Promise<void> {
    if (this.#closed) throw new ClosedError();
    if (this.#writeClosed) return;
    this.#writeClosed = true;
    await this.#writer.close();
  }

  /**
   * Ends the stream: the send side gets a FIN (as GOST's Close does, so
   * written bytes still arrive) unless a write is stuck on flow control, when
   * it is reset instead; the receive side is stopped (STOP_SENDING).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#writeClosed) {
      this.#writeClosed = true;
      (this.#writing ? this.#writer.abort(new ClosedError()) : this.#writer.close()).catch(() => {});
    }
    if (!this.#eof) this.#reader.cancel().catch(() => {});
    this.#onClose?.();
  }

  /** True once close() ran. */
  get closed(): boolean {
    return this.#closed;
  }
}
