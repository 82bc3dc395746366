/**
 * Wire compatibility with gost 3.2.6 (`GOST_BIN`) on every transport dost
 * has, with relay, socks5 and http on top, in both directions: a gost server
 * with a dost client, and a dost server with a gost client. Each case moves a
 * 1 MiB body through the pair with curl and checks its hash. Also reverse
 * tunnels, UDP forwarding, the forward handler, custom paths, concurrent
 * streams on one session and mixed chains. Skipped (and counted) without
 * `GOST_BIN`.
 */
import { assertEquals } from "../../assert.ts";
import { freePort, run } from "../../e2e/_dost.ts";
import { hasCurl } from "../../e2e/_common.ts";
import { GOST_BIN } from "../../e2e/_gost.ts";
import {
  BOTH,
  fetchChecked as fetchBody,
  makeBody,
  proxyPair,
  start,
  withOrigin as withBody,
  withProcs,
} from "./_pair.ts";

const TRANSPORTS = ["tcp", "tls", "ws", "wss", "mws", "mwss", "h2", "h2c", "grpc", "pht", "phts", "h3"];
const PROTOCOLS = ["relay", "socks5", "http"];
const body = await makeBody(1 << 20);
const withOrigin = (fn: (port: number) => Promise<void>) => withBody(body, fn);
const fetchChecked = (url: string, proxy?: string) => fetchBody(body, url, proxy);

for (const transport of TRANSPORTS) {
  Deno.test({
    name: `interop gost: relay, socks5 and http over ${transport}, both directions, 1 MiB hash-checked`,
    ignore: !GOST_BIN || !hasCurl,
    fn: (t) =>
      withOrigin(async (port) => {
        for (const proto of PROTOCOLS) {
          const scheme = transport === "tcp" ? proto : `${proto}+${transport}`;
          const url = (p: number) => `${scheme}://127.0.0.1:${p}`;
          for (const [server, client] of BOTH) {
            await t.step(`${proto}+${transport}: ${server} server, ${client} client`, () =>
              proxyPair(server, client, url, url, (proxy) => fetchChecked(`http://127.0.0.1:${port}/`, proxy)));
          }
        }
      }),
  });
}

Deno.test({
  name: "interop gost: a dost client steers around gost's second-request failure for socks5 over TLS mux sessions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(async (port) => {
      for (const transport of ["mwss", "h2", "grpc"]) {
        const url = (p: number) => `socks5+${transport}://127.0.0.1:${p}`;
        await t.step(`socks5+${transport}: gost server, three requests over one dost session`, () =>
          proxyPair("gost", "dost", url, url, async (proxy) => {
            for (let i = 0; i < 3; i++) {
              await fetchChecked(`http://127.0.0.1:${port}/`, proxy);
            }
          }));
      }
    }),
});

Deno.test({
  name: "interop gost: reverse tunnels (rtcp through relay and socks5 bind) both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(async (port) => {
      for (const scheme of ["relay", "relay+ws", "socks5", "relay+mwss"]) {
        for (const [server, client] of BOTH) {
          await t.step(`rtcp via ${scheme}: ${server} server, ${client} client`, () => {
            const [s, exposed] = [freePort(), freePort()];
            return withProcs([
              () => start(server, ["-L", `${scheme}://127.0.0.1:${s}?bind=true`]),
              () =>
                start(client, [
                  "-L",
                  `rtcp://127.0.0.1:${exposed}/127.0.0.1:${port}`,
                  "-F",
                  `${scheme}://127.0.0.1:${s}`,
                ], 0),
            ], async () => {
              // The remote port opens once the tunnel is up.
              for (let i = 0; i < 50; i++) {
                const r = await run("curl", ["-s", "--max-time", "10", `http://127.0.0.1:${exposed}/`]);
                if (r.bytes.length === body.bytes.length) break;
                await new Promise((res) => setTimeout(res, 100));
              }
              await fetchChecked(`http://127.0.0.1:${exposed}/`);
            });
          });
        }
      }
    }),
});

Deno.test({
  name: "interop gost: 20 concurrent streams over one mws/mwss session, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(async (port) => {
      for (const scheme of ["relay+mws", "relay+mwss", "http+mws"]) {
        const url = (p: number) => `${scheme}://127.0.0.1:${p}`;
        for (const [server, client] of BOTH) {
          await t.step(`${scheme}: ${server} server, ${client} client`, () =>
            proxyPair(server, client, url, url, async (proxy) => {
              await Promise.all(Array.from({ length: 20 }, () =>
                fetchChecked(`http://127.0.0.1:${port}/`, proxy)));
            }));
        }
      }
    }),
});

