/**
 * What both ends of an HTTP/3 connection do alike: send SETTINGS on a
 * control stream, accept the peer's unidirectional streams (control, QPACK
 * encoder and decoder; push and unknown types are refused), enforce the
 * rules for them, and close the QUIC connection with the right error code
 * on a protocol violation.
 *
 * dost uses no dynamic table (QPACK_MAX_TABLE_CAPACITY 0) and allows no
 * server push (it never sends MAX_PUSH_ID), so it opens no QPACK streams of
 * its own (RFC 9204 §4.2 allows that).
 *
 * @module
 */
import {
  decodeSettings,
  decodeSingleVarint,
  encodeFrame,
  encodeGoaway,
  encodeSettings,
  ErrorCode,
  errorName,
  FrameType,
  H3Error,
  RESERVED_H2_FRAME_TYPES,
  Setting,
  StreamType,
} from "./frames.ts";
import { DEFAULT_MAX_FIELD_SECTION_SIZE } from "./qpack.ts";
import { StreamReader } from "./stream_reader.ts";

/**
 * Largest control-stream frame accepted (SETTINGS, GOAWAY, …); larger ones
 * are H3_EXCESSIVE_LOAD.
 * @default 16384
 */
export const MAX_CONTROL_FRAME_SIZE = 16 * 1024;

/** Options shared by the server and the client. */
export interface H3Options {
  /**
   * Largest field section accepted, advertised as SETTINGS_MAX_FIELD_SECTION_SIZE.
   * @default 65536
   */
  maxFieldSectionSize?: number;
  /** Called for protocol errors and other noteworthy events (for logging). */
  onError?: (err: unknown) => void;
  /**
   * Further SETTINGS to send after dost's own (extensions such as
   * WebTransport's ENABLE_WEBTRANSPORT, H3_DATAGRAM, ENABLE_CONNECT_PROTOCOL).
   */
  settings?: readonly (readonly [number, number])[];
}

/** The state of one HTTP/3 connection over a QUIC connection. */
export class H3Connection {
  readonly quic: Deno.QuicConn;
  readonly isServer: boolean;
  readonly maxFieldSectionSize: number;
  /** Settings the peer sent, once its control stream delivered them. */
  peerSettings: Map<number, number> | undefined;
  /** Stream id from the peer's last GOAWAY. */
  goawayId: number | undefined;
  /** Resolves when the QUIC connection is closed, whoever closed it. */
  readonly closed: Promise<Deno.QuicCloseInfo | undefined>;
  /**
   * Resolves with the peer's SETTINGS once they arrive, or with `undefined`
   * when the connection closes first.
   */
  readonly settingsReceived: Promise<Map<number, number> | undefined>;
  #settingsArrived: (s: Map<number, number> | undefined) => void = () => {};
  readonly #extraSettings: readonly (readonly [number, number])[];
  #done = false;
  #control: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #controlReady: Promise<void> | undefined;
  #seen = new Set<number>();
  #onGoaway: ((id: number) => void) | undefined;
  readonly #onError: ((err: unknown) => void) | undefined;

