/**
 * The server side of WebTransport over one QUIC connection: HTTP/3 with
 * WebTransport SETTINGS, extended CONNECT requests on `path` upgraded to
 * sessions, and every stream of a session handed to `onStream`.
 *
 * What GOST's listener answers, dost answers: 404 off the path, 500 for a
 * request that is not a draft-02 WebTransport CONNECT or from a client whose
 * SETTINGS lack H3_DATAGRAM, 200 with `sec-webtransport-http3-draft: draft02`
 * otherwise. A bad request fails only its stream; a connection-level protocol
 * error (broken QPACK, a malformed datagram) closes that connection and its
 * sessions only.
 *
 * @module
 */
import { H3Connection } from "../_h3/connection.ts";
import { encodeFrame, ErrorCode, FrameType, H3Error, RESERVED_H2_FRAME_TYPES } from "../_h3/frames.ts";
import { decodeFieldSection, encodeFieldSection, type Field } from "../_h3/qpack.ts";
import { StreamReader } from "../_h3/stream_reader.ts";
import {
  DRAFT_HEADER,
  DRAFT_OFFER_HEADER,
  DRAFT_VALUE,
  SERVER_SETTINGS,
  SETTINGS_H3_DATAGRAM,
  WT_BIDI_STREAM,
} from "./_protocol.ts";
import { readDatagrams, WtSession } from "./_session.ts";
import type { WtStream } from "./_stream.ts";

/** Options for {@linkcode serveWt}. */
export interface ServeWtOptions {
  /** The CONNECT path sessions are accepted on. */
  path: string;
  /** Time a new stream may take to say what it is (request head or stream header). */
  headerTimeout: number;
  /** Called with every stream a client opens in a session. */
  onStream: (s: WtStream, session: WtSession) => void;
  /** Called with each new session and its CONNECT request's fields (tests, trace logging). */
  onSession?: (s: WtSession, request: Field[]) => void;
  /** Protocol errors and refused requests, for logging. */
  onError?: (err: unknown) => void;
  /** Aborting closes every session and the connection. */
  signal?: AbortSignal;
}

/** Largest request head accepted. @default 16384 */
export const MAX_REQUEST_HEAD = 16 * 1024;

/** Raised for a request that is not a WebTransport session for us; `status` is the answer. */
class Refused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "Refused";
  }
}

/** Resolves like `p`, or rejects with a TimedOut after `ms`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Deno.errors.TimedOut(`${what} not received within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Serves WebTransport on `quic` until it closes; resolves then. */
export async function serveWt(quic: Deno.QuicConn, opts: ServeWtOptions): Promise<void> {
  const h3 = new H3Connection(quic, true, {
    settings: SERVER_SETTINGS,
    maxFieldSectionSize: MAX_REQUEST_HEAD,
    onError: opts.onError,
  });
  h3.start();
  // Session id → the session, or the CONNECT still being read (a stream of it waits for the answer).
  const sessions = new Map<number, Promise<WtSession | undefined>>();
  const live = new Set<WtSession>();
  const onAbort = () => {
    for (const s of live) s.close();
    h3.close(ErrorCode.H3_NO_ERROR);
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  readDatagrams(h3).catch(() => {});

  const streams = quic.incomingBidirectionalStreams.getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Deno.QuicBidirectionalStream>;
      try {
        next = await streams.read();
      } catch {
        break;
      }
      if (next.done) break;
      const bidi = next.value;
      let id: number;
      try {
        id = Number(bidi.readable.id);
      } catch {
        // Reset by the peer before we looked: Deno already released it.
        bidi.writable.abort().catch(() => {});
        continue;
      }
      let settle: (s: WtSession | undefined) => void = () => {};
      sessions.set(id, new Promise((r) => (settle = r)));
      serveStream(h3, bidi, id, sessions, opts).then(
        (r) => {
          const s = r?.session;
          settle(s);
          if (!s) {
            sessions.delete(id);
            return;
          }
          live.add(s);
          opts.onSession?.(s, r!.request);
          s.done.then(() => {
            live.delete(s);
            sessions.delete(id);
          });
        },
        (err) => {
          settle(undefined);
          sessions.delete(id);
          h3.fail(err);
        },
      );
    }
    await h3.closed;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    for (const s of live) s.close();
    h3.close();
  }
}

/**
 * One client-opened stream: a request (CONNECT → a session, resolved) or a
 * stream of a session (handed on, resolves undefined). Rejects only with a
 * connection-level H3Error.
 */
