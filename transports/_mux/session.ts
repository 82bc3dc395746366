import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { type Addr, ClosedError, type Conn } from "../types.ts";
import { type MuxConfig, resolveMuxConfig } from "./config.ts";
import {
  CMD_FIN,
  CMD_NOP,
  CMD_PSH,
  CMD_SYN,
  CMD_UPD,
  encodeFrame,
  getU32,
  HEADER_SIZE,
  MAX_PAYLOAD,
  UPD_SIZE,
} from "./frame.ts";
import { giveBuffer, takeBuffer } from "./pool.ts";
import { Queue } from "./queue.ts";
import { Stream, type StreamHost } from "./stream.ts";

/** Streams opened by the peer and not yet accepted; beyond this the transport is not read. */
export const ACCEPT_BACKLOG = 1024;
/** Reused transport read buffer; holds at least one largest frame. */
const READ_BUFFER_SIZE = 256 * 1024;
/** Compact the read buffer when less than this is free at its end, to keep reads large. */
const MIN_READ_ROOM = 16 * 1024;

/** Options for `new Session`: the role plus any `MuxConfig` overrides. */
export interface SessionOptions extends Partial<MuxConfig> {
  /** Client sessions open odd ids (3, 5, …), servers even ones (2, 4, …). */
  client: boolean;
}

/** A frame in the data queue and the stream to tell when it is written. */
interface Outgoing {
  frame: Uint8Array;
  owner?: Stream;
}

/** Raised (as a ClosedError's `cause`) when the peer breaks the smux protocol. */
export class MuxProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MuxProtocolError";
  }
}

/**
 * An smux session (xtaci/smux v1.5.31 wire format, versions 1 and 2) over
 * any `Conn`. Every frame goes to the transport in a single write (one
 * WebSocket message for mws), and frames of different streams never
 * interleave. The session dies — conn closed, streams failed, timers
 * cleared — on transport EOF or error, a protocol error, keepalive timeout
 * or `close()`.
 */
export class Session {
  readonly #conn: Conn;
  readonly #cfg: MuxConfig;
  readonly #host: StreamHost;
  #nextId: number;
  #goAway = false;
  readonly #streams = new Map<number, Stream>();

  // Accept side.
  readonly #backlog = new Queue<Stream>();
  #acceptWaiters: { resolve: (s: Stream) => void; reject: (e: unknown) => void }[] = [];
  #roomWaiter: (() => void) | null = null;

  // Session receive buffer (xtaci/smux's token bucket).
  #bucket: number;
  #bucketWaiter: (() => void) | null = null;
  #scheduled: Stream[] = [];

  // Writer: control frames (SYN, UPD, NOP) jump ahead of queued data (PSH, FIN).
  readonly #urgent = new Queue<Uint8Array>();
  readonly #data = new Queue<Outgoing>();
  #writing = false;
  /** Size of a full frame; such buffers are recycled, which cuts GC churn a lot. */
  readonly #poolSize: number;
  #writeLoop: Promise<void> = Promise.resolve();
  readonly #readLoop: Promise<void>;

  // Keepalive.
  readonly #nop: Uint8Array;
  #nopQueued = false;
  #dataReady = false;
  #pingTimer?: ReturnType<typeof setInterval>;
  #checkTimer?: ReturnType<typeof setInterval>;

  #closed = false;
  #error: ClosedError | null = null;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;

  constructor(conn: Conn, opts: SessionOptions) {
    const { client, ...rest } = opts;
    this.#conn = conn;
    this.#cfg = resolveMuxConfig(rest);
    this.#nextId = client ? 1 : 0;
    this.#bucket = this.#cfg.maxReceiveBuffer;
    this.#poolSize = HEADER_SIZE + this.#cfg.maxFrameSize;
    this.#nop = encodeFrame(this.#cfg.version, CMD_NOP, 0);
    this.#done = new Promise((r) => (this.#resolveDone = r));
    this.#host = {
      config: this.#cfg,
      get localAddr() {
        return conn.localAddr;
      },
      get remoteAddr() {
        return conn.remoteAddr;
      },
      allocFrame: (n) => this.#allocFrame(n),
      sendData: (frame, owner) => this.#sendData(frame, owner),
      sendControl: (frame) => this.#sendControl(frame),
      returnTokens: (n) => this.#returnTokens(n),
      schedule: (s) => this.#scheduled.push(s),
      release: (s) => {
        if (this.#streams.get(s.id) === s) this.#streams.delete(s.id);
      },
    };
    if (!this.#cfg.keepaliveDisabled) {
      this.#pingTimer = setInterval(() => this.#ping(), this.#cfg.keepaliveInterval);
      this.#checkTimer = setInterval(() => this.#checkAlive(), this.#cfg.keepaliveTimeout);
    }
    this.#readLoop = this.#recv();
  }

