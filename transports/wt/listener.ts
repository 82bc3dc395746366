/**
 * The `wt` listener (GOST `listener/http3/wt`): a QUIC endpoint (ALPN h3,
 * the service certificate) serving WebTransport sessions on `path`; every
 * stream a client opens in a session is one accepted conn. As in GOST,
 * streams beyond `backlog` waiting for the service are refused (reset).
 *
 * @module
 */
import { listenHost, splitHostPort } from "../addr.ts";
import { formatAddr, type Logger } from "../log.ts";
import { type Addr, ClosedError, type Conn, type Listener, type ListenerOptions } from "../types.ts";
import { ALPN_H3, ErrorCode } from "../_h3/mod.ts";
import { serveWt } from "./_server.ts";
import type { WtStream } from "./_stream.ts";
import { parseListenerMetadata, type WtListenerOptions } from "./metadata.ts";
import { acceptQuic } from "../h3/mod.ts";

/** Time allowed for CONNECTION_CLOSE packets to go out after close(). @default 50 */
export const CLOSE_FLUSH = 50;
/** How long binding retries while a closed endpoint still holds the port. @default 5000 */
export const REBIND_TIMEOUT = 5000;

/** Request fields whose values never reach the logs. */
const SECRET_FIELDS: ReadonlySet<string> = new Set(["authorization", "proxy-authorization", "cookie"]);

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** WebTransport streams arriving over QUIC connections on one endpoint. */
export class WtListener implements Listener {
  readonly addr: Addr;
  // Dropped on close: Deno frees the UDP port only when these objects are garbage-collected.
  #endpoint: Deno.QuicEndpoint | undefined;
  #quic: Deno.QuicListener | undefined;
  readonly #log: Logger;
  readonly #opts: WtListenerOptions;
  readonly #conns = new Set<Deno.QuicConn>();
  readonly #serving = new Set<Promise<void>>();
  readonly #queue: WtStream[] = [];
  readonly #waiting: { resolve: (c: Conn) => void; reject: (e: unknown) => void }[] = [];
  readonly #loop: Promise<void>;
  readonly #shutdown = new AbortController();
  #sessions = 0;
  #closed = false;

  constructor(endpoint: Deno.QuicEndpoint, quic: Deno.QuicListener, opts: WtListenerOptions, log: Logger) {
    this.#endpoint = endpoint;
    this.#quic = quic;
    this.#opts = opts;
    this.#log = log;
    this.addr = { transport: "udp", hostname: endpoint.addr.hostname, port: endpoint.addr.port };
    this.#loop = this.#acceptLoop();
  }

  /** The parsed options. */
  get options(): Readonly<WtListenerOptions> {
    return this.#opts;
  }

  /** QUIC connections being served (tests, diagnostics). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Live WebTransport sessions (tests, diagnostics). */
  get sessions(): number {
    return this.#sessions;
  }

