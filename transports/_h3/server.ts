/**
 * The server side of HTTP/3 over one QUIC connection: every request stream
 * becomes a web-standard `Request` with a streaming body, handed to a
 * `(req) => Promise<Response>` handler; the `Response` goes back as HEADERS
 * and one DATA frame per body chunk, each written as soon as it exists (so
 * long-polling responses such as PHT pulls stream).
 *
 * Deno 2.9.6 cannot reset a QUIC stream or stop it with an error code: a
 * stream error is therefore answered with a 4xx/5xx response where one can
 * still be sent, and otherwise by ending the stream (FIN) and stopping
 * reading (STOP_SENDING with code 0). Connection errors carry their HTTP/3
 * code.
 *
 * @module
 */
import { dataFrame, H3Connection, type H3Options } from "./connection.ts";
import { encodeFrame, ErrorCode, FrameType, H3Error } from "./frames.ts";
import {
  bodyStream,
  contentLength,
  parseRequestHead,
  readHeaders,
  type RequestHead,
  responseFields,
} from "./message.ts";
import { encodeFieldSection } from "./qpack.ts";
import { StreamReader } from "./stream_reader.ts";

/** What a handler learns about the connection a request came on. */
export interface H3RequestInfo {
  remoteAddr: Deno.NetAddr;
  localAddr: Deno.NetAddr;
}

/** Serves one request. Throwing answers 500. */
export type H3Handler = (req: Request, info: H3RequestInfo) => Response | Promise<Response>;

/** Options for {@linkcode serveH3}. */
export interface ServeH3Options extends H3Options {
  /** Aborting starts a graceful shutdown: GOAWAY, finish open requests, close. */
  signal?: AbortSignal;
  /**
   * How long open requests may run after a shutdown began before the
   * connection is closed anyway.
   * @default 5000
   */
  shutdownTimeout?: number;
}

/** @default 5000 */
export const DEFAULT_SHUTDOWN_TIMEOUT = 5000;

const ENCODER = new TextEncoder();

/**
 * Serves HTTP/3 requests on `conn` until it closes; resolves then. Protocol
 * errors close the connection with their HTTP/3 error code and resolve too.
 */
export async function serveH3(conn: Deno.QuicConn, handler: H3Handler, opts: ServeH3Options = {}): Promise<void> {
  const h3 = new H3Connection(conn, true, opts);
  h3.start();
  const info: H3RequestInfo = {
    remoteAddr: { transport: "udp", hostname: conn.remoteAddr.hostname, port: conn.remoteAddr.port },
    localAddr: { transport: "udp", hostname: conn.endpoint.addr.hostname, port: conn.endpoint.addr.port },
  };
  const inflight = new Set<Promise<void>>();
  const aborts = new Set<AbortController>();
  let draining = false;
  let nextId = 0; // first request stream id not yet accepted
  const streams = conn.incomingBidirectionalStreams.getReader();

  const shutdown = async () => {
    if (draining || h3.done) return;
    draining = true;
    await h3.sendGoaway(nextId);
    const timer = new Promise<void>((r) => {
      const t = setTimeout(r, opts.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT);
      h3.closed.finally(() => clearTimeout(t));
    });
    await Promise.race([Promise.allSettled([...inflight]), timer]);
    // Closing now would drop response bytes the client has not acknowledged yet (Deno cannot
    // wait for acknowledgements): give the client, which closes once its requests are done,
    // the rest of the shutdown time to do so.
    await Promise.race([h3.closed, timer]);
    h3.close(ErrorCode.H3_NO_ERROR);
    streams.cancel().catch(() => {});
  };
  const onAbort = () => void shutdown();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  h3.closed.then(() => {
    for (const ac of aborts) ac.abort(new DOMException("HTTP/3 connection closed", "AbortError"));
  });

  try {
    for (;;) {
      let next: ReadableStreamReadResult<Deno.QuicBidirectionalStream>;
      try {
        next = await streams.read();
      } catch {
        break;
      }
      if (next.done) break;
      const stream = next.value;
      if (draining) {
        // After GOAWAY: refuse without processing (the client may retry elsewhere).
        stream.readable.cancel().catch(() => {});
        stream.writable.close().catch(() => {});
        continue;
      }
      try {
        nextId = Number(stream.readable.id) + 4;
      } catch {
        // The peer already reset the stream and Deno released its resource: nothing to serve.
        stream.writable.abort().catch(() => {});
        continue;
      }
      const ac = new AbortController();
      aborts.add(ac);
      const p = serveStream(h3, stream, handler, info, ac).catch((err) => h3.fail(err)).finally(() => {
        aborts.delete(ac);
        inflight.delete(p);
      });
      inflight.add(p);
    }
    await h3.closed;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    h3.close();
  }
}

