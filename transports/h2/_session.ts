/**
 * An HTTP/2 connection (RFC 9113) over any {@linkcode Conn}, client or
 * server side: frames, HPACK, flow control, SETTINGS, PING, GOAWAY and
 * RST_STREAM. Streams are {@linkcode H2Stream}s, i.e. Conns.
 *
 * Built for tunnels: DATA payloads go from the read buffer straight into a
 * pending read, one `write()` becomes one transport write holding several
 * frames, and small control frames are batched. Flow control per stream
 * bounds what a stream buffers; the connection window is given back as data
 * arrives, so one stalled stream never starves the others.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import type { Logger } from "../log.ts";
import { type Addr, ClosedError, type Conn } from "../types.ts";
import { Queue } from "../_mux/queue.ts";
import { giveBuffer, SizeClasses, takeBuffer } from "../_mux/pool.ts";
import {
  CONTINUATION,
  DATA,
  DEFAULT_WINDOW,
  ErrorCode,
  errorName,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  FRAME_HEADER_SIZE,
  getU32,
  GOAWAY,
  goawayFrame,
  HEADERS,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  MIN_MAX_FRAME_SIZE,
  parseSettings,
  PING,
  pingFrame,
  PREFACE,
  PRIORITY,
  PUSH_PROMISE,
  putFrameHeader,
  RST_STREAM,
  rstStreamFrame,
  SETTINGS,
  SETTINGS_ENABLE_PUSH,
  SETTINGS_HEADER_TABLE_SIZE,
  SETTINGS_INITIAL_WINDOW_SIZE,
  SETTINGS_MAX_CONCURRENT_STREAMS,
  SETTINGS_MAX_FRAME_SIZE,
  SETTINGS_MAX_HEADER_LIST_SIZE,
  settingsFrame,
  WINDOW_UPDATE,
  windowUpdateFrame,
} from "./_frame.ts";
import { type HeaderField, HpackDecoder, HpackEncoder, HpackError } from "./_hpack.ts";
import { H2Stream, type StreamHost, WRITE_CHUNK } from "./_stream.ts";

/** Receive window per stream we advertise (SETTINGS_INITIAL_WINDOW_SIZE). @default 1 MiB (Go's server uses 1 MiB) */
export const DEFAULT_STREAM_WINDOW = 1 << 20;
/**
 * Largest receive window a stream grows to. A stream whose reader takes a
 * whole window within {@linkcode WINDOW_GROW_TIME} gets its window doubled,
 * up to this (TCP-style auto-tuning), while slow or stalled streams keep
 * small ones, which bounds what they can buffer. 4 MiB as Go's transport:
 * 16 MiB moved less through relay+h2 here (data piled up in the receiver,
 * beyond its recycled buffers) and cost 60 MiB more RSS per process.
 * @default 4 MiB
 */
export const MAX_STREAM_WINDOW = 4 << 20;
/** A stream that consumes its whole window faster than this gets a bigger one. @default 50 ms */
export const WINDOW_GROW_TIME = 50;
/** Connection receive window. @default 16 MiB */
export const DEFAULT_CONN_WINDOW = 16 << 20;
/** Largest frame we accept (SETTINGS_MAX_FRAME_SIZE). @default 1 MiB (as Go's server) */
export const DEFAULT_MAX_FRAME_SIZE = 1 << 20;
/** Concurrent streams a server session accepts. @default 250 (Go's HTTP/2 server) */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 250;
/** Largest decoded header list we accept. @default 64 KiB */
export const DEFAULT_MAX_HEADER_LIST_SIZE = 64 * 1024;

/** Reused transport read buffer. */
const READ_BUFFER_SIZE = 256 * 1024;
/** Control frames and small frames are batched into one write up to this size. */
const BATCH_SIZE = 64 * 1024;
/** Recycled buffers for DATA chunks with their frame headers (at most 64 frames of 9 bytes per 1 MiB chunk). */
const DATA_BUFFERS = new SizeClasses(1024, WRITE_CHUNK);
/** How long a GOAWAY for a fatal error gets to reach the peer before the transport closes. */
const GOAWAY_FLUSH_TIMEOUT = 1000;

/** Keepalive: PING after `interval` ms without any frame from the peer; fail after `timeout` ms without one. */
export interface KeepaliveOptions {
  interval: number;
  timeout: number;
  /** Also ping while no stream is open. @default false */
  permitWithoutStream?: boolean;
}

/** gRPC's ping enforcement (server): too frequent pings earn strikes, the third one a GOAWAY. */
export interface PingPolicy {
  /** Minimum interval between pings while streams are open, ms. */
  minTime: number;
  /** Allow pings while no stream is open (else the minimum interval is 2 h). */
  permitWithoutStream: boolean;
}