async function serveStream(
  h3: H3Connection,
  bidi: Deno.QuicBidirectionalStream,
  id: number,
  sessions: Map<number, Promise<WtSession | undefined>>,
  opts: ServeWtOptions,
): Promise<{ session: WtSession; request: Field[] } | undefined> {
  const reader = new StreamReader(bidi.readable);
  const writer = bidi.writable.getWriter();
  const drop = () => {
    reader.cancel();
    writer.abort().catch(() => {});
  };
  let first: number | null;
  try {
    first = await within(reader.readVarint(), opts.headerTimeout, "Stream type");
  } catch (err) {
    drop();
    if (err instanceof H3Error && err.connection) throw err;
    opts.onError?.(err);
    return undefined;
  }
  if (first === null) {
    drop();
    return undefined;
  }
  if (first === WT_BIDI_STREAM) {
    let sid: number | null;
    try {
      sid = await within(reader.readVarint(), opts.headerTimeout, "WebTransport session id");
    } catch (err) {
      drop();
      opts.onError?.(err);
      return undefined;
    }
    // Bounded wait: a stream naming a CONNECT still being read waits for its answer, at most the
    // header timeout (so one naming itself or a stalled request cannot hold it forever).
    const pending = sid === null || sid === id ? undefined : sessions.get(sid);
    const session = pending && await within(pending, opts.headerTimeout, "WebTransport session").catch(() => undefined);
    const s = session?.accept(reader, writer);
    if (!s) {
      if (!session) drop(); // a closed session already reset it
      opts.onError?.(new Error(`WebTransport stream for ${session ? "closed" : "unknown"} session ${sid}`));
      return undefined;
    }
    opts.onStream(s, session!);
    return undefined;
  }
  let fields: Field[];
  try {
    fields = await within(readHead(reader, first), opts.headerTimeout, "Request head");
  } catch (err) {
    if (err instanceof H3Error && err.connection) {
      drop();
      throw err;
    }
    const status = err instanceof H3Error && err.code === ErrorCode.H3_EXCESSIVE_LOAD ? 431 : 400;
    await refuse(reader, writer, status);
    opts.onError?.(err);
    return undefined;
  }
  try {
    await checkConnect(h3, fields, opts);
  } catch (err) {
    await refuse(reader, writer, err instanceof Refused ? err.status : 500);
    opts.onError?.(err);
    return undefined;
  }
  // Registered before the answer goes out, so that the client's first stream finds it.
  const session = new WtSession(h3, id, reader, writer);
  try {
    await writer.write(encodeFrame(
      FrameType.HEADERS,
      encodeFieldSection([[":status", "200"], [DRAFT_HEADER, DRAFT_VALUE]]),
    ));
  } catch (err) {
    session.close();
    opts.onError?.(err);
    return undefined;
  }
  return { session, request: fields };
}

/** Reads frames up to the request's HEADERS (`type` already read) and decodes it. */
async function readHead(reader: StreamReader, type: number): Promise<Field[]> {
  for (let t: number | null = type;; t = await reader.readVarint()) {
    if (t === null) throw new H3Error(ErrorCode.H3_REQUEST_INCOMPLETE, "Request stream ended before HEADERS", false);
    const length = await reader.readVarint();
    if (length === null) throw new H3Error(ErrorCode.H3_FRAME_ERROR, "Stream ended inside a frame header", false);
    if (t === FrameType.HEADERS) {
      if (length > MAX_REQUEST_HEAD) {
        throw new H3Error(ErrorCode.H3_EXCESSIVE_LOAD, `HEADERS frame of ${length} bytes`, false);
      }
      return decodeFieldSection(await reader.readExact(length), MAX_REQUEST_HEAD);
    }
    if (t === FrameType.DATA || RESERVED_H2_FRAME_TYPES.has(t) || t === FrameType.SETTINGS || t === FrameType.GOAWAY) {
      throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, `Frame 0x${t.toString(16)} before HEADERS`, false);
    }
    if (length > MAX_REQUEST_HEAD) {
      throw new H3Error(ErrorCode.H3_EXCESSIVE_LOAD, `Frame of ${length} bytes before HEADERS`, false);
    }
    await reader.skip(length); // unknown (greased) frame types are skipped
  }
}

/** Checks that `fields` are a draft-02 WebTransport CONNECT on our path; throws a Refused otherwise. */
async function checkConnect(h3: H3Connection, fields: Field[], opts: ServeWtOptions): Promise<void> {
  const pseudo = new Map<string, string>();
  const headers = new Map<string, string[]>();
  let regular = false;
  for (const [name, value] of fields) {
    if (name.startsWith(":")) {
      if (regular || pseudo.has(name)) throw new Refused(400, `Misplaced or repeated pseudo-header "${name}"`);
      pseudo.set(name, value);
    } else {
      regular = true;
      headers.set(name, [...headers.get(name) ?? [], value]);
    }
  }
  const path = pseudo.get(":path") ?? "";
  // Go's ServeMux matches the path alone (the query is not part of it).
  if (path.split("?")[0] !== opts.path) throw new Refused(404, `No WebTransport endpoint at "${path}"`);
  const method = pseudo.get(":method");
  if (method !== "CONNECT") throw new Refused(500, `Expected CONNECT, got "${method}"`);
  const protocol = pseudo.get(":protocol");
  if (protocol !== "webtransport") throw new Refused(500, `Unexpected protocol "${protocol ?? ""}"`);
  if (!pseudo.get(":scheme") || !pseudo.get(":authority")) {
    throw new Refused(400, "Extended CONNECT without :scheme or :authority");
  }
  const offer = headers.get(DRAFT_OFFER_HEADER);
  if (!offer || offer.length !== 1 || offer[0] !== "1") {
    throw new Refused(500, `Missing or invalid ${DRAFT_OFFER_HEADER} header`);
  }
  const settings = await within(h3.settingsReceived, opts.headerTimeout, "Client SETTINGS").catch(() => undefined);
  if (settings?.get(SETTINGS_H3_DATAGRAM) !== 1) throw new Refused(500, "Client did not enable HTTP/3 datagrams");
}

/** Answers `status` with an empty body and ends the stream. */
async function refuse(
  reader: StreamReader,
  writer: WritableStreamDefaultWriter<Uint8Array>,
  status: number,
): Promise<void> {
  reader.cancel();
  try {
    await writer.write(encodeFrame(FrameType.HEADERS, encodeFieldSection([[":status", String(status)]])));
    await writer.close();
  } catch {
    writer.abort().catch(() => {});
  }
}