  constructor(quic: Deno.QuicConn, isServer: boolean, opts: H3Options = {}) {
    this.quic = quic;
    this.isServer = isServer;
    this.maxFieldSectionSize = opts.maxFieldSectionSize ?? DEFAULT_MAX_FIELD_SECTION_SIZE;
    this.#onError = opts.onError;
    this.#extraSettings = opts.settings ?? [];
    this.settingsReceived = new Promise((r) => (this.#settingsArrived = r));
    this.closed = quic.closed.then((info) => info, () => undefined).finally(() => {
      this.#done = true;
      this.#settingsArrived(undefined);
    });
  }

  /** True once the connection is closing or closed. */
  get done(): boolean {
    return this.#done;
  }

  /** Called with the id when the peer sends GOAWAY. */
  set onGoaway(fn: ((id: number) => void) | undefined) {
    this.#onGoaway = fn;
  }

  /** Opens the control stream with SETTINGS and starts serving the peer's unidirectional streams. */
  start(): void {
    this.#controlReady = this.#openControl().catch((err) => this.#report(err));
    this.#acceptUni().catch((err) => this.#report(err));
  }

  async #openControl(): Promise<void> {
    const s = await this.quic.createUnidirectionalStream({ waitUntilAvailable: true });
    this.#control = s.getWriter();
    const settings = encodeSettings([
      [Setting.QPACK_MAX_TABLE_CAPACITY, 0],
      [Setting.QPACK_BLOCKED_STREAMS, 0],
      [Setting.MAX_FIELD_SECTION_SIZE, this.maxFieldSectionSize],
      ...this.#extraSettings,
    ]);
    const out = new Uint8Array(1 + settings.length);
    out[0] = StreamType.CONTROL;
    out.set(settings, 1);
    await this.#control.write(out);
  }

  /** Sends GOAWAY with `id` on the control stream (best effort). */
  async sendGoaway(id: number): Promise<void> {
    await this.#controlReady;
    try {
      await this.#control?.write(encodeGoaway(id));
    } catch {
      // connection already gone
    }
  }

  /** Closes the connection with `code` (default H3_NO_ERROR). */
  close(code: number = ErrorCode.H3_NO_ERROR, reason = ""): void {
    if (this.#done) return;
    this.#done = true;
    try {
      this.quic.close({ closeCode: code, reason });
    } catch {
      // already closed
    }
  }

  /**
   * Handles an error seen while serving: connection-level H3Errors close the
   * connection with their code; anything else is reported only.
   */
  fail(err: unknown): void {
    if (err instanceof H3Error && err.connection) {
      if (!this.#done) this.#report(err);
      this.close(err.code, err.message.slice(0, 100));
    } else if (!this.#done) {
      this.#report(err);
    }
  }

  #report(err: unknown): void {
    if (this.#done) return;
    this.#onError?.(err);
  }

  async #acceptUni(): Promise<void> {
    const streams = this.quic.incomingUnidirectionalStreams.getReader();
    for (;;) {
      let next: ReadableStreamReadResult<Deno.QuicReceiveStream>;
      try {
        next = await streams.read();
      } catch {
        return; // connection closed
      }
      if (next.done) return;
      this.#serveUni(next.value).catch((err) => {
        if (!this.#done) this.fail(err);
      });
    }
  }

  async #serveUni(stream: Deno.QuicReceiveStream): Promise<void> {
    const reader = new StreamReader(stream);
    const type = await reader.readVarint();
    if (type === null) return;
    switch (type) {
      case StreamType.CONTROL:
      case StreamType.QPACK_ENCODER:
      case StreamType.QPACK_DECODER:
        if (this.#seen.has(type)) {
          throw new H3Error(ErrorCode.H3_STREAM_CREATION_ERROR, `Second ${streamName(type)} stream`);
        }
        this.#seen.add(type);
        try {
          if (type === StreamType.CONTROL) await this.#readControl(reader);
          else if (type === StreamType.QPACK_ENCODER) await readEncoderStream(reader);
          else await readDecoderStream(reader);
        } catch (err) {
          if (err instanceof H3Error) throw err;
          if (this.#done) return;
          throw new H3Error(ErrorCode.H3_CLOSED_CRITICAL_STREAM, `${streamName(type)} stream failed`);
        }
        throw new H3Error(ErrorCode.H3_CLOSED_CRITICAL_STREAM, `Peer closed its ${streamName(type)} stream`);
      case StreamType.PUSH:
        if (this.isServer) throw new H3Error(ErrorCode.H3_STREAM_CREATION_ERROR, "Push stream from a client");
        throw new H3Error(ErrorCode.H3_ID_ERROR, "Push stream without MAX_PUSH_ID");
      default:
        // Unknown or reserved stream type: ignore it (RFC 9114 §6.2).
        reader.cancel();
    }
  }

  async #readControl(reader: StreamReader): Promise<void> {
    let first = true;
    for (;;) {
      const h = await reader.readFrameHeader();
      if (!h) return;
      if (first && h.type !== FrameType.SETTINGS) {
        throw new H3Error(ErrorCode.H3_MISSING_SETTINGS, "Control stream does not start with SETTINGS");
      }
      const known = h.type <= FrameType.MAX_PUSH_ID;
      if (known && h.length > MAX_CONTROL_FRAME_SIZE) {
        throw new H3Error(ErrorCode.H3_EXCESSIVE_LOAD, `Control frame of ${h.length} bytes`);
      }
      switch (h.type) {
        case FrameType.SETTINGS:
          if (!first) throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, "Second SETTINGS frame");
          this.peerSettings = decodeSettings(await reader.readExact(h.length));
          this.#settingsArrived(this.peerSettings);
          break;
        case FrameType.GOAWAY: {
          const id = decodeSingleVarint(await reader.readExact(h.length), "GOAWAY");
          // From a server the id is a client-initiated bidirectional stream id; from a client, a push id.
          if (!this.isServer && id % 4 !== 0) throw new H3Error(ErrorCode.H3_ID_ERROR, `GOAWAY with stream id ${id}`);
          if (this.goawayId !== undefined && id > this.goawayId) {
            throw new H3Error(ErrorCode.H3_ID_ERROR, `GOAWAY id grew from ${this.goawayId} to ${id}`);
          }
          this.goawayId = id;
          this.#onGoaway?.(id);
          break;
        }
        case FrameType.MAX_PUSH_ID:
          if (!this.isServer) throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, "MAX_PUSH_ID from a server");
          decodeSingleVarint(await reader.readExact(h.length), "MAX_PUSH_ID");
          break;
        case FrameType.CANCEL_PUSH:
          decodeSingleVarint(await reader.readExact(h.length), "CANCEL_PUSH");
          // No push was ever allowed, so no push id is valid.
          if (!this.isServer) throw new H3Error(ErrorCode.H3_ID_ERROR, "CANCEL_PUSH without MAX_PUSH_ID");
          break;
        case FrameType.DATA:
        case FrameType.HEADERS:
        case FrameType.PUSH_PROMISE:
          throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, `Frame type 0x${h.type.toString(16)} on the control stream`);
        default:
          if (RESERVED_H2_FRAME_TYPES.has(h.type)) {
            throw new H3Error(ErrorCode.H3_FRAME_UNEXPECTED, `HTTP/2 frame type 0x${h.type.toString(16)}`);
          }
          await reader.skip(h.length);
      }
      first = false;
    }
  }
}