export interface H2SessionOptions {
  /** Client sessions send the preface and open odd streams; servers read the preface. */
  client: boolean;
  /** Initial receive window per stream. @default DEFAULT_STREAM_WINDOW */
  streamWindow?: number;
  /** Largest a stream's receive window grows to. @default MAX_STREAM_WINDOW */
  maxStreamWindow?: number;
  /** @default DEFAULT_CONN_WINDOW */
  connWindow?: number;
  /** @default DEFAULT_MAX_FRAME_SIZE */
  maxFrameSize?: number;
  /** Server: streams the peer may have open. @default DEFAULT_MAX_CONCURRENT_STREAMS */
  maxConcurrentStreams?: number;
  /** @default DEFAULT_MAX_HEADER_LIST_SIZE */
  maxHeaderListSize?: number;
  /** Server: a peer opened a stream (its request headers are in `requestHeaders`). */
  onStream?: (stream: H2Stream) => void;
  keepalive?: KeepaliveOptions;
  pingPolicy?: PingPolicy;
  /** Close the session (GOAWAY) after this many ms without streams. */
  maxIdle?: number;
  /**
   * Server: the connection was upgraded from HTTP/1.1 (`Upgrade: h2c`): the
   * request becomes stream 1, already complete, and `settings` (the
   * decoded `HTTP2-Settings` header) are the client's first settings.
   */
  upgrade?: { headers: HeaderField[]; settings: Uint8Array };
  log?: Logger;
}

/** A connection-level protocol violation: the session ends with GOAWAY(code). */
export class H2ProtocolError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "H2ProtocolError";
    this.code = code;
  }
}

/** A request that can be retried on another connection (GOAWAY, REFUSED_STREAM, stream limit). */
export class H2RetryableError extends ClosedError {
  constructor(message: string) {
    super(message);
    this.name = "H2RetryableError";
  }
}

interface Outgoing {
  buf: Uint8Array;
  owner?: H2Stream;
  payload: number;
  /** HEADERS or DATA (what resets gRPC's ping strikes). */
  app?: boolean;
}

/** An incoming DATA frame being delivered as its bytes arrive. */
interface DataState {
  stream: H2Stream | undefined;
  /** Payload bytes still to come. */
  data: number;
  /** Padding bytes after the payload. */
  pad: number;
  endStream: boolean;
}

/** A header block being collected across CONTINUATION frames. */
interface HeaderState {
  id: number;
  endStream: boolean;
  parts: Uint8Array[];
  size: number;
}

export class H2Session {
  readonly #conn: Conn;
  readonly #client: boolean;
  readonly #log: Logger | undefined;
  readonly #onStream: ((s: H2Stream) => void) | undefined;
  readonly #host: StreamHost;
  readonly #streams = new Map<number, H2Stream>();
  #nextId: number;
  #lastPeerId = 0;
  /** Streams we opened that are still registered. */
  #localOpen = 0;
  #peerOpen = 0;

  // Our settings.
  readonly #streamWindow: number;
  readonly #maxStreamWindow: number;
  readonly #connWindow: number;
  readonly #maxFrameSize: number;
  readonly #maxConcurrent: number;
  readonly #maxHeaderList: number;

  // Peer settings.
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrameSize = MIN_MAX_FRAME_SIZE;
  #peerMaxConcurrent = Infinity;
  #gotSettings = false;

  // Flow control.
  #connSendWindow = DEFAULT_WINDOW;
  #connRecvWindow: number;
  #connUnacked = 0;

  readonly #encoder = new HpackEncoder();
  readonly #decoder = new HpackDecoder();

  // Writer.
  readonly #urgent = new Queue<Uint8Array>();
  readonly #data = new Queue<Outgoing>();
  #writing = false;
  #writeLoop: Promise<void> = Promise.resolve();
  readonly #readLoop: Promise<void>;
  #scheduled: H2Stream[] = [];

  // GOAWAY.
  #goawaySent = false;
  #goawayReceived: { lastStreamId: number; code: number } | null = null;

  // Pings.
  readonly #pings = new Map<string, { resolve: (rtt: number) => void; reject: (e: unknown) => void; at: number }>();
  #lastFrameAt = performance.now();
  #keepaliveTimer?: ReturnType<typeof setInterval>;
  readonly #pingPolicy: PingPolicy | undefined;
  #pingStrikes = 0;
  #lastPingAt = 0;
  #resetStrikes = false;
  #idleTimer?: ReturnType<typeof setInterval>;
  #idleSince = performance.now();

  #closed = false;
  #error: Error | null = null;
  readonly #done: Promise<void>;
  #resolveDone!: () => void;
  #onIdle: (() => void) | null = null;

