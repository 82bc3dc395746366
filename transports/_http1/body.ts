/**
 * HTTP/1.1 message bodies on a {@linkcode BufferedConn}: readers for the
 * three framings (Content-Length, chunked, until close) and the chunked
 * encoder. Every reader is bounded: chunk-size lines and trailers have size
 * limits, and a body never reads past its own end, so the bytes that follow
 * (the next pipelined message) stay in the buffer.
 *
 * @module
 */
import type { BufferedConn } from "../_io/buffered_conn.ts";
import { HttpParseError, MAX_HEAD_SIZE } from "./head.ts";

/** Largest piece a body read hands out; bigger chunks arrive in several reads. */
export const MAX_BODY_READ = 256 * 1024;
/** Longest chunk-size line (with extensions) accepted. */
const MAX_CHUNK_LINE = 4096;

const CRLF = new Uint8Array([13, 10]);
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** A message body being read; `read()` resolves to `null` once the body is complete. */
export interface BodyReader {
  /** The next piece of the body (a fresh array the caller may keep), or `null` at its end. */
  read(): Promise<Uint8Array | null>;
  /** True once the whole body (and for chunked, its trailers) has been read. */
  readonly complete: boolean;
  /** Bytes still to come, when the framing says (Content-Length). */
  readonly remaining?: number;
}

/** A web stream over a body reader (pulled on demand; cancel runs `onCancel`). */
export function bodyStream(body: BodyReader, onCancel?: () => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const p = await body.read();
      if (p === null) ctrl.close();
      else ctrl.enqueue(p);
    },
    cancel() {
      onCancel?.();
    },
  }, { highWaterMark: 0 });
}

async function readSome(conn: BufferedConn, want: number): Promise<Uint8Array> {
  const buf = new Uint8Array(Math.min(want, MAX_BODY_READ));
  const n = await conn.read(buf);
  if (n === null) throw new Deno.errors.UnexpectedEof("Connection closed inside a message body");
  return n === buf.length ? buf : buf.subarray(0, n);
}

/**
 * A body of exactly `length` bytes (Content-Length). With `whole` set, a
 * body of at most that many bytes is read completely before it is handed
 * out, as one array (one allocation, no joining of pieces by the consumer).
 */
export class FixedBody implements BodyReader {
  readonly #conn: BufferedConn;
  readonly #whole: boolean;
  #left: number;

  constructor(conn: BufferedConn, length: number, whole = 0) {
    this.#conn = conn;
    this.#left = length;
    this.#whole = length <= whole;
  }

  get complete(): boolean {
    return this.#left === 0;
  }

  get remaining(): number {
    return this.#left;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#left === 0) return null;
    if (this.#whole) {
      const p = await this.#conn.readExact(this.#left);
      this.#left = 0;
      return p;
    }
    const p = await readSome(this.#conn, this.#left);
    this.#left -= p.length;
    return p;
  }
}

/** A body that ends when the connection does (responses without a length). */
export class UntilCloseBody implements BodyReader {
  readonly #conn: BufferedConn;
  #done = false;

  constructor(conn: BufferedConn) {
    this.#conn = conn;
  }

  get complete(): boolean {
    return this.#done;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    const buf = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(buf);
    if (n === null) {
      this.#done = true;
      return null;
    }
    return buf.subarray(0, n);
  }
}

/** A `Transfer-Encoding: chunked` body; extensions are ignored, trailers read and dropped. */
export class ChunkedBody implements BodyReader {
  readonly #conn: BufferedConn;
  readonly #maxTrailers: number;
  /** Bytes left in the current chunk; -1 before the first chunk-size line. */
  #left = -1;
  #done = false;

  constructor(conn: BufferedConn, maxTrailers = MAX_HEAD_SIZE) {
    this.#conn = conn;
    this.#maxTrailers = maxTrailers;
  }

