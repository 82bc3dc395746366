/**
 * Wire compatibility of the `wt` (WebTransport over HTTP/3) transport with
 * gost 3.2.6 (`GOST_BIN`), both directions: relay, socks5, http and forward
 * over wt with a 32 MiB hash-checked body, a custom path, 20 concurrent
 * streams over one session, and a dost wt listener that keeps serving a gost
 * client after bad CONNECTs, garbage streams and garbage datagrams. Skipped
 * without `GOST_BIN` or curl.
 */
import { assertEquals } from "../../assert.ts";
import { freePort } from "../../e2e/_dost.ts";
import { hasCurl } from "../../e2e/_common.ts";
import { GOST_BIN } from "../../e2e/_gost.ts";
import { H3Connection } from "../../../transports/_h3/connection.ts";
import { encodeFrame, FrameType } from "../../../transports/_h3/frames.ts";
import { parseResponseHead, readHeaders } from "../../../transports/_h3/message.ts";
import { encodeFieldSection, type Field } from "../../../transports/_h3/qpack.ts";
import { StreamReader } from "../../../transports/_h3/stream_reader.ts";
import { certificateHash, probeCertificate } from "../../../transports/h3/mod.ts";
import { BOTH, fetchChecked, makeBody, proxyPair, start, withOrigin, withProcs } from "./_pair.ts";

const big = await makeBody(32 << 20);
const small = await makeBody(1 << 20);

Deno.test({
  name: "interop gost wt: relay, socks5 and http over wt, both directions, 32 MiB hash-checked",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(big, async (port) => {
      for (const proto of ["relay", "socks5", "http"]) {
        const url = (p: number) => `${proto}+wt://127.0.0.1:${p}`;
        for (const [server, client] of BOTH) {
          await t.step(`${proto}+wt: ${server} server, ${client} client`, () =>
            proxyPair(server, client, url, url, (proxy) => fetchChecked(big, `http://127.0.0.1:${port}/`, proxy)));
        }
      }
    }),
});

Deno.test({
  name: "interop gost wt: 20 concurrent streams over one session, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(small, async (port) => {
      for (const scheme of ["relay+wt", "socks5+wt"]) {
        const url = (p: number) => `${scheme}://127.0.0.1:${p}`;
        for (const [server, client] of BOTH) {
          await t.step(`${scheme}: ${server} server, ${client} client`, () =>
            proxyPair(server, client, url, url, async (proxy) => {
              await Promise.all(Array.from({ length: 20 }, () =>
                fetchChecked(small, `http://127.0.0.1:${port}/`, proxy)));
            }));
        }
      }
    }),
});

Deno.test({
  name: "interop gost wt: a custom path and the forward handler, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(small, async (port) => {
      for (const [server, client] of BOTH) {
        const url = (p: number) => `relay+wt://127.0.0.1:${p}?path=/tunnel/x`;
        await t.step(`relay+wt?path=/tunnel/x: ${server} server, ${client} client`, () =>
          proxyPair(server, client, url, url, (proxy) => fetchChecked(small, `http://127.0.0.1:${port}/`, proxy)));
        await t.step(`forward+wt: ${server} server, ${client} client`, () => {
          const [s, c] = [freePort(), freePort()];
          return withProcs([
            () =>
              start(server, ["-L", `wt://127.0.0.1:${s}/127.0.0.1:${port}`]),
            () => start(client, ["-L", `tcp://127.0.0.1:${c}`, "-F", `forward+wt://127.0.0.1:${s}`]),
          ], () => fetchChecked(small, `http://127.0.0.1:${c}/`));
        });
      }
    }),
});

/** A raw HTTP/3 connection to a wt listener, with WebTransport client SETTINGS. */
async function rawClient(port: number): Promise<H3Connection> {
  const [leaf] = await probeCertificate("127.0.0.1", port);
  const endpoint = new Deno.QuicEndpoint({ hostname: "127.0.0.1", port: 0 });
  const quic = await Deno.connectQuic({
    hostname: "127.0.0.1",
    port,
    endpoint,
    alpnProtocols: ["h3"],
    serverCertificateHashes: [{ algorithm: "sha-256", value: await certificateHash(leaf) }],
  } as unknown as Deno.ConnectQuicOptions<false>);
  quic.closed.catch(() => {}).finally(() => endpoint.close());
  const h3 = new H3Connection(quic, false, { settings: [[0x33, 1], [0x2b603742, 1]] });
  h3.start();
  return h3;
}

/** Sends `bytes` on a new request stream; resolves to the response status (0: none). */
async function send(h3: H3Connection, bytes: Uint8Array): Promise<number> {
  const bidi = await h3.quic.createBidirectionalStream();
  const reader = new StreamReader(bidi.readable);
  const writer = bidi.writable.getWriter();
  try {
    await writer.write(bytes);
    const head = await readHeaders(reader, true, { maxFieldSectionSize: 65536 });
    return head ? parseResponseHead(head).status : 0;
  } catch {
    return 0;
  } finally {
    reader.cancel();
    writer.abort().catch(() => {});
  }
}

const headers = (fields: Field[]) => encodeFrame(FrameType.HEADERS, encodeFieldSection(fields));
const connect = (path: string, draft = true): Field[] => [
  [":method", "CONNECT"],
  [":protocol", "webtransport"],
  [":scheme", "https"],
  [":authority", "127.0.0.1"],
  [":path", path],
  ...(draft ? [["sec-webtransport-http3-draft02", "1"] as Field] : []),
];

Deno.test({
  name: "interop gost wt: bad CONNECTs and garbage do not stop a dost wt listener serving a gost client",
  ignore: !GOST_BIN || !hasCurl,
  fn: () =>
    withOrigin(small, (port) => {
      const [s, c] = [freePort(), freePort()];
      return withProcs([
        () => start("dost", ["-L", `relay+wt://127.0.0.1:${s}`]),
        () => start("gost", ["-L", `http://127.0.0.1:${c}`, "-F", `relay+wt://127.0.0.1:${s}`]),
      ], async () => {
        // Plain UDP garbage at the QUIC port.
        const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
        for (const n of [1, 40, 1200]) {
          await sock.send(crypto.getRandomValues(new Uint8Array(n)), {
            transport: "udp",
            hostname: "127.0.0.1",
            port: s,
          });
        }
        sock.close();
        // Bad requests on one connection: each is answered, the connection goes on.
        const h3 = await rawClient(s);
        try {
          assertEquals(await send(h3, headers(connect("/elsewhere"))), 404);
          assertEquals(await send(h3, headers(connect("/wt", false))), 500);
          assertEquals(await send(h3, encodeFrame(FrameType.DATA, new TextEncoder().encode("garbage"))), 400);
          assertEquals(await send(h3, headers(connect("/wt").concat([["x-big", "a".repeat(40_000)]]))), 431);
          // A good session, then a garbage datagram: that connection (and its session) is closed.
          assertEquals(await send(h3, headers(connect("/wt"))), 200);
          await h3.quic.sendDatagram(Uint8Array.of(0x80)); // a truncated varint
          assertEquals((await h3.closed)?.closeCode, 0x33); // H3_DATAGRAM_ERROR
        } finally {
          h3.close();
        }
        // A connection that speaks no HTTP/3 at all: raw bytes on a stream.
        const h3b = await rawClient(s);
        try {
          await send(h3b, crypto.getRandomValues(new Uint8Array(4096)));
        } finally {
          h3b.close();
        }
        await fetchChecked(small, `http://127.0.0.1:${port}/`, `http://127.0.0.1:${c}`);
      });
    }),
});
