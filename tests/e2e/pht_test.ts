/**
 * The PHT transports (pht, phts) as a user runs them: every command line and
 * YAML block of seed 002 and the PHT part of seed 001, with the seeds' ports
 * moved to free loopback ports, each carrying real traffic (curl through the
 * client dost to a local origin); pht as a later hop of a chain; and nginx
 * in front of pht and phts with `proxy_buffering` on and off, each carrying
 * 64 MiB both ways intact (gost issue #721).
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { type DostProcess, freePort, run, startDost } from "./_dost.ts";
import { assertTraffic, clientPort, curlWith, hasCurl, Ports, seedYaml, startYaml } from "./_common.ts";
import { hasNginx, startNginx } from "./_nginx.ts";
import { startOrigin } from "./_servers.ts";
import { generateCertificate } from "../../transports/tls/mod.ts";

const curl = curlWith({ maxTime: 20, timeoutMs: 40_000 });

interface Scenario {
  name: string;
  /** Server command lines (seed syntax and ports). */
  server: string[];
  /** The client command line; its first -L is an HTTP proxy on `http://:PORT`. */
  client: string;
  /** The seed's server YAML, run with -C against the CLI client. */
  serverYaml?: string;
  /** The seed's client YAML, run with -C against the CLI server. */
  clientYaml?: string;
}

async function stopAll(procs: (DostProcess & { dir?: string })[]) {
  for (const p of procs) {
    assertEquals(await p.stop(), 0, "dost exits 0 on SIGTERM");
    if (p.dir) await Deno.remove(p.dir, { recursive: true });
  }
}

async function runScenario(s: Scenario, mode: "cli" | "server-yaml" | "client-yaml") {
  const origin = startOrigin();
  const ports = new Ports();
  const procs: (DostProcess & { dir?: string })[] = [];
  try {
    if (mode === "server-yaml") procs.push(await startYaml(ports.yaml(s.serverYaml!), [], "dost-pht-e2e-"));
    else for (const cmd of s.server) procs.push(await startDost(ports.args(cmd)));
    if (mode === "client-yaml") procs.push(await startYaml(ports.yaml(s.clientYaml!), [], "dost-pht-e2e-"));
    else procs.push(await startDost(ports.args(s.client)));
    await assertTraffic(curl, clientPort(ports, s.client), origin.port, `${s.name.replace(/\W+/g, "-")}-${mode}`);
  } finally {
    await stopAll(procs);
    await origin.close();
  }
  const logs = procs.flatMap((p) => p.logs);
  assert(!logs.some((l) => /"level":"(error|fatal)"/.test(l)), logs.filter((l) => /error|fatal/.test(l)).join("\n"));
}

const SEED001_SERVER_PHT = "gost -L relay+pht://:8080?authorizePath=/authorize&pushPath=/push&pullPath=/pull";
const SEED001_CLIENT_PHT =
  "gost -L http://:8000 -F relay+pht://:8080?authorizePath=/authorize&pushPath=/push&pullPath=/pull";
const SEED002_HTTP_PHT = 'gost -L "http+pht://:8443?authorizePath=/authorize&pushPath=/push&pullPath=/pull"';
const SEED002_HTTP_PHTS = 'gost -L "http+phts://:8443?authorizePath=/authorize&pushPath=/push&pullPath=/pull"';

const SCENARIOS: Scenario[] = [
  {
    name: "001 relay+pht with paths",
    server: [SEED001_SERVER_PHT],
    client: SEED001_CLIENT_PHT,
    serverYaml: seedYaml(SEED001_SERVER_PHT),
    clientYaml: seedYaml(SEED001_CLIENT_PHT),
  },
  {
    name: "001 relay+phts",
    server: ["gost -L relay+phts://:8080"],
    client: "gost -L http://:8000 -F relay+phts://:8080",
    serverYaml: seedYaml("gost -L relay+phts://:8080"),
    clientYaml: seedYaml("gost -L http://:8000 -F relay+phts://:8080"),
  },
  {
    name: "002 http+pht with paths",
    server: [SEED002_HTTP_PHT],
    client: "gost -L http://:8000 -F http+pht://:8443?authorizePath=/authorize&pushPath=/push&pullPath=/pull",
    serverYaml: seedYaml(SEED002_HTTP_PHT),
  },
  {
    name: "002 http+phts with paths",
    server: [SEED002_HTTP_PHTS],
    client: "gost -L http://:8000 -F http+phts://:8443?authorizePath=/authorize&pushPath=/push&pullPath=/pull",
    serverYaml: seedYaml(SEED002_HTTP_PHTS),
  },
  {
    name: "002 http+pht",
    server: ["gost -L http+pht://:8443"],
    client: "gost -L http://:8000 -F http+pht://:8443",
    serverYaml: seedYaml("gost -L http+pht://:8443"),
  },
  {
    name: "002 socks5+pht",
    server: ["gost -L socks5+pht://:8443"],
    client: "gost -L http://:8000 -F socks5+pht://:8443",
    serverYaml: seedYaml("gost -L socks5+pht://:8443"),
  },
  {
    name: "002 relay+pht",
    server: ["gost -L relay+pht://:8443"],
    client: "gost -L http://:8000 -F relay+pht://:8443",
    serverYaml: seedYaml("gost -L relay+pht://:8443"),
  },
  {
    // The forward target is a SOCKS5 server, so port 8443 "is equivalent to socks5+pht://:8443".
    name: "002 pht port forwarding",
    server: ["gost -L pht://:8443/:1080 -L socks5://:1080"],
    client: "gost -L http://:8000 -F socks5+pht://:8443",
    serverYaml: seedYaml("gost -L pht://:8443/:1080 -L socks5://:1080"),
  },
  {
    name: "002 forward+pht port forwarding",
    server: ["gost -L forward+pht://:8443/:1080 -L socks5://:1080"],
    client: "gost -L http://:8000 -F socks5+pht://:8443",
    serverYaml: seedYaml("gost -L forward+pht://:8443/:1080 -L socks5://:1080"),
  },
];

