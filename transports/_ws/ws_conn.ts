/**
 * A `Conn` that speaks RFC 6455 framing over another `Conn`, the way GOST's
 * tunnels use WebSocket: each write is one binary message, reads return the
 * concatenated payloads of all data messages.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { SizeClasses } from "../_mux/pool.ts";
import { type Addr, ClosedError, type Conn } from "../types.ts";
import {
  CloseCode,
  closePayload,
  encodeFrame,
  headerLength,
  isControl,
  maskBytes,
  MAX_CONTROL_PAYLOAD,
  MAX_FRAME_SIZE,
  Opcode,
  parseHeader,
  ProtocolError,
  randomMaskKey,
  writeHeader,
} from "./frame.ts";

/**
 * Keepalive ping interval when `keepalive` is on and no `ttl` is given (GOST's dialer).
 * @default 15000
 */
export const DEFAULT_KEEPALIVE_TTL = 15_000;

/** Size of the read-ahead buffer frame headers are parsed from, once a read has filled the first one. */
const READ_BUFFER_SIZE = 16 * 1024;
/** The read-ahead buffer a conn starts with: an idle conn holds it while it waits, so it is small. */
const FIRST_READ_BUFFER_SIZE = 4 * 1024;
/** Free space below which the read-ahead buffer is compacted before a read: a header plus a control payload. */
const MIN_FILL = 14 + 125;

/** Options of a `WsConn`. */
export interface WsConnOptions {
  /** `client` masks the frames it sends and expects unmasked ones; `server` the reverse. */
  role: "client" | "server";
  /**
   * Send an empty ping every `ttl` and fail the conn when no pong arrived for
   * `2 × ttl` (data does not count). GOST's dialer option. @default false
   */
  keepalive?: boolean;
  /** Keepalive interval in milliseconds. @default 15000 */
  ttl?: number;
  /** Bytes already read from `conn` that belong to the WebSocket stream (read before `conn`). */
  head?: Uint8Array;
  /** Largest frame payload accepted (larger: close 1009); writes are split at this size. @default 67108864 */
  maxFrameSize?: number;
}

/**
 * RFC 6455 over any `Conn`.
 *
 * - `write(p)` sends `p` as one binary message (FIN, opcode 2) in one write
 *   to the inner conn; clients mask with a fresh random key per frame. Writes,
 *   pongs and pings never interleave.
 * - `read(p)` returns payload bytes of data messages (binary or text, any
 *   fragmentation) as one stream, straight into `p` for large frames. Pings
 *   are answered with pongs carrying the same payload; a close frame is echoed
 *   (its status code) and ends the stream; TCP EOF at a frame boundary ends it too.
 * - `closeWrite()` half-closes the inner conn (GOST sends no close frame);
 *   `close()` closes it.
 */
export class WsConn implements Conn {
  readonly #inner: Conn;
  readonly #client: boolean;
  readonly #maxFrame: number;

  // Read state.
  #rbuf: Uint8Array;
  #rs = 0;
  #re = 0;
  #eof = false;
  #left = 0;
  #masked = false;
  readonly #key = new Uint8Array(4);
  #keyPos = 0;
  #inMessage = false;
  #readDone = false;
  #reading = false;

  // Write state.
  #wbusy = false;
  readonly #wqueue: (() => void)[] = [];
  #writeClosed = false;
  #closeSent = false;
  #pong: Uint8Array | null = null;
  #pongScheduled = false;

  /** Set when the conn failed (protocol error, keepalive timeout); every later call throws it. */
  #error: Error | undefined;
  #closed = false;

  // Keepalive.
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #ttl: number;
  #pongs = 0;

