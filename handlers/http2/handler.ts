/**
 * The HTTP/2 proxy handler (GOST `handler/http2`, shared/spec/http-proxy.md
 * §3.2): serves the per-request conns of the `http2` listener. CONNECT
 * tunnels the request and response bodies to the target; other methods are
 * re-serialised as HTTP/1.1 to the target. Authentication, the 407 and 503
 * answers and the metadata are those of the HTTP/1 handler.
 *
 * @module
 */
import { withDefaultPort } from "../../transports/addr.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { serializeRequestHead } from "../../transports/_http1/head.ts";
import type { HeaderField } from "../../transports/h2/mod.ts";
import { type Http1RequestConn, type Http2RequestConn, isHttp2RequestConn } from "../../transports/http2/mod.ts";
import type { Conn } from "../../transports/types.ts";
import { ForbiddenError, type Handler, type HandleResult, type HandlerOptions } from "../types.ts";
import { decodeGostTarget } from "../http/gost_target.ts";
import { type HttpHandlerOptions, parseHandlerMetadata } from "../http/metadata.ts";
import { forwardHttp1 } from "./_forward.ts";

/** Request headers that never reach the target (step 5). */
const REMOVED = ["Proxy-Authorization", "Proxy-Connection", "Gost-Target", "X-Gost-Target"];

export class Http2Handler implements Handler {
  readonly #opts: HandlerOptions;
  readonly #md: HttpHandlerOptions;
  /** Custom `header` metadata, as response header fields. */
  readonly #extra: HeaderField[];

  constructor(opts: HandlerOptions) {
    this.#opts = opts;
    this.#md = parseHandlerMetadata(opts.metadata);
    this.#extra = Object.entries(this.#md.header).map(([k, v]) => [k.toLowerCase(), v]);
  }

  async handle(conn: Conn, signal: AbortSignal): Promise<HandleResult> {
    if (!isHttp2RequestConn(conn)) {
      closeQuietly(conn);
      return { error: new TypeError("The http2 handler serves only the http2 listener") };
    }
    try {
      return await this.#serve(conn, signal);
    } catch (err) {
      return { error: err };
    } finally {
      closeQuietly(conn);
    }
  }

  async #serve(conn: Http2RequestConn, signal: AbortSignal): Promise<HandleResult> {
    const req = conn.request;
    const get = (n: string) => req.headers.find(([k]) => k === n)?.[1];
    const gostTarget = get("x-gost-target") ?? get("gost-target");
    const host = (gostTarget ? decodeGostTarget(gostTarget) : undefined) ?? req.authority;
    if (!host) {
      await conn.respond(400, this.#extra, true);
      return { error: new Error(`No target in ${req.method} request`) };
    }
    // The listener is always TLS, so a port-less target is :443 (GOST does the same, even for http:// URLs).
    const target = withDefaultPort(host, 443);

    const user = this.#authenticate(get("proxy-authorization"));
    if (user === null) {
      await this.#deny(conn, host);
      return { target, error: new Error("Proxy authentication failed") };
    }
    const fields = user ? { user } : undefined;

    let upstream: Conn;
    try {
      upstream = await this.#opts.router.dial("tcp", target, { signal });
    } catch (err) {
      await conn.respond(err instanceof ForbiddenError ? 403 : 503, this.#extra, true).catch(() => {});
      return { target, fields, error: err };
    }

    if (req.method === "CONNECT") {
      try {
        await conn.respond(200, this.#extra);
      } catch (err) {
        closeQuietly(upstream);
        return { target, fields, error: err };
      }
      const r = await pipe(conn, upstream, signal);
      return { target, fields, inBytes: r.aToB, outBytes: r.bToA, error: r.error };
    }

    if (conn.http1) return await this.#forwardRaw(conn as Http1RequestConn, upstream, target, signal, fields);
    try {
      const r = await forwardHttp1(conn, upstream, this.#extra);
      return { target, fields, inBytes: r.inBytes, outBytes: r.outBytes };
    } catch (err) {
      return { target, fields, error: err };
    }
  }

  /** An HTTP/1.1 client's plain request: rewritten like the HTTP/1 handler does, then piped raw. */
  async #forwardRaw(
    conn: Http1RequestConn,
    upstream: Conn,
    target: string,
    signal: AbortSignal,
    fields?: Record<string, unknown>,
  ): Promise<HandleResult> {
    const head = conn.head;
    const h = head.headers;
    for (const name of REMOVED) h.delete(name);
    let path = head.target;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
      try {
        const u = new URL(path);
        path = u.pathname + u.search;
        if (!h.has("Host")) h.set("Host", u.host);
      } catch {
        // leave as sent
      }
    }
    if (!h.hasToken("Connection", "upgrade")) h.set("Connection", "close");
    const bytes = serializeRequestHead({ ...head, target: path });
    try {
      await writeAll(upstream, bytes);
    } catch (err) {
      closeQuietly(upstream);
      return { target, fields, error: err };
    }
    const r = await pipe(conn, upstream, signal);
    return { target, fields, inBytes: r.aToB + bytes.length, outBytes: r.bToA, error: r.error };
  }

  /** The user name ("" without auth configured), or null when rejected. */
  #authenticate(header: string | undefined): string | null {
    const auther = this.#opts.auther;
    if (!auther) return "";
    let user = "", pass = "";
    if (header && /^basic /i.test(header)) {
      try {
        const s = atob(header.slice(6).trim());
        const i = s.indexOf(":");
        [user, pass] = i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
      } catch {
        [user, pass] = ["", ""];
      }
    }
    return auther.authenticate(user, pass) ? user : null;
  }

  async #deny(conn: Http2RequestConn, host: string): Promise<void> {
    const pr = this.#md.probeResist;
    const knocked = this.#md.knock !== undefined && hostname(host) === this.#md.knock;
    if (pr && !knocked && pr.type === "code" && /^\d{3}$/.test(pr.value)) {
      await conn.respond(Number(pr.value), [], true);
      return;
    }
    await conn.respond(407, [["proxy-authenticate", `Basic realm="${this.#md.realm}"`]], true);
  }
}

function hostname(hostport: string): string {
  try {
    return new URL(`http://${hostport}`).hostname;
  } catch {
    return hostport;
  }
}

export function http2Handler(opts: HandlerOptions): Handler {
  return new Http2Handler(opts);
}
