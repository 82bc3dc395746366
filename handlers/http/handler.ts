/**
 * The HTTP/1.1 proxy handler (GOST `handler/http`): CONNECT tunnels and
 * absolute-URI forwarding with Basic auth, answering with GOST's exact bytes.
 *
 * @module
 */
import { withDefaultPort } from "../../transports/addr.ts";
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { pipe } from "../../transports/_io/pipe.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import {
  HttpParseError,
  readRequestHead,
  type RequestHead,
  serializeRequestHead,
} from "../../transports/_http1/head.ts";
import type { Conn } from "../../transports/types.ts";
import { ForbiddenError, type Handler, type HandleResult, type HandlerOptions } from "../types.ts";
import { type HttpHandlerOptions, parseHandlerMetadata } from "./metadata.ts";
import { decodeGostTarget } from "./gost_target.ts";

const encoder = new TextEncoder();

export class HttpHandler implements Handler {
  readonly #opts: HandlerOptions;
  readonly #md: HttpHandlerOptions;

  constructor(opts: HandlerOptions) {
    this.#opts = opts;
    this.#md = parseHandlerMetadata(opts.metadata);
  }

  async handle(raw: Conn, signal: AbortSignal): Promise<HandleResult> {
    const conn = raw instanceof BufferedConn ? raw : new BufferedConn(raw);
    try {
      let req: RequestHead | null;
      const timer = setTimeout(() => closeQuietly(conn), this.#md.readTimeout);
      try {
        // A request line starts with a method token; anything else (e.g. a SOCKS
        // greeting sent to an HTTP port) is answered at once instead of waiting.
        const first = await conn.peek(1);
        if (first.length === 1 && !(first[0] >= 0x41 && first[0] <= 0x5a)) {
          throw new HttpParseError(`Not an HTTP request (first byte 0x${first[0].toString(16).padStart(2, "0")})`);
        }
        req = await readRequestHead(conn);
      } catch (err) {
        if (err instanceof HttpParseError) await this.#reply(conn, "HTTP/1.1 400 Bad Request", true);
        return { error: err };
      } finally {
        clearTimeout(timer);
      }
      if (!req) return {};
      return await this.#serve(conn, req, signal);
    } catch (err) {
      return { error: err };
    } finally {
      closeQuietly(conn);
    }
  }

  async #serve(conn: BufferedConn, req: RequestHead, signal: AbortSignal): Promise<HandleResult> {
    const h = req.headers;
    const gostTarget = h.get("X-Gost-Target") ?? h.get("Gost-Target");
    const decoded = gostTarget ? decodeGostTarget(gostTarget) : undefined;

    // HEAD order: authentication comes first, so probes learn nothing.
    const user = this.#authenticate(req);
    if (user === null) {
      await this.#deny(conn, req);
      return { target: req.target, error: new Error("Proxy authentication failed") };
    }
    const fields = user ? { user } : undefined;

    if (req.method === "PRI") {
      await this.#reply(conn, "HTTP/1.1 400 Bad Request", true);
      return { fields, error: new Error("HTTP/2 preface on an HTTP/1 proxy") };
    }

    if (h.get("X-Gost-Protocol")?.toLowerCase() === "udp") {
      // UDP over HTTP arrives with the UDP work; refuse as GOST does when disabled.
      await writeAll(conn, encoder.encode("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"));
      return { fields, error: new Error("UDP over HTTP is not enabled") };
    }

    if (req.method === "CONNECT") {
      const target = withDefaultPort(decoded ?? req.target, 80);
      return await this.#connect(conn, target, signal, fields);
    }

    let url: URL | undefined;
    try {
      url = /^[a-z][a-z0-9+.-]*:\/\//i.test(req.target) ? new URL(req.target) : undefined;
    } catch {
      url = undefined;
    }
    if (url && url.protocol !== "http:") {
      await this.#reply(conn, "HTTP/1.1 400 Bad Request", true);
      return { target: req.target, fields, error: new Error(`Unsupported scheme in "${req.target}"`) };
    }
    if (!url) {
      // Origin-form: GOST cannot forward it either (its transport has no host) and answers 503.
      await writeAll(conn, encoder.encode(`${req.version} 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n`));
      return { target: req.target, fields, error: new Error(`Not a proxy request: "${req.target}"`) };
    }
    return await this.#forward(conn, req, url, decoded, signal, fields);
  }

