/**
 * A WebTransport session (draft-02, as webtransport-go v0.9.0 speaks it):
 * the CONNECT stream that defines it and the streams opened in it. Both
 * sides use this once the CONNECT exchange succeeded.
 *
 * The CONNECT stream is watched for capsules: a CLOSE_WEBTRANSPORT_SESSION
 * capsule, a FIN, a reset, or a malformed frame or capsule ends the
 * session, and ending it resets every stream of it (what webtransport-go
 * does on its side too). The HTTP/3 connection is left to its owner.
 *
 * @module
 */
import type { H3Connection } from "../_h3/connection.ts";
import { ErrorCode, FrameType, H3Error, readVarint, RESERVED_H2_FRAME_TYPES } from "../_h3/frames.ts";
import { StreamReader } from "../_h3/stream_reader.ts";
import { ClosedError } from "../types.ts";
import {
  CapsuleError,
  CapsuleParser,
  closeCapsuleFrame,
  type CloseInfo,
  H3_DATAGRAM_ERROR,
  streamHeader,
} from "./_protocol.ts";
import { WtStream } from "./_stream.ts";

/** Frames that have no place on a CONNECT stream once the session is up (trailers included). */
const UNEXPECTED: ReadonlySet<number> = new Set([
  FrameType.HEADERS,
  FrameType.CANCEL_PUSH,
  FrameType.SETTINGS,
  FrameType.PUSH_PROMISE,
  FrameType.GOAWAY,
  FrameType.MAX_PUSH_ID,
]);

function udpAddr(a: { hostname: string; port: number }): Deno.NetAddr {
  return { transport: "udp", hostname: a.hostname, port: a.port };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Why a session ended. */
export interface SessionEnd {
  /** The peer's CLOSE_WEBTRANSPORT_SESSION, when it sent one. */
  remote?: CloseInfo;
  /** What went wrong, when something did. */
  error?: string;
}

/** One WebTransport session over an HTTP/3 connection. */
export class WtSession {
  /** The session id: the CONNECT stream's id. */
  readonly id: number;
  readonly h3: H3Connection;
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  /** Resolves once the session ended, however. */
  readonly done: Promise<SessionEnd>;
  readonly #reader: StreamReader;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #streams = new Set<WtStream>();
  readonly #header: Uint8Array;
  #ended: ((e: SessionEnd) => void) | undefined;
  #closed = false;

  constructor(
    h3: H3Connection,
    id: number,
    reader: StreamReader,
    writer: WritableStreamDefaultWriter<Uint8Array>,
  ) {
    this.h3 = h3;
    this.id = id;
    this.#reader = reader;
    this.#writer = writer;
    this.#header = streamHeader(id);
    this.localAddr = udpAddr(h3.quic.endpoint.addr);
    this.remoteAddr = udpAddr(h3.quic.remoteAddr);
    this.done = new Promise((r) => (this.#ended = r));
    // A session ended by bad input tells the peer why; one the peer ended needs no answer but a FIN.
    this.#watch().then((end) => this.#end(end, end.error !== undefined, 1, end.error ?? ""));
    h3.closed.then(() => this.#end({ error: "connection closed" }, false));
  }

  /** True once the session ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Streams open in this session. */
  get streams(): number {
    return this.#streams.size;
  }

  /** Opens a stream (waiting while the peer's stream limit is reached) and sends its header. */
  async open(): Promise<WtStream> {
    if (this.#closed) throw new ClosedError("WebTransport session closed");
    let bidi: Deno.QuicBidirectionalStream;
    try {
      bidi = await this.h3.quic.createBidirectionalStream({ waitUntilAvailable: true });
    } catch (err) {
      throw new ClosedError(`Cannot open a WebTransport stream: ${errText(err)}`);
    }
    const s = this.#adopt(new StreamReader(bidi.readable), bidi.writable.getWriter());
    if (this.#closed) {
      s.abort();
      throw new ClosedError("WebTransport session closed");
    }
    try {
      await s.write(this.#header);
    } catch (err) {
      s.abort();
      throw new ClosedError(`Cannot open a WebTransport stream: ${errText(err)}`);
    }
    return s;
  }

  /** Takes a stream the peer opened, its header already read; `undefined` (stream reset) once closed. */
  accept(reader: StreamReader, writer: WritableStreamDefaultWriter<Uint8Array>): WtStream | undefined {
    if (this.#closed) {
      reader.cancel();
      writer.abort().catch(() => {});
      return undefined;
    }
    return this.#adopt(reader, writer);
  }

  #adopt(reader: StreamReader, writer: WritableStreamDefaultWriter<Uint8Array>): WtStream {
    const s = new WtStream(reader, writer, this, (x) => this.#streams.delete(x));
    this.#streams.add(s);
    return s;
  }

  /** Ends the session: CLOSE_WEBTRANSPORT_SESSION with `code`, FIN, and every stream reset. */
  close(code = 0, message = ""): void {
    this.#end({}, true, code, message);
  }

  #end(end: SessionEnd, tellPeer: boolean, code = 0, message = ""): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#streams]) s.abort();
    this.#reader.cancel();
    if (tellPeer && !this.h3.done) {
      this.#writer.write(closeCapsuleFrame(code, message)).then(() => this.#writer.close()).catch(() => {});
    } else {
      this.#writer.close().catch(() => {});
    }
    this.#ended?.(end);
  }

  /** Reads the CONNECT stream until the session ends; resolves with why. */
  async #watch(): Promise<SessionEnd> {
    const parser = new CapsuleParser();
    try {
      for (;;) {
        const h = await this.#reader.readFrameHeader();
        if (!h) {
          if (!parser.idle) return { error: "CONNECT stream ended inside a capsule" };
          return {};
        }
        if (h.type === FrameType.DATA) {
          let left = h.length;
          while (left > 0) {
            const chunk = await this.#reader.readSome(left);
            left -= chunk.length;
            const close = parser.push(chunk);
            if (close) return { remote: close };
          }
        } else if (UNEXPECTED.has(h.type) || RESERVED_H2_FRAME_TYPES.has(h.type)) {
          // Trailers or a control frame on the CONNECT stream: not something a session carries.
          throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, `Frame 0x${h.type.toString(16)} on a CONNECT stream`, false);
        } else {
          await this.#reader.skip(h.length); // unknown frame type (RFC 9114 §9)
        }
      }
    } catch (err) {
      if (this.#closed) return {};
      if (err instanceof CapsuleError || err instanceof H3Error) return { error: errText(err) };
      return { error: `CONNECT stream failed: ${errText(err)}` };
    }
  }
}

/**
 * Datagrams are not used by GOST's wt; they are read and dropped so that a
 * malformed one (no quarter stream id) is caught: H3_DATAGRAM_ERROR closes
 * the connection, as RFC 9297 §2.1 says.
 */
export async function readDatagrams(h3: H3Connection): Promise<void> {
  for (;;) {
    let d: Uint8Array;
    try {
      d = await h3.quic.readDatagram();
    } catch {
      return; // connection closed
    }
    if (!readVarint(d, 0)) {
      h3.fail(new H3Error(H3_DATAGRAM_ERROR, "Malformed HTTP/3 datagram"));
      return;
    }
  }
}