  /** The effective configuration. */
  get config(): Readonly<MuxConfig> {
    return this.#cfg;
  }
  /** True once the session is dead; a cached session must then be replaced. */
  get closed(): boolean {
    return this.#closed;
  }
  /** Resolves when the session has died and its transport I/O has finished. Never rejects. */
  get done(): Promise<void> {
    return this.#done;
  }
  /** Streams currently registered (open, or not yet finished both ways). */
  get numStreams(): number {
    return this.#closed ? 0 : this.#streams.size;
  }
  get localAddr(): Addr {
    return this.#conn.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#conn.remoteAddr;
  }

  /** Opens a stream: sends SYN (no acknowledgement exists) and returns at once. */
  open(): Promise<Stream> {
    if (this.#closed) return Promise.reject(this.#error!);
    if (this.#goAway || this.#nextId + 2 > 0xffffffff) {
      this.#goAway = true;
      return Promise.reject(new ClosedError("smux stream ids exhausted; start a new session"));
    }
    this.#nextId += 2;
    const stream = new Stream(this.#nextId, this.#host);
    this.#streams.set(stream.id, stream);
    this.#sendControl(encodeFrame(this.#cfg.version, CMD_SYN, stream.id));
    return Promise.resolve(stream);
  }

  /** Resolves to the next stream the peer opened; rejects with ClosedError once the session is dead. */
  accept(): Promise<Stream> {
    const s = this.#backlog.shift();
    if (s) {
      this.#wakeRoom();
      return Promise.resolve(s);
    }
    if (this.#closed) return Promise.reject(this.#error!);
    return new Promise((resolve, reject) => this.#acceptWaiters.push({ resolve, reject }));
  }

  /** Closes the transport and fails every stream. Idempotent. */
  close(): void {
    this.#die();
  }

  // ---- writer ----

  #allocFrame(n: number): Uint8Array {
    // Small frames get exact buffers, so many queued small writes cannot pin many big ones.
    if (n * 2 < this.#cfg.maxFrameSize) return new Uint8Array(HEADER_SIZE + n);
    return new Uint8Array(takeBuffer(this.#poolSize), 0, HEADER_SIZE + n);
  }

  #sendData(frame: Uint8Array, owner?: Stream): void {
    if (this.#closed) return;
    this.#data.push({ frame, owner });
    if (!this.#writing) this.#writeLoop = this.#send();
  }

  #sendControl(frame: Uint8Array): void {
    if (this.#closed) return;
    this.#urgent.push(frame);
    if (!this.#writing) this.#writeLoop = this.#send();
  }

  /** Drains the queues one frame per write; only one instance runs at a time. */
  async #send(): Promise<void> {
    this.#writing = true;
    const conn = this.#conn;
    try {
      while (!this.#closed) {
        let frame = this.#urgent.shift();
        let owner: Stream | undefined;
        if (frame === undefined) {
          const out = this.#data.shift();
          if (out === undefined) break;
          frame = out.frame;
          owner = out.owner;
        } else if (frame === this.#nop) {
          this.#nopQueued = false;
        }
        await writeAll(conn, frame);
        if (owner) {
          // The transport is done with the bytes once write resolves (the Conn contract copy() relies on too).
          const ab = frame.buffer as ArrayBuffer;
          if (ab.byteLength === this.#poolSize) giveBuffer(ab);
          owner._written(frame.length - HEADER_SIZE);
        }
      }
    } catch (err) {
      this.#die(err);
    } finally {
      this.#writing = false;
    }
  }

  // ---- reader ----

  #returnTokens(n: number): void {
    this.#bucket += n;
    if (this.#bucket > 0 && this.#bucketWaiter) {
      const w = this.#bucketWaiter;
      this.#bucketWaiter = null;
      w();
    }
  }

  #wakeRoom(): void {
    const w = this.#roomWaiter;
    if (w) {
      this.#roomWaiter = null;
      w();
    }
  }

  #flushReads(): void {
    const list = this.#scheduled;
    if (list.length === 0) return;
    this.#scheduled = [];
    for (const s of list) s._flushRead();
  }

  /** Reads the transport into one reused buffer and dispatches frames in place. */
  async #recv(): Promise<void> {
    const conn = this.#conn;
    const version = this.#cfg.version;
    const buf = new Uint8Array(READ_BUFFER_SIZE);
    let start = 0;
    let end = 0;
    try {
      for (;;) {
        // v1/v2 session receive buffer: stop reading (TCP back-pressure) while too much is unread.
        while (this.#bucket <= 0 && !this.#closed) {
          await new Promise<void>((r) => (this.#bucketWaiter = r));
        }
        if (this.#closed) return;
        if (start === end) {
          start = end = 0;
        } else if (buf.length - end < MIN_READ_ROOM) {
          // What is left is less than one frame (≤ 65542 bytes): cheap to move.
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        const n = await conn.read(buf.subarray(end));
        if (this.#closed) return;
        if (n === null) throw new Deno.errors.UnexpectedEof("smux transport ended");
        end += n;

        while (end - start >= HEADER_SIZE) {
          if (buf[start] !== version) {
            throw new MuxProtocolError(`smux frame version ${buf[start]} on a version ${version} session`);
          }
          const cmd = buf[start + 1];
          // As in smux, only PSH carries LENGTH bytes; UPD always carries 8.
          let size = HEADER_SIZE;
          if (cmd === CMD_PSH) size += buf[start + 2] | (buf[start + 3] << 8);
          else if (cmd === CMD_UPD) size += UPD_SIZE;
          else if (cmd > CMD_UPD) throw new MuxProtocolError(`smux unknown command ${cmd}`);
          this.#dataReady = true;
          if (end - start < size) break;
          const sid = getU32(buf, start + 4);
          switch (cmd) {
            case CMD_PSH: {
              const s = this.#streams.get(sid);
              if (s && size > HEADER_SIZE) this.#bucket -= s._push(buf.subarray(start + HEADER_SIZE, start + size));
              break;
            }
            case CMD_SYN:
              if (!this.#streams.has(sid)) {
                while (this.#backlog.length >= ACCEPT_BACKLOG && !this.#closed) {
                  this.#flushReads();
                  await new Promise<void>((r) => (this.#roomWaiter = r));
                }
                if (this.#closed) return;
                this.#incoming(sid);
              }
              break;
            case CMD_FIN:
              this.#streams.get(sid)?._fin();
              break;
            case CMD_UPD:
              this.#streams.get(sid)?._update(getU32(buf, start + 8), getU32(buf, start + 12));
              break;
              // CMD_NOP: nothing to do; dataReady is already set.
          }
          start += size;
        }
        this.#flushReads();
        // A frame that cannot fit behind `start` is moved to the front before the next read.
        if (start > 0 && start !== end && start + HEADER_SIZE + MAX_PAYLOAD > buf.length) {
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
      }
    } catch (err) {
      this.#die(err);
    }
  }

  #incoming(sid: number): void {
    const s = new Stream(sid, this.#host);
    this.#streams.set(sid, s);
    const w = this.#acceptWaiters.shift();
    if (w) w.resolve(s);
    else this.#backlog.push(s);
  }

  // ---- keepalive ----

  #ping(): void {
    if (this.#nopQueued) return;
    this.#nopQueued = true;
    this.#sendControl(this.#nop);
  }

  #checkAlive(): void {
    if (this.#dataReady) {
      this.#dataReady = false;
      return;
    }
    // While the reader is paused on a full receive buffer, silence is our own doing.
    if (this.#bucket > 0) this.#die(new Deno.errors.TimedOut("smux keepalive timeout"));
  }

  // ---- teardown ----

  #die(cause?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pingTimer);
    clearInterval(this.#checkTimer);
    const reason = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : "";
    const error = new ClosedError(reason ? `smux session closed: ${reason}` : "smux session closed");
    if (cause !== undefined) error.cause = cause;
    this.#error = error;
    closeQuietly(this.#conn);
    this.#urgent.clear();
    this.#data.clear();
    for (const s of this.#streams.values()) s._sessionClosed(error);
    this.#streams.clear();
    for (const s of this.#backlog) s._sessionClosed(error);
    this.#backlog.clear();
    const waiters = this.#acceptWaiters;
    this.#acceptWaiters = [];
    for (const w of waiters) w.reject(error);
    this.#bucketWaiter?.();
    this.#bucketWaiter = null;
    this.#wakeRoom();
    // `done` waits for the transport's pending read/write to settle, so callers
    // (and Deno's op sanitizer) see no I/O left behind.
    Promise.all([this.#readLoop, this.#writeLoop]).then(() => this.#resolveDone());
  }
}