  constructor(inner: Conn, opts: WsConnOptions) {
    this.#inner = inner;
    this.#client = opts.role === "client";
    this.#maxFrame = opts.maxFrameSize ?? MAX_FRAME_SIZE;
    const head = opts.head;
    this.#rbuf = new Uint8Array(Math.max(FIRST_READ_BUFFER_SIZE, head?.length ?? 0));
    if (head?.length) {
      this.#rbuf.set(head);
      this.#re = head.length;
    }
    this.#ttl = opts.ttl ?? DEFAULT_KEEPALIVE_TTL;
    if (opts.keepalive) {
      if (!(this.#ttl > 0)) throw new RangeError(`Invalid keepalive ttl ${opts.ttl}`);
      this.#armDeadline();
      const timer = setInterval(() => {
        this.ping().catch(() => {});
      }, this.#ttl);
      Deno.unrefTimer(timer);
      this.#pingTimer = timer;
    }
  }

  get localAddr(): Addr {
    return this.#inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#inner.remoteAddr;
  }
  /** `client` or `server`. */
  get role(): "client" | "server" {
    return this.#client ? "client" : "server";
  }
  /** Pongs received so far (diagnostics, tests). */
  get pongsReceived(): number {
    return this.#pongs;
  }

  // ---------------------------------------------------------------- reading

  async read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) throw new ClosedError();
    if (this.#error) throw this.#error;
    if (this.#readDone) return null;
    if (p.length === 0) return 0;
    if (this.#reading) throw new Deno.errors.Busy("WebSocket read already in progress");
    this.#reading = true;
    try {
      return await this.#read(p);
    } catch (err) {
      if (err instanceof ProtocolError) this.#fail(err, err.closeCode);
      throw this.#error ?? (this.#closed ? new ClosedError() : err);
    } finally {
      this.#reading = false;
    }
  }

  async #read(p: Uint8Array): Promise<number | null> {
    let got = 0;
    for (;;) {
      if (this.#left > 0) {
        const want = Math.min(p.length - got, this.#left);
        const avail = this.#re - this.#rs;
        let n: number;
        if (avail > 0) {
          n = Math.min(want, avail);
          p.set(this.#rbuf.subarray(this.#rs, this.#rs + n), got);
          this.#rs += n;
        } else if (got > 0) {
          return got;
        } else if (want >= READ_BUFFER_SIZE / 2) {
          // Large payload: read it straight into the caller's buffer.
          const r = await this.#inner.read(p.subarray(got, got + want));
          if (r === null) {
            this.#eof = true;
            throw new Deno.errors.UnexpectedEof("WebSocket stream ended inside a frame");
          }
          n = r;
        } else {
          if (!(await this.#fill())) throw new Deno.errors.UnexpectedEof("WebSocket stream ended inside a frame");
          continue;
        }
        if (this.#masked) this.#keyPos = maskBytes(p.subarray(got, got + n), this.#key, this.#keyPos);
        got += n;
        this.#left -= n;
        if (got === p.length) return got;
        continue;
      }
      // At a frame boundary: parse the next header from buffered bytes only.
      const parsed = this.#nextFrame();
      if (parsed === "need") {
        if (got > 0) return got;
        if (!(await this.#fill())) {
          if (this.#re === this.#rs) {
            this.#readDone = true;
            return null;
          }
          throw new Deno.errors.UnexpectedEof("WebSocket stream ended inside a frame header");
        }
        continue;
      }
      if (parsed === "close") {
        this.#readDone = true;
        return got > 0 ? got : null;
      }
      // "data" (payload pending in #left) or "control" (handled): loop on.
    }
  }

  /** Reads more from the inner conn into the read-ahead buffer; false at EOF. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false;
    if (this.#rs === this.#re) {
      this.#rs = this.#re = 0;
    } else if (this.#rs > 0 && this.#rbuf.length - this.#re < MIN_FILL) {
      // Too little room left for a whole header plus control payload: compact.
      this.#rbuf.copyWithin(0, this.#rs, this.#re);
      this.#re -= this.#rs;
      this.#rs = 0;
    }
    const n = await this.#inner.read(this.#rbuf.subarray(this.#re));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#re += n;
    if (this.#re === this.#rbuf.length && this.#rbuf.length < READ_BUFFER_SIZE) {
      // The conn moves more than small messages: the full read-ahead buffer from now on.
      const grown = new Uint8Array(READ_BUFFER_SIZE);
      grown.set(this.#rbuf.subarray(this.#rs, this.#re));
      this.#re -= this.#rs;
      this.#rs = 0;
      this.#rbuf = grown;
    }
    return true;
  }

  /**
   * Consumes the next frame header (and, for control frames, the payload)
   * when fully buffered. Returns "need" when more bytes are required.
   */
  #nextFrame(): "need" | "data" | "control" | "close" {
    const buf = this.#rbuf.subarray(this.#rs, this.#re);
    const h = parseHeader(buf, this.#maxFrame);
    if (h === null) return "need";
    if (h.rsv !== 0) throw new ProtocolError(`Unexpected RSV bits 0x${h.rsv.toString(16)} (no extension negotiated)`);
    if (h.masked === this.#client) {
      throw new ProtocolError(this.#client ? "Server sent a masked frame" : "Client sent an unmasked frame");
    }
    const op = h.opcode;
    if (isControl(op)) {
      if (op !== Opcode.Close && op !== Opcode.Ping && op !== Opcode.Pong) {
        throw new ProtocolError(`Unknown control opcode ${op}`);
      }
      if (!h.fin) throw new ProtocolError("Fragmented control frame");
      if (h.length > MAX_CONTROL_PAYLOAD) throw new ProtocolError(`Control frame of ${h.length} bytes`);
      if (buf.length < h.headerLength + h.length) return "need";
      const payload = buf.slice(h.headerLength, h.headerLength + h.length);
      this.#rs += h.headerLength + h.length;
      if (h.maskKey) maskBytes(payload, h.maskKey, 0);
      return this.#control(op, payload);
    }
    if (op === Opcode.Continuation) {
      if (!this.#inMessage) throw new ProtocolError("Continuation frame without a message to continue");
    } else if (op === Opcode.Text || op === Opcode.Binary) {
      if (this.#inMessage) throw new ProtocolError("New data message inside a fragmented message");
    } else {
      throw new ProtocolError(`Unknown data opcode ${op}`);
    }
    this.#rs += h.headerLength;
    this.#inMessage = !h.fin;
    this.#left = h.length;
    this.#masked = h.maskKey !== null;
    if (h.maskKey) this.#key.set(h.maskKey);
    this.#keyPos = 0;
    return "data";
  }

  #control(op: number, payload: Uint8Array): "control" | "close" {
    if (op === Opcode.Ping) {
      this.#pong = payload;
      if (!this.#pongScheduled) {
        this.#pongScheduled = true;
        this.#sendPong().catch(() => {});
      }
      return "control";
    }
    if (op === Opcode.Pong) {
      this.#pongs++;
      if (this.#pingTimer !== undefined) this.#armDeadline();
      return "control";
    }
    // Close: echo the status code (gorilla's default close handler), then the stream ends.
    if (payload.length === 1) throw new ProtocolError("Close frame with a 1-byte payload");
    const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : undefined;
    this.#echoClose(code).catch(() => {});
    return "close";
  }

  async #sendPong(): Promise<void> {
    await this.#lock();
    try {
      const payload = this.#pong ?? new Uint8Array(0);
      this.#pong = null;
      this.#pongScheduled = false;
      if (this.#writeClosed || this.#closeSent || this.#closed) return;
      await writeAll(this.#inner, encodeFrame(Opcode.Pong, payload, { mask: this.#client }));
    } finally {
      this.#unlock();
    }
  }

  async #echoClose(code: number | undefined): Promise<void> {
    if (this.#closeSent) return;
    await this.#sendClose(closePayload(code));
  }

  /** Sends a close frame (once) and half-closes the inner conn: nothing may follow a close frame. */
  async #sendClose(payload: Uint8Array): Promise<void> {
    await this.#lock();
    try {
      if (this.#closeSent || this.#writeClosed || this.#closed) return;
      this.#closeSent = true;
      await writeAll(this.#inner, encodeFrame(Opcode.Close, payload, { mask: this.#client }));
      this.#writeClosed = true;
      await this.#inner.closeWrite().catch(() => {});
    } finally {
      this.#unlock();
    }
  }

  /** Marks the conn failed: tells the peer `code` in a close frame, then closes the inner conn. */
  #fail(err: Error, code?: number): void {
    if (this.#error) return;
    this.#error = err;
    this.#stopKeepalive();
    if (code === undefined) {
      closeQuietly(this.#inner);
      return;
    }
    const reason = err.message.length <= 100 ? err.message : err.message.slice(0, 100);
    this.#sendClose(closePayload(code, reason)).catch(() => {}).finally(() => closeQuietly(this.#inner));
  }

  // ---------------------------------------------------------------- writing

  #lock(): Promise<void> {
    if (!this.#wbusy) {
      this.#wbusy = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#wqueue.push(resolve));
  }

  #unlock(): void {
    const next = this.#wqueue.shift();
    if (next) next();
    else this.#wbusy = false;
  }

  #checkWritable(): void {
    if (this.#closed) throw new ClosedError();
    if (this.#error) throw this.#error;
    if (this.#closeSent) throw new ClosedError("WebSocket close frame already sent");
    if (this.#writeClosed) throw new Deno.errors.BrokenPipe("WebSocket write side is closed");
  }

  /**
   * Frames `p` (one binary message) into a pooled buffer, masked for clients.
   * The caller hands the buffer back with `WRITE_BUFFERS.free` once written.
   */
  #frame(p: Uint8Array): { frame: Uint8Array; backing: Uint8Array } {
    const n = p.length;
    const masked = this.#client;
    const hlen = headerLength(n, masked);
    // Clients pad in front so the payload starts 4-byte aligned: masking goes word by word.
    const pad = masked ? (4 - (hlen & 3)) & 3 : 0;
    const backing = WRITE_BUFFERS.alloc(pad + hlen + n);
    const frame = backing.subarray(pad, pad + hlen + n);
    if (masked) randomMaskKey(this.#key4);
    writeHeader(frame, true, Opcode.Binary, n, masked ? this.#key4 : undefined);
    frame.set(p, hlen);
    if (masked) maskBytes(frame.subarray(hlen), this.#key4, 0);
    return { frame, backing };
  }
  readonly #key4 = new Uint8Array(4);

  /** Sends all of `p` as one binary message (several when longer than the frame limit). */
  async write(p: Uint8Array): Promise<number> {
    this.#checkWritable();
    if (p.length === 0) return 0;
    await this.#lock();
    try {
      this.#checkWritable();
      const max = Math.min(this.#maxFrame, WRITE_FRAME);
      for (let off = 0; off < p.length; off += max) {
        const chunk = off === 0 && p.length <= max ? p : p.subarray(off, off + max);
        const { frame, backing } = this.#frame(chunk);
        await writeAll(this.#inner, frame);
        // Only after a completed write: a Conn must not keep the buffer once write resolves.
        WRITE_BUFFERS.free(backing);
      }
      return p.length;
    } catch (err) {
      throw this.#error ?? (this.#closed ? new ClosedError() : err);
    } finally {
      this.#unlock();
    }
  }

  /** Sends a ping (keepalive uses an empty one); the pong is seen by a pending or later `read`. */
  async ping(payload: Uint8Array = new Uint8Array(0)): Promise<void> {
    if (payload.length > MAX_CONTROL_PAYLOAD) throw new RangeError(`Ping payload of ${payload.length} bytes`);
    this.#checkWritable();
    await this.#lock();
    try {
      this.#checkWritable();
      await writeAll(this.#inner, encodeFrame(Opcode.Ping, payload, { mask: this.#client }));
    } finally {
      this.#unlock();
    }
  }

  /**
   * Sends a close frame with `code` and `reason`, then half-closes the inner
   * conn. GOST never does this (it just closes); for peers that expect a
   * closing handshake. Reads go on until the peer's close frame or EOF.
   */
  async sendClose(code: number = CloseCode.Normal, reason = ""): Promise<void> {
    this.#checkWritable();
    await this.#sendClose(closePayload(code, reason));
  }

  /** Half-closes the inner conn (TCP FIN / TLS close_notify) after pending writes; no close frame, as GOST. */
  async closeWrite(): Promise<void> {
    if (this.#closed) throw new ClosedError();
    if (this.#writeClosed) return;
    await this.#lock();
    try {
      if (this.#writeClosed) return;
      this.#writeClosed = true;
      // No more pings can go out, so no pongs can be expected.
      this.#stopKeepalive();
      await this.#inner.closeWrite();
    } finally {
      this.#unlock();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopKeepalive();
    closeQuietly(this.#inner);
  }

  // ---------------------------------------------------------------- keepalive

  #armDeadline(): void {
    clearTimeout(this.#deadlineTimer);
    const limit = 2 * this.#ttl;
    const timer = setTimeout(() => {
      this.#fail(new Deno.errors.TimedOut(`WebSocket keepalive: no pong within ${limit} ms`));
    }, limit);
    Deno.unrefTimer(timer);
    this.#deadlineTimer = timer;
  }

  #stopKeepalive(): void {
    clearInterval(this.#pingTimer);
    clearTimeout(this.#deadlineTimer);
    this.#pingTimer = this.#deadlineTimer = undefined;
  }
}

// Write buffers are pooled process-wide rather than kept per conn: allocating
// a fresh 256 KiB ArrayBuffer per write costs a third of loopback throughput,
// and a buffer per idle conn would cost memory. Buffers in flight are owned by
// their write; only returned ones are reused. Slack: a masked frame's header
// (14 bytes) and its alignment pad (2).
const WRITE_BUFFERS = new SizeClasses(16);
/** Largest message one write becomes; longer writes are sent as several, each fitting a pooled buffer. */
const WRITE_FRAME = 256 * 1024;