function streamName(type: number): string {
  return type === StreamType.CONTROL
    ? "control"
    : type === StreamType.QPACK_ENCODER
    ? "QPACK encoder"
    : "QPACK decoder";
}

/** Reads a QPACK prefix integer byte by byte from a stream (at most 10 bytes). */
async function readPrefixInt(reader: StreamReader, first: number, n: number, code: number): Promise<number> {
  const max = (1 << n) - 1;
  let value = first & max;
  if (value < max) return value;
  for (let shift = 0; shift <= 63; shift += 7) {
    const b = (await reader.readExact(1))[0];
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return value;
  }
  throw new H3Error(code, "QPACK integer too large");
}

/**
 * The peer's QPACK encoder stream. With a table capacity of 0 the only valid
 * instruction is Set Dynamic Table Capacity 0; every insert is an error.
 */
async function readEncoderStream(reader: StreamReader): Promise<void> {
  const code = ErrorCode.QPACK_ENCODER_STREAM_ERROR;
  for (;;) {
    if (await reader.atEnd()) return;
    const b = (await reader.readExact(1))[0];
    if ((b & 0xe0) === 0x20) {
      const cap = await readPrefixInt(reader, b, 5, code);
      if (cap !== 0) throw new H3Error(code, `Dynamic table capacity ${cap} above the advertised 0`);
    } else {
      throw new H3Error(code, "Insert into a dynamic table of capacity 0");
    }
  }
}

/**
 * The peer's QPACK decoder stream. dost never references the dynamic table,
 * so Section Acknowledgment and Insert Count Increment are errors; Stream
 * Cancellation is allowed and ignored.
 */
async function readDecoderStream(reader: StreamReader): Promise<void> {
  const code = ErrorCode.QPACK_DECODER_STREAM_ERROR;
  for (;;) {
    if (await reader.atEnd()) return;
    const b = (await reader.readExact(1))[0];
    if (b & 0x80) throw new H3Error(code, "Section Acknowledgment for a section without dynamic references");
    if (b & 0x40) {
      await readPrefixInt(reader, b, 6, code);
      continue;
    }
    throw new H3Error(code, "Insert Count Increment with an empty dynamic table");
  }
}

/** A one-line description of a close, for logs. */
export function describeClose(info: Deno.QuicCloseInfo | undefined): string {
  if (!info) return "connection lost";
  return `${errorName(info.closeCode)}${info.reason ? `: ${info.reason}` : ""}`;
}

/** Encodes a DATA frame around `payload` (one buffer, so one write). */
export function dataFrame(payload: Uint8Array): Uint8Array {
  return encodeFrame(FrameType.DATA, payload);
}
