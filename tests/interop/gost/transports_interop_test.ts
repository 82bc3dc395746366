/**
 * Wire compatibility with gost 3.2.6 (`GOST_BIN`) on every transport dost
 * has, with relay, socks5 and http on top, in both directions: a gost server
 * with a dost client, and a dost server with a gost client. Each case moves a
 * 1 MiB body through the pair with curl and checks its hash. Skipped (and
 * counted) without `GOST_BIN`.
 */
import { assertEquals } from "../../assert.ts";
import { freePort, run, startDost } from "../../e2e/_dost.ts";
import { hasCurl } from "../../e2e/_common.ts";
import { GOST_BIN, startGost } from "../../e2e/_gost.ts";
import { sha256 } from "../../../transports/_testing.ts";

const SIZE = 1 << 20;
const body = new Uint8Array(SIZE).map((_, i) => (i * 31 + 7) & 0xff);
const digest = sha256;
const want = await digest(body);

/** Transport schemes and the query both sides need. */
const TRANSPORTS: [string, string][] = [
  ["tcp", ""],
  ["tls", ""],
  ["ws", ""],
  ["wss", ""],
  ["mws", ""],
  ["mwss", ""],
  ["h2", ""],
  ["h2c", ""],
  ["grpc", ""],
  ["pht", ""],
  ["phts", ""],
  ["h3", ""],
];
const PROTOCOLS = ["relay", "socks5", "http"];

type Impl = "dost" | "gost";

async function start(impl: Impl, args: string[]): Promise<() => Promise<unknown>> {
  if (impl === "gost") return (await startGost(args, 1)).stop;
  // A gost PHT client keeps its session open: a short grace keeps the stop quick.
  const p = await startDost(args, { services: 1, env: { DOST_SHUTDOWN_GRACE: "1s" } });
  return () => p.stop();
}

for (const [transport, query] of TRANSPORTS) {
  Deno.test({
    name: `interop gost: relay, socks5 and http over ${transport}, both directions, 1 MiB hash-checked`,
    ignore: !GOST_BIN || !hasCurl,
    async fn(t) {
      const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
      try {
        for (const proto of PROTOCOLS) {
          for (const [server, client] of [["gost", "dost"], ["dost", "gost"]] as [Impl, Impl][]) {
            await t.step(`${proto}+${transport}: ${server} server, ${client} client`, async () => {
              const [s, c] = [freePort(), freePort()];
              const scheme = transport === "tcp" ? proto : `${proto}+${transport}`;
              const stopServer = await start(server, ["-L", `${scheme}://127.0.0.1:${s}${query}`]);
              try {
                const stopClient = await start(client, [
                  "-L",
                  `http://127.0.0.1:${c}`,
                  "-F",
                  `${scheme}://127.0.0.1:${s}${query}`,
                ]);
                try {
                  const r = await run("curl", [
                    "-s",
                    "--max-time",
                    "20",
                    "-x",
                    `http://127.0.0.1:${c}`,
                    `http://127.0.0.1:${origin.addr.port}/`,
                  ]);
                  assertEquals(r.bytes.length, SIZE, `curl exit ${r.code}: ${r.stderr}`);
                  assertEquals(await digest(r.bytes), want);
                } finally {
                  await stopClient();
                }
              } finally {
                await stopServer();
              }
            });
          }
        }
      } finally {
        await origin.shutdown();
      }
    },
  });
}

Deno.test({
  name: "interop gost: a dost client steers around gost's second-request failure for socks5 over TLS mux sessions",
  ignore: !GOST_BIN || !hasCurl,
  async fn(t) {
    const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("ok"));
    try {
      for (const transport of ["mwss", "h2", "grpc"]) {
        await t.step(`socks5+${transport}: gost server, three requests over one dost session`, async () => {
          const [s, c] = [freePort(), freePort()];
          const stopServer = await start("gost", ["-L", `socks5+${transport}://127.0.0.1:${s}`]);
          const stopClient = await start("dost", [
            "-L",
            `http://127.0.0.1:${c}`,
            "-F",
            `socks5+${transport}://127.0.0.1:${s}`,
          ]);
          try {
            for (let i = 0; i < 3; i++) {
              const r = await run("curl", [
                "-s",
                "-w",
                "%{http_code}",
                "-x",
                `http://127.0.0.1:${c}`,
                `http://127.0.0.1:${origin.addr.port}/`,
              ]);
              assertEquals(r.stdout, "ok200", `request ${i + 1}`);
            }
          } finally {
            await stopClient();
            await stopServer();
          }
        });
      }
    } finally {
      await origin.shutdown();
    }
  },
});

