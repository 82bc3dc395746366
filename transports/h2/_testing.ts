/**
 * Test helpers for the HTTP/2 code: session pairs over loopback TCP, and a
 * raw frame peer for protocol-error cases.
 *
 * @module
 */
import { closeQuietly, writeAll } from "../_io/write_all.ts";
import { tcpPair } from "../_mux/test_util.ts";
import type { Conn } from "../types.ts";
import { FRAME_HEADER_SIZE, frameBytes, getU32, PREFACE, SETTINGS, settingsFrame } from "./_frame.ts";
import { H2Session, type H2SessionOptions } from "./_session.ts";
import type { H2Stream } from "./_stream.ts";

export { tcpPair };

/** A client and a server session over loopback TCP; the server's streams go to `onStream`. */
export async function sessionPair(
  server: Partial<H2SessionOptions> = {},
  client: Partial<H2SessionOptions> = {},
): Promise<{ client: H2Session; server: H2Session; close(): Promise<void> }> {
  const [a, b] = await tcpPair();
  const s = new H2Session(b, { onStream: (st) => st.close(), ...server, client: false });
  const c = new H2Session(a, { ...client, client: true });
  return {
    client: c,
    server: s,
    async close() {
      c.close();
      s.close();
      await Promise.all([c.done, s.done]);
    },
  };
}

/** Server `onStream` that answers 200 and echoes the request body, then ends. */
export async function echoStream(s: H2Stream): Promise<void> {
  s.respond([[":status", "200"]]);
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await s.read(buf);
      if (n === null) break;
      await writeAll(s, buf.subarray(0, n));
    }
    await s.closeWrite();
  } catch {
    s.close();
  }
}

/** One frame as read by {@linkcode RawPeer}. */
export interface RawFrame {
  type: number;
  flags: number;
  id: number;
  payload: Uint8Array;
}

/**
 * The other end of a session, driven frame by frame: writes whatever the
 * test wants and parses what arrives.
 */
export class RawPeer {
  readonly conn: Conn;
  #buf = new Uint8Array(0);

  constructor(conn: Conn) {
    this.conn = conn;
  }

  /** Writes the client preface and an empty SETTINGS frame. */
  async clientPreface(): Promise<void> {
    await this.send(PREFACE);
    await this.send(settingsFrame([]));
  }

  async send(b: Uint8Array): Promise<void> {
    await writeAll(this.conn, b);
  }

  async frame(type: number, flags: number, id: number, payload: Uint8Array = new Uint8Array(0)): Promise<void> {
    await this.send(frameBytes(type, flags, id, payload));
  }

  /** The next frame, or null at end of stream. */
  async next(): Promise<RawFrame | null> {
    for (;;) {
      if (this.#buf.length >= FRAME_HEADER_SIZE) {
        const len = (this.#buf[0] << 16) | (this.#buf[1] << 8) | this.#buf[2];
        if (this.#buf.length >= FRAME_HEADER_SIZE + len) {
          const f = {
            type: this.#buf[3],
            flags: this.#buf[4],
            id: getU32(this.#buf, 5) & 0x7fffffff,
            payload: this.#buf.slice(FRAME_HEADER_SIZE, FRAME_HEADER_SIZE + len),
          };
          this.#buf = this.#buf.slice(FRAME_HEADER_SIZE + len);
          return f;
        }
      }
      const chunk = new Uint8Array(64 * 1024);
      const n = await this.conn.read(chunk).catch(() => null);
      if (n === null) return null;
      const merged = new Uint8Array(this.#buf.length + n);
      merged.set(this.#buf);
      merged.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = merged;
    }
  }

  /** Frames until one of `type` arrives (which is returned), or null at end of stream. */
  async until(type: number): Promise<RawFrame | null> {
    for (;;) {
      const f = await this.next();
      if (!f || f.type === type) return f;
    }
  }

  /** Skips the peer's initial SETTINGS (and anything before it). */
  async settings(): Promise<RawFrame | null> {
    return await this.until(SETTINGS);
  }

  close(): void {
    closeQuietly(this.conn);
  }
}
