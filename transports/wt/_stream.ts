/**
 * One WebTransport bidirectional stream as a {@linkcode Conn}: raw bytes on
 * a QUIC stream whose stream header (0x41, session id) was already written
 * (ours) or read (the peer's).
 *
 * @module
 */
import type { Addr, Conn } from "../types.ts";
import { ClosedError } from "../types.ts";
import type { StreamReader } from "../_h3/stream_reader.ts";

/** A stream of a session, handed to handlers as a Conn. */
export class WtStream implements Conn {
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  readonly #reader: StreamReader;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #onClose: (s: WtStream) => void;
  #readDone = false;
  #writeDone = false;
  #writing = 0;
  #closed = false;

  constructor(
    reader: StreamReader,
    writer: WritableStreamDefaultWriter<Uint8Array>,
    addrs: { localAddr: Addr; remoteAddr: Addr },
    onClose: (s: WtStream) => void,
  ) {
    this.#reader = reader;
    this.#writer = writer;
    this.localAddr = addrs.localAddr;
    this.remoteAddr = addrs.remoteAddr;
    this.#onClose = onClose;
  }

  /** True once close() ran or the session ended it. */
  get closed(): boolean {
    return this.#closed;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) throw new ClosedError();
    if (this.#readDone || p.length === 0) return this.#readDone ? null : 0;
    if (await this.#reader.atEnd()) {
      this.#readDone = true;
      return null;
    }
    const chunk = await this.#reader.readSome(p.length);
    p.set(chunk);
    return chunk.length;
  }

  async write(p: Uint8Array): Promise<number> {
    if (this.#closed) throw new ClosedError();
    if (this.#writeDone) throw new ClosedError("Write on a stream whose sending side is closed");
    if (p.length === 0) return 0;
    this.#writing++;
    try {
      // Deno's QUIC sink is done with `p` once the write resolves, so callers may reuse it.
      await this.#writer.write(p);
    } finally {
      this.#writing--;
    }
    return p.length;
  }

  async closeWrite(): Promise<void> {
    if (this.#closed || this.#writeDone) return;
    this.#writeDone = true;
    await this.#writer.close();
  }

  /**
   * Stops reading (STOP_SENDING) and ends our side: with a FIN, as GOST's
   * Close does, unless a write is still pending, which is then reset.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.cancel();
    if (!this.#writeDone) {
      this.#writeDone = true;
      if (this.#writing > 0) this.#writer.abort().catch(() => {});
      else this.#writer.close().catch(() => {});
    }
    this.#onClose(this);
  }

  /** Ends the stream because its session ended: both directions are reset. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.cancel();
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#writer.abort().catch(() => {});
    }
    this.#onClose(this);
  }
}