for (const s of SCENARIOS) {
  Deno.test({ name: `e2e pht seed ${s.name}: command lines`, ignore: !hasCurl, fn: () => runScenario(s, "cli") });
  if (s.serverYaml) {
    Deno.test({
      name: `e2e pht seed ${s.name}: server YAML`,
      ignore: !hasCurl,
      fn: () => runScenario(s, "server-yaml"),
    });
  }
  if (s.clientYaml) {
    Deno.test({
      name: `e2e pht seed ${s.name}: client YAML`,
      ignore: !hasCurl,
      fn: () => runScenario(s, "client-yaml"),
    });
  }
}

Deno.test({
  name: "e2e pht: the auto handler (default) serves HTTP and SOCKS5 over one pht listener; phts as a later hop",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const s = freePort(), hop = freePort(), c1 = freePort(), c2 = freePort();
    const procs: DostProcess[] = [];
    try {
      procs.push(await startDost(["-L", `pht://127.0.0.1:${s}`, "-L", `phts://127.0.0.1:${hop}`]));
      // socks5 inside pht to the auto handler; http inside phts, reached through the pht hop (a chain of two).
      procs.push(
        await startDost([
          "-L",
          `http://127.0.0.1:${c1}`,
          "-F",
          `socks5+pht://127.0.0.1:${s}`,
        ]),
      );
      procs.push(
        await startDost([
          "-L",
          `http://127.0.0.1:${c2}`,
          "-F",
          `http+pht://127.0.0.1:${s}`,
          "-F",
          `http+phts://127.0.0.1:${hop}`,
        ]),
      );
      await assertTraffic(curl, c1, origin.port, "auto-socks5");
      await assertTraffic(curl, c2, origin.port, "two-hops");
    } finally {
      await stopAll(procs);
      await origin.close();
    }
  },
});

/** Random bytes, hashed. */
async function randomFile(dir: string, size: number): Promise<{ path: string; sha: string }> {
  const data = new Uint8Array(size);
  for (let off = 0; off < size; off += 65536) crypto.getRandomValues(data.subarray(off, Math.min(off + 65536, size)));
  const path = `${dir}/payload.bin`;
  await Deno.writeFile(path, data);
  return { path, sha: await sha256(data) };
}

async function sha256(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

const CERT = generateCertificate({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });

const NGINX_CASES: { scheme: "pht" | "phts"; buffering: boolean; http10?: boolean }[] = [
  { scheme: "pht", buffering: true },
  { scheme: "pht", buffering: false },
  { scheme: "phts", buffering: true },
  { scheme: "phts", buffering: false },
  // nginx's defaults as many users leave them: HTTP/1.0 to the upstream, buffering on.
  { scheme: "pht", buffering: true, http10: true },
];

for (const { scheme, buffering, http10 } of NGINX_CASES) {
  const what = `proxy_buffering ${buffering ? "on" : "off"}${http10 ? ", HTTP/1.0 upstream" : ""}`;
  Deno.test({
    name: `e2e ${scheme} behind nginx (${what}): 64 MiB up and down intact`,
    ignore: !hasCurl || !hasNginx,
    async fn() {
      const origin = startOrigin();
      const dir = await Deno.makeTempDir({ prefix: "dost-pht-nginx-" });
      const s = freePort(), c = freePort();
      const procs: DostProcess[] = [];
      let nginx;
      try {
        const cert = await CERT;
        procs.push(await startDost(["-L", `relay+${scheme}://127.0.0.1:${s}`]));
        nginx = await startNginx({
          mode: "http",
          upstream: `127.0.0.1:${s}`,
          upstreamTls: scheme === "phts",
          tls: scheme === "phts" ? { cert: cert.cert, key: cert.key } : undefined,
          buffering,
          http10,
        });
        procs.push(
          await startDost(["-L", `http://127.0.0.1:${c}`, "-F", `relay+${scheme}://127.0.0.1:${nginx.port}`]),
        );
        await assertTraffic(curl, c, origin.port, `nginx-${scheme}`);
        const payload = await randomFile(dir, 64 << 20);
        const t0 = performance.now();
        const out = await run("curl", [
          "-s",
          "-S",
          "--max-time",
          "120",
          "-p",
          "-x",
          `http://127.0.0.1:${c}`,
          "--data-binary",
          `@${payload.path}`,
          `http://127.0.0.1:${origin.port}/echo`,
        ], { timeoutMs: 150_000 });
        const secs = (performance.now() - t0) / 1000;
        assertEquals(out.code, 0, out.stderr);
        assertEquals(out.bytes.length, 64 << 20, "64 MiB came back");
        assertEquals(await sha256(out.bytes), payload.sha, "the echo is intact");
        console.log(`    ${scheme} via nginx (${what}): 2 × 64 MiB in ${secs.toFixed(1)} s`);
        const access = await nginx.accessLog();
        assertMatch(access, /uri=\/authorize\?? status=200/);
        assertMatch(access, /uri=\/push\?token=[0-9a-v]{20} status=200/);
        assertMatch(access, /uri=\/pull\?token=[0-9a-v]{20} status=200/);
      } finally {
        await stopAll(procs);
        await nginx?.close();
        await origin.close();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
