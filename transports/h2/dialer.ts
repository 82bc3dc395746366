/**
 * The `h2` / `h2c` tunnel dialer (shared/spec/h2-and-grpc.md §1.2): one
 * HTTP/2 connection per node address, one request stream per dial
 * (`CONNECT`, or `GET <path>` with `path` set), answered by `200`.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { dialTls } from "../tls/mod.ts";
import {
  type ClientTLSConfig,
  type Conn,
  type Dialer,
  type DialerOptions,
  type DialOptions,
  HandshakeError,
  type RawDial,
} from "../types.ts";
import type { HeaderField } from "./_hpack.ts";
import { SessionPool } from "./_pool.ts";
import { H2Session, type H2SessionOptions } from "./_session.ts";
import type { H2Stream } from "./_stream.ts";
import { awaitResponse, ClientTLSByHost, headerValue } from "./_util.ts";
import { type H2DialerOptions, parseDialerMetadata, USER_AGENT } from "./metadata.ts";
import { H2_ALPN } from "./listener.ts";

/** Status texts for the errors a tunnel request can get. */
const STATUS_TEXT: Record<string, string> = {
  "400": "Bad Request",
  "403": "Forbidden",
  "404": "Not Found",
  "405": "Method Not Allowed",
  "407": "Proxy Authentication Required",
  "500": "Internal Server Error",
  "502": "Bad Gateway",
  "503": "Service Unavailable",
};

/** `404 Not Found`-style text for a status. */
export function statusLine(status: string): string {
  return STATUS_TEXT[status] ? `${status} ${STATUS_TEXT[status]}` : status;
}

/**
 * Builds HTTP/2 client sessions over a conn from the chain: TLS with ALPN
 * `h2` first when `tls` is set (h2), prior knowledge otherwise (h2c).
 */
export function clientSessionFactory(
  tls: ClientTLSByHost | undefined,
  log?: Logger,
  name = "h2",
  session: Omit<H2SessionOptions, "client" | "log"> = {},
) {
  return async (addr: string, raw: RawDial, signal: AbortSignal): Promise<H2Session> => {
    let conn: Conn;
    if (tls) {
      const tc = await dialTls(addr, raw, tls.forAddr(addr), { signal, learnPin: true });
      if (tc.alpnProtocol && tc.alpnProtocol !== "h2") {
        tc.close();
        throw new HandshakeError(`${name} server at ${addr} chose ALPN "${tc.alpnProtocol}", not HTTP/2`);
      }
      conn = tc;
    } else {
      conn = await raw(addr, { signal });
    }
    signal.throwIfAborted();
    return new H2Session(conn, { ...session, client: true, log });
  };
}

/** One HTTP/2 connection per node; each dial is one tunnel request on it. */
export class H2Dialer implements Dialer {
  readonly multiplex = true;
  readonly #opts: H2DialerOptions;
  readonly #secure: boolean;
  readonly #pool: SessionPool;

  /** `tls` set: `h2`; unset: `h2c`. */
  constructor(opts: H2DialerOptions, tls?: ClientTLSConfig, log?: Logger) {
    this.#opts = opts;
    this.#secure = tls !== undefined;
    const name = tls ? "h2" : "h2c";
    this.#pool = new SessionPool(name, clientSessionFactory(tls && new ClientTLSByHost(tls, H2_ALPN), log, name), log);
  }

  /** Live sessions to `addr` (tests, diagnostics). */
  sessions(addr: string): H2Session[] {
    return this.#pool.sessions(addr);
  }

  dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    const headers = this.requestHeaders(addr);
    return this.#pool.open(addr, raw, opts, async (session): Promise<H2Stream> => {
      const s = session.request(headers);
      const res = await awaitResponse(s, this.#opts.responseTimeout, opts.signal);
      const status = headerValue(res, ":status") ?? "";
      if (status !== "200") {
        s.close();
        throw new HandshakeError(`h2 tunnel to ${addr} refused: ${statusLine(status)}`);
      }
      return s;
    });
  }

  /** The tunnel request GOST's Go client sends (pseudo-headers first, in Go's order). */
  requestHeaders(addr: string): HeaderField[] {
    const o = this.#opts;
    const h: HeaderField[] = [[":authority", o.host ?? addr]];
    if (o.path) {
      h.push([":method", "GET"], [":path", o.path], [":scheme", this.#secure ? "https" : "http"]);
    } else {
      h.push([":method", "CONNECT"]);
    }
    let ua = USER_AGENT;
    for (const [k, v] of Object.entries(o.header ?? {})) {
      const name = k.toLowerCase();
      if (name === "user-agent") ua = v;
      else if (name !== "host" && !name.startsWith(":") && !HOP_BY_HOP.has(name)) h.push([name, v]);
    }
    h.push(["accept-encoding", "gzip"], ["user-agent", ua]);
    return h;
  }

  close(): void {
    this.#pool.close();
  }
}

/** Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"]);

/** The `h2` dialer: TLS per the node's dialer TLS config (no verification unless `secure`). */
export function h2Dialer(opts: DialerOptions): Dialer {
  return new H2Dialer(parseDialerMetadata(opts.metadata), opts.tls, opts.log);
}

/** The `h2c` dialer: HTTP/2 with prior knowledge over the raw conn. */
export function h2cDialer(opts: DialerOptions): Dialer {
  return new H2Dialer(parseDialerMetadata(opts.metadata), undefined, opts.log);
}
