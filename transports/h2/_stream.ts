/**
 * One HTTP/2 stream as a {@linkcode Conn}: DATA frames in and out, with
 * HTTP/2 flow control, half-close (END_STREAM) and reset (RST_STREAM).
 *
 * @module
 */
import { type Addr, ClosedError, type Conn } from "../types.ts";
import { RecvBuffer } from "../_mux/recv_buffer.ts";
import { ErrorCode, errorName, FLAG_END_STREAM, FRAME_HEADER_SIZE, putFrameHeader } from "./_frame.ts";
import type { HeaderField } from "./_hpack.ts";

/**
 * Most payload one `write()` puts into one queued buffer (split into frames
 * of the peer's maximum size; dost and Go servers take 1 MiB frames). 1 MiB
 * rather than 256 KiB moved 8–10% more through relay+h2 (docs/benchmarks.md).
 */
export const WRITE_CHUNK = 1024 * 1024;
/** Smallest free space in a pending read for the session to read DATA into it directly. */
const DIRECT_READ_MIN = 16 * 1024;

/**
 * What a stream needs from its session (kept as a private object so the
 * stream does not import the session).
 * @internal
 */
export interface StreamHost {
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  maxFrameSize(): number;
  /** Connection-level send window left. */
  connWindow(): number;
  /** Takes `n` bytes of the connection-level send window. */
  spendConnWindow(n: number): void;
  /** A buffer for `n` bytes, possibly recycled once written. */
  alloc(n: number): Uint8Array;
  /** Queues frames behind other queued data (FIFO per session). */
  sendData(frames: Uint8Array, owner?: H2Stream, payload?: number): void;
  /** Queues a HEADERS block (with CONTINUATIONs as needed) in the data queue. */
  sendHeaders(id: number, headers: readonly HeaderField[], endStream: boolean): void;
  /** Queues RST_STREAM behind this stream's queued data. */
  sendReset(id: number, code: number): void;
  /** `n` bytes of this stream were read by the application. */
  consumed(stream: H2Stream, n: number): void;
  /** Asks for `_flushRead()` at the end of the current parse pass. */
  schedule(stream: H2Stream): void;
  /** Forgets the stream; later frames for its id are discarded. */
  release(stream: H2Stream): void;
}

interface PendingRead {
  p: Uint8Array;
  filled: number;
  resolve: (n: number | null) => void;
  reject: (err: unknown) => void;
}

/** Raised by I/O on a stream the peer reset. */
export class StreamResetError extends Deno.errors.ConnectionReset {
  readonly code: number;
  constructor(code: number, byPeer: boolean) {
    super(`HTTP/2 stream reset${byPeer ? " by peer" : ""} (${errorName(code)})`);
    this.name = "StreamResetError";
    this.code = code;
  }
}

/**
 * An HTTP/2 stream. The application reads the peer's DATA and writes its
 * own; `closeWrite()` ends our side with END_STREAM while reads go on;
 * `close()` ends both (END_STREAM, then RST_STREAM when the peer's side is
 * still open: CANCEL from a client, NO_ERROR from a server, as Go does).
 */
export class H2Stream implements Conn {
  readonly id: number;
  readonly #host: StreamHost;
  /** True when we opened the stream (client request). */
  readonly local: boolean;

  /** Headers that opened the stream (server side: the request). */
  requestHeaders: HeaderField[] = [];
  /** Trailers the peer sent, once they arrived. */
  trailers: HeaderField[] | undefined;
  /** Overrides the remote address (client IP from proxy headers). */
  remoteAddrOverride: Addr | undefined;

  // Response (client side).
  #response: Promise<HeaderField[]>;
  #resolveResponse!: (h: HeaderField[]) => void;
  #rejectResponse!: (e: unknown) => void;
  #gotResponse = false;

  // Receive side. Invariant: a read is pending only while nothing is buffered.
  // DATA no read was waiting for.
  readonly #held = new RecvBuffer();
  #reader: PendingRead | null = null;
  /** The read whose buffer the session is reading into directly. */
  #direct: PendingRead | null = null;
  #scheduled = false;
  /** Receive window left for the peer. */
  recvWindow: number;
  /** Bytes read by the application and not yet given back with WINDOW_UPDATE. */
  recvUnacked = 0;
  /** The receive window this stream is granted (grows while its reader keeps up). */
  windowTarget: number;
  /** Bytes given back since `windowSince` (window auto-tuning). */
  windowConsumed = 0;
  windowSince: number = performance.now();

