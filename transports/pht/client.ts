/**
 * The PHT client core over a *fetcher* — `(req: Request) => Promise<Response>`
 * with streaming response bodies — so any HTTP layer can carry it: dost's
 * HTTP/1.1 lanes (pht, phts) or an HTTP/3 client (h3).
 *
 * Which server generation: the client calls authorize first (both
 * generations serve it, and classic servers reject self-made tokens with
 * 403); only when authorize answers 404 (a server or front proxy that routes
 * just push and pull) does it fall back to a self-made token, as current
 * GOST clients do (`mode: "auto"`; `"authorize"` and `"lazy"` force one way).
 * Pulls work with both: a response that ends after its heartbeat (classic)
 * is followed by the next pull at once, one that stays open (current) is
 * read as long as it lasts; a response without any line is the server's EOF.
 *
 * Writes: one POST per piece of at most `maxPushPayload` bytes, each body
 * one base64 line ending in `\n`. With `pushWindow` > 1 that many POSTs
 * are in flight (the fetcher must keep call order — HTTP/1.1 pipelining on
 * one connection does); a `write` resolves once its POST is under way, and
 * a failed POST fails the next `write` (and `closeWrite`). While the window
 * is full, writes gather (up to `maxPushPayload` bytes) into the next POST:
 * fewer, larger POSTs where each one costs a round trip.
 *
 * Closing: `closeWrite()` sends the close signal (an empty POST) after the
 * writes and keeps reading: a dost server treats it as a half-close and
 * goes on delivering what its side still writes; a GOST server ends the
 * session (the pull ends, reads see EOF). `close()` sends it too if needed
 * (waiting at most 5 s) and cancels the pull.
 *
 * @module
 */
import { concat } from "../_io/write_all.ts";
import type { Logger } from "../log.ts";
import { type Addr, ClosedError, type Conn, HandshakeError } from "../types.ts";
import { decodeLine, encodeLine, LineSplitter, MAX_CLIENT_LINE } from "./lines.ts";
import {
  DEFAULT_AUTHORIZE_PATH,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_PULL_PATH,
  DEFAULT_PUSH_PATH,
  DEFAULT_READ_TIMEOUT,
} from "./metadata.ts";
import { newToken, TOKEN_RE } from "./token.ts";

/** Sends one request; resolves with the response once its head is in (the body streams). */
export type Fetcher = (req: Request) => Promise<Response>;

/** Payload bytes per POST. @default 262144 */
export const DEFAULT_MAX_PUSH_PAYLOAD = 256 * 1024;
/** Decoded bytes held for the reader before the pull stops reading. */
const READ_BUFFER_LIMIT = 1024 * 1024;
/** How long `close()` waits for the close POST before releasing everything. */
const CLOSE_TIMEOUT = 5_000;

/** Options of a {@linkcode PhtClient}. */
export interface PhtClientOptions {
  /** The server's origin, e.g. `http://example.com:8080` (no path). */
  url: string;
  /** @default "/authorize" */
  authorizePath?: string;
  /** @default "/push" */
  pushPath?: string;
  /** @default "/pull" */
  pullPath?: string;
  /**
   * Sent as the `host` request header (a fetcher maps it to `Host` or
   * `:authority`); GOST sends `host:port` even for default ports.
   * @default the URL's host
   */
  host?: string;
  /** Extra headers on every request. */
  header?: Record<string, string>;
  /** POSTs in flight at once; more than 1 needs a fetcher that keeps call order. @default 1 */
  pushWindow?: number;
  /** Largest payload of one POST. @default 262144 */
  maxPushPayload?: number;
  /** `auto`: authorize, and on 404 a self-made token; or force one way. @default "auto" */
  mode?: "auto" | "authorize" | "lazy";
  /** Milliseconds a pull may deliver nothing (no data, no heartbeat) before the session fails. @default 30000 */
  readTimeout?: number;
  /** Milliseconds for the authorize round trip. @default 10000 */
  timeout?: number;
  /** Addresses the Conn reports (e.g. of the underlying connection), looked up when asked. */
  addrs?: () => { localAddr: Addr; remoteAddr: Addr } | undefined;
  /** Runs once the session ended and its last request finished: release the HTTP layer here. */
  onClose?: () => void;
  log?: Logger;
}