  /** Returns the user name ("" when no auth is configured), or null when rejected. */
  #authenticate(req: RequestHead): string | null {
    const auther = this.#opts.auther;
    if (!auther) return "";
    let user = "", pass = "";
    const v = req.headers.get("Proxy-Authorization");
    if (v && /^basic /i.test(v)) {
      try {
        const s = atob(v.slice(6).trim());
        const i = s.indexOf(":");
        [user, pass] = i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
      } catch {
        [user, pass] = ["", ""];
      }
    }
    return auther.authenticate(user, pass) ? user : null;
  }

  async #deny(conn: Conn, req: RequestHead): Promise<void> {
    const pr = this.#md.probeResist;
    const knocked = this.#md.knock && hostOf(req.target) === this.#md.knock;
    if (pr && !knocked && pr.type === "code" && /^\d{3}$/.test(pr.value)) {
      await writeAll(conn, encoder.encode(`HTTP/1.1 ${pr.value} ${statusText(Number(pr.value))}\r\n\r\n`));
      return;
    }
    let head = "HTTP/1.1 407 Proxy Authentication Required\r\nConnection: close\r\n";
    if (req.headers.get("Proxy-Connection")?.toLowerCase() === "keep-alive") head += "Proxy-Connection: close\r\n";
    head += `Proxy-Authenticate: Basic realm="${this.#md.realm}"\r\n\r\n`;
    await writeAll(conn, encoder.encode(head));
  }

  async #connect(
    conn: BufferedConn,
    target: string,
    signal: AbortSignal,
    fields?: Record<string, unknown>,
  ): Promise<HandleResult> {
    let upstream: Conn;
    try {
      upstream = await this.#opts.router.dial("tcp", target, { signal });
    } catch (err) {
      const status = err instanceof ForbiddenError ? "403 Forbidden" : "503 Service Unavailable";
      await this.#reply(conn, `HTTP/1.1 ${status}`, true, true);
      return { target, fields, error: err };
    }
    try {
      await writeAll(
        conn,
        encoder.encode(`HTTP/1.1 200 Connection established\r\nProxy-Agent: ${this.#md.proxyAgent}\r\n\r\n`),
      );
    } catch (err) {
      closeQuietly(upstream);
      return { target, fields, error: err };
    }
    const r = await pipe(conn.unwrap(), upstream, signal);
    return { target, fields, inBytes: r.aToB, outBytes: r.bToA, error: r.error };
  }

  async #forward(
    conn: BufferedConn,
    req: RequestHead,
    url: URL,
    decodedHost: string | undefined,
    signal: AbortSignal,
    fields?: Record<string, unknown>,
  ): Promise<HandleResult> {
    const target = withDefaultPort(decodedHost ?? url.host, 80);
    let upstream: Conn;
    try {
      upstream = await this.#opts.router.dial("tcp", target, { signal });
    } catch (err) {
      if (err instanceof ForbiddenError) await this.#reply(conn, "HTTP/1.1 403 Forbidden", true, true);
      else {
        await writeAll(conn, encoder.encode(`${req.version} 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n`))
          .catch(() => {});
      }
      return { target, fields, error: err };
    }
    const h = req.headers;
    for (const name of ["Proxy-Authorization", "Proxy-Connection", "Gost-Target", "X-Gost-Target"]) h.delete(name);
    if (!h.has("Host")) h.set("Host", url.host);
    // Upstream keep-alive is off (GOST's default): one request per upstream conn,
    // and the upstream's close ends the exchange for the client as well.
    if (!h.hasToken("Connection", "upgrade")) h.set("Connection", "close");
    const head = serializeRequestHead({ ...req, target: url.pathname + url.search });
    try {
      await writeAll(upstream, head);
    } catch (err) {
      closeQuietly(upstream);
      return { target, fields, error: err };
    }
    const client = conn.unwrap();
    const r = await pipe(client, answerIfSilent(upstream, client, req.version), signal);
    return { target, fields, inBytes: r.aToB + head.length, outBytes: r.bToA, error: r.error };
  }

  /** Writes a bodyless response; GOST adds `Connection: close` and `Proxy-Agent` on errors. */
  async #reply(conn: Conn, statusLine: string, close: boolean, agent = false): Promise<void> {
    let head = statusLine + "\r\n";
    if (close) head += "Connection: close\r\n";
    if (agent) head += `Proxy-Agent: ${this.#md.proxyAgent}\r\n`;
    for (const [k, v] of Object.entries(this.#md.header)) head += `${k}: ${v}\r\n`;
    try {
      await writeAll(conn, encoder.encode(head + "\r\n"));
    } catch {
      // client gone
    }
  }
}

/**
 * gost reads the upstream's response itself and answers 503 when none comes
 * (a relay or SOCKS hop refusing a lazy CONNECT, a target closing at once).
 * dost relays the bytes as they are, so it does the same at the first read:
 * an upstream that ends or fails before sending a byte makes the client get
 * a 503 instead of an empty reply.
 */
function answerIfSilent(upstream: Conn, client: Conn, version: string): Conn {
  let first = true;
  const fail = async (): Promise<void> => {
    await writeAll(client, encoder.encode(`${version} 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n`))
      .catch(() => {});
  };
  return {
    async read(p: Uint8Array): Promise<number | null> {
      if (!first) return upstream.read(p);
      first = false;
      let n: number | null;
      try {
        n = await upstream.read(p);
      } catch (err) {
        await fail();
        throw err;
      }
      if (n === null) await fail();
      return n;
    },
    write: (p) => upstream.write(p),
    closeWrite: () => upstream.closeWrite(),
    close: () => upstream.close(),
    get localAddr() {
      return upstream.localAddr;
    },
    get remoteAddr() {
      return upstream.remoteAddr;
    },
  };
}

function hostOf(target: string): string {
  try {
    return new URL(/^[a-z]+:\/\//i.test(target) ? target : `http://${target}`).hostname;
  } catch {
    return "";
  }
}

function statusText(code: number): string {
  const t: Record<number, string> = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
  };
  return t[code] ?? "Status";
}

export function httpHandler(opts: HandlerOptions): Handler {
  return new HttpHandler(opts);
}
