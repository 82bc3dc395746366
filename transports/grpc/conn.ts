/**
 * A gRPC `Tunnel` call as a {@linkcode Conn}: every `write()` sends `Chunk`
 * messages, `read()` returns the concatenated `data` of the messages that
 * arrive. Client and server side.
 *
 * @module
 */
import type { H2Stream } from "../h2/mod.ts";
import { ErrorCode, headerValue } from "../h2/mod.ts";
import type { HeaderField } from "../h2/mod.ts";
import { type Addr, ClosedError, type Conn } from "../types.ts";
import { chunkHeader, GrpcFramingError, MAX_CHUNK, MAX_MESSAGE_SIZE, PREFIX_SIZE, Status } from "./_proto.ts";

/** A call that ended with a gRPC status other than OK. */
export class GrpcStatusError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(`gRPC status ${code}${message ? `: ${message}` : ""}`);
    this.name = "GrpcStatusError";
    this.code = code;
  }
}

/** `grpc-message` encoding: percent-encode everything outside printable ASCII and `%`. */
export function encodeGrpcMessage(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function decodeGrpcMessage(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Trailers of a successful call. */
export const OK_TRAILERS: readonly HeaderField[] = [["grpc-status", "0"]];

/** Internal read buffer for message headers; payload bytes are read straight into the caller's buffer. */
const READ_BUFFER = 16 * 1024;

/**
 * A gRPC tunnel call over an HTTP/2 stream. The server side has already
 * answered the call's headers; its `closeWrite()` sends the OK trailers.
 * The client side checks the response headers on the first read and turns
 * a non-OK `grpc-status` into a {@linkcode GrpcStatusError}.
 */
export class GrpcConn implements Conn {
  readonly stream: H2Stream;
  readonly #server: boolean;
  #buf = new Uint8Array(READ_BUFFER);
  #start = 0;
  #end = 0;
  /** Bytes of the current message not yet parsed. */
  #msgLeft = 0;
  /** Bytes of the current `data` field not yet returned. */
  #dataLeft = 0;
  /** Bytes of an unknown field still to skip. */
  #skipLeft = 0;
  #inMessage = false;
  #checked = false;
  #failed: Error | null = null;

  constructor(stream: H2Stream, server: boolean) {
    this.stream = stream;
    this.#server = server;
    this.#checked = server;
  }

  get localAddr(): Addr {
    return this.stream.localAddr;
  }
  get remoteAddr(): Addr {
    return this.stream.remoteAddr;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (this.#failed) throw this.#failed;
    if (p.length === 0) return 0;
    try {
      if (!this.#checked) await this.#checkResponse();
      return await this.#read(p);
    } catch (err) {
      if (err instanceof GrpcFramingError) this.#fail(err);
      throw err;
    }
  }

  async #read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#dataLeft > 0) {
        const avail = this.#end - this.#start;
        if (avail > 0) {
          const n = Math.min(avail, this.#dataLeft, p.length);
          p.set(this.#buf.subarray(this.#start, this.#start + n));
          this.#start += n;
          this.#dataLeft -= n;
          this.#msgLeft -= n;
          return n + this.readReady(p.subarray(n));
        }
        const n = await this.stream.read(p.length > this.#dataLeft ? p.subarray(0, this.#dataLeft) : p);
        if (n === null) throw new GrpcFramingError(Status.INTERNAL, "gRPC message truncated");
        this.#dataLeft -= n;
        this.#msgLeft -= n;
        return n + this.readReady(p.subarray(n));
      }
      if (this.#skipLeft > 0) {
        if (this.#end === this.#start && !(await this.#fill(1))) {
          throw new GrpcFramingError(Status.INTERNAL, "gRPC message truncated");
        }
        const n = Math.min(this.#skipLeft, this.#end - this.#start);
        this.#start += n;
        this.#skipLeft -= n;
        this.#msgLeft -= n;
        continue;
      }
      if (this.#inMessage && this.#msgLeft > 0) {
        await this.#parseField();
        continue;
      }
      this.#inMessage = false;
      // A message boundary.
      if (!(await this.#fill(PREFIX_SIZE))) {
        if (this.#end > this.#start) throw new GrpcFramingError(Status.INTERNAL, "gRPC message prefix truncated");
        return this.#atEnd();
      }
      const b = this.#buf;
      const flag = b[this.#start];
      const len = new DataView(b.buffer, b.byteOffset + this.#start + 1, 4).getUint32(0);
      if (flag === 1) {
        throw new GrpcFramingError(Status.INTERNAL, "gRPC compressed message, but no compression was negotiated");
      }
      if (flag !== 0) throw new GrpcFramingError(Status.INTERNAL, `gRPC message prefix has invalid flag ${flag}`);
      if (len > MAX_MESSAGE_SIZE) {
        throw new GrpcFramingError(
          Status.RESOURCE_EXHAUSTED,
          `gRPC received message larger than max (${len} vs. ${MAX_MESSAGE_SIZE})`,
        );
      }
      this.#start += PREFIX_SIZE;
      this.#msgLeft = len;
      this.#inMessage = true;
    }
  }

  /**
   * Data of the messages already received, without waiting (see
   * `Conn.readReady`): gost's client sends one message per write, so a request
   * written in pieces reaches a fresh target in one write. Stops at anything
   * not yet here, and leaves a bad prefix or field for `read` to report.
   */
  readReady(p: Uint8Array): number {
    if (this.#failed || !this.#checked) return 0;
    let got = 0;
    while (got < p.length) {
      if (this.#dataLeft > 0) {
        if (this.#end === this.#start && !this.#topUp(1)) break;
        const n = Math.min(this.#end - this.#start, this.#dataLeft, p.length - got);
        p.set(this.#buf.subarray(this.#start, this.#start + n), got);
        this.#start += n;
        this.#dataLeft -= n;
        this.#msgLeft -= n;
        got += n;
      } else if (this.#skipLeft > 0) {
        if (this.#end === this.#start && !this.#topUp(1)) break;
        const n = Math.min(this.#skipLeft, this.#end - this.#start);
        this.#start += n;
        this.#skipLeft -= n;
        this.#msgLeft -= n;
      } else if (this.#inMessage && this.#msgLeft > 0) {
        if (!this.#topUp(Math.min(this.#msgLeft, 20))) break;
        const at = this.#start;
        try {
          this.#parseBufferedField();
        } catch (err) {
          // A bad field: unconsumed, so that read() reports it after the bytes before it.
          if (!(err instanceof GrpcFramingError)) throw err;
          this.#start = at;
          break;
        }
      } else {
        this.#inMessage = false;
        if (!this.#topUp(PREFIX_SIZE)) break;
        const b = this.#buf;
        const len = new DataView(b.buffer, b.byteOffset + this.#start + 1, 4).getUint32(0);
        if (b[this.#start] !== 0 || len > MAX_MESSAGE_SIZE) break;
        this.#start += PREFIX_SIZE;
        this.#msgLeft = len;
        this.#inMessage = true;
      }
    }
    return got;
  }

  /** Buffers at least `n` bytes from what the stream already holds; false when it holds too few. */
  #topUp(n: number): boolean {
    while (this.#end - this.#start < n) {
      if (this.#start > 0 && (this.#start === this.#end || this.#buf.length - this.#start < n)) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const r = this.stream.readReady(this.#buf.subarray(this.#end));
      if (r === 0) return false;
      this.#end += r;
    }
    return true;
  }

  /** Parses one protobuf field header of the current message. */
  async #parseField(): Promise<void> {
    if (!(await this.#fill(Math.min(this.#msgLeft, 20)))) {
      throw new GrpcFramingError(Status.INTERNAL, "gRPC message truncated");
    }
    this.#parseBufferedField();
  }

  /** Parses one field header from `min(msgLeft, 20)` buffered bytes. */
  #parseBufferedField(): void {
    const need = Math.min(this.#msgLeft, 20);
    const b = this.#buf;
    const limit = this.#start + need;
    let i = this.#start;
    const varint = (): number => {
      let v = 0;
      for (let shift = 0; shift < 64; shift += 7) {
        if (i >= limit) throw new GrpcFramingError(Status.INTERNAL, "gRPC Chunk: truncated varint");
        const x = b[i++];
        v += (x & 0x7f) * 2 ** shift;
        if ((x & 0x80) === 0) return v;
      }
      throw new GrpcFramingError(Status.INTERNAL, "gRPC Chunk: varint too long");
    };
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    let len = 0;
    switch (wire) {
      case 0:
        varint();
        break;
      case 1:
        len = 8;
        break;
      case 2:
        len = varint();
        break;
      case 5:
        len = 4;
        break;
      default:
        throw new GrpcFramingError(Status.INTERNAL, `gRPC Chunk: invalid wire type ${wire}`);
    }
    if (field === 0) throw new GrpcFramingError(Status.INTERNAL, "gRPC Chunk: invalid field number 0");
    const head = i - this.#start;
    if (head + len > this.#msgLeft) throw new GrpcFramingError(Status.INTERNAL, "gRPC Chunk: field exceeds message");
    this.#start = i;
    this.#msgLeft -= head;
    if (field === 1 && wire === 2) this.#dataLeft = len;
    else this.#skipLeft = len;
  }

  /** Buffers at least `n` bytes; false at end of stream. */
  async #fill(n: number): Promise<boolean> {
    while (this.#end - this.#start < n) {
      if (this.#start > 0 && (this.#start === this.#end || this.#buf.length - this.#start < n)) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const want = Math.max(n - (this.#end - this.#start), 64);
      const r = await this.stream.read(this.#buf.subarray(this.#end, Math.min(this.#buf.length, this.#end + want)));
      if (r === null) return false;
      this.#end += r;
    }
    return true;
  }

  /** End of stream at a message boundary: EOF, or the call's error status (client). */
  #atEnd(): null {
    if (this.#server) return null;
    const t = this.stream.trailers ?? this.#responseHeaders ?? [];
    const status = headerValue(t, "grpc-status");
    if (status === "0") return null;
    if (status === undefined) throw new GrpcStatusError(Status.INTERNAL, "server closed the stream without a status");
    throw new GrpcStatusError(Number(status), decodeGrpcMessage(headerValue(t, "grpc-message") ?? ""));
  }

  #responseHeaders: HeaderField[] | undefined;

  async #checkResponse(): Promise<void> {
    const h = await this.stream.response;
    this.#responseHeaders = h;
    this.#checked = true;
    const status = headerValue(h, ":status");
    if (status !== "200") throw new GrpcStatusError(Status.UNAVAILABLE, `unexpected HTTP status ${status}`);
    const ct = headerValue(h, "content-type") ?? "";
    if (!/^application\/grpc(?:$|[+;])/.test(ct)) {
      throw new GrpcStatusError(Status.INTERNAL, `unexpected content-type "${ct}"`);
    }
    const gs = headerValue(h, "grpc-status");
    if (gs !== undefined && gs !== "0") {
      throw new GrpcStatusError(Number(gs), decodeGrpcMessage(headerValue(h, "grpc-message") ?? ""));
    }
  }

  /** Writes `p` as `Chunk` messages of at most {@linkcode MAX_CHUNK} bytes. */
  async write(p: Uint8Array): Promise<number> {
    if (this.#failed) throw this.#failed;
    for (let off = 0; off < p.length;) {
      const n = Math.min(MAX_CHUNK, p.length - off);
      await this.stream.writev([chunkHeader(n), off === 0 && n === p.length ? p : p.subarray(off, off + n)]);
      off += n;
    }
    return p.length;
  }

  /** Server: the OK trailers end the call's response; client: END_STREAM (half-close). */
  closeWrite(): Promise<void> {
    if (!this.#server) return this.stream.closeWrite();
    if (this.stream.localEnded) return Promise.resolve();
    try {
      this.stream.sendTrailers(OK_TRAILERS);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Ends the call: server with OK trailers (unless failed), client with END_STREAM and RST_STREAM(CANCEL). */
  close(): void {
    if (this.#server && !this.stream.localEnded && this.stream.resetCode === undefined) {
      try {
        this.stream.sendTrailers(OK_TRAILERS);
      } catch {
        // session gone
      }
    }
    this.stream.close();
    this.#failed ??= new ClosedError("gRPC call closed");
  }

  /** A framing error: the server answers with the error status, the client cancels. */
  #fail(err: GrpcFramingError): void {
    this.#failed = err;
    if (this.#server) {
      if (!this.stream.localEnded && this.stream.resetCode === undefined) {
        try {
          this.stream.sendTrailers([["grpc-status", String(err.status)], [
            "grpc-message",
            encodeGrpcMessage(err.message),
          ]]);
        } catch {
          // session gone
        }
      }
      this.stream.close();
    } else {
      this.stream.reset(ErrorCode.CANCEL);
    }
  }
}
