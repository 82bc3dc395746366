/**
 * The HTTP CONNECT connector (GOST `connector/http`, also the default
 * connector for a bare transport scheme on `-F`).
 *
 * @module
 */
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { readResponseHead } from "../../transports/_http1/head.ts";
import type { Conn, DialOptions } from "../../transports/types.ts";
import { type Connector, type ConnectorOptions, ProxyError } from "../types.ts";
import { type HttpConnectorOptions, parseConnectorMetadata } from "./metadata.ts";

const encoder = new TextEncoder();

export class HttpConnector implements Connector {
  readonly #opts: ConnectorOptions;
  readonly #md: HttpConnectorOptions;

  constructor(opts: ConnectorOptions) {
    this.#opts = opts;
    this.#md = parseConnectorMetadata(opts.metadata);
  }

  /** The CONNECT request head GOST's connector writes. */
  requestHead(addr: string): Uint8Array {
    const headers: [string, string][] = [];
    const custom = Object.entries(this.#md.header);
    const ua = custom.find(([k]) => k.toLowerCase() === "user-agent")?.[1] ?? "Go-http-client/1.1";
    const auth = this.#opts.auth;
    if (auth) headers.push(["Proxy-Authorization", "Basic " + btoa(`${auth.username}:${auth.password}`)]);
    headers.push(["Proxy-Connection", "keep-alive"]);
    for (const [k, v] of custom) if (k.toLowerCase() !== "user-agent") headers.push([canonical(k), v]);
    headers.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    let head = `CONNECT ${addr} HTTP/1.1\r\nHost: ${addr}\r\nUser-Agent: ${ua}\r\n`;
    for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
    return encoder.encode(head + "\r\n");
  }

  async connect(conn: Conn, network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    if (network !== "tcp") throw new ProxyError(`HTTP connector: network "${network}" is not supported`);
    const timer = this.#md.timeout > 0 ? setTimeout(() => closeQuietly(conn), this.#md.timeout) : undefined;
    const onAbort = () => closeQuietly(conn);
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      await writeAll(conn, this.requestHead(addr));
      const br = new BufferedConn(conn);
      const res = await readResponseHead(br);
      if (res.status !== 200) {
        throw new ProxyError(`${res.status} ${res.reason}`.trim());
      }
      // Unlike GOST, bytes that arrived with the 200 are kept (BufferedConn).
      return br.unwrap();
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** Go's canonical header spelling: `x-foo-bar` → `X-Foo-Bar`. */
function canonical(k: string): string {
  return k.toLowerCase().replace(/(^|-)([a-z])/g, (_, d, c) => d + c.toUpperCase());
}

export function httpConnector(opts: ConnectorOptions): Connector {
  return new HttpConnector(opts);
}
