/**
 * The client side of WebTransport over one QUIC connection: HTTP/3 with the
 * client's WebTransport SETTINGS, a wait for the server's (which must enable
 * extended CONNECT, HTTP/3 datagrams and WebTransport, as webtransport-go
 * requires), then one extended CONNECT whose 2xx answer makes the session.
 *
 * @module
 */
import { H3Connection } from "../_h3/connection.ts";
import { encodeFrame, FrameType, H3Error } from "../_h3/frames.ts";
import { parseResponseHead, readHeaders } from "../_h3/message.ts";
import { encodeFieldSection, type Field } from "../_h3/qpack.ts";
import { StreamReader } from "../_h3/stream_reader.ts";
import { HandshakeError } from "../types.ts";
import {
  CLIENT_SETTINGS,
  DRAFT_OFFER_HEADER,
  SETTINGS_ENABLE_CONNECT_PROTOCOL,
  SETTINGS_ENABLE_WEBTRANSPORT,
  SETTINGS_H3_DATAGRAM,
} from "./_protocol.ts";
import { readDatagrams, WtSession } from "./_session.ts";

/** What the CONNECT says. */
export interface ConnectOptions {
  /** `:authority` (GOST: the host, without port). */
  authority: string;
  path: string;
  header?: Record<string, string>;
  /** Time for the server's SETTINGS and the response together. */
  timeout: number;
  signal?: AbortSignal;
  onError?: (err: unknown) => void;
}

/** Largest response head accepted. @default 16384 */
export const MAX_RESPONSE_HEAD = 16 * 1024;

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Starts HTTP/3 on a connected `quic` (ALPN h3) and establishes one session.
 * On failure the QUIC connection is closed and a HandshakeError raised.
 */
export async function connectWt(quic: Deno.QuicConn, opts: ConnectOptions): Promise<WtSession> {
  const h3 = new H3Connection(quic, false, {
    settings: CLIENT_SETTINGS,
    maxFieldSectionSize: MAX_RESPONSE_HEAD,
    onError: opts.onError,
  });
  h3.start();
  readDatagrams(h3).catch(() => {});
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new HandshakeError(`WebTransport session not ready within ${opts.timeout} ms`)),
    opts.timeout,
  );
  const onAbort = () => ac.abort(opts.signal!.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const aborted = new Promise<never>((_, reject) => {
    ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
  });
  aborted.catch(() => {});
  if (opts.signal?.aborted) onAbort();
  let reader: StreamReader | undefined;
  try {
    const settings = await Promise.race([h3.settingsReceived, aborted]);
    if (!settings) throw new HandshakeError("Connection closed before the server's SETTINGS");
    if (settings.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) !== 1) {
      throw new HandshakeError("Server did not enable extended CONNECT");
    }
    if (settings.get(SETTINGS_H3_DATAGRAM) !== 1) throw new HandshakeError("Server did not enable HTTP/3 datagrams");
    if (settings.get(SETTINGS_ENABLE_WEBTRANSPORT) !== 1) {
      throw new HandshakeError("Server did not enable WebTransport");
    }

    const bidi = await Promise.race([quic.createBidirectionalStream({ waitUntilAvailable: true }), aborted]);
    reader = new StreamReader(bidi.readable);
    const writer = bidi.writable.getWriter();
    const fields: Field[] = [
      [":method", "CONNECT"],
      [":protocol", "webtransport"],
      [":scheme", "https"],
      [":authority", opts.authority],
      [":path", opts.path],
    ];
    for (const [k, v] of Object.entries(opts.header ?? {})) {
      const name = k.toLowerCase();
      if (name !== DRAFT_OFFER_HEADER && name !== "host") fields.push([name, v]);
    }
    fields.push([DRAFT_OFFER_HEADER, "1"]);
    await Promise.race([writer.write(encodeFrame(FrameType.HEADERS, encodeFieldSection(fields))), aborted]);
    const limits = { maxFieldSectionSize: MAX_RESPONSE_HEAD };
    let status: number;
    for (;;) {
      const head = await Promise.race([readHeaders(reader, true, limits), aborted]);
      if (!head) throw new HandshakeError("WebTransport CONNECT stream ended before the response");
      status = parseResponseHead(head).status;
      if (status >= 200) break; // 1xx: interim
    }
    if (status < 200 || status >= 300) {
      writer.close().catch(() => {});
      throw new HandshakeError(`WebTransport CONNECT refused with status ${status}`);
    }
    return new WtSession(h3, Number(bidi.writable.id), reader, writer);
  } catch (err) {
    reader?.cancel();
    if (err instanceof H3Error && err.connection) h3.fail(err);
    else h3.close();
    if (err instanceof HandshakeError) throw err;
    if (opts.signal?.aborted) throw opts.signal.reason;
    throw new HandshakeError(`WebTransport CONNECT failed: ${errText(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}
