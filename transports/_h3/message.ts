/**
 * HTTP messages on request streams (RFC 9114 §4): reading the HEADERS and
 * DATA frames of one message, validating field sections, and turning them
 * into web-standard `Headers`/bodies and back.
 *
 * @module
 */
import { ErrorCode, FrameType, H3Error, RESERVED_H2_FRAME_TYPES } from "./frames.ts";
import { decodeFieldSection, type Field } from "./qpack.ts";
import type { StreamReader } from "./stream_reader.ts";

/** Fields that HTTP/3 forbids (RFC 9114 §4.2). */
export const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path"]);

/** A malformed message: a stream error (H3_MESSAGE_ERROR), the connection goes on. */
export function malformed(message: string): H3Error {
  return new H3Error(ErrorCode.H3_MESSAGE_ERROR, message, false);
}

/**
 * Checks a frame type seen on a request stream (RFC 9114 §7.2). Control
 * frames and HTTP/2 types are H3_FRAME_UNEXPECTED; PUSH_PROMISE is never
 * allowed because dost never sends MAX_PUSH_ID (H3_ID_ERROR from a server,
 * H3_FRAME_UNEXPECTED from a client).
 */
export function checkRequestStreamFrame(type: number, fromServer: boolean): void {
  switch (type) {
    case FrameType.DATA:
    case FrameType.HEADERS:
      return;
    case FrameType.PUSH_PROMISE:
      if (fromServer) throw new H3Error(ErrorCode.H3_ID_ERROR, "PUSH_PROMISE without MAX_PUSH_ID");
      throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, "PUSH_PROMISE from a client");
    case FrameType.CANCEL_PUSH:
    case FrameType.SETTINGS:
    case FrameType.GOAWAY:
    case FrameType.MAX_PUSH_ID:
      throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, `Control frame 0x${type.toString(16)} on a request stream`);
    default:
      if (RESERVED_H2_FRAME_TYPES.has(type)) {
        throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, `HTTP/2 frame type 0x${type.toString(16)}`);
      }
  }
}

/** Limits for reading messages. */
export interface MessageLimits {
  /** Largest HEADERS payload and decoded field section accepted. */
  maxFieldSectionSize: number;
}

/**
 * Reads frames up to and including the next HEADERS frame, skipping unknown
 * ones, and decodes it. `null` when the stream ends cleanly first. DATA
 * before HEADERS is H3_FRAME_UNEXPECTED; an oversized HEADERS frame is a
 * stream-level H3_EXCESSIVE_LOAD.
 */
export async function readHeaders(
  reader: StreamReader,
  fromServer: boolean,
  limits: MessageLimits,
): Promise<Field[] | null> {
  for (;;) {
    const h = await reader.readFrameHeader();
    if (!h) return null;
    checkRequestStreamFrame(h.type, fromServer);
    if (h.type === FrameType.DATA) throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, "DATA frame before HEADERS");
    if (h.type !== FrameType.HEADERS) {
      await reader.skip(h.length);
      continue;
    }
    if (h.length > limits.maxFieldSectionSize) {
      throw new H3Error(ErrorCode.H3_EXCESSIVE_LOAD, `HEADERS frame of ${h.length} bytes`, false);
    }
    const payload = await reader.readExact(h.length);
    return decodeFieldSection(payload, limits.maxFieldSectionSize);
  }
}

function headersFrom(fields: Field[], start: number): Headers {
  const headers = new Headers();
  for (let i = start; i < fields.length; i++) {
    const [name, value] = fields[i];
    if (name.startsWith(":")) throw malformed(`Pseudo-header "${name}" after regular fields`);
    if (name !== name.toLowerCase()) throw malformed(`Upper-case field name "${name}"`);
    if (CONNECTION_SPECIFIC.has(name)) throw malformed(`Connection-specific field "${name}"`);
    if (name === "te" && value.toLowerCase() !== "trailers") throw malformed(`Field "te: ${value}"`);
    try {
      headers.append(name, value);
    } catch {
      throw malformed(`Invalid field "${name}"`);
    }
  }
  return headers;
}

/** The parts of a request head. */
export interface RequestHead {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  headers: Headers;
}

/** Validates a request field section (RFC 9114 §4.3.1). Throws a stream-level H3_MESSAGE_ERROR. */
export function parseRequestHead(fields: Field[]): RequestHead {
  const pseudo = new Map<string, string>();
  let i = 0;
  for (; i < fields.length && fields[i][0].startsWith(":"); i++) {
    const [name, value] = fields[i];
    if (!REQUEST_PSEUDO.has(name)) throw malformed(`Unknown request pseudo-header "${name}"`);
    if (pseudo.has(name)) throw malformed(`Duplicate pseudo-header "${name}"`);
    pseudo.set(name, value);
  }
  const headers = headersFrom(fields, i);
  const method = pseudo.get(":method");
  if (!method) throw malformed("Request without :method");
  let authority = pseudo.get(":authority");
  const host = headers.get("host");
  if (method === "CONNECT") {
    if (pseudo.has(":scheme") || pseudo.has(":path")) throw malformed("CONNECT with :scheme or :path");
    if (!authority) throw malformed("CONNECT without :authority");
    return { method, scheme: "", authority, path: "", headers };
  }
  const scheme = pseudo.get(":scheme");
  const path = pseudo.get(":path");
  if (!scheme) throw malformed("Request without :scheme");
  if (!path) throw malformed("Request without :path");
  if (authority === "" || host === "") throw malformed("Empty :authority or host");
  if (authority !== undefined && host !== null && authority !== host) {
    throw malformed(`:authority "${authority}" and host "${host}" differ`);
  }
  authority ??= host ?? undefined;
  if ((scheme === "http" || scheme === "https") && !authority) throw malformed("Request without :authority or host");
  return { method, scheme, authority: authority ?? "", path, headers };
}