  // Send side.
  sendWindow: number;
  #queued = 0;
  readonly #queueLimit = 2 * WRITE_CHUNK;
  #waiters: (() => void)[] = [];

  // State.
  /** END_STREAM arrived: reads end cleanly once the buffer is drained. */
  #eof = false;
  #remoteEnded = false;
  #localEnded = false;
  #closed = false;
  #reset: StreamResetError | null = null;
  #sessionError: Error | null = null;
  #responded = false;

  /** @internal Created by the session only. */
  constructor(id: number, host: StreamHost, local: boolean, recvWindow: number, sendWindow: number) {
    this.id = id;
    this.#host = host;
    this.local = local;
    this.recvWindow = recvWindow;
    this.windowTarget = recvWindow;
    this.sendWindow = sendWindow;
    this.#response = new Promise<HeaderField[]>((resolve, reject) => {
      this.#resolveResponse = resolve;
      this.#rejectResponse = reject;
    });
    this.#response.catch(() => {});
  }

  get localAddr(): Addr {
    return this.#host.localAddr;
  }
  get remoteAddr(): Addr {
    return this.remoteAddrOverride ?? this.#host.remoteAddr;
  }

  /** Client side: the response headers (first non-1xx HEADERS). Rejects on reset or session death. */
  get response(): Promise<HeaderField[]> {
    return this.#response;
  }

  /** The first value of request header `name` (lower case). */
  header(name: string): string | undefined {
    return this.requestHeaders.find(([n]) => n === name)?.[1];
  }

  /** True once the peer ended its side (END_STREAM or reset). */
  get remoteEnded(): boolean {
    return this.#remoteEnded;
  }
  /** True once our side ended (END_STREAM sent or reset). */
  get localEnded(): boolean {
    return this.#localEnded;
  }
  /** The reset that ended the stream, if any. */
  get resetCode(): number | undefined {
    return this.#reset?.code;
  }

  // ---- application API ----

  /** Server side: sends the response headers (once). */
  respond(headers: readonly HeaderField[], endStream = false): void {
    if (this.#responded) throw new Error(`HTTP/2 stream ${this.id}: response already sent`);
    this.#checkWritable();
    this.#responded = true;
    this.#host.sendHeaders(this.id, headers, endStream);
    if (endStream) this.#endLocal();
  }

  /** Sends trailers (HEADERS with END_STREAM) behind queued data: our side ends. */
  sendTrailers(headers: readonly HeaderField[]): void {
    this.#checkWritable();
    this.#host.sendHeaders(this.id, headers, true);
    this.#endLocal();
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new ClosedError("HTTP/2 stream closed"));
    if (this.#reader) return Promise.reject(new Error(`Concurrent read on HTTP/2 stream ${this.id}`));
    if (p.length === 0) return Promise.resolve(0);
    if (this.#held.size > 0) {
      const n = this.#held.drainInto(p);
      this.#host.consumed(this, n);
      return Promise.resolve(n);
    }
    if (this.#eof) return Promise.resolve(null);
    if (this.#reset) return Promise.reject(this.#reset);
    if (this.#sessionError) return Promise.reject(this.#sessionError);
    if (this.#remoteEnded) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#reader = { p, filled: 0, resolve, reject };
    });
  }

  /** Bytes already received, without waiting (see `Conn.readReady`). */
  readReady(p: Uint8Array): number {
    if (this.#closed || this.#reader || this.#held.size === 0 || p.length === 0) return 0;
    const n = this.#held.drainInto(p);
    this.#host.consumed(this, n);
    return n;
  }

  /**
   * Queues `p` as DATA frames within the flow-control windows; resolves once
   * at most two chunks of this stream wait for the transport. `p` may be
   * reused as soon as this resolves.
   */
  async write(p: Uint8Array): Promise<number> {
    await this.writev([p]);
    return p.length;
  }

  /** Writes the concatenation of `parts` (e.g. a message prefix and its payload) as one byte run. */
  async writev(parts: readonly Uint8Array[]): Promise<void> {
    this.#checkWritable();
    const host = this.#host;
    let total = 0;
    for (const p of parts) total += p.length;
    let part = 0;
    let partOff = 0;
    for (let left = total; left > 0;) {
      const room = Math.min(left, WRITE_CHUNK, this.sendWindow, host.connWindow());
      if (room <= 0) {
        await this.#changed();
        this.#checkWritable();
        continue;
      }
      const max = host.maxFrameSize();
      const frames = Math.ceil(room / max);
      const buf = host.alloc(room + frames * FRAME_HEADER_SIZE);
      let at = 0;
      for (let chunkLeft = room; chunkLeft > 0;) {
        const n = Math.min(chunkLeft, max);
        putFrameHeader(buf, at, n, 0, 0, this.id);
        at += FRAME_HEADER_SIZE;
        // Copy n bytes from the parts.
        for (let need = n; need > 0;) {
          const src = parts[part];
          const take = Math.min(need, src.length - partOff);
          buf.set(take === src.length ? src : src.subarray(partOff, partOff + take), at);
          at += take;
          need -= take;
          partOff += take;
          if (partOff === src.length) {
            part++;
            partOff = 0;
          }
        }
        chunkLeft -= n;
      }
      this.sendWindow -= room;
      host.spendConnWindow(room);
      this.#queued += room;
      host.sendData(buf, this, room);
      left -= room;
      while (this.#queued >= this.#queueLimit) {
        await this.#changed();
        this.#checkWritable();
      }
    }
  }

  /** Ends our side (empty DATA with END_STREAM) behind queued data; reads go on. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("HTTP/2 stream closed"));
    if (this.#localEnded) return Promise.resolve();
    if (this.#sessionError) return Promise.reject(this.#sessionError);
    if (this.#reset) return Promise.reject(this.#reset);
    this.#sendEnd();
    return Promise.resolve();
  }

  /** Resets the stream with `code` (default CANCEL). */
  reset(code: number = ErrorCode.CANCEL): void {
    if (this.#reset || this.#sessionError) return;
    if (!(this.#localEnded && this.#remoteEnded)) this.#host.sendReset(this.id, code);
    this.#reset = new StreamResetError(code, false);
    this.#localEnded = true;
    this.#remoteEnded = true;
    this.#failPending(this.#reset);
    this.#host.release(this);
  }

  /** Ends the stream both ways and drops unread data. Idempotent. */
  close(): void {
    if (this.#closed) return;
    if (!this.#sessionError && !this.#reset) {
      if (!this.#localEnded) this.#sendEnd();
      if (!this.#remoteEnded) {
        this.#host.sendReset(this.id, this.local ? ErrorCode.CANCEL : ErrorCode.NO_ERROR);
        this.#remoteEnded = true;
      }
    }
    this.#closed = true;
    if (this.#held.size > 0) {
      this.#host.consumed(this, this.#held.size);
      this.#held.clear();
    }
    this.#failPending(new ClosedError("HTTP/2 stream closed"));
    this.#host.release(this);
  }

  #sendEnd(): void {
    // An empty DATA frame with END_STREAM; flow control does not count it.
    const f = new Uint8Array(FRAME_HEADER_SIZE);
    putFrameHeader(f, 0, 0, 0, FLAG_END_STREAM, this.id);
    this.#host.sendData(f);
    this.#endLocal();
  }

  /** @internal Our side ended with the HEADERS just queued. */
  _endLocal(): void {
    this.#endLocal();
  }

  #endLocal(): void {
    this.#localEnded = true;
    this.#notify();
    if (this.#remoteEnded) this.#host.release(this);
  }

  #checkWritable(): void {
    if (this.#closed) throw new ClosedError("HTTP/2 stream closed");
    if (this.#reset) throw this.#reset;
    if (this.#sessionError) throw this.#sessionError;
    if (this.#localEnded) throw new Deno.errors.BrokenPipe(`HTTP/2 stream ${this.id} closed for writing`);
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    if (this.#waiters.length === 0) return;
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #failPending(err: Error): void {
    const r = this.#reader;
    if (r) {
      this.#reader = null;
      if (r.filled > 0) r.resolve(r.filled);
      else r.reject(err);
    }
    this.#rejectResponse(err);
    this.#notify();
  }

  #completeRead(): void {
    const r = this.#reader!;
    this.#reader = null;
    this.#host.consumed(this, r.filled);
    r.resolve(r.filled);
  }

  // ---- session callbacks ----

  /**
   * @internal DATA payload (a view of the session's read buffer, valid only
   * during this call): fills a pending read directly, copies the rest.
   */
  _push(data: Uint8Array): void {
    if (this.#closed) {
      this.#host.consumed(this, data.length);
      return;
    }
    let off = 0;
    const r = this.#reader;
    if (r) {
      const n = Math.min(data.length, r.p.length - r.filled);
      r.p.set(n === data.length ? data : data.subarray(0, n), r.filled);
      r.filled += n;
      off = n;
      if (r.filled === r.p.length) {
        this.#completeRead();
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        this.#host.schedule(this);
      }
    }
    if (off < data.length) this.#held.push(off === 0 ? data : data.subarray(off));
  }

  /**
   * @internal Where the session may read up to `max` more DATA bytes of
   * this stream straight from the transport: the free part of the pending
   * read (which may hold bytes of the same frame already), when it is big
   * enough to be worth a transport read of its own. Null when no read waits.
   * A non-null answer must be followed by {@linkcode _directDone}.
   */
  _directTarget(max: number): Uint8Array | null {
    const r = this.#reader;
    if (!r || this.#held.size > 0) return null;
    const room = r.p.length - r.filled;
    if (room < DIRECT_READ_MIN) return null;
    this.#direct = r;
    this.#scheduled = false;
    return r.p.subarray(r.filled, r.filled + Math.min(room, max));
  }

  /**
   * @internal `n` bytes landed in the buffer {@linkcode _directTarget} gave.
   * The read completes; if it was settled meanwhile (the stream or session
   * was closed), the bytes are dropped with the stream.
   */
  _directDone(n: number): void {
    const r = this.#direct;
    this.#direct = null;
    if (r !== null && r === this.#reader) {
      r.filled += n;
      this.#completeRead();
    } else {
      this.#host.consumed(this, n);
    }
  }

  /** @internal End of a parse pass: hand a partly filled read to the application. */
  _flushRead(): void {
    this.#scheduled = false;
    if (this.#reader && this.#reader.filled > 0) this.#completeRead();
  }

  /** @internal The peer ended its side. */
  _endRemote(): void {
    if (this.#remoteEnded) return;
    this.#remoteEnded = true;
    this.#eof = true;
    const r = this.#reader;
    if (r) {
      if (r.filled > 0) {
        this.#completeRead();
      } else {
        this.#reader = null;
        r.resolve(null);
      }
    }
    if (!this.#gotResponse) this.#rejectResponse(new Deno.errors.UnexpectedEof("HTTP/2 stream ended without response"));
    this.#notify();
    if (this.#localEnded) this.#host.release(this);
  }

  /** @internal A HEADERS block for this stream (response or trailers); returns false on a protocol error. */
  _headers(headers: HeaderField[], endStream: boolean): boolean {
    if (this.local && !this.#gotResponse) {
      const status = Number(headers.find(([n]) => n === ":status")?.[1]);
      if (!Number.isInteger(status)) return false;
      if (status >= 100 && status < 200) return !endStream; // informational: wait for the final response
      this.#gotResponse = true;
      this.#resolveResponse(headers);
    } else {
      if (!endStream) return false; // trailers must end the stream
      this.trailers = headers;
    }
    if (endStream) this._endRemote();
    return true;
  }

  /** @internal RST_STREAM from the peer. */
  _reset(code: number): void {
    if (this.#reset) return;
    this.#reset = new StreamResetError(code, true);
    this.#localEnded = true;
    this.#remoteEnded = true;
    // Data that already arrived stays readable; a pending read with nothing fails.
    const r = this.#reader;
    if (r) {
      this.#reader = null;
      if (r.filled > 0) {
        this.#host.consumed(this, r.filled);
        r.resolve(r.filled);
      } else r.reject(this.#reset);
    }
    this.#rejectResponse(this.#reset);
    this.#notify();
    this.#host.release(this);
  }

  /** @internal WINDOW_UPDATE for this stream or the connection, or new SETTINGS. */
  _windowChanged(): void {
    this.#notify();
  }

  /** @internal Some of this stream's DATA reached the transport. */
  _written(n: number): void {
    this.#queued -= n;
    if (this.#queued < this.#queueLimit) this.#notify();
  }

  /** @internal The session died. */
  _sessionClosed(err: Error): void {
    if (this.#sessionError) return;
    this.#sessionError = err;
    const r = this.#reader;
    if (r) {
      this.#reader = null;
      if (r.filled > 0) r.resolve(r.filled);
      else if (this.#eof) r.resolve(null);
      else r.reject(this.#reset ?? err);
    }
    this.#rejectResponse(err);
    this.#notify();
  }
}
