/**
 * The HTTP/2 proxy connector (GOST `connector/http2`, shared/spec/http-proxy.md
 * §3.3): each connect is one CONNECT stream on the node's HTTP/2 connection
 * from the `http2` dialer.
 *
 * @module
 */
import { type HeaderField, headerValue, statusLine } from "../../transports/h2/mod.ts";
import { Http2ClientConn } from "../../transports/http2/mod.ts";
import type { Conn, DialOptions } from "../../transports/types.ts";
import { AuthError, type Connector, type ConnectorOptions, ProxyError } from "../types.ts";
import { type HttpConnectorOptions, parseConnectorMetadata } from "../http/metadata.ts";

/** `user-agent` of GOST's Go HTTP/2 client. */
export const USER_AGENT = "Go-http-client/2.0";
/** How long a CONNECT waits for its answer when metadata `timeout` is not set. @default 30000 */
export const DEFAULT_CONNECT_TIMEOUT = 30_000;

export class Http2Connector implements Connector {
  readonly #opts: ConnectorOptions;
  readonly #md: HttpConnectorOptions;

  constructor(opts: ConnectorOptions) {
    this.#opts = opts;
    this.#md = parseConnectorMetadata(opts.metadata);
  }

  /** The CONNECT request's header fields, in Go's order. */
  requestHeaders(addr: string): HeaderField[] {
    const h: HeaderField[] = [[":authority", addr], [":method", "CONNECT"]];
    const auth = this.#opts.auth;
    if (auth) h.push(["proxy-authorization", "Basic " + btoa(`${auth.username}:${auth.password}`)]);
    let ua = USER_AGENT;
    for (const [k, v] of Object.entries(this.#md.header)) {
      const name = k.toLowerCase();
      if (name === "user-agent") ua = v;
      else if (!name.startsWith(":") && name !== "host" && name !== "connection" && name !== "proxy-connection") {
        h.push([name, v]);
      }
    }
    h.push(["accept-encoding", "gzip"], ["user-agent", ua]);
    return h;
  }

  async connect(conn: Conn, network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    if (network !== "tcp") throw new ProxyError(`HTTP/2 connector: network "${network}" is not supported`);
    if (!(conn instanceof Http2ClientConn)) {
      throw new ProxyError("The http2 connector works only with the http2 dialer");
    }
    const timeout = this.#md.timeout > 0 ? this.#md.timeout : DEFAULT_CONNECT_TIMEOUT;
    const { stream, response } = await conn.request(this.requestHeaders(addr), { signal: opts.signal, timeout });
    const status = headerValue(response, ":status") ?? "";
    if (status !== "200") {
      stream.close();
      if (status === "407") throw new AuthError(statusLine(status));
      throw new ProxyError(statusLine(status));
    }
    return stream;
  }
}

export function http2Connector(opts: ConnectorOptions): Connector {
  return new Http2Connector(opts);
}