const UNKNOWN_ADDR: Addr = { transport: "tcp", hostname: "0.0.0.0", port: 0 };

/**
 * Opens PHT sessions over a fetcher.
 *
 * ```ts
 * const client = new PhtClient((req) => fetch(req), { url: "https://example.com:443" });
 * const conn = await client.connect();   // a Conn: read/write/closeWrite/close
 * ```
 */
export class PhtClient {
  readonly #fetch: Fetcher;
  readonly #opts: PhtClientOptions;

  constructor(fetcher: Fetcher, opts: PhtClientOptions) {
    this.#fetch = fetcher;
    this.#opts = opts;
  }

  /** Authorizes (or makes a token) and starts the pull; resolves to the session. */
  async connect(signal?: AbortSignal): Promise<PhtClientConn> {
    const o = this.#opts;
    const mode = o.mode ?? "auto";
    let token: string | undefined;
    if (mode !== "lazy") token = await this.#authorize(signal, mode === "auto");
    token ??= newToken();
    return new PhtClientConn(this.#fetch, o, token);
  }

  async #authorize(signal: AbortSignal | undefined, fallback: boolean): Promise<string | undefined> {
    const o = this.#opts;
    const timeout = AbortSignal.timeout(o.timeout ?? DEFAULT_HANDSHAKE_TIMEOUT);
    const sig = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const url = o.url + (o.authorizePath ?? DEFAULT_AUTHORIZE_PATH);
    let text: string;
    let status: number;
    try {
      const res = await this.#fetch(new Request(url, { method: "GET", headers: requestHeaders(o), signal: sig }));
      status = res.status;
      text = await readText(res, 4096, sig);
    } catch (err) {
      if (timeout.aborted && !signal?.aborted) {
        throw new HandshakeError(`PHT authorize at ${url} timed out`, { cause: err });
      }
      throw new HandshakeError(`PHT authorize at ${url} failed: ${errText(err)}`, { cause: err });
    }
    if (status === 404 && fallback) {
      o.log?.debug("pht: no authorize endpoint, using a self-made token", { url });
      return undefined;
    }
    if (!text.startsWith("token=")) {
      throw new HandshakeError(
        `PHT authorize at ${url} failed: status ${status}${text ? `, "${text.slice(0, 64)}"` : ""}`,
      );
    }
    const token = text.slice(6).trim();
    if (!TOKEN_RE.test(token)) {
      throw new HandshakeError(`PHT authorize at ${url} returned a bad token "${token.slice(0, 64)}"`);
    }
    return token;
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function requestHeaders(o: PhtClientOptions): Headers {
  const h = new Headers();
  h.set("user-agent", "Go-http-client/1.1");
  if (o.host) h.set("host", o.host);
  for (const [k, v] of Object.entries(o.header ?? {})) h.set(k, v);
  return h;
}

/** Reads a (small) response body as text, at most `max` bytes. */
async function readText(res: Response, max: number, signal?: AbortSignal): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const onAbort = () => reader.cancel(signal?.reason).catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.length;
      if (size > max) {
        await reader.cancel().catch(() => {});
        break;
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    all.set(p, off);
    off += p.length;
  }
  return new TextDecoder().decode(all.subarray(0, Math.min(size, max)));
}

/** Reads and drops a response body (an unexpected body on a push answer). */
async function discard(res: Response): Promise<void> {
  if (!res.body) return;
  await readText(res, 64 * 1024).catch(() => {});
}

/**
 * A body stream of `data` itself: a `Uint8Array` body would be copied by
 * `Request` and again by `req.bytes()`; a stream hands the same array on.
 */
function oneChunk(data: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      ctrl.enqueue(data);
      ctrl.close();
    },
  }, { highWaterMark: 0 });
}

/** The client side of one PHT session. */
export class PhtClientConn implements Conn {
  readonly token: string;
  readonly #fetch: Fetcher;
  readonly #o: PhtClientOptions;
  readonly #pushURL: string;
  readonly #pullURL: string;
  readonly #window: number;
  readonly #maxPush: number;
  // read side
  readonly #chunks: Uint8Array[] = [];
  #chunkOff = 0;
  #buffered = 0;
  #readWake: (() => void) | undefined;
  #roomWake: (() => void) | undefined;
  #eof = false;
  #readError: unknown;
  readonly #pullAc = new AbortController();
  #pullReader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  readonly #pulling: Promise<void>;
  // write side
  readonly #inflight: Promise<void>[] = [];
  /** Bytes written while the push window was full, for the next POST. */
  readonly #gathered: Uint8Array[] = [];
  #gatheredBytes = 0;
  #writeError: unknown;
  #writeClosed = false;
  #closePost: Promise<void> | undefined;
  #closed = false;
  readonly #released = Promise.withResolvers<void>();

