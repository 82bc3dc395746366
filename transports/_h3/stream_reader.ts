/**
 * A pull reader over a QUIC receive stream that parses varints and frame
 * headers across chunk boundaries and hands frame payloads out as they
 * arrive, without copying them when they sit in one chunk. At most one
 * received chunk is held, so memory per stream is bounded by QUIC's read size.
 *
 * @module
 */
import { ErrorCode, type FrameHeader, H3Error } from "./frames.ts";

const EMPTY = new Uint8Array(0);

export class StreamReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = EMPTY;
  #eof = false;
  #cancelled = false;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Makes at least one byte available; false at the end of the stream. */
  async #more(): Promise<boolean> {
    if (this.#cancelled) throw new DOMException("Stream reading was cancelled", "AbortError");
    while (this.#chunk.length === 0) {
      if (this.#eof) return false;
      const { value, done } = await this.#reader.read();
      if (this.#cancelled) throw new DOMException("Stream reading was cancelled", "AbortError");
      if (done) {
        this.#eof = true;
        return false;
      }
      this.#chunk = value;
    }
    return true;
  }

  /** True when the stream ended and every byte was consumed. */
  async atEnd(): Promise<boolean> {
    return !(await this.#more());
  }

  /**
   * Reads one varint; `null` when the stream ends cleanly before it.
   * Ending inside the varint is a truncated frame (H3_FRAME_ERROR).
   */
  async readVarint(): Promise<number | null> {
    if (!(await this.#more())) return null;
    const len = 1 << (this.#chunk[0] >> 6);
    const bytes = await this.#take(len, "varint");
    let v = bytes[0] & 0x3f;
    for (let i = 1; i < len; i++) v = v * 256 + bytes[i];
    return v;
  }

  /** Reads a frame header; `null` when the stream ends cleanly before one. */
  async readFrameHeader(): Promise<FrameHeader | null> {
    const type = await this.readVarint();
    if (type === null) return null;
    const length = await this.readVarint();
    if (length === null) throw new H3Error(ErrorCode.H3_FRAME_ERROR, "Stream ended inside a frame header");
    return { type, length };
  }

  /** Exactly `n` bytes (a copy only when they span chunks). */
  readExact(n: number): Promise<Uint8Array> {
    return this.#take(n, "frame");
  }

  async #take(n: number, what: string): Promise<Uint8Array> {
    if (n === 0) return EMPTY;
    if (!(await this.#more())) throw new H3Error(ErrorCode.H3_FRAME_ERROR, `Stream ended inside a ${what}`);
    if (this.#chunk.length >= n) {
      const out = this.#chunk.subarray(0, n);
      this.#chunk = this.#chunk.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      if (!(await this.#more())) throw new H3Error(ErrorCode.H3_FRAME_ERROR, `Stream ended inside a ${what}`);
      const k = Math.min(n - off, this.#chunk.length);
      out.set(this.#chunk.subarray(0, k), off);
      this.#chunk = this.#chunk.subarray(k);
      off += k;
    }
    return out;
  }

  /** Between 1 and `max` bytes, as received (no copy). Ending first is a truncated frame. */
  async readSome(max: number): Promise<Uint8Array> {
    if (!(await this.#more())) throw new H3Error(ErrorCode.H3_FRAME_ERROR, "Stream ended inside a frame");
    const k = Math.min(max, this.#chunk.length);
    const out = this.#chunk.subarray(0, k);
    this.#chunk = this.#chunk.subarray(k);
    return out;
  }

  /** Discards `n` bytes (unknown frames) without holding them. */
  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.readSome(n)).length;
  }

  /**
   * Stops reading: the peer gets STOP_SENDING, and later reads throw an
   * AbortError. Safe to call more than once.
   */
  cancel(reason?: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#chunk = EMPTY;
    this.#reader.cancel(reason).catch(() => {});
  }
}
