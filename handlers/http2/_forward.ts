/**
 * Non-CONNECT requests of the `http2` handler (shared/spec/http-proxy.md
 * §3.2 step 8): the HTTP/2 request is re-serialised as HTTP/1.1 onto the
 * target connection, the HTTP/1.1 response is read and its status, headers
 * and (de-chunked) body go back on the stream.
 *
 * @module
 */
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { HeaderList, HttpParseError, readResponseHead, serializeRequestHead } from "../../transports/_http1/head.ts";
import type { Conn } from "../../transports/types.ts";
import type { HeaderField } from "../../transports/h2/mod.ts";
import { canonical, type Http2RequestConn } from "../../transports/http2/mod.ts";

/** Headers that describe one hop and never cross a proxy (RFC 9110 §7.6.1), plus GOST's own. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "gost-target",
  "x-gost-target",
]);

const encoder = new TextEncoder();
const CRLF = new Uint8Array([13, 10]);
/** Longest chunk-size line accepted. */
const MAX_CHUNK_LINE = 4096;

export interface ForwardResult {
  inBytes: number;
  outBytes: number;
}

/**
 * Sends `conn`'s request to `upstream` as HTTP/1.1 and streams the answer
 * back. Resolves when the response is complete; closes `upstream`.
 */
export async function forwardHttp1(
  conn: Http2RequestConn,
  upstream: Conn,
  responseHeaders: HeaderField[],
): Promise<ForwardResult> {
  const req = conn.request;
  const headers = new HeaderList();
  headers.add("Host", req.authority);
  let length: string | undefined;
  for (const [k, v] of req.headers) {
    if (HOP_BY_HOP.has(k) || k === "host") continue;
    if (k === "content-length") length = v;
    headers.add(canonical(k), v);
  }
  const chunked = !req.bodyless && length === undefined;
  if (chunked) headers.add("Transfer-Encoding", "chunked");
  headers.add("Connection", "close");
  const target = req.path.startsWith("/") || req.path === "*" ? req.path : "/";
  const head = serializeRequestHead({ method: req.method, target, version: "HTTP/1.1", headers });
  const result: ForwardResult = { inBytes: head.length, outBytes: 0 };
  try {
    await writeAll(upstream, head);
    // The request body goes up while the response comes down (servers may answer early).
    const up = req.bodyless ? Promise.resolve() : sendBody(conn, upstream, chunked, (n) => (result.inBytes += n));
    up.catch(() => {});
    const br = new BufferedConn(upstream);
    let res = await readResponseHead(br);
    while (res.status >= 100 && res.status < 200 && res.status !== 101) res = await readResponseHead(br);
    const out: HeaderField[] = [...responseHeaders];
    for (const [k, v] of res.headers.entries) {
      const name = k.toLowerCase();
      if (!HOP_BY_HOP.has(name)) out.push([name, v]);
    }
    const noBody = req.method === "HEAD" || res.status === 204 || res.status === 304;
    await conn.respond(res.status, out, noBody);
    if (!noBody) {
      const count = (n: number) => (result.outBytes += n);
      if (res.headers.hasToken("Transfer-Encoding", "chunked")) await copyChunked(br, conn, count);
      else if (res.headers.has("Content-Length")) {
        await copyN(br, conn, Number(res.headers.get("Content-Length")), count);
      } else await copyN(br, conn, Infinity, count);
      await conn.closeWrite();
    }
    return result;
  } finally {
    closeQuietly(upstream);
  }
}

async function sendBody(conn: Conn, upstream: Conn, chunked: boolean, count: (n: number) => void): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    count(n);
    if (chunked) {
      await writeAll(upstream, encoder.encode(n.toString(16) + "\r\n"));
      await writeAll(upstream, buf.subarray(0, n));
      await writeAll(upstream, CRLF);
    } else {
      await writeAll(upstream, buf.subarray(0, n));
    }
  }
  if (chunked) await writeAll(upstream, encoder.encode("0\r\n\r\n"));
}

/** Copies `n` bytes (or until EOF when `n` is Infinity). */
async function copyN(src: Conn, dst: Conn, n: number, count: (n: number) => void): Promise<void> {
  if (!Number.isFinite(n) && n !== Infinity) throw new HttpParseError("Invalid Content-Length");
  const buf = new Uint8Array(64 * 1024);
  let left = n;
  while (left > 0) {
    const r = await src.read(left < buf.length ? buf.subarray(0, left) : buf);
    if (r === null) {
      if (n === Infinity) return;
      throw new Deno.errors.UnexpectedEof(`Response body ended ${left} bytes early`);
    }
    await writeAll(dst, buf.subarray(0, r));
    count(r);
    left -= r;
  }
}

/** Decodes a chunked body from `src` onto `dst` (trailers are dropped). */
async function copyChunked(src: BufferedConn, dst: Conn, count: (n: number) => void): Promise<void> {
  for (;;) {
    const line = await src.readUntil(CRLF, MAX_CHUNK_LINE);
    if (!line) throw new Deno.errors.UnexpectedEof("Chunked body truncated");
    const text = new TextDecoder().decode(line.subarray(0, line.length - 2)).split(";")[0].trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(text)) throw new HttpParseError(`Invalid chunk size "${text.slice(0, 16)}"`);
    const size = parseInt(text, 16);
    if (size === 0) {
      // Trailer section up to the empty line.
      for (;;) {
        const t = await src.readUntil(CRLF, MAX_CHUNK_LINE);
        if (!t || t.length === 2) return;
      }
    }
    await copyN(src, dst, size, count);
    const end = await src.readExact(2);
    if (end[0] !== 13 || end[1] !== 10) throw new HttpParseError("Chunk not followed by CRLF");
  }
}
