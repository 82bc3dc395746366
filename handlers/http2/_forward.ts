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
import { HeaderList, readResponseHead, serializeRequestHead } from "../../transports/_http1/head.ts";
import { bodyReader, encodeChunk, framingOf, LAST_CHUNK } from "../../transports/_http1/body.ts";
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
    const body = noBody ? null : bodyReader(br, framingOf(res.headers, true));
    await conn.respond(res.status, out, body === null);
    if (body) {
      for (;;) {
        const piece = await body.read();
        if (piece === null) break;
        await writeAll(conn, piece);
        result.outBytes += piece.length;
      }
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
    await writeAll(upstream, chunked ? encodeChunk(buf.subarray(0, n)) : buf.subarray(0, n));
  }
  if (chunked) await writeAll(upstream, LAST_CHUNK);
}
