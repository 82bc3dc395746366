/**
 * The `http2` dialer (shared/spec/http-proxy.md §3.3): one HTTP/2
 * connection (TLS, ALPN `h2`) per node. A dial hands back an
 * {@linkcode Http2ClientConn}, a handle on that connection that the `http2`
 * connector opens its CONNECT stream on; the handle itself carries no bytes.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import {
  type Addr,
  type ClientTLSConfig,
  type Conn,
  type Dialer,
  type DialerOptions,
  type DialOptions,
  type RawDial,
} from "../types.ts";
import {
  awaitResponse,
  clientSessionFactory,
  ClientTLSByHost,
  H2_ALPN,
  type H2Session,
  type H2Stream,
  type HeaderField,
  SessionPool,
} from "../h2/mod.ts";

const UNSPECIFIED: Addr = { transport: "tcp", hostname: "0.0.0.0", port: 0 };

/**
 * A node's HTTP/2 connection as the chain sees it. `read`/`write` fail (as
 * in GOST); `request()` opens a stream and waits for its response, on a
 * fresh connection when the cached one turned out dead.
 */
export class Http2ClientConn implements Conn {
  readonly #pool: SessionPool;
  readonly #raw: RawDial;
  readonly addr: string;
  readonly #session: H2Session;

  constructor(pool: SessionPool, addr: string, raw: RawDial, session: H2Session) {
    this.#pool = pool;
    this.addr = addr;
    this.#raw = raw;
    this.#session = session;
  }

  get localAddr(): Addr {
    return this.#session.localAddr ?? UNSPECIFIED;
  }
  get remoteAddr(): Addr {
    return this.#session.remoteAddr ?? UNSPECIFIED;
  }

  /** Opens a stream with `headers`; resolves with it and its response headers. */
  request(
    headers: readonly HeaderField[],
    opts: DialOptions & { timeout: number },
  ): Promise<{ stream: H2Stream; response: HeaderField[] }> {
    return this.#pool.open(this.addr, this.#raw, opts, async (session) => {
      const stream = session.request(headers);
      const response = await awaitResponse(stream, opts.timeout, opts.signal);
      return { stream, response };
    });
  }

  read(): Promise<number | null> {
    return Promise.reject(new TypeError("The http2 dialer's conn carries no data; use the http2 connector"));
  }
  write(): Promise<number> {
    return Promise.reject(new TypeError("The http2 dialer's conn carries no data; use the http2 connector"));
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  /** The connection is shared: closing the handle leaves it open. */
  close(): void {}
}

/** A connection without streams for this long is closed (GOST's HTTP client: idle timeout 30 s). @default 30000 */
export const IDLE_TIMEOUT = 30_000;

/** One HTTP/2 connection per node address. */
export class Http2Dialer implements Dialer {
  readonly multiplex = true;
  readonly #pool: SessionPool;

  constructor(tls: ClientTLSConfig, log?: Logger, idleTimeout = IDLE_TIMEOUT) {
    const factory = clientSessionFactory(new ClientTLSByHost(tls, H2_ALPN), log, "http2", { maxIdle: idleTimeout });
    this.#pool = new SessionPool("http2", factory, log);
  }

  /** Live sessions to `addr` (tests, diagnostics). */
  sessions(addr: string): H2Session[] {
    return this.#pool.sessions(addr);
  }

  /** Makes sure a live connection to `addr` exists and returns a handle on it. */
  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    const session = await this.#pool.open(addr, raw, opts, (s) => Promise.resolve(s));
    return new Http2ClientConn(this.#pool, addr, raw, session);
  }

  close(): void {
    this.#pool.close();
  }
}

/** The `http2` dialer: TLS per the node's dialer TLS config (no verification unless `secure`). */
export function http2Dialer(opts: DialerOptions): Dialer {
  return new Http2Dialer(opts.tls, opts.log);
}
