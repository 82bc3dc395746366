/**
 * The PHT server core as a web-standard handler: `handle(req)` answers
 * authorize, push and pull requests (shared/spec/pht.md §2–§6) and
 * `accept()` hands out one {@linkcode PhtSession} per tunnel. It knows
 * nothing about the HTTP layer underneath, so dost's HTTP/1.1 server (pht,
 * phts) and an HTTP/3 server (h3) can both drive it.
 *
 * Both client generations are served: classic clients call authorize and
 * use the token they get; current clients invent a token, and a session is
 * created the first time a never-seen token pushes or pulls. A token whose
 * session has ended is answered `403` (kept in a bounded list), so a
 * current client sees its pull fail and ends instead of hanging.
 *
 * Tokens come from the `token` query parameter only (GOST's server would
 * also read a form body, but no GOST client sends one).
 *
 * Bounded: push lines (1 MiB, beyond ⇒ 413), pushes waiting per session
 * (4, beyond ⇒ 429), sessions waiting for `accept()` (`backlog`, beyond ⇒
 * 429); a push whose bytes the handler has not read within 30 s fails
 * with 410; a session with no request outstanding for `idleTimeout` is
 * closed, and one the client closed is closed once no pull has been
 * attached for 5 s.
 *
 * @module
 */
import { formatAddr, type Logger } from "../log.ts";
import type { Addr } from "../types.ts";
import { ConnQueue } from "../ws/mod.ts";
import { decodeParts, encodeLines, TEXT_SLICE } from "./lines.ts";
import {
  DEFAULT_AUTHORIZE_PATH,
  DEFAULT_BACKLOG,
  DEFAULT_HEARTBEAT,
  DEFAULT_IDLE_TIMEOUT,
  DEFAULT_PULL_PATH,
  DEFAULT_PUSH_PATH,
} from "./metadata.ts";
import { PhtSession } from "./session.ts";
import { newToken, TOKEN_RE } from "./token.ts";

/** Longest push body line (base64 + `\n`) accepted. @default 1048576 */
export const MAX_PUSH_LINE = 1024 * 1024;
/** Pushes of one session waiting for the handler at once. */
export const MAX_PENDING_PUSHES = 4;
/** How long a push may wait for the handler to read its bytes (GOST: 30 s). */
export const PUSH_TIMEOUT = 30_000;
/** A session the client closed is dropped when no pull is attached for this long. */
export const CLOSED_LINGER = 5_000;
/** Payload bytes one pull write carries at most (several lines). */
export const PULL_BATCH = 256 * 1024;
/** Tokens of ended sessions remembered for the 403 answer. */
export const CLOSED_TOKENS = 16_384;

/** Options of a {@linkcode PhtServer}. */
export interface PhtServerOptions {
  /** @default "/authorize" */
  authorizePath?: string;
  /** @default "/push" */
  pushPath?: string;
  /** @default "/pull" */
  pullPath?: string;
  /** Sessions waiting for `accept()`. @default 128 */
  backlog?: number;
  /** Milliseconds between heartbeat lines of an idle pull. @default 10000 */
  heartbeat?: number;
  /** Milliseconds a session may have no outstanding request before it is closed. @default 60000 */
  idleTimeout?: number;
  /** Milliseconds a push may wait for the handler to read its bytes before it fails with 410. @default 30000 */
  pushTimeout?: number;
  /**
   * Behave like a gost v3.2.6 server (for tests of the client): no lazy
   * sessions (unknown tokens get 403) and a pull ends after its heartbeat.
   * @default false
   */
  classic?: boolean;
  log?: Logger;
}

/** Where a request came from; passed by the HTTP layer (same shape as `Deno.ServeHandlerInfo`). */
export interface PhtRequestInfo {
  remoteAddr?: Addr;
  localAddr?: Addr;
}

const UNKNOWN_ADDR: Addr = { transport: "tcp", hostname: "0.0.0.0", port: 0 };
const HEARTBEAT = new Uint8Array([10]);
/** Base64 is ASCII (decoded fast); other bytes become non-base64 characters and fail the decode. */
const ascii = new TextDecoder();
/** Go's ServeMux answer for paths it does not serve. */
const NOT_FOUND = "404 page not found\n";

function empty(status: number, headers?: HeadersInit): Response {
  return new Response(null, { status, headers });
}

type LineResult =
  | { kind: "eof" }
  | { kind: "line"; parts: string[]; chars: number }
  | { kind: "partial" }
  | { kind: "too-long" }
  | { kind: "error"; error: unknown };

/**
 * Reads a request body up to its first `\n` (at most `max` characters), as
 * text in slices of at most 64 KiB: base64 is ASCII, the engine's string
 * search finds the newline fastest, and slices that size stay out of the
 * large-object space (dost's HTTP server hands a push body over in one
 * piece, so this is a few slice decodes and searches).
 */
