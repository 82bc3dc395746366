/**
 * The client side of HTTP/3 over one QUIC connection, as a fetch-like
 * function: each call opens a request stream, sends HEADERS, streams the
 * request body as DATA frames while the response is read, and resolves with
 * a `Response` whose body streams the response DATA frames.
 *
 * Interim (1xx) responses are skipped; trailers are read and dropped.
 * Aborting `req.signal` stops both directions of the stream. As on the
 * server, Deno 2.9.6 cannot reset a stream, so an aborted upload reaches the
 * peer as a FIN (a `content-length` lets the peer tell it was cut short).
 *
 * @module
 */
import { dataFrame, describeClose, H3Connection, type H3Options } from "./connection.ts";
import { encodeFrame, FrameType, H3Error } from "./frames.ts";
import { bodyStream, contentLength, parseResponseHead, readHeaders, requestFields } from "./message.ts";
import { encodeFieldSection } from "./qpack.ts";
import { StreamReader } from "./stream_reader.ts";

/** A fetch-like function: one request in, one response out. */
export type Fetcher = (req: Request) => Promise<Response>;

/** A {@linkcode Fetcher} bound to one HTTP/3 connection. */
export interface H3Fetcher extends Fetcher {
  /** Closes the connection (H3_NO_ERROR); open requests fail. */
  close(): void;
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>;
  /** False once the connection closed or the server sent GOAWAY: new requests would fail. */
  usable(): boolean;
}

/** Raised when the HTTP/3 connection cannot take (more) requests. */
export class H3ClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "H3ClosedError";
  }
}

/** Starts HTTP/3 on a connected client `conn` (ALPN `h3`) and returns a fetcher for it. */
export function h3Fetcher(conn: Deno.QuicConn, opts: H3Options = {}): H3Fetcher {
  const h3 = new H3Connection(conn, false, opts);
  h3.start();
  let goaway = false;
  let active = 0;
  // After GOAWAY the client closes the connection once its last exchange is over.
  const closeIfDrained = () => {
    if (goaway && active === 0) h3.close();
  };
  h3.onGoaway = () => {
    goaway = true;
    closeIfDrained();
  };
  const done = () => {
    active--;
    closeIfDrained();
  };
  const fetcher = (req: Request) => {
    if (h3.done) return Promise.reject(new H3ClosedError("HTTP/3 connection is closed"));
    if (goaway) return Promise.reject(new H3ClosedError("HTTP/3 server is going away (GOAWAY)"));
    active++;
    return request(h3, req, once(done));
  };
  return Object.assign(fetcher, {
    close: () => h3.close(),
    closed: h3.closed.then(() => {}),
    usable: () => !h3.done && !goaway,
  });
}

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}

/** One exchange; `done` runs once when it is over (failed, or the response body ended or was cancelled). */
async function request(h3: H3Connection, req: Request, done: () => void): Promise<Response> {
  req.signal.throwIfAborted();
  const fields = requestFields(req);
  const headersFrame = encodeFrame(FrameType.HEADERS, encodeFieldSection(fields));
  let stream: Deno.QuicBidirectionalStream;
  try {
    stream = await h3.quic.createBidirectionalStream({ waitUntilAvailable: true });
  } catch (err) {
    const info = h3.done ? await h3.closed : undefined;
    throw new H3ClosedError(
      `Cannot open an HTTP/3 request stream: ${h3.done ? describeClose(info) : (err as Error).message}`,
    );
  }
  const reader = new StreamReader(stream.readable);
  const writer = stream.writable.getWriter();
  let settled = false;
  const stop = () => {
    reader.cancel();
    writer.abort().catch(() => {});
  };
  const onAbort = () => stop();
  req.signal.addEventListener("abort", onAbort, { once: true });
  const release = () => req.signal.removeEventListener("abort", onAbort);

  try {
    await writer.write(headersFrame);
    // The body goes out while the response is read (full duplex).
    const sending = req.body ? sendBody(req.body, writer) : writer.close();
    sending.catch(() => stop());

    const limits = { maxFieldSectionSize: h3.maxFieldSectionSize };
    let head: { status: number; headers: Headers };
    for (;;) {
      const resFields = await readHeaders(reader, true, limits);
      if (!resFields) throw new TypeError("HTTP/3 response ended before its headers");
      head = parseResponseHead(resFields);
      if (head.status >= 200) break; // 1xx: interim, wait for the final response
    }
    req.signal.throwIfAborted();
    let body: ReadableStream<Uint8Array> | null = null;
    if (req.method === "HEAD" || NULL_BODY_STATUS.has(head.status)) {
      reader.cancel();
      release();
      done();
    } else {
      const end = () => {
        release();
        done();
      };
      body = bodyStream(reader, {
        ...limits,
        fromServer: true,
        contentLength: contentLength(head.headers),
        onConnectionError: (err) => h3.fail(err),
        onEnd: end,
        onCancel: end,
      });
    }
    settled = true;
    return new Response(body, { status: head.status, headers: head.headers });
  } catch (err) {
    if (err instanceof H3Error && err.connection) h3.fail(err);
    if (req.signal.aborted) throw req.signal.reason;
    if (h3.done && !(err instanceof H3Error)) {
      throw new H3ClosedError(`HTTP/3 connection closed: ${describeClose(await h3.closed)}`);
    }
    throw err;
  } finally {
    if (!settled) {
      stop();
      release();
      done();
    }
  }
}

async function sendBody(body: ReadableStream<Uint8Array>, writer: WritableStreamDefaultWriter<Uint8Array>) {
  const r = body.getReader();
  try {
    for (;;) {
      const { value, done } = await r.read();
      if (done) break;
      if (value.length > 0) await writer.write(dataFrame(value));
    }
    await writer.close();
  } catch (err) {
    r.cancel(err).catch(() => {});
    throw err;
  }
}