Deno.test({
  name: "interop gost: reverse tunnels (rtcp through relay and socks5 bind) both directions",
  ignore: !GOST_BIN || !hasCurl,
  async fn(t) {
    const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
    try {
      for (const scheme of ["relay", "relay+ws", "socks5", "relay+mwss"]) {
        for (const [server, client] of [["gost", "dost"], ["dost", "gost"]] as [Impl, Impl][]) {
          await t.step(`rtcp via ${scheme}: ${server} server, ${client} client`, async () => {
            const [s, exposed] = [freePort(), freePort()];
            const stopServer = await start(server, ["-L", `${scheme}://127.0.0.1:${s}?bind=true`]);
            const stopClient = await startRtcp(client, [
              "-L",
              `rtcp://127.0.0.1:${exposed}/127.0.0.1:${origin.addr.port}`,
              "-F",
              `${scheme}://127.0.0.1:${s}`,
            ]);
            try {
              let r;
              for (let i = 0; i < 50; i++) {
                r = await run("curl", ["-s", "--max-time", "10", `http://127.0.0.1:${exposed}/`]);
                if (r.bytes.length === SIZE) break;
                await new Promise((res) => setTimeout(res, 100)); // the remote port opens once the tunnel is up
              }
              assertEquals(r!.bytes.length, SIZE, `curl exit ${r!.code}`);
              assertEquals(await digest(r!.bytes), want);
            } finally {
              await stopClient();
              await stopServer();
            }
          });
        }
      }
    } finally {
      await origin.shutdown();
    }
  },
});

/** The rtcp side listens nowhere locally: it is ready once its process runs; the test polls the remote port. */
async function startRtcp(impl: Impl, args: string[]): Promise<() => Promise<unknown>> {
  if (impl === "gost") return (await startGost(args, 0)).stop;
  const p = await startDost(args, { services: 0, env: { DOST_SHUTDOWN_GRACE: "1s" } });
  return () => p.stop();
}

Deno.test({
  name: "interop gost: 20 concurrent streams over one mws/mwss session, both directions",
  ignore: !GOST_BIN || !hasCurl,
  async fn(t) {
    const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
    try {
      for (const scheme of ["relay+mws", "relay+mwss", "http+mws"]) {
        for (const [server, client] of [["gost", "dost"], ["dost", "gost"]] as [Impl, Impl][]) {
          await t.step(`${scheme}: ${server} server, ${client} client`, async () => {
            const [s, c] = [freePort(), freePort()];
            const stopServer = await start(server, ["-L", `${scheme}://127.0.0.1:${s}`]);
            const stopClient = await start(client, ["-L", `http://127.0.0.1:${c}`, "-F", `${scheme}://127.0.0.1:${s}`]);
            try {
              const all = await Promise.all(
                Array.from(
                  { length: 20 },
                  () =>
                    run("curl", [
                      "-s",
                      "--max-time",
                      "30",
                      "-x",
                      `http://127.0.0.1:${c}`,
                      `http://127.0.0.1:${origin.addr.port}/`,
                    ]),
                ),
              );
              for (const r of all) assertEquals(await digest(r.bytes), want, `curl exit ${r.code}`);
            } finally {
              await stopClient();
              await stopServer();
            }
          });
        }
      }
    } finally {
      await origin.shutdown();
    }
  },
});

Deno.test({
  name: "interop gost: a chain that mixes a gost hop and a dost hop, in both orders",
  ignore: !GOST_BIN || !hasCurl,
  async fn(t) {
    const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
    try {
      for (const [first, second] of [["gost", "dost"], ["dost", "gost"]] as [Impl, Impl][]) {
        await t.step(`client -> ${first} (relay+ws) -> ${second} (socks5+tls) -> target`, async () => {
          const [a, b, c] = [freePort(), freePort(), freePort()];
          const stopA = await start(first, ["-L", `relay+ws://127.0.0.1:${a}`]);
          const stopB = await start(second, ["-L", `socks5+tls://127.0.0.1:${b}`]);
          const stopC = await start("dost", [
            "-L",
            `http://127.0.0.1:${c}`,
            "-F",
            `relay+ws://127.0.0.1:${a}`,
            "-F",
            `socks5+tls://127.0.0.1:${b}`,
          ]);
          try {
            const r = await run("curl", [
              "-s",
              "--max-time",
              "20",
              "-x",
              `http://127.0.0.1:${c}`,
              `http://127.0.0.1:${origin.addr.port}/`,
            ]);
            assertEquals(await digest(r.bytes), want, `curl exit ${r.code}`);
          } finally {
            await stopC();
            await stopB();
            await stopA();
          }
        });
      }
    } finally {
      await origin.shutdown();
    }
  },
});

