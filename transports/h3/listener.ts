/**
 * The `h3` listener: PHT over HTTP/3 (GOST `listener/http3/h3`). A QUIC
 * endpoint (ALPN `h3`, the service certificate) whose connections are
 * served by dost's HTTP/3 server, which hands every request to a
 * {@linkcode PhtServer}; each PHT session is one accepted conn.
 *
 * Not to be confused with GOST's `http3` *listener*, an HTTP/3 reverse
 * proxy front end, which dost does not provide.
 *
 * @module
 */
import { listenHost, splitHostPort } from "../addr.ts";
import { formatAddr, type Logger } from "../log.ts";
import type { Addr, Listener, ListenerOptions } from "../types.ts";
import { ALPN_H3, ErrorCode, serveH3 } from "../_h3/mod.ts";
import { PhtServer, type PhtSession } from "../pht/mod.ts";
import { type H3ListenerOptions, parseListenerMetadata } from "./metadata.ts";
import { acceptQuic } from "./_accept.ts";

/** Time allowed for CONNECTION_CLOSE packets to go out after close(). @default 50 */
export const CLOSE_FLUSH = 50;

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** PHT sessions arriving over HTTP/3 connections on one QUIC endpoint. */
export class H3Listener implements Listener {
  readonly addr: Addr;
  // Dropped on close: Deno frees the UDP port only when these objects are garbage-collected.
  #endpoint: Deno.QuicEndpoint | undefined;
  #quic: Deno.QuicListener | undefined;
  readonly #pht: PhtServer;
  readonly #log: Logger;
  readonly #opts: H3ListenerOptions;
  readonly #conns = new Set<Deno.QuicConn>();
  readonly #serving = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  readonly #shutdown = new AbortController();
  #closed = false;

  constructor(endpoint: Deno.QuicEndpoint, quic: Deno.QuicListener, opts: H3ListenerOptions, log: Logger) {
    this.#endpoint = endpoint;
    this.#quic = quic;
    this.#opts = opts;
    this.#log = log;
    this.addr = { transport: "udp", hostname: endpoint.addr.hostname, port: endpoint.addr.port };
    this.#pht = new PhtServer({ ...opts.pht, log });
    this.#loop = this.#acceptLoop();
  }

  /** The PHT core (tests, diagnostics). */
  get server(): PhtServer {
    return this.#pht;
  }

  /** QUIC connections being served. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Resolves once closed and every connection is gone. */
  get done(): Promise<void> {
    return this.#loop.then(async () => {
      while (this.#serving.size > 0) await Promise.all([...this.#serving]);
    });
  }

  accept(): Promise<PhtSession> {
    return this.#pht.accept().catch(async (err) => {
      // After close(): give the connection closes a moment to leave before the service (and
      // maybe the process) ends, so clients learn at once instead of by idle timeout.
      if (this.#closed) await new Promise((r) => setTimeout(r, CLOSE_FLUSH));
      throw err;
    });
  }

  /** Stops accepting, ends every PHT session and closes every connection (H3_NO_ERROR). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pht.close();
    this.#pht.closeSessions();
    this.#shutdown.abort();
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

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let incoming: Deno.QuicIncoming;
      try {
        if (!this.#quic) break;
        incoming = await this.#quic.incoming();
      } catch (err) {
        if (!this.#closed) this.#log.error(`h3: accept failed: ${errText(err)}`);
        break;
      }
      this.#track(this.#serve(incoming));
    }
  }

  #track(served: Promise<void>): void {
    // A QUIC connection failing in an unexpected way ends that connection only, never the process.
    const p = served.catch((err) => this.#log.debug(`h3: connection ended: ${errText(err)}`));
    this.#serving.add(p);
    p.finally(() => this.#serving.delete(p));
  }

  async #serve(incoming: Deno.QuicIncoming): Promise<void> {
    const conn = await acceptQuic(incoming, {
      timeout: this.#opts.handshakeTimeout,
      log: this.#log,
      tag: "h3",
      close: closeH3,
    });
    if (!conn) return;
    const remote = formatAddr({ transport: "udp", hostname: conn.remoteAddr.hostname, port: conn.remoteAddr.port });
    if (this.#closed) {
      conn.close({ closeCode: ErrorCode.H3_NO_ERROR, reason: "" });
      return;
    }
    this.#conns.add(conn);
    this.#log.trace("h3: connection", { remote });
    try {
      await serveH3(conn, (req, info) => this.#pht.handle(req, info), {
        signal: this.#shutdown.signal,
        onError: (err) => this.#log.debug(`h3: ${errText(err)}`, { remote }),
      });
    } finally {
      this.#conns.delete(conn);
    }
  }
}

/** Options for {@linkcode listenQuic}. */
export interface QuicListenConfig {
  addr: string;
  cert: string;
  key: string;
  keepAlivePeriod: number;
  maxIdleTimeout: number;
  maxStreams: number;
}

/** How long binding retries while a closed endpoint still holds the port (seen: up to 3 s). @default 5000 */
export const REBIND_TIMEOUT = 5000;

/**
 * Creates a QUIC endpoint. Deno releases a closed endpoint's UDP port only
 * when its objects are garbage-collected, so rebinding the same port right
 * after a close (a reload, a restarted service) can fail with AddrInUse for
 * a moment: retry for up to {@linkcode REBIND_TIMEOUT}, making some garbage
 * so that a collection actually runs.
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

/** Binds a QUIC endpoint and listens with ALPN h3. */
export async function listenQuic(
  c: QuicListenConfig,
): Promise<{ endpoint: Deno.QuicEndpoint; listener: Deno.QuicListener }> {
  const { host, port } = splitHostPort(c.addr);
  const endpoint = await bindEndpoint(listenHost(host), port);
  try {
    const listener = endpoint.listen({
      cert: c.cert,
      key: c.key,
      alpnProtocols: [ALPN_H3],
      keepAliveInterval: c.keepAlivePeriod > 0 ? c.keepAlivePeriod : undefined,
      maxIdleTimeout: c.maxIdleTimeout,
      maxConcurrentBidirectionalStreams: c.maxStreams,
      maxConcurrentUnidirectionalStreams: 16,
    });
    return { endpoint, listener };
  } catch (err) {
    endpoint.close();
    throw err;
  }
}

/** The `h3` listener factory. */
export async function listenH3(opts: ListenerOptions): Promise<Listener> {
  const o = parseListenerMetadata(opts.metadata);
  const tls = await opts.tls();
  if (tls.ca) {
    throw new TypeError(
      "h3 listener cannot require client certificates: Deno's QUIC has no client authentication (remove the CA)",
    );
  }
  const { endpoint, listener } = await listenQuic({ addr: opts.addr, cert: tls.cert, key: tls.key, ...o });
  return new H3Listener(endpoint, listener, o, opts.log);
}

/** Ends a connection nobody will serve, as HTTP/3 says (H3_NO_ERROR). */
function closeH3(c: Deno.QuicConn): void {
  c.close({ closeCode: ErrorCode.H3_NO_ERROR, reason: "" });
}