/** Validates a response field section. Throws a stream-level H3_MESSAGE_ERROR. */
export function parseResponseHead(fields: Field[]): { status: number; headers: Headers } {
  let status: number | undefined;
  let i = 0;
  for (; i < fields.length && fields[i][0].startsWith(":"); i++) {
    const [name, value] = fields[i];
    if (name !== ":status") throw malformed(`Unknown response pseudo-header "${name}"`);
    if (status !== undefined) throw malformed("Duplicate :status");
    if (!/^[1-9]\d\d$/.test(value)) throw malformed(`Invalid :status "${value}"`);
    status = Number(value);
  }
  if (status === undefined) throw malformed("Response without :status");
  return { status, headers: headersFrom(fields, i) };
}

/** Request-head field lines for `req` (names lower case, connection-specific fields dropped). */
export function requestFields(req: Request): Field[] {
  const url = new URL(req.url);
  const authority = req.headers.get("host") ?? url.host;
  const fields: Field[] = [
    [":method", req.method],
    [":scheme", url.protocol.slice(0, -1)],
    [":authority", authority],
    [":path", `${url.pathname || "/"}${url.search}`],
  ];
  for (const [name, value] of req.headers) {
    if (name === "host" || CONNECTION_SPECIFIC.has(name)) continue;
    if (name === "te" && value.toLowerCase() !== "trailers") continue;
    fields.push([name, value]);
  }
  return fields;
}

/** Response-head field lines for `res`. */
export function responseFields(res: Response): Field[] {
  const fields: Field[] = [[":status", String(res.status)]];
  for (const [name, value] of res.headers) {
    if (CONNECTION_SPECIFIC.has(name)) continue;
    fields.push([name, value]);
  }
  return fields;
}

/** Options for {@linkcode bodyStream}. */
export interface BodyStreamOptions extends MessageLimits {
  /** Frames come from the server (a response body). */
  fromServer: boolean;
  /** Declared content-length, checked against the DATA received. */
  contentLength?: number;
  /** Called once when the body ends by itself: cleanly, or with the read error. Not called on cancel. */
  onEnd?: (err?: unknown) => void;
  /** Called when the consumer cancels the body. */
  onCancel?: () => void;
  /** Called for a connection-level protocol error. */
  onConnectionError?: (err: H3Error) => void;
}

/**
 * The DATA payloads of a message as a pull stream: one chunk per pull, so
 * QUIC flow control reaches the producer. Trailers are read and dropped.
 * Cancelling it stops the QUIC stream (STOP_SENDING).
 */
export function bodyStream(reader: StreamReader, opts: BodyStreamOptions): ReadableStream<Uint8Array> {
  let remaining = 0; // bytes left in the current DATA frame
  let received = 0;
  let trailers = false;
  let ended = false;
  const end = (err?: unknown) => {
    if (ended) return;
    ended = true;
    opts.onEnd?.(err);
  };
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        while (remaining === 0) {
          const h = await reader.readFrameHeader();
          if (!h) {
            if (opts.contentLength !== undefined && received !== opts.contentLength) {
              throw malformed(`Body of ${received} bytes, content-length ${opts.contentLength}`);
            }
            ctrl.close();
            end();
            return;
          }
          checkRequestStreamFrame(h.type, opts.fromServer);
          if (h.type === FrameType.DATA) {
            if (trailers) throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, "DATA frame after trailers");
            remaining = h.length;
          } else if (h.type === FrameType.HEADERS) {
            if (trailers) throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, "Second trailer section");
            if (h.length > opts.maxFieldSectionSize) {
              throw new H3Error(ErrorCode.H3_EXCESSIVE_LOAD, `Trailers of ${h.length} bytes`, false);
            }
            decodeFieldSection(await reader.readExact(h.length), opts.maxFieldSectionSize);
            trailers = true;
          } else {
            await reader.skip(h.length);
          }
        }
        const chunk = await reader.readSome(remaining);
        remaining -= chunk.length;
        received += chunk.length;
        if (opts.contentLength !== undefined && received > opts.contentLength) {
          throw malformed(`Body longer than content-length ${opts.contentLength}`);
        }
        ctrl.enqueue(chunk);
      } catch (err) {
        reader.cancel();
        if (err instanceof H3Error && err.connection) opts.onConnectionError?.(err);
        ctrl.error(err);
        end(err);
      }
    },
    cancel(reason) {
      reader.cancel(reason);
      if (ended) return;
      ended = true;
      opts.onCancel?.();
    },
  }, { highWaterMark: 0 });
}

/** A parsed content-length, or undefined; several differing values are malformed. */
export function contentLength(headers: Headers): number | undefined {
  const v = headers.get("content-length");
  if (v === null) return undefined;
  const parts = v.split(",").map((s) => s.trim());
  if (!parts.every((p) => /^\d+$/.test(p) && p === parts[0])) throw malformed(`Invalid content-length "${v}"`);
  const n = Number(parts[0]);
  if (!Number.isSafeInteger(n)) throw malformed(`Invalid content-length "${v}"`);
  return n;
}