Deno.test({
  name: "interop gost: custom ws, h2 and pht paths, both directions",
  ignore: !GOST_BIN || !hasCurl,
  async fn(t) {
    const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
    try {
      for (
        const [scheme, query] of [
          ["relay+ws", "?path=/tunnel/x"],
          ["relay+h2", "?path=/h2tunnel"],
          ["relay+pht", "?authorizePath=/a1&pushPath=/p1&pullPath=/q1"],
        ]
      ) {
        for (const [server, client] of [["gost", "dost"], ["dost", "gost"]] as [Impl, Impl][]) {
          await t.step(`${scheme}${query}: ${server} server, ${client} client`, async () => {
            const [s, c] = [freePort(), freePort()];
            const stopServer = await start(server, ["-L", `${scheme}://127.0.0.1:${s}${query}`]);
            const stopClient = await start(client, [
              "-L",
              `http://127.0.0.1:${c}`,
              "-F",
              `${scheme}://127.0.0.1:${s}${query}`,
            ]);
            try {
              const r = await run("curl", [
                "-s",
                "--max-time",
                "20",
                "-x",
                `http://127.0.0.1:${c}`,
                `http://127.0.0.1:${origin.addr.port}/`,
              ]);
              assertEquals(await digest(r.bytes), want, `curl exit ${r.code}`);
            } finally {
              await stopClient();
              await stopServer();
            }
          });
        }
      }
    } finally {
      await origin.shutdown();
    }
  },
});

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
      for (const [server, client] of [["gost", "dost"], ["dost", "gost"]] as [Impl, Impl][]) {
        await t.step(`udp via relay: ${server} server, ${client} client`, async () => {
          const [s, u] = [freePort(), freePort()];
          const stopServer = await start(server, ["-L", `relay://127.0.0.1:${s}`]);
          const stopClient = await startRtcp(client, [
            "-L",
            `udp://127.0.0.1:${u}/127.0.0.1:${echoPort}`,
            "-F",
            `relay://127.0.0.1:${s}`,
          ]);
          const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
          try {
            let reply = "";
            for (let i = 0; i < 30 && reply !== "datagram"; i++) {
              await sock.send(new TextEncoder().encode("datagram"), {
                transport: "udp",
                hostname: "127.0.0.1",
                port: u,
              });
              const got = await Promise.race([
                sock.receive().then(([d]) => new TextDecoder().decode(d)),
                new Promise<string>((r) => setTimeout(() => r(""), 200)),
              ]);
              reply = got;
            }
            assertEquals(reply, "datagram");
          } finally {
            sock.close();
            await stopClient();
            await stopServer();
          }
        });
      }
    } finally {
      echo.close();
      await echoing;
    }
  },
});

Deno.test({
  name: "interop gost: the forward handler over tls, ws, mwss, h2c, grpc and pht, both directions",
  ignore: !GOST_BIN || !hasCurl,
  async fn(t) {
    const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response(body));
    try {
      for (const transport of ["tls", "ws", "mwss", "h2c", "grpc", "pht"]) {
        for (const [server, client] of [["gost", "dost"], ["dost", "gost"]] as [Impl, Impl][]) {
          await t.step(`forward+${transport}: ${server} server, ${client} client`, async () => {
            const [s, c] = [freePort(), freePort()];
            // The server decides the target (path form); the client's forward connector sends nothing of its own.
            const stopServer = await start(server, [
              "-L",
              `${transport}://127.0.0.1:${s}/127.0.0.1:${origin.addr.port}`,
            ]);
            const stopClient = await start(client, [
              "-L",
              `tcp://127.0.0.1:${c}`,
              "-F",
              `forward+${transport}://127.0.0.1:${s}`,
            ]);
            try {
              const r = await run("curl", ["-s", "--max-time", "20", `http://127.0.0.1:${c}/`]);
              assertEquals(await digest(r.bytes), want, `curl exit ${r.code}`);
            } finally {
              await stopClient();
              await stopServer();
            }
          });
        }
      }
    } finally {
      await origin.shutdown();
    }
  },
});