  constructor(conn: Conn, opts: H2SessionOptions) {
    this.#conn = conn;
    this.#client = opts.client;
    this.#log = opts.log;
    this.#onStream = opts.onStream;
    this.#nextId = opts.client ? 1 : 2;
    this.#streamWindow = clampWindow(opts.streamWindow ?? DEFAULT_STREAM_WINDOW);
    this.#maxStreamWindow = Math.max(this.#streamWindow, clampWindow(opts.maxStreamWindow ?? MAX_STREAM_WINDOW));
    this.#connWindow = Math.max(clampWindow(opts.connWindow ?? DEFAULT_CONN_WINDOW), DEFAULT_WINDOW);
    this.#maxFrameSize = Math.min(
      Math.max(opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, MIN_MAX_FRAME_SIZE),
      MAX_MAX_FRAME_SIZE,
    );
    this.#maxConcurrent = opts.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS;
    this.#maxHeaderList = opts.maxHeaderListSize ?? DEFAULT_MAX_HEADER_LIST_SIZE;
    this.#connRecvWindow = this.#connWindow;
    this.#pingPolicy = opts.pingPolicy;
    this.#done = new Promise((r) => (this.#resolveDone = r));
    this.#host = {
      get localAddr() {
        return conn.localAddr;
      },
      get remoteAddr() {
        return conn.remoteAddr;
      },
      maxFrameSize: () => this.#peerMaxFrameSize,
      connWindow: () => this.#connSendWindow,
      spendConnWindow: (n) => (this.#connSendWindow -= n),
      // DATA chunks come from a shared pool and go back once written.
      alloc: (n) => DATA_BUFFERS.alloc(n),
      sendData: (buf, owner, payload) => this.#queueData({ buf, owner, payload: payload ?? 0, app: true }),
      sendHeaders: (id, headers, endStream) => this.#queueHeaders(id, headers, endStream),
      sendReset: (id, code) => this.#queueData({ buf: rstStreamFrame(id, code), payload: 0 }),
      consumed: (s, n) => this.#consumed(s, n),
      schedule: (s) => this.#scheduled.push(s),
      release: (s) => this.#release(s),
    };

