/**
 * gost 3.2.6's tunnel handler and connector against dost's, both ways round:
 * a tunnel server with an entrypoint, a client exposing an HTTP origin with
 * `-L rtcp://:0/… -F tunnel+ws://…?tunnel.id=`, and curl on the entrypoint
 * (1 MiB, hash-checked, routed by Host); a visitor (`-L tcp://…/host:80 -F
 * tunnel://…?tunnel.id=`) and an external entrypoint (`entrypoint.id`).
 * Skipped (and counted) without `GOST_BIN`.
 */
import { assertEquals } from "../../assert.ts";
import { freePort, run } from "../../e2e/_dost.ts";
import { hasCurl } from "../../e2e/_common.ts";
import { GOST_BIN } from "../../e2e/_gost.ts";
import { sha256 } from "../../../transports/_testing.ts";
import { BOTH, type Impl, makeBody, start, withOrigin, withProcs } from "./_pair.ts";

const A = "4d21094e-b74c-4916-86c1-d9fa36ea677b";
const EP = "9fd6c586-86f9-49c1-a03a-d4876851695a";
const body = await makeBody(1 << 20);
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** curl until the whole body arrives (a client registers its tunnel a moment after it starts). */
async function fetchWhole(args: string[]): Promise<void> {
  let last = "";
  for (let i = 0; i < 100; i++) {
    const r = await run("curl", ["-s", "--max-time", "20", ...args]);
    if (r.bytes.length === body.bytes.length) {
      assertEquals(await sha256(r.bytes), body.hash);
      return;
    }
    last = `exit ${r.code}, ${r.bytes.length} bytes: ${r.stderr}`;
    await delay(100);
  }
  throw new Error(`never got the body: ${last}`);
}

Deno.test({
  name: "interop gost: tunnel server with an entrypoint and a tunnel client, both directions, over tcp and ws",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(body, async (origin) => {
      for (const transport of ["tcp", "ws"]) {
        const scheme = transport === "tcp" ? "tunnel" : `tunnel+${transport}`;
        for (const [server, client] of BOTH) {
          await t.step(`${scheme}: ${server} server, ${client} client`, async () => {
            const [s, e] = [freePort(), freePort()];
            await withProcs([
              () =>
                start(server, [
                  "-L",
                  `${scheme}://127.0.0.1:${s}?entrypoint=127.0.0.1:${e}&tunnel=.example.com:${A}`,
                ]),
              () =>
                start(client, [
                  "-L",
                  `rtcp://:0/127.0.0.1:${origin}`,
                  "-F",
                  `${scheme}://127.0.0.1:${s}?tunnel.id=${A}`,
                ]),
            ], async () => {
              await fetchWhole(["--resolve", `app.example.com:${e}:127.0.0.1`, `http://app.example.com:${e}/`]);
              const miss = await run("curl", [
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--resolve",
                `x.example.net:${e}:127.0.0.1`,
                `http://x.example.net:${e}/`,
              ]);
              assertEquals(miss.stdout, "502");
            });
          });
        }
      }
    }),
});

/** Every mix of server, exposing client and visitor implementations where dost plays at least one part. */
const TRIOS: [Impl, Impl, Impl][] = [
  ["gost", "dost", "dost"],
  ["gost", "gost", "dost"],
  ["gost", "dost", "gost"],
  ["dost", "gost", "gost"],
  ["dost", "dost", "gost"],
  ["dost", "gost", "dost"],
];

Deno.test({
  name: "interop gost: tunnel visitors (tunnel.id) and an external entrypoint (entrypoint.id), mixed implementations",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(body, async (origin) => {
      for (const [server, client, visitor] of TRIOS) {
        await t.step(`${server} server, ${client} client, ${visitor} visitor`, async () => {
          const [s, v, x] = [freePort(), freePort(), freePort()];
          await withProcs([
            () => start(server, ["-L", `tunnel://127.0.0.1:${s}?entrypoint.id=${EP}&tunnel=app.example.com:${A}`]),
            () =>
              start(client, ["-L", `rtcp://:0/127.0.0.1:${origin}`, "-F", `tunnel://127.0.0.1:${s}?tunnel.id=${A}`]),
            () =>
              start(visitor, [
                "-L",
                `tcp://127.0.0.1:${v}/app.example.com:80`,
                "-F",
                `tunnel://127.0.0.1:${s}?tunnel.id=${A}`,
              ]),
            () =>
              start(visitor, [
                "-L",
                `tcp://127.0.0.1:${x}/app.example.com:80`,
                "-F",
                `tunnel://127.0.0.1:${s}?tunnel.id=${EP}`,
              ]),
          ], async () => {
            await fetchWhole([`http://127.0.0.1:${v}/`]);
            await fetchWhole([`http://127.0.0.1:${x}/`]);
          });
        });
      }
    }),
});

