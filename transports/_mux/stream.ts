import { type Addr, ClosedError, type Conn } from "../types.ts";
import type { MuxConfig } from "./config.ts";
import { CMD_FIN, CMD_PSH, encodeFrame, encodeUpd, HEADER_SIZE, putHeader } from "./frame.ts";
import { RecvBuffer } from "./recv_buffer.ts";

/** Window assumed for the peer before its first UPD arrives (v2). */
export const INITIAL_PEER_WINDOW = 262144;

/**
 * What a stream needs from its session. Passed in as a private object so
 * stream.ts does not import session.ts and the Session API stays small.
 * @internal
 */
export interface StreamHost {
  readonly config: MuxConfig;
  readonly localAddr: Addr;
  readonly remoteAddr: Addr;
  /** A buffer for a frame with an `n`-byte payload, possibly recycled once written. */
  allocFrame(n: number): Uint8Array;
  /** Queues a frame behind other queued data (FIFO, so a FIN follows its stream's PSH frames). */
  sendData(frame: Uint8Array, owner?: Stream): void;
  /** Queues a frame ahead of data (UPD), so window updates never wait behind bulk data. */
  sendControl(frame: Uint8Array): void;
  /** Gives back session receive-buffer space after buffered bytes were read or dropped. */
  returnTokens(n: number): void;
  /** Asks for `flushRead()` at the end of the current parse pass. */
  schedule(stream: Stream): void;
  /** Forgets the stream: later frames for its id are discarded. */
  release(stream: Stream): void;
}

interface PendingRead {
  p: Uint8Array;
  filled: number;
  resolve: (n: number | null) => void;
  reject: (err: unknown) => void;
}

/**
 * One smux stream, as a `Conn`.
 *
 * smux has no half-close: `closeWrite()` sends FIN, after which the stream is
 * over for writing and the peer (GOST closes on FIN) will end it too; data
 * already received stays readable until the peer's FIN, then reads return
 * `null`. `close()` sends FIN (if not yet sent) and drops unread data.
 * Writes after the peer's FIN fail with `BrokenPipe`.
 */
export class Stream implements Conn {
  readonly #id: number;
  readonly #host: StreamHost;
  readonly #version: number;
  readonly #v2: boolean;
  readonly #frameSize: number;
  /** Bytes this stream may have queued in the session before a write waits. */
  readonly #queueLimit: number;

  // Receive side. Invariant: a read is pending only while nothing is buffered.
  /** Data no read was waiting for. */
  readonly #held = new RecvBuffer();
  #reader: PendingRead | null = null;
  #scheduled = false;

  // State.
  #peerFin = false;
  #writeClosed = false;
  #closed = false;
  #sessionError: Error | null = null;

  // Send side.
  #queuedBytes = 0;
  #waiters: (() => void)[] = [];

  // Version 2 flow control, all u32.
  #numRead = 0;
  #incr = 0;
  #numWritten = 0;
  #peerConsumed = 0;
  #peerWindow = INITIAL_PEER_WINDOW;

  /** @internal Created by Session only. */
  constructor(id: number, host: StreamHost) {
    this.#id = id;
    this.#host = host;
    this.#version = host.config.version;
    this.#v2 = host.config.version === 2;
    this.#frameSize = host.config.maxFrameSize;
    this.#queueLimit = 2 * host.config.maxFrameSize;
  }

  /** The smux stream id. */
  get id(): number {
    return this.#id;
  }
  get localAddr(): Addr {
    return this.#host.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#host.remoteAddr;
  }