    // Preface (client) and SETTINGS, then the connection window beyond the default.
    const settings: [number, number][] = [];
    if (opts.client) settings.push([SETTINGS_ENABLE_PUSH, 0]);
    else settings.push([SETTINGS_MAX_CONCURRENT_STREAMS, this.#maxConcurrent]);
    settings.push([SETTINGS_INITIAL_WINDOW_SIZE, this.#streamWindow]);
    settings.push([SETTINGS_MAX_FRAME_SIZE, this.#maxFrameSize]);
    settings.push([SETTINGS_MAX_HEADER_LIST_SIZE, this.#maxHeaderList]);
    if (opts.client) this.#urgent.push(PREFACE);
    this.#urgent.push(settingsFrame(settings));
    if (this.#connWindow > DEFAULT_WINDOW) this.#urgent.push(windowUpdateFrame(0, this.#connWindow - DEFAULT_WINDOW));
    this.#kick();

    if (opts.keepalive) this.#startKeepalive(opts.keepalive);
    if (opts.maxIdle && opts.maxIdle > 0) this.#startIdleTimer(opts.maxIdle);
    if (opts.upgrade && !opts.client) this.#upgraded(opts.upgrade.headers, opts.upgrade.settings);
    this.#readLoop = this.#recv();
  }

  /** RFC 7540 §3.2: the upgraded request is stream 1, half-closed (remote); it is handed out after the constructor. */
  #upgraded(headers: HeaderField[], settings: Uint8Array): void {
    if (settings.length % 6 !== 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "Invalid HTTP2-Settings");
    this.#applySettings(parseSettings(settings));
    const stream = new H2Stream(1, this.#host, false, this.#streamWindow, this.#peerInitialWindow);
    this.#streams.set(1, stream);
    this.#peerOpen++;
    this.#lastPeerId = 1;
    stream.requestHeaders = headers;
    stream._endRemote();
    queueMicrotask(() => {
      if (!this.#closed) this.#deliver(stream);
    });
  }

  /** True once the session is dead. */
  get closed(): boolean {
    return this.#closed;
  }
  /** The reason the session died. */
  get error(): Error | null {
    return this.#error;
  }
  /** Resolves when the session has died and its transport I/O has settled. Never rejects. */
  get done(): Promise<void> {
    return this.#done;
  }
  /** Streams registered (open or half-closed). */
  get numStreams(): number {
    return this.#closed ? 0 : this.#streams.size;
  }
  /** True while a new stream can be opened here (alive, no GOAWAY either way, below the peer's limit). */
  get canOpen(): boolean {
    return !this.#closed && !this.#goawaySent && !this.#goawayReceived && this.#localOpen < this.#peerMaxConcurrent &&
      this.#nextId < 0x7fffffff;
  }
  /** True once the peer sent GOAWAY. */
  get goawayReceived(): boolean {
    return this.#goawayReceived !== null;
  }
  get localAddr(): Addr {
    return this.#conn.localAddr;
  }
  get remoteAddr(): Addr {
    return this.#conn.remoteAddr;
  }

  /** Client: opens a stream with `headers`. Throws {@linkcode H2RetryableError} when this session cannot. */
  request(headers: readonly HeaderField[], endStream = false): H2Stream {
    if (this.#closed) throw this.#error!;
    if (!this.canOpen) {
      throw new H2RetryableError(
        this.#goawayReceived || this.#goawaySent
          ? "HTTP/2 connection is going away"
          : `HTTP/2 connection at its stream limit (${this.#peerMaxConcurrent})`,
      );
    }
    const id = this.#nextId;
    this.#nextId += 2;
    const s = new H2Stream(id, this.#host, true, this.#streamWindow, this.#peerInitialWindow);
    this.#streams.set(id, s);
    this.#localOpen++;
    this.#idleSince = performance.now();
    this.#queueHeaders(id, headers, endStream);
    if (endStream) s._endLocal();
    return s;
  }

  /** Sends a PING; resolves to the round-trip time in ms when acknowledged. */
  ping(): Promise<number> {
    if (this.#closed) return Promise.reject(this.#error);
    const data = crypto.getRandomValues(new Uint8Array(8));
    const key = hex(data);
    return new Promise((resolve, reject) => {
      this.#pings.set(key, { resolve, reject, at: performance.now() });
      this.#sendUrgent(pingFrame(data));
    });
  }

  /**
   * Graceful end: GOAWAY (no new streams), then the session closes once its
   * streams are done (at once when there are none).
   */
  shutdown(code: number = ErrorCode.NO_ERROR, debug = ""): void {
    if (this.#closed) return;
    if (!this.#goawaySent) {
      this.#goawaySent = true;
      this.#sendUrgent(goawayFrame(this.#lastPeerId, code, debug));
    }
    if (this.#streams.size === 0) this.#closeAfterFlush();
    else this.#onIdle = () => this.#closeAfterFlush();
  }

  /** Closes the transport and fails every stream. Idempotent. */
  close(): void {
    this.#die();
  }

  // ---- writer ----

  #sendUrgent(buf: Uint8Array): void {
    if (this.#closed) return;
    this.#urgent.push(buf);
    this.#kick();
  }

  #queueData(out: Outgoing): void {
    if (this.#closed) return;
    this.#data.push(out);
    this.#kick();
  }

  #queueHeaders(id: number, headers: readonly HeaderField[], endStream: boolean): void {
    if (this.#closed) return;
    const block = this.#encoder.encode(headers);
    const max = this.#peerMaxFrameSize;
    const frames = Math.max(1, Math.ceil(block.length / max));
    const buf = new Uint8Array(block.length + frames * FRAME_HEADER_SIZE);
    let at = 0;
    for (let i = 0, off = 0; i < frames; i++) {
      const n = Math.min(max, block.length - off);
      const last = i === frames - 1;
      const type = i === 0 ? HEADERS : CONTINUATION;
      const flags = (last ? FLAG_END_HEADERS : 0) | (i === 0 && endStream ? FLAG_END_STREAM : 0);
      putFrameHeader(buf, at, n, type, flags, id);
      buf.set(block.subarray(off, off + n), at + FRAME_HEADER_SIZE);
      at += FRAME_HEADER_SIZE + n;
      off += n;
    }
    this.#queueData({ buf, payload: 0, app: true });
  }

  #kick(): void {
    if (!this.#writing && !this.#closed) this.#writeLoop = this.#send();
  }

  /** Drains the queues; small frames are batched into one write. Only one instance runs at a time. */
  async #send(): Promise<void> {
    this.#writing = true;
    const conn = this.#conn;
    const batch: Outgoing[] = [];
    try {
      while (!this.#closed) {
        // Control frames first, then data; a large buffer goes out alone.
        let size = 0;
        for (;;) {
          let next: Outgoing | undefined;
          const u = this.#urgent.peek();
          if (u !== undefined) {
            if (batch.length > 0 && size + u.length > BATCH_SIZE) break;
            this.#urgent.shift();
            next = { buf: u, payload: 0 };
          } else {
            const d = this.#data.peek();
            if (d === undefined) break;
            if (batch.length > 0 && size + d.buf.length > BATCH_SIZE) break;
            this.#data.shift();
            next = d;
          }
          batch.push(next);
          size += next.buf.length;
          if (size >= BATCH_SIZE) break;
        }
        if (batch.length === 0) break;
        if (batch.length === 1) {
          await writeAll(conn, batch[0].buf);
        } else {
          const backing = takeBuffer(BATCH_SIZE);
          const all = new Uint8Array(backing, 0, size);
          let at = 0;
          for (const o of batch) {
            all.set(o.buf, at);
            at += o.buf.length;
          }
          await writeAll(conn, all);
          giveBuffer(backing);
        }
        for (const o of batch) {
          // gRPC's ping policy: data or headers from the server reset the client's strikes.
          if (o.app) this.#resetStrikes = true;
          if (o.owner) {
            DATA_BUFFERS.free(o.buf);
            o.owner._written(o.payload);
          }
        }
        batch.length = 0;
      }
    } catch (err) {
      this.#die(err);
    } finally {
      this.#writing = false;
    }
  }

  // ---- flow control ----

  /**
   * The application read `n` bytes of `s` (or they were dropped): the
   * stream's window goes back in quarters, and grows while the reader keeps
   * up with a full window.
   */
  #consumed(s: H2Stream, n: number): void {
    if (n <= 0 || this.#closed || s.remoteEnded) return;
    s.recvUnacked += n;
    if (s.recvUnacked < s.windowTarget / 4) return;
    let inc = s.recvUnacked;
    s.recvUnacked = 0;
    s.windowConsumed += inc;
    if (s.windowConsumed >= s.windowTarget) {
      const now = performance.now();
      if (now - s.windowSince < WINDOW_GROW_TIME && s.windowTarget < this.#maxStreamWindow) {
        const grown = Math.min(s.windowTarget * 2, this.#maxStreamWindow);
        inc += grown - s.windowTarget;
        s.windowTarget = grown;
      }
      s.windowConsumed = 0;
      s.windowSince = now;
    }
    s.recvWindow += inc;
    this.#sendUrgent(windowUpdateFrame(s.id, inc));
  }

  /** Connection credit is given back as data arrives (per-stream windows bound buffering). */
  #connCredit(n: number): void {
    this.#connUnacked += n;
    if (this.#connUnacked >= this.#connWindow / 4) {
      this.#connRecvWindow += this.#connUnacked;
      this.#sendUrgent(windowUpdateFrame(0, this.#connUnacked));
      this.#connUnacked = 0;
    }
  }

  #release(s: H2Stream): void {
    if (this.#streams.get(s.id) !== s) return;
    this.#streams.delete(s.id);
    if (s.local) this.#localOpen--;
    else this.#peerOpen--;
    if (this.#streams.size === 0) {
      this.#idleSince = performance.now();
      const f = this.#onIdle;
      if (f) {
        this.#onIdle = null;
        f();
      }
    }
  }

  // ---- reader ----

  async #recv(): Promise<void> {
    const conn = this.#conn;
    let buf = new Uint8Array(READ_BUFFER_SIZE);
    let start = 0;
    let end = 0;
    let dataState: DataState | null = null;
    let headerState: HeaderState | null = null;
    let prefaceLeft = this.#client ? 0 : PREFACE.length;
    /** Where the next transport read goes instead of `buf`: a stream's pending read. */
    let direct: Uint8Array | null = null;
    try {
      for (;;) {
        if (start === end) {
          start = end = 0;
        } else if (buf.length - end < 16 * 1024) {
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        const n = await conn.read(direct ?? buf.subarray(end));
        if (this.#closed) return;
        if (n === null) throw new Deno.errors.UnexpectedEof("HTTP/2 connection closed by peer");
        this.#lastFrameAt = performance.now();
        if (direct) {
          direct = null;
          dataState!.data -= n;
          dataState!.stream!._directDone(n);
        } else {
          end += n;
        }

        if (prefaceLeft > 0) {
          const m = Math.min(prefaceLeft, end - start);
          const off = PREFACE.length - prefaceLeft;
          for (let i = 0; i < m; i++) {
            if (buf[start + i] !== PREFACE[off + i]) {
              throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "Invalid HTTP/2 connection preface");
            }
          }
          start += m;
          prefaceLeft -= m;
          if (prefaceLeft > 0) continue;
        }

        for (;;) {
          // An incoming DATA frame: deliver what has arrived.
          if (dataState) {
            const ds: DataState = dataState;
            if (ds.data > 0 && end > start) {
              const m = Math.min(ds.data, end - start);
              ds.stream?._push(buf.subarray(start, start + m));
              start += m;
              ds.data -= m;
            }
            if (ds.data === 0 && ds.pad > 0 && end > start) {
              const m = Math.min(ds.pad, end - start);
              start += m;
              ds.pad -= m;
            }
            if (ds.data > 0 || ds.pad > 0) break;
            dataState = null;
            if (ds.endStream) ds.stream?._endRemote();
            continue;
          }
          if (end - start < FRAME_HEADER_SIZE) break;
          const len = (buf[start] << 16) | (buf[start + 1] << 8) | buf[start + 2];
          const type = buf[start + 3];
          const flags = buf[start + 4];
          const id = getU32(buf, start + 5) & 0x7fffffff;
          if (len > this.#maxFrameSize) {
            throw new H2ProtocolError(
              ErrorCode.FRAME_SIZE_ERROR,
              `HTTP/2 frame of ${len} bytes exceeds ${this.#maxFrameSize}`,
            );
          }
          if (!this.#gotSettings && type !== SETTINGS) {
            throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 peer did not start with SETTINGS");
          }
          if (headerState && (type !== CONTINUATION || id !== headerState.id)) {
            throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 header block interrupted");
          }
          if (type === DATA) {
            const padded = (flags & FLAG_PADDED) !== 0;
            if (end - start < FRAME_HEADER_SIZE + (padded ? 1 : 0)) break;
            const pad = padded ? buf[start + FRAME_HEADER_SIZE] : 0;
            const head = padded ? 1 : 0;
            if (head + pad > len) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 DATA padding too long");
            start += FRAME_HEADER_SIZE + head;
            dataState = this.#onData(id, len, head + pad, (flags & FLAG_END_STREAM) !== 0);
            dataState.pad = pad;
            continue;
          }
          // Any other frame is handled whole.
          if (FRAME_HEADER_SIZE + len > buf.length) {
            const bigger = new Uint8Array(FRAME_HEADER_SIZE + len + READ_BUFFER_SIZE);
            bigger.set(buf.subarray(start, end));
            end -= start;
            start = 0;
            buf = bigger;
          }
          if (end - start < FRAME_HEADER_SIZE + len) break;
          const payload = buf.subarray(start + FRAME_HEADER_SIZE, start + FRAME_HEADER_SIZE + len);
          start += FRAME_HEADER_SIZE + len;
          if (type === HEADERS || type === CONTINUATION) {
            headerState = this.#onHeaderFrame(type, flags, id, payload, headerState);
          } else {
            this.#onFrame(type, flags, id, payload);
          }
        }
        // End of a parse pass. Inside a DATA frame (every byte read so far was delivered), the rest
        // of its payload is read straight into the stream's pending read: one copy less per byte.
        const ds = dataState;
        direct = ds?.stream && ds.data > 0 ? ds.stream._directTarget(ds.data) : null;
        // Other partly filled reads go to the application now.
        const list = this.#scheduled;
        if (list.length > 0) {
          this.#scheduled = [];
          for (const s of list) if (!direct || s !== ds!.stream) s._flushRead();
        }
        if (buf.length > READ_BUFFER_SIZE && end - start <= READ_BUFFER_SIZE) {
          // Back to the normal buffer after a large control frame.
          const normal = new Uint8Array(READ_BUFFER_SIZE);
          normal.set(buf.subarray(start, end));
          end -= start;
          start = 0;
          buf = normal;
        }
      }
    } catch (err) {
      if (err instanceof H2ProtocolError) this.#fatal(err);
      else this.#die(err);
    }
  }

  /** Accounts a DATA frame; returns the delivery state. `waste` = pad length byte + padding. */
  #onData(id: number, len: number, waste: number, endStream: boolean): DataState {
    if (id === 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 DATA on stream 0");
    if (len > this.#connRecvWindow) {
      throw new H2ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, "HTTP/2 peer overran the connection window");
    }
    this.#connRecvWindow -= len;
    // Connection credit for the whole frame now (per-stream windows bound buffering).
    this.#connCredit(len);
    let s = this.#streams.get(id);
    if (s && s.remoteEnded) {
      this.#sendUrgent(rstStreamFrame(id, ErrorCode.STREAM_CLOSED));
      s = undefined;
    } else if (s) {
      if (len > s.recvWindow) {
        s.reset(ErrorCode.FLOW_CONTROL_ERROR);
        s = undefined;
      } else {
        s.recvWindow -= len;
        // Padding never reaches the application: its stream credit goes back now.
        if (waste > 0) this.#consumed(s, waste);
      }
    } else if (this.#isIdle(id)) {
      throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `HTTP/2 DATA on idle stream ${id}`);
    }
    return { stream: s, data: len - waste, pad: 0, endStream };
  }

  /** True when `id` was never opened (neither by us nor by the peer). */
  #isIdle(id: number): boolean {
    const peerStarted = this.#client ? id % 2 === 0 : id % 2 === 1;
    return peerStarted ? id > this.#lastPeerId : id >= this.#nextId;
  }

  #onHeaderFrame(
    type: number,
    flags: number,
    id: number,
    payload: Uint8Array,
    state: HeaderState | null,
  ): HeaderState | null {
    if (type === CONTINUATION) {
      if (!state) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 CONTINUATION without HEADERS");
      state.parts.push(payload.slice());
      state.size += payload.length;
      if (state.size > this.#maxHeaderList * 2 + 16384) {
        throw new H2ProtocolError(ErrorCode.ENHANCE_YOUR_CALM, "HTTP/2 header block too large");
      }
      if (!(flags & FLAG_END_HEADERS)) return state;
      const block = new Uint8Array(state.size);
      let at = 0;
      for (const p of state.parts) {
        block.set(p, at);
        at += p.length;
      }
      this.#onHeaderBlock(state.id, state.endStream, block);
      return null;
    }
    if (id === 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 HEADERS on stream 0");
    let off = 0;
    let end = payload.length;
    if (flags & FLAG_PADDED) {
      if (payload.length < 1) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 HEADERS too short");
      end -= payload[0];
      off = 1;
    }
    if (flags & FLAG_PRIORITY) off += 5;
    if (off > end) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 HEADERS padding too long");
    const fragment = payload.subarray(off, end);
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (!(flags & FLAG_END_HEADERS)) return { id, endStream, parts: [fragment.slice()], size: fragment.length };
    this.#onHeaderBlock(id, endStream, fragment);
    return null;
  }

  #onHeaderBlock(id: number, endStream: boolean, block: Uint8Array): void {
    let decoded;
    try {
      decoded = this.#decoder.decode(block, this.#maxHeaderList);
    } catch (err) {
      if (err instanceof HpackError) throw new H2ProtocolError(ErrorCode.COMPRESSION_ERROR, err.message);
      throw err;
    }
    const s = this.#streams.get(id);
    if (s) {
      if (decoded.tooLarge || !s._headers(decoded.headers, endStream)) s.reset(ErrorCode.PROTOCOL_ERROR);
      return;
    }
    const peerStarted = this.#client ? id % 2 === 0 : id % 2 === 1;
    if (this.#client) {
      if (peerStarted) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 server opened a stream");
      if (id >= this.#nextId) {
        throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `HTTP/2 HEADERS on idle stream ${id}`);
      }
      return; // a stream we already closed
    }
    if (!peerStarted) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `HTTP/2 client used even stream id ${id}`);
    if (id <= this.#lastPeerId) return; // trailers of a stream we already closed
    this.#lastPeerId = id;
    if (this.#goawaySent) return; // not processed; the GOAWAY told the peer so
    if (this.#peerOpen >= this.#maxConcurrent || !this.#onStream) {
      this.#sendUrgent(rstStreamFrame(id, ErrorCode.REFUSED_STREAM));
      return;
    }
    const stream = new H2Stream(id, this.#host, false, this.#streamWindow, this.#peerInitialWindow);
    this.#streams.set(id, stream);
    this.#peerOpen++;
    if (decoded.tooLarge) {
      stream.respond([[":status", "431"]], true);
      stream.close();
      return;
    }
    stream.requestHeaders = decoded.headers;
    if (endStream) stream._endRemote();
    this.#deliver(stream);
  }

  /** Hands a new peer stream to the owner; an owner that throws costs that stream, not the connection. */
  #deliver(stream: H2Stream): void {
    try {
      this.#onStream?.(stream);
    } catch (err) {
      this.#log?.debug("HTTP/2 stream handler failed", { error: err instanceof Error ? err.message : String(err) });
      stream.reset(ErrorCode.INTERNAL_ERROR);
    }
  }

  #onFrame(type: number, flags: number, id: number, p: Uint8Array): void {
    switch (type) {
      case SETTINGS: {
        if (id !== 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 SETTINGS on a stream");
        if (flags & FLAG_ACK) {
          if (p.length !== 0) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, "HTTP/2 SETTINGS ACK with payload");
          return;
        }
        if (p.length % 6 !== 0) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, "HTTP/2 SETTINGS size");
        this.#gotSettings = true;
        this.#applySettings(parseSettings(p));
        this.#sendUrgent(settingsFrame([], true));
        return;
      }
      case PING: {
        if (id !== 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 PING on a stream");
        if (p.length !== 8) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, "HTTP/2 PING size");
        if (flags & FLAG_ACK) {
          const key = hex(p);
          const w = this.#pings.get(key);
          if (w) {
            this.#pings.delete(key);
            w.resolve(performance.now() - w.at);
          }
          return;
        }
        this.#checkPingPolicy();
        if (!this.#closed) this.#sendUrgent(pingFrame(p.slice(), true));
        return;
      }
      case WINDOW_UPDATE: {
        if (p.length !== 4) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, "HTTP/2 WINDOW_UPDATE size");
        const inc = getU32(p, 0) & 0x7fffffff;
        if (id === 0) {
          if (inc === 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 WINDOW_UPDATE of 0");
          this.#connSendWindow += inc;
          if (this.#connSendWindow > MAX_WINDOW) {
            throw new H2ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, "HTTP/2 connection window overflow");
          }
          for (const s of this.#streams.values()) s._windowChanged();
          return;
        }
        const s = this.#streams.get(id);
        if (!s) return;
        if (inc === 0) {
          s.reset(ErrorCode.PROTOCOL_ERROR);
          return;
        }
        s.sendWindow += inc;
        if (s.sendWindow > MAX_WINDOW) {
          s.reset(ErrorCode.FLOW_CONTROL_ERROR);
          return;
        }
        s._windowChanged();
        return;
      }
      case RST_STREAM: {
        if (id === 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 RST_STREAM on stream 0");
        if (p.length !== 4) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, "HTTP/2 RST_STREAM size");
        if (this.#isIdle(id)) {
          throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `HTTP/2 RST_STREAM on idle stream ${id}`);
        }
        this.#streams.get(id)?._reset(getU32(p, 0));
        return;
      }
      case GOAWAY: {
        if (id !== 0) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 GOAWAY on a stream");
        if (p.length < 8) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, "HTTP/2 GOAWAY size");
        const last = getU32(p, 0) & 0x7fffffff;
        const code = getU32(p, 4);
        this.#goawayReceived = { lastStreamId: last, code };
        const debug = new TextDecoder().decode(p.subarray(8));
        this.#log?.debug("HTTP/2 GOAWAY received", { code: errorName(code), debug: debug || undefined });
        for (const s of [...this.#streams.values()]) {
          if (s.local && s.id > last) s._sessionClosed(new H2RetryableError("HTTP/2 stream refused by GOAWAY"));
          if (s.local && s.id > last) this.#release(s);
        }
        if (this.#streams.size === 0) this.#closeAfterFlush();
        else this.#onIdle ??= () => this.#closeAfterFlush();
        return;
      }
      case PRIORITY:
        if (p.length !== 5) throw new H2ProtocolError(ErrorCode.FRAME_SIZE_ERROR, "HTTP/2 PRIORITY size");
        return;
      case PUSH_PROMISE:
        throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 PUSH_PROMISE is disabled");
      default:
        return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  #applySettings(list: [number, number][]): void {
    for (const [k, v] of list) {
      switch (k) {
        case SETTINGS_HEADER_TABLE_SIZE:
          this.#encoder.tableSizeChanged();
          break;
        case SETTINGS_ENABLE_PUSH:
          if (v > 1) throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, "HTTP/2 ENABLE_PUSH must be 0 or 1");
          break;
        case SETTINGS_MAX_CONCURRENT_STREAMS:
          this.#peerMaxConcurrent = v;
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (v > MAX_WINDOW) {
            throw new H2ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, "HTTP/2 INITIAL_WINDOW_SIZE too large");
          }
          const delta = v - this.#peerInitialWindow;
          this.#peerInitialWindow = v;
          for (const s of this.#streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) {
              throw new H2ProtocolError(ErrorCode.FLOW_CONTROL_ERROR, "HTTP/2 stream window overflow");
            }
            s._windowChanged();
          }
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (v < MIN_MAX_FRAME_SIZE || v > MAX_MAX_FRAME_SIZE) {
            throw new H2ProtocolError(ErrorCode.PROTOCOL_ERROR, `HTTP/2 MAX_FRAME_SIZE ${v} out of range`);
          }
          this.#peerMaxFrameSize = v;
          break;
        default:
          break; // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored
      }
    }
  }

  // ---- pings ----

  #checkPingPolicy(): void {
    const policy = this.#pingPolicy;
    if (!policy) return;
    const now = performance.now();
    const last = this.#lastPingAt;
    this.#lastPingAt = now;
    if (this.#resetStrikes) {
      this.#resetStrikes = false;
      this.#pingStrikes = 0;
      return;
    }
    const min = this.#streams.size === 0 && !policy.permitWithoutStream ? 2 * 3600_000 : policy.minTime;
    if (last !== 0 && now - last < min) {
      this.#pingStrikes++;
      if (this.#pingStrikes > 2) {
        this.#log?.debug("HTTP/2 client pings too often: GOAWAY too_many_pings");
        this.#fatal(new H2ProtocolError(ErrorCode.ENHANCE_YOUR_CALM, "too_many_pings"));
      }
    }
  }

  #startKeepalive(k: KeepaliveOptions): void {
    const tick = Math.max(50, Math.min(k.interval, k.timeout) / 2);
    let pingSentAt = 0;
    this.#keepaliveTimer = setInterval(() => {
      if (this.#closed) return;
      const now = performance.now();
      if (pingSentAt > 0) {
        if (this.#lastFrameAt >= pingSentAt) pingSentAt = 0;
        else if (now - pingSentAt >= k.timeout) {
          this.#die(new Deno.errors.TimedOut("HTTP/2 keepalive: no answer to PING"));
          return;
        }
        return;
      }
      if (now - this.#lastFrameAt < k.interval) return;
      if (this.#streams.size === 0 && !k.permitWithoutStream) return;
      pingSentAt = now;
      this.ping().catch(() => {});
    }, tick);
    Deno.unrefTimer(this.#keepaliveTimer);
  }

  #startIdleTimer(maxIdle: number): void {
    this.#idleTimer = setInterval(() => {
      if (this.#streams.size === 0 && performance.now() - this.#idleSince >= maxIdle) {
        clearInterval(this.#idleTimer);
        this.shutdown(ErrorCode.NO_ERROR, "max_idle");
      }
    }, Math.max(50, Math.min(maxIdle / 2, 1000)));
    Deno.unrefTimer(this.#idleTimer);
  }

  // ---- teardown ----

  /** A connection error: GOAWAY(code) reaches the peer (briefly awaited), then the session dies. */
  #fatal(err: H2ProtocolError): void {
    if (this.#closed) return;
    this.#log?.debug("HTTP/2 connection error", { code: errorName(err.code), error: err.message });
    this.#data.clear();
    this.#urgent.clear();
    this.#goawaySent = true;
    this.#urgent.push(goawayFrame(this.#lastPeerId, err.code, err.message));
    this.#kick();
    this.#closeAfterFlush(err);
  }

  #closeAfterFlush(err?: Error): void {
    if (this.#closed) return;
    const timer = setTimeout(() => this.#die(err), GOAWAY_FLUSH_TIMEOUT);
    const wait = async () => {
      while (!this.#closed && (this.#writing || this.#urgent.length > 0 || this.#data.length > 0)) {
        await this.#writeLoop;
        await Promise.resolve();
      }
    };
    wait().finally(() => {
      clearTimeout(timer);
      this.#die(err);
    });
  }

  #die(cause?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepaliveTimer);
    clearInterval(this.#idleTimer);
    const reason = cause instanceof Error ? cause.message : cause !== undefined ? String(cause) : "";
    const error = cause instanceof H2RetryableError
      ? cause
      : new ClosedError(reason ? `HTTP/2 connection closed: ${reason}` : "HTTP/2 connection closed");
    if (cause !== undefined && error !== cause) error.cause = cause;
    this.#error = error;
    closeQuietly(this.#conn);
    this.#urgent.clear();
    this.#data.clear();
    for (const s of this.#streams.values()) s._sessionClosed(error);
    this.#streams.clear();
    for (const w of this.#pings.values()) w.reject(error);
    this.#pings.clear();
    this.#onIdle = null;
    Promise.all([this.#readLoop, this.#writeLoop]).then(() => this.#resolveDone());
  }
}

function clampWindow(n: number): number {
  return Math.max(1, Math.min(Math.floor(n), MAX_WINDOW));
}

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