  /** Resolves once closed and every connection is gone. */
  get done(): Promise<void> {
    return this.#loop.then(async () => {
      while (this.#serving.size > 0) await Promise.all([...this.#serving]);
    });
  }

  accept(): Promise<Conn> {
    const s = this.#queue.shift();
    if (s) return Promise.resolve(s);
    if (this.#closed) return this.#closedError();
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }

  async #closedError(): Promise<never> {
    // Give the connection closes a moment to leave before the service (and maybe the process)
    // ends, so that clients learn at once instead of by idle timeout.
    await new Promise((r) => setTimeout(r, CLOSE_FLUSH));
    throw new ClosedError("wt listener closed");
  }

  /** Stops accepting, closes every session (CLOSE_WEBTRANSPORT_SESSION) and connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#shutdown.abort();
    for (const s of this.#queue.splice(0)) s.abort();
    for (const w of this.#waiting.splice(0)) this.#closedError().catch(w.reject);
    try {
      this.#quic?.stop();
    } catch {
      // already stopped
    }
    for (const c of this.#conns) {
      try {
        c.close({ closeCode: ErrorCode.H3_NO_ERROR, reason: "" });
      } catch {
        // already closed
      }
    }
    this.#endpoint?.close({ closeCode: ErrorCode.H3_NO_ERROR, reason: "" });
    this.#endpoint = undefined;
    this.#quic = undefined;
  }

  #push(s: WtStream): void {
    const w = this.#waiting.shift();
    if (w) return w.resolve(s);
    if (this.#queue.length >= this.#opts.backlog) {
      s.abort();
      this.#log.warn(`wt: connection queue is full, stream discarded`, { remote: formatAddr(s.remoteAddr) });
      return;
    }
    this.#queue.push(s);
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let incoming: Deno.QuicIncoming;
      try {
        if (!this.#quic) break;
        incoming = await this.#quic.incoming();
      } catch (err) {
        if (!this.#closed) this.#log.error(`wt: accept failed: ${errText(err)}`);
        break;
      }
      // A connection failing in an unexpected way ends that connection only, never the listener.
      const p = this.#serve(incoming).catch((err) => this.#log.debug(`wt: connection ended: ${errText(err)}`));
      this.#serving.add(p);
      p.finally(() => this.#serving.delete(p));
    }
  }

  async #serve(incoming: Deno.QuicIncoming): Promise<void> {
    const conn = await acceptQuic(incoming, {
      timeout: this.#opts.handshakeTimeout,
      log: this.#log,
      tag: "wt",
      close: closeH3,
    });
    if (!conn) return;
    const remote = formatAddr({ transport: "udp", hostname: conn.remoteAddr.hostname, port: conn.remoteAddr.port });
    if (this.#closed) {
      conn.close({ closeCode: ErrorCode.H3_NO_ERROR, reason: "" });
      return;
    }
    this.#conns.add(conn);
    this.#log.trace("wt: connection", { remote });
    try {
      await serveWt(conn, {
        path: this.#opts.path,
        headerTimeout: this.#opts.handshakeTimeout,
        signal: this.#shutdown.signal,
        onStream: (s) => this.#push(s),
        onSession: (s, request) => {
          this.#sessions++;
          if (this.#log.enabled("trace")) {
            const head = request.map(([k, v]) => `${k}: ${SECRET_FIELDS.has(k) ? "***" : v}`).join(", ");
            this.#log.trace(`wt: session ${s.id}: ${head}`, { remote });
          }
          s.done.then((end) => {
            this.#sessions--;
            if (end.error) this.#log.debug(`wt: session ended: ${end.error}`, { remote });
          });
        },
        onError: (err) => this.#log.debug(`wt: ${errText(err)}`, { remote }),
      });
    } finally {
      this.#conns.delete(conn);
    }
  }
}

/**
 * Creates a QUIC endpoint. Deno releases a closed endpoint's UDP port only
 * when its objects are garbage-collected, so rebinding the same port right
 * after a close (a reload) can fail with AddrInUse for a moment: retry for
 * up to {@linkcode REBIND_TIMEOUT}, making some garbage so that a collection runs.
 */
async function bindEndpoint(hostname: string, port: number): Promise<Deno.QuicEndpoint> {
  const deadline = Date.now() + REBIND_TIMEOUT;
  for (;;) {
    try {
      return new Deno.QuicEndpoint({ hostname, port });
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse) || port === 0 || Date.now() > deadline) throw err;
      for (let i = 0; i < 16; i++) new Uint8Array(1 << 20).fill(i);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** The `wt` listener factory. */
export async function listenWt(opts: ListenerOptions): Promise<Listener> {
  const o = parseListenerMetadata(opts.metadata);
  const tls = await opts.tls();
  if (tls.ca) {
    throw new TypeError(
      "wt listener cannot require client certificates: Deno's QUIC has no client authentication (remove the CA)",
    );
  }
  const { host, port } = splitHostPort(opts.addr);
  const endpoint = await bindEndpoint(listenHost(host), port);
  let quic: Deno.QuicListener;
  try {
    quic = endpoint.listen({
      cert: tls.cert,
      key: tls.key,
      alpnProtocols: [ALPN_H3],
      keepAliveInterval: o.keepAlivePeriod > 0 ? o.keepAlivePeriod : undefined,
      maxIdleTimeout: o.maxIdleTimeout,
      maxConcurrentBidirectionalStreams: o.maxStreams,
      maxConcurrentUnidirectionalStreams: 16,
    });
  } catch (err) {
    endpoint.close();
    throw err;
  }
  return new WtListener(endpoint, quic, o, opts.log);
}

/** Ends a connection nobody will serve, as HTTP/3 says (H3_NO_ERROR). */
function closeH3(c: Deno.QuicConn): void {
  c.close({ closeCode: ErrorCode.H3_NO_ERROR, reason: "" });
}