Deno.test({
  name: "interop gost: a chain that mixes a gost hop and a dost hop, in both orders",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(async (port) => {
      for (const [first, second] of BOTH) {
        await t.step(`client -> ${first} (relay+ws) -> ${second} (socks5+tls) -> target`, () => {
          const [a, b, c] = [freePort(), freePort(), freePort()];
          return withProcs([
            () => start(first, ["-L", `relay+ws://127.0.0.1:${a}`]),
            () => start(second, ["-L", `socks5+tls://127.0.0.1:${b}`]),
            () =>
              start("dost", [
                "-L",
                `http://127.0.0.1:${c}`,
                "-F",
                `relay+ws://127.0.0.1:${a}`,
                "-F",
                `socks5+tls://127.0.0.1:${b}`,
              ]),
          ], () => fetchChecked(`http://127.0.0.1:${port}/`, `http://127.0.0.1:${c}`));
        });
      }
    }),
});

Deno.test({
  name: "interop gost: custom ws, h2 and pht paths, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(async (port) => {
      for (
        const [scheme, query] of [
          ["relay+ws", "?path=/tunnel/x"],
          ["relay+h2", "?path=/h2tunnel"],
          ["relay+pht", "?authorizePath=/a1&pushPath=/p1&pullPath=/q1"],
        ]
      ) {
        const url = (p: number) => `${scheme}://127.0.0.1:${p}${query}`;
        for (const [server, client] of BOTH) {
          await t.step(`${scheme}${query}: ${server} server, ${client} client`, () =>
            proxyPair(server, client, url, url, (proxy) => fetchChecked(`http://127.0.0.1:${port}/`, proxy)));
        }
      }
    }),
});

Deno.test({
  name: "interop gost: the forward handler over tls, ws, mwss, h2c, grpc and pht, both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(async (port) => {
      for (const transport of ["tls", "ws", "mwss", "h2c", "grpc", "pht"]) {
        for (const [server, client] of BOTH) {
          await t.step(`forward+${transport}: ${server} server, ${client} client`, () => {
            const [s, c] = [freePort(), freePort()];
            // The server decides the target (path form); the client's forward connector sends nothing of its own.
            return withProcs([
              () => start(server, ["-L", `${transport}://127.0.0.1:${s}/127.0.0.1:${port}`]),
              () => start(client, ["-L", `tcp://127.0.0.1:${c}`, "-F", `forward+${transport}://127.0.0.1:${s}`]),
            ], () => fetchChecked(`http://127.0.0.1:${c}/`));
          });
        }
      }
    }),
});

/** Sends datagrams to `port` until one comes back; resolves to what came back ("" after `tries`). */
async function udpRoundTrip(port: number, text: string, tries = 30): Promise<string> {
  const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const replies = (async () => {
    try {
      const [d] = await sock.receive();
      return new TextDecoder().decode(d);
    } catch {
      return ""; // closed
    }
  })();
  try {
    for (let i = 0; i < tries; i++) {
      await sock.send(new TextEncoder().encode(text), { transport: "udp", hostname: "127.0.0.1", port });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const got = await Promise.race([replies, new Promise<string>((r) => (timer = setTimeout(() => r(""), 200)))]);
      clearTimeout(timer);
      if (got) return got;
    }
    return "";
  } finally {
    sock.close();
    await replies;
  }
}

Deno.test({
  name: "interop gost: UDP port forwarding through a relay tunnel, both directions",
  ignore: !GOST_BIN,
  async fn(t) {
    const echo = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const echoing = (async () => {
      try {
        for (;;) {
          const [data, from] = await echo.receive();
          await echo.send(data, from);
        }
      } catch { /* closed */ }
    })();
    const echoPort = (echo.addr as Deno.NetAddr).port;
    try {
      for (const [server, client] of BOTH) {
        await t.step(`udp via relay: ${server} server, ${client} client`, () => {
          const [s, u] = [freePort(), freePort()];
          return withProcs([
            () => start(server, ["-L", `relay://127.0.0.1:${s}`]),
            () =>
              start(client, ["-L", `udp://127.0.0.1:${u}/127.0.0.1:${echoPort}`, "-F", `relay://127.0.0.1:${s}`], 0),
          ], async () => assertEquals(await udpRoundTrip(u, "datagram"), "datagram"));
        });
      }
    } finally {
      echo.close();
      await echoing;
    }
  },
});
