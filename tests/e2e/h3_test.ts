/**
 * PHT over HTTP/3 as a user runs it: `-L h3://` servers, `-F http3://` and
 * `-F h3://` clients, the HTTP/3 YAML blocks of seed 001, curl traffic
 * through the client's HTTP proxy port to a local origin.
 *
 * Seed 001's server line and block say `http3`; in GOST that listener is an
 * HTTP/3 reverse proxy, not PHT (shared/spec/cli-and-config.md §2.2), so it
 * cannot serve `-F http3://`. dost serves PHT over HTTP/3 there, so the seed's
 * server and client meet; `listener: h3` is the same listener.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { type DostProcess, freePort, run, startDost } from "./_dost.ts";
import { GOST_BIN, startGost } from "./_gost.ts";
import { startOrigin } from "./_servers.ts";
import { curlWith, hasCurl, seedYaml, startYaml } from "./_common.ts";

const curl = curlWith({ maxTime: 20, timeoutMs: 40_000 });
const SEED_SERVER = "gost -L http3://:8443?authorizePath=/authorize&pushPath=/push&pullPath=/pull";
const SEED_CLIENT = "gost -L http://:8000 -F http3://:8443?authorizePath=/authorize&pushPath=/push&pullPath=/pull";

/** Absolute URI, CONNECT and 3 MB through the client's HTTP proxy port. */
async function assertTraffic(proxyPort: number, originPort: number, tag: string) {
  const proxy = `http://127.0.0.1:${proxyPort}`;
  const url = `http://127.0.0.1:${originPort}/${tag}`;
  assertEquals((await curl("-x", proxy, url)).stdout, `origin:/${tag}\n200`, `${tag}: absolute URI`);
  assertEquals((await curl("-p", "-x", proxy, url)).stdout, `origin:/${tag}\n200`, `${tag}: CONNECT`);
  const big = await run(
    "curl",
    ["-s", "--max-time", "40", "-x", proxy, `http://127.0.0.1:${originPort}/bytes/3000000`],
    {
      timeoutMs: 60_000,
    },
  );
  assertEquals(big.bytes.length, 3_000_000, `${tag}: 3 MB`);
  const up = await run("curl", ["-s", "--max-time", "40", "-x", proxy, "--data-binary", "@-", url], {
    stdin: new Uint8Array(1_000_000).fill(98),
    timeoutMs: 60_000,
  });
  assertEquals(up.bytes.length, 1_000_000, `${tag}: 1 MB POST echoed`);
}

async function stopAll(...ps: (DostProcess & { dir?: string } | undefined)[]) {
  for (const p of ps) {
    if (!p) continue;
    await p.stop();
    if (p.dir) await Deno.remove(p.dir, { recursive: true });
  }
}

/** The seed's server block with GOST's PHT-over-HTTP/3 listener in place of the reverse proxy. */
function h3ServerYaml(port: number): string {
  const y = seedYaml(SEED_SERVER)
    .replace(/type: http3\n(\s+)listener:/, "type: auto\n$1listener:")
    .replace(/listener:\n(\s+)type: http3/, "listener:\n$1type: h3")
    .replace(/addr: "?:8443"?/, `addr: 127.0.0.1:${port}`);
  assertStringIncludes(y, "type: h3");
  assertStringIncludes(y, "pushPath: /push");
  return y;
}

const cases: { name: string; server: (p: number) => string[]; client: (c: number, p: number) => string[] }[] = [
  {
    name: "-L h3:// with -F http3://",
    server: (p) => ["-L", `h3://127.0.0.1:${p}`],
    client: (c, p) => ["-L", `http://127.0.0.1:${c}`, "-F", `http3://127.0.0.1:${p}`],
  },
  {
    name: "-L h3:// with -F h3://",
    server: (p) => ["-L", `h3://127.0.0.1:${p}`],
    client: (c, p) => ["-L", `http://127.0.0.1:${c}`, "-F", `h3://127.0.0.1:${p}`],
  },
  {
    name: "seed 001 paths on the command line (server as h3)",
    server: (p) => ["-L", `h3://127.0.0.1:${p}?authorizePath=/authorize&pushPath=/push&pullPath=/pull`],
    client: (c, p) => [
      "-L",
      `http://127.0.0.1:${c}`,
      "-F",
      `http3://127.0.0.1:${p}?authorizePath=/authorize&pushPath=/push&pullPath=/pull`,
    ],
  },
  {
    name: "socks5+h3",
    server: (p) => ["-L", `socks5+h3://127.0.0.1:${p}`],
    client: (c, p) => ["-L", `http://127.0.0.1:${c}`, "-F", `socks5+h3://127.0.0.1:${p}`],
  },
  {
    name: "relay+h3 with auth",
    server: (p) => ["-L", `relay+h3://u:p@127.0.0.1:${p}`],
    client: (c, p) => ["-L", `http://127.0.0.1:${c}`, "-F", `relay+http3://u:p@127.0.0.1:${p}`],
  },
];