  constructor(fetcher: Fetcher, o: PhtClientOptions, token: string) {
    this.token = token;
    this.#fetch = fetcher;
    this.#o = o;
    const q = `?token=${encodeURIComponent(token)}`;
    this.#pushURL = o.url + (o.pushPath ?? DEFAULT_PUSH_PATH) + q;
    this.#pullURL = o.url + (o.pullPath ?? DEFAULT_PULL_PATH) + q;
    this.#window = Math.max(1, o.pushWindow ?? 1);
    this.#maxPush = Math.max(1, o.maxPushPayload ?? DEFAULT_MAX_PUSH_PAYLOAD);
    this.#pulling = this.#pullLoop();
  }

  get localAddr(): Addr {
    return this.#o.addrs?.()?.localAddr ?? UNKNOWN_ADDR;
  }
  get remoteAddr(): Addr {
    return this.#o.addrs?.()?.remoteAddr ?? UNKNOWN_ADDR;
  }

  /** Resolves after `close()`, once the close POST and the pull finished (or timed out) and `onClose` ran. */
  get done(): Promise<void> {
    return this.#released.promise;
  }

  // ---- reading ----

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new ClosedError("PHT session closed");
      if (this.#buffered > 0) {
        let n = 0;
        while (n < p.length && this.#chunks.length > 0) {
          const c = this.#chunks[0];
          const k = Math.min(p.length - n, c.length - this.#chunkOff);
          p.set(c.subarray(this.#chunkOff, this.#chunkOff + k), n);
          n += k;
          this.#chunkOff += k;
          if (this.#chunkOff === c.length) {
            this.#chunks.shift();
            this.#chunkOff = 0;
          }
        }
        this.#buffered -= n;
        if (this.#buffered < READ_BUFFER_LIMIT) {
          this.#roomWake?.();
          this.#roomWake = undefined;
        }
        return n;
      }
      if (this.#readError !== undefined) throw this.#readError;
      if (this.#eof) return null;
      await new Promise<void>((r) => (this.#readWake = r));
    }
  }

  #deliver(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.#buffered += data.length;
    this.#wakeReader();
  }

  #wakeReader(): void {
    this.#readWake?.();
    this.#readWake = undefined;
  }

  async #pullLoop(): Promise<void> {
    const signal = this.#pullAc.signal;
    try {
      for (;;) {
        const res = await this.#fetch(
          new Request(this.#pullURL, { method: "GET", headers: requestHeaders(this.#o), signal }),
        );
        if (res.status !== 200) {
          await discard(res);
          // 403 is how a session that ended answers; anything else is worth a warning (wrong path, a proxy's error).
          this.#o.log?.log(res.status === 403 ? "debug" : "warn", `pht: pull refused with status ${res.status}`, {
            status: res.status,
          });
          return;
        }
        if (!res.body || (await this.#readLines(res.body)) === 0) return; // no line at all: the server's EOF
      }
    } catch (err) {
      if (!this.#closed && !signal.aborted) {
        this.#readError = err;
        this.#o.log?.debug("pht: pull failed", { error: errText(err) });
      }
    } finally {
      this.#eof = true;
      this.#wakeReader();
    }
  }

  /** Reads one pull response; resolves to the number of lines (heartbeats included). */
  async #readLines(body: ReadableStream<Uint8Array>): Promise<number> {
    const reader = body.getReader();
    if (this.#closed) {
      await reader.cancel().catch(() => {});
      return 0;
    }
    // close() cancels it: a fetcher may not end a body when the request's signal aborts after the head.
    this.#pullReader = reader;
    const splitter = new LineSplitter(MAX_CLIENT_LINE);
    const timeoutMs = this.#o.readTimeout ?? DEFAULT_READ_TIMEOUT;
    let lines = 0;
    const onLine = (line: string) => {
      lines++;
      if (line.length === 0 || line === "\r") return;
      this.#deliver(decodeLine(line));
    };
    try {
      for (;;) {
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          reader.cancel().catch(() => {});
        }, timeoutMs);
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } finally {
          clearTimeout(timer);
        }
        if (timedOut) throw new Deno.errors.TimedOut(`PHT pull silent for ${timeoutMs} ms`);
        if (r.done) break;
        splitter.push(r.value, onLine);
        while (this.#buffered >= READ_BUFFER_LIMIT && !this.#closed) {
          await new Promise<void>((res) => (this.#roomWake = res));
        }
      }
    } catch (err) {
      reader.cancel().catch(() => {});
      throw err;
    } finally {
      this.#pullReader = undefined;
    }
    return lines;
  }