  /** Reads buffered data, else waits; `null` after the peer's FIN. One read at a time. */
  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.reject(new ClosedError("smux stream closed"));
    if (this.#reader) return Promise.reject(new Error(`Concurrent read on smux stream ${this.#id}`));
    if (p.length === 0) return Promise.resolve(0);
    if (this.#held.size > 0) {
      const n = this.#held.drainInto(p);
      this.#host.returnTokens(n);
      this.#consumed(n);
      return Promise.resolve(n);
    }
    if (this.#peerFin) return Promise.resolve(null);
    if (this.#sessionError) return Promise.reject(this.#sessionError);
    return new Promise((resolve, reject) => {
      this.#reader = { p, filled: 0, resolve, reject };
    });
  }

  /**
   * Splits `p` into PSH frames of at most `maxFrameSize` and queues them,
   * resolving with `p.length` once at most two frames' worth of this stream
   * is still waiting for the transport (bounded memory, and the transport
   * always has the next frame ready). v2 also waits for the peer's window.
   * `p` may be reused as soon as this resolves.
   */
  async write(p: Uint8Array): Promise<number> {
    this.#checkWritable();
    const host = this.#host;
    const max = this.#frameSize;
    let off = 0;
    while (off < p.length) {
      let room = p.length - off;
      if (this.#v2) {
        // u32 modular arithmetic read as int32, exactly as smux does.
        const inflight = (this.#numWritten - this.#peerConsumed) | 0;
        if (inflight < 0) throw new RangeError(`smux peer consumed more than sent on stream ${this.#id}`);
        const win = (this.#peerWindow | 0) - inflight;
        if (win <= 0) {
          await this.#changed();
          this.#checkWritable();
          continue;
        }
        if (win < room) room = win;
      }
      const n = room < max ? room : max;
      const frame = host.allocFrame(n);
      putHeader(frame, 0, this.#version, CMD_PSH, n, this.#id);
      frame.set(p.subarray(off, off + n), HEADER_SIZE);
      host.sendData(frame, this);
      this.#queuedBytes += n;
      if (this.#v2) this.#numWritten = (this.#numWritten + n) >>> 0;
      off += n;
      // Bounded pipelining: one frame on the wire, one ready behind it.
      while (this.#queuedBytes >= this.#queueLimit) {
        await this.#changed();
        this.#checkWritable();
      }
    }
    return p.length;
  }

  /** Sends FIN: the stream is over for writing (smux has no half-close); reads go on until the peer's FIN. */
  closeWrite(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("smux stream closed"));
    if (this.#writeClosed) return Promise.resolve();
    if (this.#sessionError) return Promise.reject(this.#sessionError);
    this.#sendFin();
    this.#notify();
    if (this.#peerFin) this.#host.release(this);
    return Promise.resolve();
  }

  /** Sends FIN unless already sent, drops unread data and forgets the stream. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#writeClosed && !this.#sessionError) this.#sendFin();
    this.#writeClosed = true;
    if (this.#held.size > 0) {
      this.#host.returnTokens(this.#held.size);
      this.#held.clear();
    }
    const r = this.#reader;
    if (r) {
      this.#reader = null;
      r.reject(new ClosedError("smux stream closed"));
    }
    this.#notify();
    this.#host.release(this);
  }

  #sendFin(): void {
    this.#writeClosed = true;
    this.#host.sendData(encodeFrame(this.#version, CMD_FIN, this.#id));
  }

  #checkWritable(): void {
    if (this.#closed || this.#writeClosed) throw new ClosedError("smux stream closed for writing");
    if (this.#sessionError) throw this.#sessionError;
    if (this.#peerFin) throw new Deno.errors.BrokenPipe(`smux stream ${this.#id} closed by peer`);
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

  /** v2: account bytes the application read; announce the window as smux does. */
  #consumed(n: number): void {
    if (!this.#v2 || n === 0) return;
    this.#numRead = (this.#numRead + n) >>> 0;
    this.#incr = (this.#incr + n) >>> 0;
    const half = Math.floor(this.#host.config.maxStreamBuffer / 2);
    // First read (numRead == n) or another half buffer consumed.
    if (this.#incr >= half || this.#numRead === n) {
      this.#incr = 0;
      if (this.#numRead !== 0 && !this.#closed && !this.#sessionError) {
        this.#host.sendControl(
          encodeUpd(this.#version, this.#id, this.#numRead, this.#host.config.maxStreamBuffer),
        );
      }
    }
  }

  #completeRead(): void {
    const r = this.#reader!;
    this.#reader = null;
    this.#consumed(r.filled);
    r.resolve(r.filled);
  }

  /**
   * @internal PSH payload (a view of the session's read buffer, valid only
   * during this call). Fills a pending read directly and keeps filling it for
   * the rest of the parse pass; copies whatever is left. Returns the number
   * of bytes buffered (charged to the session receive buffer).
   */
  _push(data: Uint8Array): number {
    if (this.#closed) return 0;
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
    if (off === data.length) return 0;
    const rest = data.length - off;
    this.#held.push(off === 0 ? data : data.subarray(off));
    return rest;
  }

  /** @internal End of a parse pass: hand a partly filled read to the application. */
  _flushRead(): void {
    this.#scheduled = false;
    if (this.#reader && this.#reader.filled > 0) this.#completeRead();
  }

  /** @internal The peer sent FIN. */
  _fin(): void {
    if (this.#peerFin) return;
    this.#peerFin = true;
    const r = this.#reader;
    if (r) {
      if (r.filled > 0) {
        this.#completeRead();
      } else {
        this.#reader = null;
        r.resolve(null);
      }
    }
    this.#notify();
    if (this.#writeClosed) this.#host.release(this);
  }

  /** @internal v2 window update from the peer. */
  _update(consumed: number, window: number): void {
    this.#peerConsumed = consumed;
    this.#peerWindow = window;
    this.#notify();
  }

  /** @internal One of this stream's PSH frames reached the transport. */
  _written(n: number): void {
    this.#queuedBytes -= n;
    if (this.#queuedBytes < this.#queueLimit) this.#notify();
  }

  /** @internal The session died: pending and later I/O fails, buffered data stays readable. */
  _sessionClosed(err: Error): void {
    if (this.#sessionError) return;
    this.#sessionError = err;
    const r = this.#reader;
    if (r) {
      if (r.filled > 0) {
        this.#completeRead();
      } else {
        this.#reader = null;
        r.reject(err);
      }
    }
    this.#notify();
  }
}
