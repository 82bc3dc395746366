/**
 * The `pht` / `phts` dialer: a {@linkcode PhtClient} over two HTTP/1.1
 * lanes per session, one for authorize and pushes (pipelined, keep-alive)
 * and one for the long-lived pulls. Each lane's connection comes from the
 * raw dial (a TCP connect, or a stream through the previous hops), with
 * TLS on top for `phts`, so pht works as any hop of a chain.
 *
 * @module
 */
import { dialHost, joinHostPort, splitHostPort } from "../addr.ts";
import type { Logger } from "../log.ts";
import { TlsDialer } from "../tls/mod.ts";
import type { ClientTLSConfig, Conn, Dialer, DialerOptions, DialOptions, RawDial } from "../types.ts";
import { Http1Lane, Http1Pool } from "../_http1/client.ts";
import { PhtClient, type PhtClientConn } from "./client.ts";
import { parseDialerMetadata, type PhtDialerOptions } from "./metadata.ts";

/**
 * GOST's `Host`: the `host` option (or the node host) with the node port,
 * kept even when it is 80/443; a `host` option that has a port keeps it.
 */
function hostHeader(name: string, port: number): string {
  try {
    splitHostPort(name);
    return name;
  } catch {
    return joinHostPort(name.replace(/^\[|\]$/g, ""), port);
  }
}

/** Opens PHT sessions to nodes. */
export class PhtDialer implements Dialer {
  readonly #opts: PhtDialerOptions;
  readonly #tls: TlsDialer | undefined;
  readonly #log: Logger | undefined;
  readonly #live = new Set<PhtClientConn>();
  readonly #lanes = new Set<Http1Lane>();
  /** Keep-alive connections a finished session leaves for the next one (as Go's transport pools them). */
  readonly #pool = new Http1Pool();

  /** `tls` set: `phts`; unset: `pht`. */
  constructor(opts: PhtDialerOptions, tls?: ClientTLSConfig, log?: Logger) {
    this.#opts = opts;
    this.#tls = tls ? new TlsDialer(tls, { handshakeTimeout: opts.handshakeTimeout }) : undefined;
    this.#log = log;
  }

  /** The parsed options. */
  get options(): Readonly<PhtDialerOptions> {
    return this.#opts;
  }

  /** Sessions open (tests, diagnostics). */
  get sessions(): number {
    return this.#live.size;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    const o = this.#opts;
    const { host, port } = splitHostPort(addr);
    const name = o.host ?? dialHost(host);
    const hostPort = hostHeader(name, port);
    const scheme = this.#tls ? "https" : "http";
    const tls = this.#tls;
    const open = (signal?: AbortSignal) => tls ? tls.dial(addr, raw, { signal }) : raw(addr, { signal });
    const key = `${scheme}://${addr}`;
    const push = new Http1Lane(open, { pool: this.#pool, key });
    const pull = new Http1Lane(open, { pool: this.#pool, key });
    this.#lanes.add(push);
    this.#lanes.add(pull);
    const release = () => {
      push.release();
      pull.release();
      this.#lanes.delete(push);
      this.#lanes.delete(pull);
    };
    const pullPath = o.pullPath;
    const fetcher = (req: Request) => {
      const pathname = new URL(req.url).pathname;
      return (req.method === "GET" && pathname === pullPath ? pull : push).fetch(req);
    };
    let conn: PhtClientConn | undefined;
    const client = new PhtClient(fetcher, {
      url: `${scheme}://${hostPort}`,
      host: hostPort,
      authorizePath: o.authorizePath,
      pushPath: o.pushPath,
      pullPath: o.pullPath,
      header: o.header,
      pushWindow: o.pipeline,
      readTimeout: o.readTimeout,
      timeout: o.handshakeTimeout,
      addrs: () => push.addrs ?? pull.addrs,
      onClose: () => {
        release();
        if (conn) this.#live.delete(conn);
      },
      log: this.#log,
    });
    try {
      conn = await client.connect(opts.signal);
    } catch (err) {
      release();
      throw err;
    }
    this.#live.add(conn);
    this.#log?.trace("pht session opened", { node: addr });
    return conn;
  }

  /** Idle HTTP connections kept for the next session (tests, diagnostics). */
  get pooled(): number {
    return this.#pool.size;
  }

  /** Closes every session and its HTTP connections. */
  close(): void {
    for (const c of this.#live) c.close();
    for (const l of this.#lanes) l.close();
    this.#lanes.clear();
    this.#pool.close();
  }
}

/** The `pht` dialer. */
export function phtDialer(opts: DialerOptions): Dialer {
  return new PhtDialer(parseDialerMetadata(opts.metadata), undefined, opts.log);
}

/** The `phts` dialer: TLS per the node's dialer TLS config (no verification unless `secure`). */
export function phtsDialer(opts: DialerOptions): Dialer {
  return new PhtDialer(parseDialerMetadata(opts.metadata), opts.tls, opts.log);
}
