/** Helpers shared by the HTTP/3 tests (not part of the transport). */
import { type CertificateKeyPair, generateCertificate } from "../tls/mod.ts";
import { type H3Fetcher, h3Fetcher } from "./client.ts";
import { type H3Handler, serveH3, type ServeH3Options } from "./server.ts";
import { encodeFrame, encodeSettings, FrameType } from "./frames.ts";
import { encodeFieldSection, type Field } from "./qpack.ts";

let certP: Promise<CertificateKeyPair> | undefined;

/** One certificate for `localhost` per test process. */
export function testCert(): Promise<CertificateKeyPair> {
  certP ??= generateCertificate({ commonName: "localhost", dnsNames: ["localhost"] });
  return certP;
}

/** A QUIC server endpoint on loopback that accepts h3 connections. */
export async function quicServer(): Promise<
  { endpoint: Deno.QuicEndpoint; listener: Deno.QuicListener; port: number }
> {
  const { cert, key } = await testCert();
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const listener = endpoint.listen({ cert, key, alpnProtocols: ["h3"] });
  return { endpoint, listener, port: endpoint.addr.port };
}

/** A client QUIC connection to the test server (verified against the test certificate). */
export async function quicClient(port: number): Promise<Deno.QuicConn> {
  const { cert } = await testCert();
  return await Deno.connectQuic({
    hostname: "127.0.0.1",
    port,
    serverName: "localhost",
    caCerts: [cert],
    alpnProtocols: ["h3"],
  });
}

/** An HTTP/3 server running `handler` and a fetcher connected to it. */
export interface H3Pair {
  fetch: H3Fetcher;
  port: number;
  base: string;
  /** Resolves when the server side of the connection has finished. */
  served: Promise<void>;
  /** Closes everything and waits for it. */
  close(): Promise<void>;
}

export async function h3Pair(handler: H3Handler, opts: ServeH3Options = {}): Promise<H3Pair> {
  const { endpoint, listener, port } = await quicServer();
  const accepted = listener.accept();
  const client = await quicClient(port);
  const server = await accepted;
  const served = serveH3(server, handler, opts);
  const fetch = h3Fetcher(client);
  return {
    fetch,
    port,
    base: `https://localhost:${port}`,
    served,
    async close() {
      fetch.close();
      await fetch.closed;
      await served;
      client.endpoint.close();
      endpoint.close();
    },
  };
}

/** A raw QUIC client for sending hand-made (and broken) HTTP/3 to a server. */
export interface RawPeer {
  conn: Deno.QuicConn;
  /** Opens a unidirectional stream and writes `bytes` (FIN when `fin`). */
  uni(bytes: Uint8Array, fin?: boolean): Promise<WritableStreamDefaultWriter<Uint8Array>>;
  /** Opens a request stream, writes `bytes` (FIN when `fin`), returns the stream. */
  request(bytes: Uint8Array, fin?: boolean): Promise<Deno.QuicBidirectionalStream>;
  /** The close code the server used, or undefined when it did not close within `ms`. */
  closedWith(ms?: number): Promise<number | undefined>;
}

export function rawPeer(conn: Deno.QuicConn): RawPeer {
  return {
    conn,
    async uni(bytes, fin = false) {
      const s = await conn.createUnidirectionalStream();
      const w = s.getWriter();
      await w.write(bytes);
      if (fin) await w.close();
      return w;
    },
    async request(bytes, fin = true) {
      const s = await conn.createBidirectionalStream();
      const w = s.writable.getWriter();
      await w.write(bytes);
      if (fin) await w.close();
      else w.releaseLock();
      return s;
    },
    async closedWith(ms = 2000) {
      let t: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((r) => (t = setTimeout(() => r(undefined), ms)));
      try {
        const info = await Promise.race([conn.closed.catch(() => ({ closeCode: -1, reason: "" })), timeout]);
        return info?.closeCode;
      } finally {
        clearTimeout(t);
      }
    },
  };
}

/** A HEADERS frame for `fields`. */
export function headersFrame(fields: Field[]): Uint8Array {
  return encodeFrame(FrameType.HEADERS, encodeFieldSection(fields));
}

/** A client control stream opening: type 0x00 + SETTINGS. */
export function controlPreface(): Uint8Array {
  const s = encodeSettings([[0x01, 0], [0x07, 0]]);
  const out = new Uint8Array(1 + s.length);
  out[0] = 0x00;
  out.set(s, 1);
  return out;
}

/** Reads a whole stream. */
export async function readAll(s: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of s) {
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Concatenates byte arrays. */
export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
