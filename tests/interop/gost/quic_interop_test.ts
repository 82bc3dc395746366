/**
 * Wire compatibility with gost 3.2.6 (`GOST_BIN`) on the `quic` transport:
 * relay, socks5, http and forward over QUIC streams in both directions (a
 * gost server with a dost client, and a dost server with a gost client),
 * 32 MiB hash-checked; 20 concurrent streams over one session; and garbage
 * UDP datagrams sent to a dost quic listener before and during a transfer.
 * Skipped (and counted) without `GOST_BIN`.
 */
import { assertEquals } from "../../assert.ts";
import { type DostProcess, freePort, startDost } from "../../e2e/_dost.ts";
import { hasCurl } from "../../e2e/_common.ts";
import { GOST_BIN, startGost } from "../../e2e/_gost.ts";
import { pattern, readExactly } from "../../../transports/_testing.ts";
import { Logger } from "../../../transports/log.ts";
import { Metadata } from "../../../transports/metadata.ts";
import { netDial } from "../../../transports/tcp/mod.ts";
import { writeAll } from "../../../transports/_io/write_all.ts";
import { quicDialer } from "../../../transports/quic/mod.ts";
import { addrFeature, CMD_CONNECT, encodeRequest, readResponse, STATUS_OK } from "../../../handlers/relay/protocol.ts";
import { BOTH, fetchChecked, type Impl, makeBody, proxyPair, start, withOrigin, withProcs } from "./_pair.ts";

const big = await makeBody(32 << 20);
const small = await makeBody(1 << 20);

Deno.test({
  name: "interop gost: relay, socks5 and http over quic, both directions, 32 MiB hash-checked",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(big, async (port) => {
      for (const proto of ["relay", "socks5", "http"]) {
        const url = (p: number) => `${proto}+quic://127.0.0.1:${p}`;
        for (const [server, client] of BOTH) {
          await t.step(`${proto}+quic: ${server} server, ${client} client`, () =>
            proxyPair(server, client, url, url, (proxy) => fetchChecked(big, `http://127.0.0.1:${port}/`, proxy)));
        }
      }
    }),
});

Deno.test({
  name: "interop gost: the forward handler over quic, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(small, async (port) => {
      for (const [server, client] of BOTH) {
        await t.step(`forward+quic: ${server} server, ${client} client`, () => {
          const [s, c] = [freePort(), freePort()];
          return withProcs([
            () => start(server, ["-L", `quic://127.0.0.1:${s}/127.0.0.1:${port}`]),
            () => start(client, ["-L", `tcp://127.0.0.1:${c}`, "-F", `forward+quic://127.0.0.1:${s}`]),
          ], () => fetchChecked(small, `http://127.0.0.1:${c}/`));
        });
      }
    }),
});

/** Starts gost or dost, keeping its log lines. */
async function startLogged(impl: Impl, args: string[]): Promise<DostProcess> {
  return impl === "gost" ? await startGost(args) : await startDost(args, { env: { DOST_SHUTDOWN_GRACE: "1s" } });
}

/** The client addresses (`remote`) a server logged for the conns it handled. */
function remotes(logs: string[]): Set<string> {
  const out = new Set<string>();
  for (const line of logs) {
    try {
      const rec = JSON.parse(line);
      if (typeof rec.remote === "string" && typeof rec.outputBytes === "number") out.add(rec.remote);
    } catch {
      // not a JSON line (quic-go prints a note about UDP buffer sizes)
    }
  }
  return out;
}

Deno.test({
  name: "interop gost: 20 concurrent streams over one quic session, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(small, async (port) => {
      for (const scheme of ["relay+quic", "http+quic"]) {
        for (const [server, client] of BOTH) {
          await t.step(`${scheme}: ${server} server, ${client} client`, async () => {
            const [s, c] = [freePort(), freePort()];
            const srv = await startLogged(server, ["-L", `${scheme}://127.0.0.1:${s}`]);
            try {
              await withProcs([
                () => start(client, ["-L", `http://127.0.0.1:${c}`, "-F", `${scheme}://127.0.0.1:${s}`]),
              ], async () => {
                const proxy = `http://127.0.0.1:${c}`;
                // The first request opens the session; the 20 that follow share it.
                await fetchChecked(small, `http://127.0.0.1:${port}/`, proxy);
                await Promise.all(
                  Array.from({ length: 20 }, () => fetchChecked(small, `http://127.0.0.1:${port}/`, proxy)),
                );
              });
            } finally {
              await srv.stop();
            }
            // Every conn the server handled came from one UDP address: one QUIC connection.
            const from = remotes(srv.logs);
            assertEquals(from.size, 1, [...from].join(", "));
          });
        }
      }
    }),
});