/** A UDP echo server on loopback that prefixes its answers. */
function udpEcho() {
  const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const loop = (async () => {
    for (;;) {
      try {
        const [d, from] = await sock.receive();
        await sock.send(new Uint8Array([...new TextEncoder().encode("echo:"), ...d]), from);
      } catch {
        return;
      }
    }
  })();
  return {
    port: (sock.addr as Deno.NetAddr).port,
    async close() {
      sock.close();
      await loop;
    },
  };
}

/** Sends `msg` to 127.0.0.1:`port` until an answer comes (the tunnel may still be registering). */
async function udpAsk(port: number, msg: string): Promise<string> {
  const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    for (let i = 0; i < 40; i++) {
      await sock.send(new TextEncoder().encode(msg), { transport: "udp", hostname: "127.0.0.1", port });
      const got = await Promise.race([sock.receive().then(([d]) => new TextDecoder().decode(d)), delay(300)]);
      if (typeof got === "string") return got;
    }
    throw new Error(`no answer to ${msg}`);
  } finally {
    sock.close();
  }
}

Deno.test({
  name: "interop gost: a UDP tunnel (rudp client, udp visitor), mixed implementations",
  ignore: !GOST_BIN,
  fn: async (t) => {
    const echo = udpEcho();
    try {
      for (const [server, client, visitor] of TRIOS) {
        await t.step(`${server} server, ${client} client, ${visitor} visitor`, async () => {
          const [s, v] = [freePort(), freePort()];
          await withProcs([
            () => start(server, ["-L", `tunnel://127.0.0.1:${s}?tunnel=dns.test:${A}`]),
            () =>
              start(client, ["-L", `rudp://:0/127.0.0.1:${echo.port}`, "-F", `tunnel://127.0.0.1:${s}?tunnel.id=${A}`]),
            () =>
              start(visitor, [
                "-L",
                `udp://127.0.0.1:${v}/dns.test:53`,
                "-F",
                `tunnel://127.0.0.1:${s}?tunnel.id=${A}`,
              ]),
          ], async () => {
            assertEquals(await udpAsk(v, "one"), "echo:one");
            assertEquals(await udpAsk(v, "two"), "echo:two");
          });
        });
      }
    } finally {
      await echo.close();
    }
  },
});

Deno.test({
  name: "interop gost: tunnel with user auth, and gost's external entrypoint form (tcp sniffing=true), both directions",
  ignore: !GOST_BIN || !hasCurl,
  fn: (t) =>
    withOrigin(body, async (origin) => {
      for (const [server, client] of BOTH) {
        await t.step(`${server} server, ${client} client and entrypoint`, async () => {
          const [s, x] = [freePort(), freePort()];
          await withProcs([
            () =>
              start(server, [
                "-L",
                `tunnel://alice:s3cret@127.0.0.1:${s}?entrypoint.id=${EP}&tunnel=.app.test:${A}`,
              ]),
            () =>
              start(client, [
                "-L",
                `rtcp://:0/127.0.0.1:${origin}`,
                "-F",
                `tunnel://alice:s3cret@127.0.0.1:${s}?tunnel.id=${A}`,
              ]),
            () =>
              start(client, [
                "-L",
                `tcp://127.0.0.1:${x}?sniffing=true`,
                "-F",
                `tunnel://alice:s3cret@127.0.0.1:${s}?tunnel.id=${EP}`,
              ]),
          ], async () => {
            await fetchWhole(["--resolve", `www.app.test:${x}:127.0.0.1`, `http://www.app.test:${x}/`]);
          });
        });
      }
    }),
});