for (const k of cases) {
  Deno.test({
    name: `e2e h3: ${k.name} carries curl traffic`,
    ignore: !hasCurl,
    async fn() {
      const origin = startOrigin();
      const p = freePort();
      const c = freePort();
      let server: DostProcess | undefined;
      let client: DostProcess | undefined;
      try {
        server = await startDost(k.server(p));
        client = await startDost(k.client(c, p));
        await assertTraffic(c, origin.port, k.name.replace(/\W+/g, "-"));
      } finally {
        await stopAll(client, server);
        await origin.close();
      }
    },
  });
}

Deno.test({
  name: "e2e h3: seed 001 YAML blocks (server block with listener h3, client block verbatim)",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const p = freePort();
    const c = freePort();
    let server: (DostProcess & { dir: string }) | undefined;
    let client: (DostProcess & { dir: string }) | undefined;
    try {
      server = await startYaml(h3ServerYaml(p), [], "dost-h3-e2e-");
      const clientYaml = seedYaml(SEED_CLIENT)
        .replace(/addr: "?:8000"?/, `addr: 127.0.0.1:${c}`)
        .replace(/addr: "?:8443"?/, `addr: 127.0.0.1:${p}`);
      assertStringIncludes(clientYaml, "type: http3");
      client = await startYaml(clientYaml, [], "dost-h3-e2e-");
      await assertTraffic(c, origin.port, "seed-yaml");
    } finally {
      await stopAll(client, server);
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e h3: seed 001's http3 server line and YAML block run as given and serve the seed's client (dost and gost)",
  ignore: !hasCurl,
  async fn(t) {
    const origin = startOrigin();
    const seedQuery = "?authorizePath=/authorize&pushPath=/push&pullPath=/pull";
    const clients: [string, (args: string[]) => Promise<DostProcess>][] = [["dost", (a) => startDost(a)]];
    if (GOST_BIN) clients.push(["gost", (a) => startGost(a)]);
    try {
      for (const form of ["command line", "YAML block"]) {
        for (const [who, startClient] of clients) {
          await t.step(`${form} server, ${who} client with the seed's -F http3:// line`, async () => {
            const [p, c] = [freePort(), freePort()];
            let server: (DostProcess & { dir?: string }) | undefined;
            let client: DostProcess | undefined;
            try {
              if (form === "YAML block") {
                const yaml = seedYaml(SEED_SERVER).replace(/addr: "?:8443"?/, `addr: 127.0.0.1:${p}`);
                assertStringIncludes(yaml, "type: http3");
                server = await startYaml(yaml, [], "dost-h3-e2e-");
              } else {
                server = await startDost(["-L", `http3://127.0.0.1:${p}${seedQuery}`]);
                assert(server.logs.some((l) => l.includes("PHT over HTTP/3")), server.logs.join("\n"));
              }
              client = await startClient(["-L", `http://127.0.0.1:${c}`, "-F", `http3://127.0.0.1:${p}${seedQuery}`]);
              await assertTraffic(c, origin.port, `seed-http3-${who}`);
            } finally {
              await client?.stop();
              await stopAll(server);
            }
          });
        }
      }
    } finally {
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e h3: 20 parallel curls; the client recovers from a server restart and from a killed server",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const p = freePort();
    const c = freePort();
    let server: DostProcess | undefined;
    let client: DostProcess | undefined;
    try {
      server = await startDost(["-L", `h3://127.0.0.1:${p}`]);
      client = await startDost(["-L", `http://127.0.0.1:${c}`, "-F", `http3://127.0.0.1:${p}`]);
      const proxy = `http://127.0.0.1:${c}`;
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => curl("-x", proxy, `http://127.0.0.1:${origin.port}/p${i}`)),
      );
      results.forEach((r, i) => assertEquals(r.stdout, `origin:/p${i}\n200`));
      // Restart the server (new certificate: the client re-probes and pins it). A clean stop
      // closes the QUIC connection, so the very next request goes through.
      await server.stop();
      server = await startDost(["-L", `h3://127.0.0.1:${p}`]);
      assertEquals((await curl("-x", proxy, `http://127.0.0.1:${origin.port}/again`)).stdout, "origin:/again\n200");
      // A killed server tells nobody: the client's next session on the stale connection gets no
      // answer, and the same dial retries on a new connection.
      await server.stop("SIGKILL");
      server = await startDost(["-L", `h3://127.0.0.1:${p}`]);
      const t0 = Date.now();
      assertEquals((await curl("-x", proxy, `http://127.0.0.1:${origin.port}/killed`)).stdout, "origin:/killed\n200");
      assert(Date.now() - t0 < 10_000, `recovered in ${Date.now() - t0} ms`);
    } finally {
      await stopAll(client, server);
      await origin.close();
    }
  },
});