/** Sends `count` datagrams of junk (some shaped like QUIC long headers) to `port` on loopback. */
async function sendGarbage(port: number, count: number, seed: number): Promise<void> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const to: Deno.NetAddr = { transport: "udp", hostname: "127.0.0.1", port };
    for (let i = 0; i < count; i++) {
      const junk = pattern(8 + ((i * 53) % 1500), seed + i);
      if (i % 3 === 0) junk.set([0xc0, 0, 0, 0, 1], 0); // a QUIC v1 Initial header, then nonsense
      if (i % 3 === 1) junk.set([0xc0, 0x0a, 0x1a, 0x2a, 0x3a], 0); // an unknown version
      await sock.send(junk, to);
    }
  } finally {
    sock.close();
  }
}

Deno.test({
  name: "interop gost: garbage UDP datagrams to a dost quic listener do not stop it serving a gost client",
  ignore: !GOST_BIN || !hasCurl,
  fn: () =>
    withOrigin(big, (port) => {
      const [s, c] = [freePort(), freePort()];
      return withProcs([
        () => start("dost", ["-L", `relay+quic://127.0.0.1:${s}`]),
        () => start("gost", ["-L", `http://127.0.0.1:${c}`, "-F", `relay+quic://127.0.0.1:${s}`]),
      ], async () => {
        await sendGarbage(s, 500, 1);
        const proxy = `http://127.0.0.1:${c}`;
        // Junk keeps arriving while a transfer runs on the real session.
        await Promise.all([fetchChecked(big, `http://127.0.0.1:${port}/`, proxy), sendGarbage(s, 2000, 1000)]);
        await fetchChecked(big, `http://127.0.0.1:${port}/`, proxy);
      });
    }),
});

Deno.test({
  name: "interop gost: a quic stream that sends junk to a dost relay server is closed, the session and others go on",
  ignore: !GOST_BIN || !hasCurl,
  fn: () =>
    withOrigin(small, (port) => {
      const [s, c] = [freePort(), freePort()];
      return withProcs([
        () => start("dost", ["-L", `relay+quic://127.0.0.1:${s}`]),
        () => start("gost", ["-L", `http://127.0.0.1:${c}`, "-F", `relay+quic://127.0.0.1:${s}`]),
      ], async () => {
        const dialer = quicDialer({
          metadata: new Metadata({}),
          tls: { secure: false },
          log: new Logger({}, { level: "error", sink: () => {} }),
        });
        try {
          const junk = await dialer.dial(`127.0.0.1:${s}`, netDial);
          const good = await dialer.dial(`127.0.0.1:${s}`, netDial);
          await writeAll(junk, pattern(4096, 7)); // not a relay request
          // The relay handler gives up on it: the stream ends (EOF or reset), nothing else does.
          const buf = new Uint8Array(64);
          for (;;) if ((await junk.read(buf).catch(() => null)) === null) break;
          junk.close();
          await fetchChecked(small, `http://127.0.0.1:${port}/`, `http://127.0.0.1:${c}`);
          // The other stream on the same session still works: a relay CONNECT to the origin, then HTTP.
          // The server answers with the target's first bytes (gost's lazy response), so the GET goes first.
          await writeAll(good, encodeRequest({ cmd: CMD_CONNECT, features: [addrFeature(`127.0.0.1:${port}`)] }));
          await writeAll(good, new TextEncoder().encode("GET / HTTP/1.0\r\nHost: x\r\n\r\n"));
          assertEquals((await readResponse(good))?.status, STATUS_OK);
          assertEquals(new TextDecoder().decode(await readExactly(good, 12)), "HTTP/1.0 200");
          good.close();
        } finally {
          dialer.close?.();
        }
      });
    }),
});

Deno.test({
  name: "interop gost: a dost chain with a quic hop first and a relay hop through it, to gost and dost servers",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(small, async (port) => {
      for (const [first, second] of BOTH) {
        await t.step(`dost -> ${first} (relay+quic) -> ${second} (socks5) -> target`, () => {
          const [a, b, c] = [freePort(), freePort(), freePort()];
          return withProcs([
            () => start(first, ["-L", `relay+quic://127.0.0.1:${a}`]),
            () => start(second, ["-L", `socks5://127.0.0.1:${b}`]),
            () =>
              start("dost", [
                "-L",
                `http://127.0.0.1:${c}`,
                "-F",
                `relay+quic://127.0.0.1:${a}`,
                "-F",
                `socks5://127.0.0.1:${b}`,
              ]),
          ], () => fetchChecked(small, `http://127.0.0.1:${port}/`, `http://127.0.0.1:${c}`));
        });
      }
    }),
});