async function firstLine(body: ReadableStream<Uint8Array> | null, max: number): Promise<LineResult> {
  if (!body) return { kind: "eof" };
  const reader = body.getReader();
  const parts: string[] = [];
  let chars = 0;
  let any = false;
  try {
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (error) {
        return { kind: "error", error };
      }
      if (r.done) return any ? { kind: "partial" } : { kind: "eof" };
      const chunk = r.value;
      for (let off = 0; off < chunk.length; off += TEXT_SLICE) {
        any = true;
        const text = ascii.decode(chunk.subarray(off, Math.min(off + TEXT_SLICE, chunk.length)));
        const i = text.indexOf("\n");
        const take = i < 0 ? text.length : i;
        if (chars + take > max) return { kind: "too-long" };
        if (take > 0) parts.push(i < 0 ? text : text.slice(0, i));
        chars += take;
        if (i >= 0) return { kind: "line", parts, chars };
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * A PHT server: plug it into any HTTP server.
 *
 * ```ts
 * const pht = new PhtServer({ pushPath: "/push" });
 * Deno.serve((req, info) => pht.handle(req, info));   // or dost's Http1Server, or an HTTP/3 server
 * for (;;) handle(await pht.accept());                  // one Conn per tunnel
 * ```
 */
export class PhtServer {
  readonly #authorizePath: string;
  readonly #pushPath: string;
  readonly #pullPath: string;
  readonly #heartbeat: number;
  readonly #idleTimeout: number;
  readonly #pushTimeout: number;
  readonly #classic: boolean;
  readonly #log: Logger | undefined;
  readonly #queue: ConnQueue<PhtSession>;
  readonly #sessions = new Map<string, PhtSession>();
  readonly #closedTokens = new Set<string>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #closed = false;
  #idle = Promise.withResolvers<void>();

  constructor(opts: PhtServerOptions = {}) {
    this.#authorizePath = opts.authorizePath ?? DEFAULT_AUTHORIZE_PATH;
    this.#pushPath = opts.pushPath ?? DEFAULT_PUSH_PATH;
    this.#pullPath = opts.pullPath ?? DEFAULT_PULL_PATH;
    this.#heartbeat = opts.heartbeat ?? DEFAULT_HEARTBEAT;
    this.#idleTimeout = opts.idleTimeout ?? DEFAULT_IDLE_TIMEOUT;
    this.#pushTimeout = opts.pushTimeout ?? PUSH_TIMEOUT;
    this.#classic = opts.classic ?? false;
    this.#log = opts.log;
    this.#queue = new ConnQueue(opts.backlog ?? DEFAULT_BACKLOG);
  }

  /** Live sessions (accepted or waiting). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Resolves once `close()` ran and the last session ended. */
  get drained(): Promise<void> {
    return this.#idle.promise;
  }

  /** The next session; rejects with `ClosedError` once closed. */
  accept(): Promise<PhtSession> {
    return this.#queue.shift();
  }

  /**
   * Stops creating sessions (new ones get 503) and fails `accept()`.
   * Accepted sessions keep being served until they end; `closeSessions()`
   * ends them at once.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.close();
    this.#checkDrained();
  }

  /** Closes every live session. */
  closeSessions(): void {
    for (const s of [...this.#sessions.values()]) s.close();
  }

  /** Answers one HTTP request. Never rejects. */
  async handle(req: Request, info: PhtRequestInfo = {}): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    try {
      if (path === this.#pushPath) return await this.#push(req, url, info);
      if (path === this.#pullPath) return this.#pullRequest(req, url, info);
      if (path === this.#authorizePath) return this.#authorize(info);
    } catch (err) {
      this.#log?.debug("pht: request failed", { error: err instanceof Error ? err.message : String(err) });
      return empty(500);
    }
    return new Response(NOT_FOUND, {
      status: 404,
      headers: { "content-type": "text/plain; charset=utf-8", "content-length": String(NOT_FOUND.length) },
    });
  }

  #newSession(token: string, info: PhtRequestInfo): PhtSession | number {
    if (this.#closed) return 503;
    const s = new PhtSession(
      token,
      info.localAddr ?? UNKNOWN_ADDR,
      info.remoteAddr ?? UNKNOWN_ADDR,
      (x) => this.#forget(x),
    );
    if (!this.#queue.push(s)) {
      this.#log?.warn(`pht: connection queue is full, client ${formatAddr(info.remoteAddr)} discarded`, {
        remote: formatAddr(info.remoteAddr),
      });
      return 429;
    }
    this.#sessions.set(token, s);
    this.#startSweeper();
    this.#log?.debug("pht: session started", { remote: formatAddr(info.remoteAddr) });
    return s;
  }

  #forget(s: PhtSession): void {
    if (this.#sessions.get(s.token) !== s) return;
    this.#sessions.delete(s.token);
    this.#closedTokens.add(s.token);
    if (this.#closedTokens.size > CLOSED_TOKENS) {
      this.#closedTokens.delete(this.#closedTokens.values().next().value!);
    }
    this.#log?.debug("pht: session ended", { remote: formatAddr(s.remoteAddr) });
    if (this.#sessions.size === 0) this.#stopSweeper();
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#closed && this.#sessions.size === 0) this.#idle.resolve();
  }

  #authorize(info: PhtRequestInfo): Response {
    let token = newToken();
    while (this.#sessions.has(token) || this.#closedTokens.has(token)) token = newToken();
    const s = this.#newSession(token, info);
    if (typeof s === "number") return empty(s);
    const body = `token=${token}`;
    return new Response(body, {
      status: 200,
      headers: { "content-type": "text/plain; charset=utf-8", "content-length": String(body.length) },
    });
  }

  /** The session for the request's token (created lazily for a never-seen one), or the status to answer. */
  #lookup(url: URL, info: PhtRequestInfo): PhtSession | number {
    const token = url.searchParams.get("token");
    if (!token || !TOKEN_RE.test(token)) return token ? 400 : 403;
    const s = this.#sessions.get(token);
    if (s) return s;
    if (this.#closedTokens.has(token) || this.#classic) return 403;
    return this.#newSession(token, info);
  }

  async #push(req: Request, url: URL, info: PhtRequestInfo): Promise<Response> {
    if (req.method !== "POST") return empty(400);
    const s = this.#lookup(url, info);
    if (typeof s === "number") {
      await req.body?.cancel().catch(() => {});
      return empty(s);
    }
    if (s.readEnded) return empty(403);
    if (s.pendingPushes >= MAX_PENDING_PUSHES) return empty(429);
    s.lastActive = performance.now();
    const r = await firstLine(req.body, MAX_PUSH_LINE);
    switch (r.kind) {
      case "eof":
      case "partial":
        // The close signal (an unterminated line is treated the same, its data dropped).
        s.endRead();
        return empty(200);
      case "too-long":
        s.close();
        return empty(413);
      case "error":
        s.close();
        return empty(206);
    }
    if (r.chars === 0) return empty(200); // "\n": nothing to deliver
    let data: Uint8Array;
    try {
      data = decodeParts(r.parts, r.chars);
    } catch {
      s.close();
      return empty(400);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ok = await Promise.race([
      s.deliver(data),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.#pushTimeout))),
    ]);
    clearTimeout(timer);
    if (!ok) {
      s.close();
      return empty(410);
    }
    return empty(200);
  }

  #pullRequest(req: Request, url: URL, info: PhtRequestInfo): Response {
    if (req.method !== "GET") return empty(400);
    const s = this.#lookup(url, info);
    if (typeof s === "number") return empty(s);
    const headers = { "cache-control": "no-cache", "x-accel-buffering": "no" };
    if (s.endSent || s.closed) return new Response(new Uint8Array(0), { status: 200, headers });
    const id = s.attachPull();
    const signal = req.signal;
    let sent = false;
    const end = (ctrl: ReadableStreamDefaultController<Uint8Array>) => {
      s.detachPull(id);
      try {
        ctrl.close();
      } catch {
        // the HTTP side cancelled the stream already
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      pull: async (ctrl) => {
        for (;;) {
          const w = await s.waitOut(id, this.#heartbeat, signal);
          if (w === "data") {
            const data = s.take(PULL_BATCH);
            if (!data) continue;
            sent = true;
            ctrl.enqueue(encodeLines(data));
            return;
          }
          if (w === "timeout") {
            sent = true;
            ctrl.enqueue(HEARTBEAT);
            if (this.#classic) end(ctrl);
            return;
          }
          if (w === "end" && s.outEnded && !signal.aborted && s.isCurrentPull(id)) {
            // The handler ended its side: ending this response (with or without lines) is the client's EOF.
            // A response that already carried lines ends now; the client's next pull gets an empty one.
            if (!sent) s.markEndSent();
          }
          end(ctrl);
          return;
        }
      },
      cancel: () => s.detachPull(id),
    }, { highWaterMark: 0 });
    return new Response(stream, { status: 200, headers });
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    const every = Math.max(250, Math.min(this.#idleTimeout, CLOSED_LINGER) / 4);
    this.#sweeper = setInterval(() => this.#sweep(), every);
  }

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    for (const s of [...this.#sessions.values()]) {
      if (s.pulling || s.pendingPushes > 0) continue;
      const idle = now - s.lastActive;
      if (idle > this.#idleTimeout || (s.readEnded && idle > CLOSED_LINGER)) {
        this.#log?.debug("pht: session expired", { remote: formatAddr(s.remoteAddr), idle: Math.round(idle) });
        s.close();
      }
    }
  }
}