  // ---- writing ----

  async write(p: Uint8Array): Promise<number> {
    for (;;) {
      if (this.#closed) throw new ClosedError("PHT session closed");
      if (this.#writeClosed) throw new Deno.errors.BrokenPipe("Write after closeWrite on a PHT session");
      if (this.#writeError !== undefined) throw this.#writeError;
      if (p.length === 0) return 0;
      if (this.#inflight.length < this.#window && this.#gatheredBytes === 0) {
        const n = Math.min(p.length, this.#maxPush);
        this.#startPush(encodeLine(n === p.length ? p : p.subarray(0, n)));
        return n;
      }
      const room = this.#maxPush - this.#gatheredBytes;
      if (room > 0) {
        // The caller reuses its buffer: keep a copy until the gathered POST goes out.
        const n = Math.min(p.length, room);
        this.#gathered.push(p.slice(0, n));
        this.#gatheredBytes += n;
        return n;
      }
      if (this.#inflight.length === 0) this.#flushGathered();
      else await this.#inflight[0];
    }
  }

  #startPush(body: Uint8Array): void {
    const t = this.#push(body).catch((err) => {
      this.#writeError ??= err;
    }).finally(() => {
      const i = this.#inflight.indexOf(t);
      if (i >= 0) this.#inflight.splice(i, 1);
      this.#flushGathered();
    });
    this.#inflight.push(t);
  }

  /** Sends what writes gathered while the window was full, as one POST. */
  #flushGathered(): void {
    if (this.#gatheredBytes === 0 || this.#inflight.length >= this.#window) return;
    const parts = this.#gathered.splice(0);
    this.#gatheredBytes = 0;
    if (this.#writeError !== undefined || this.#closed) return;
    this.#startPush(encodeLine(parts.length === 1 ? parts[0] : concat(...parts)));
  }

  async #push(body: Uint8Array | null): Promise<void> {
    const headers = requestHeaders(this.#o);
    headers.set("content-length", String(body?.length ?? 0));
    const res = await this.#fetch(
      new Request(this.#pushURL, { method: "POST", headers, body: body && oneChunk(body) }),
    );
    await discard(res);
    if (res.status !== 200) throw new Deno.errors.BrokenPipe(`PHT push refused with status ${res.status}`);
  }

  /** Sends the close signal once every write went out; reads go on until the server ends its side. */
  async closeWrite(): Promise<void> {
    if (this.#closed || this.#writeClosed) return;
    this.#writeClosed = true;
    this.#closePost = this.#sendClose();
    await this.#closePost;
    if (this.#writeError !== undefined) throw this.#writeError;
  }

  async #sendClose(): Promise<void> {
    while (this.#inflight.length > 0) await Promise.allSettled(this.#inflight);
    try {
      await this.#push(null);
    } catch (err) {
      this.#writeError ??= err;
    }
  }

  /** Ends the session: the close POST goes out (bounded by a timeout), the pull is cancelled. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pullAc.abort(new ClosedError("PHT session closed"));
    this.#pullReader?.cancel().catch(() => {});
    this.#roomWake?.();
    this.#wakeReader();
    if (!this.#writeClosed) {
      this.#writeClosed = true;
      this.#closePost = this.#sendClose();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<void>((r) => (timer = setTimeout(r, CLOSE_TIMEOUT)));
    Promise.race([Promise.allSettled([this.#pulling, this.#closePost]), limit]).finally(() => {
      clearTimeout(timer);
      try {
        this.#o.onClose?.();
      } finally {
        this.#released.resolve();
      }
    });
  }
}