  get complete(): boolean {
    return this.#done;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    if (this.#left <= 0) {
      if (this.#left === 0) await this.#expectCrlf();
      this.#left = await this.#sizeLine();
      if (this.#left === 0) {
        await this.#trailers();
        this.#done = true;
        return null;
      }
    }
    const p = await readSome(this.#conn, this.#left);
    this.#left -= p.length;
    return p;
  }

  async #line(max: number): Promise<Uint8Array> {
    let raw: Uint8Array | null;
    try {
      raw = await this.#conn.readUntil(CRLF, max);
    } catch (err) {
      if (err instanceof RangeError) throw new HttpParseError(`Chunked body line exceeds ${max} bytes`);
      throw err;
    }
    if (raw === null) throw new Deno.errors.UnexpectedEof("Connection closed inside a chunked body");
    return raw;
  }

  async #expectCrlf(): Promise<void> {
    const raw = await this.#line(2);
    if (raw.length !== 2) throw new HttpParseError("Chunk data is not followed by CRLF");
  }

  async #sizeLine(): Promise<number> {
    const line = latin1.decode(await this.#line(MAX_CHUNK_LINE)).slice(0, -2);
    const size = line.split(";", 1)[0].trim();
    if (!/^[0-9a-fA-F]{1,13}$/.test(size)) throw new HttpParseError(`Invalid chunk size "${size.slice(0, 32)}"`);
    return parseInt(size, 16);
  }

  async #trailers(): Promise<void> {
    let total = 0;
    for (;;) {
      const raw = await this.#line(this.#maxTrailers - total);
      total += raw.length;
      if (raw.length === 2) return;
    }
  }
}

/** The framing of a request or response body, from its headers. */
export type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" } | {
  kind: "close";
};

/**
 * The body framing a message's headers announce (RFC 9112 §6.3). Throws
 * {@linkcode HttpParseError} on conflicting or malformed framing headers,
 * which the caller answers with 400 (a server) or treats as a broken
 * response (a client).
 */
export function framingOf(
  headers: { get(name: string): string | undefined; entries: [string, string][] },
  isResponse: boolean,
): Framing {
  const te = headers.entries.filter(([k]) => k.toLowerCase() === "transfer-encoding").map(([, v]) => v).join(",");
  const cls = headers.entries.filter(([k]) => k.toLowerCase() === "content-length").map(([, v]) => v.trim());
  if (te.trim() !== "") {
    if (cls.length > 0) throw new HttpParseError("Both Transfer-Encoding and Content-Length are present");
    const codings = te.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (codings[codings.length - 1] !== "chunked") {
      if (isResponse) return { kind: "close" };
      throw new HttpParseError(`Unsupported Transfer-Encoding "${te.slice(0, 64)}"`);
    }
    if (codings.length > 1) throw new HttpParseError(`Unsupported Transfer-Encoding "${te.slice(0, 64)}"`);
    return { kind: "chunked" };
  }
  if (cls.length > 0) {
    const values = new Set(cls.flatMap((v) => v.split(",").map((s) => s.trim())));
    if (values.size !== 1) throw new HttpParseError(`Conflicting Content-Length values "${cls.join(", ")}"`);
    const v = [...values][0];
    if (!/^\d{1,15}$/.test(v)) throw new HttpParseError(`Invalid Content-Length "${v.slice(0, 32)}"`);
    const length = Number(v);
    return length === 0 ? { kind: "none" } : { kind: "length", length };
  }
  return isResponse ? { kind: "close" } : { kind: "none" };
}

/**
 * A reader for `framing` on `conn`, or `null` when there is no body.
 * Content-Length bodies up to `whole` bytes come in one piece.
 */
export function bodyReader(conn: BufferedConn, framing: Framing, whole = 0): BodyReader | null {
  switch (framing.kind) {
    case "none":
      return null;
    case "length":
      return new FixedBody(conn, framing.length, whole);
    case "chunked":
      return new ChunkedBody(conn);
    case "close":
      return new UntilCloseBody(conn);
  }
}

/** `data` framed as one chunk (`size CRLF data CRLF`); an empty `data` gives nothing. */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return data;
  const size = data.length.toString(16);
  const out = new Uint8Array(size.length + 4 + data.length);
  encoder.encodeInto(size, out);
  out[size.length] = 13;
  out[size.length + 1] = 10;
  out.set(data, size.length + 2);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** The last chunk of a chunked body, without trailers. */
export const LAST_CHUNK: Uint8Array = encoder.encode("0\r\n\r\n");