/** One request stream: read the request, run the handler, write the response. */
async function serveStream(
  h3: H3Connection,
  stream: Deno.QuicBidirectionalStream,
  handler: H3Handler,
  info: H3RequestInfo,
  ac: AbortController,
): Promise<void> {
  const reader = new StreamReader(stream.readable);
  const writer = stream.writable.getWriter();
  const limits = { maxFieldSectionSize: h3.maxFieldSectionSize };
  let head: RequestHead;
  let length: number | undefined;
  try {
    const fields = await readHeaders(reader, false, limits);
    if (!fields) {
      // H3_REQUEST_INCOMPLETE: nothing to answer.
      reader.cancel();
      await writer.close().catch(() => {});
      return;
    }
    head = parseRequestHead(fields);
    length = contentLength(head.headers);
  } catch (err) {
    if (err instanceof H3Error && err.connection) throw err;
    const status = err instanceof H3Error && err.code === ErrorCode.H3_EXCESSIVE_LOAD ? 431 : 400;
    await refuse(reader, writer, status, err);
    return;
  }
  if (head.method === "CONNECT") {
    await refuse(reader, writer, 501, new Error("CONNECT is not supported"));
    return;
  }
  let url: URL;
  try {
    url = new URL(`${head.scheme}://${head.authority}${head.path}`);
    if (!head.path.startsWith("/")) throw new TypeError(`Bad :path "${head.path}"`);
  } catch (err) {
    await refuse(reader, writer, 400, err);
    return;
  }

  let body: ReadableStream<Uint8Array> | null = bodyStream(reader, {
    ...limits,
    fromServer: false,
    contentLength: length,
    onConnectionError: (err) => h3.fail(err),
    // The peer's stream broke (reset, connection lost): tell the handler.
    onEnd: (err) => {
      if (err !== undefined && !(err instanceof H3Error)) ac.abort(err);
    },
  });
  let drain: ReadableStream<Uint8Array> | null = null;
  if (head.method === "GET" || head.method === "HEAD") {
    // fetch's Request cannot carry a body on GET/HEAD: read and drop whatever comes, so that
    // frame errors after HEADERS are still caught, until the response is done.
    drain = body;
    body = null;
    drain.pipeTo(new WritableStream()).catch(() => {});
  }
  let req: Request;
  try {
    req = new Request(url, { method: head.method, headers: head.headers, body, signal: ac.signal });
  } catch (err) {
    await body?.cancel().catch(() => {});
    await refuse(reader, writer, 400, err);
    return;
  }

  let res: Response;
  try {
    res = await handler(req, info);
  } catch (err) {
    h3.fail(err);
    res = new Response(null, { status: 500 });
  }
  try {
    await writeResponse(writer, res, head.method === "HEAD");
  } catch (err) {
    ac.abort(err);
    res.body?.cancel(err).catch(() => {});
  } finally {
    // Body left unread by the handler: stop the peer sending it.
    if (drain) reader.cancel();
    else if (!req.bodyUsed) req.body?.cancel().catch(() => {});
  }
}

/** Writes `res` as HEADERS then DATA frames, flushing each chunk, then FIN. */
export async function writeResponse(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  res: Response,
  head: boolean,
): Promise<void> {
  await writer.write(encodeFrame(FrameType.HEADERS, encodeFieldSection(responseFields(res))));
  if (res.body && !head) {
    const r = res.body.getReader();
    try {
      for (;;) {
        const { value, done } = await r.read();
        if (done) break;
        if (value.length > 0) await writer.write(dataFrame(value));
      }
    } catch (err) {
      r.cancel(err).catch(() => {});
      throw err;
    }
  } else {
    res.body?.cancel().catch(() => {});
  }
  await writer.close();
}

/** Answers a request that cannot be served, then stops reading it. */
async function refuse(
  reader: StreamReader,
  writer: WritableStreamDefaultWriter<Uint8Array>,
  status: number,
  err: unknown,
): Promise<void> {
  reader.cancel();
  const text = err instanceof Error ? err.message : String(err);
  try {
    await writeResponse(
      writer,
      new Response(ENCODER.encode(text + "\n"), { status, headers: { "content-type": "text/plain; charset=utf-8" } }),
      false,
    );
  } catch {
    writer.close().catch(() => {});
  }
}
