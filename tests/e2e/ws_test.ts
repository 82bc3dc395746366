/**
 * The WebSocket transports (ws, wss, mws, mwss) as a user runs them: every
 * command line and YAML block of seed 003 and the WebSocket ones of seed 001,
 * with the seeds' ports moved to free loopback ports, each carrying real
 * traffic (curl through the client dost to a local origin); nginx as a
 * reverse proxy in front of each listener; and the reliability the issue asks
 * for (one mws session for many requests, server crash and restart, bad input).
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { type DostProcess, freePort, startDost } from "./_dost.ts";
import { assertTraffic, clientPort, curlWith, hasCurl, Ports, seedYaml, startYaml } from "./_common.ts";
import { hasNginx, startNginx } from "./_nginx.ts";
import { startOrigin } from "./_servers.ts";
import { SEED_YAML_ONLY } from "../fixtures/config/seeds.ts";
import { generateCertificate } from "../../transports/tls/mod.ts";

const curl = curlWith({ maxTime: 15, timeoutMs: 30_000 });

interface Scenario {
  name: string;
  /** Server command lines (seed syntax, seed ports). */
  server: string[];
  /** The client command line; its first -L is an HTTP proxy. */
  client: string;
  /** YAML for the server (seed block), run with -C against the CLI client. */
  serverYaml?: string;
  /** YAML for the client (seed block), run with -C against the CLI server. */
  clientYaml?: string;
  /** Extra checks on the server's trace log lines. */
  serverLog?: RegExp[];
}

async function runScenario(s: Scenario, mode: "cli" | "server-yaml" | "client-yaml") {
  const origin = startOrigin();
  const ports = new Ports();
  const servers: (DostProcess & { dir?: string })[] = [];
  let client: (DostProcess & { dir?: string }) | undefined;
  try {
    if (mode === "server-yaml") servers.push(await startYaml(ports.yaml(s.serverYaml!), ["-DD"], "dost-ws-e2e-"));
    else for (const cmd of s.server) servers.push(await startDost([...ports.args(cmd), "-DD"]));
    if (mode === "client-yaml") {
      client = await startYaml(ports.yaml(s.clientYaml!), [], "dost-ws-e2e-");
    } else {
      client = await startDost(ports.args(s.client));
    }
    await assertTraffic(curl, clientPort(ports, s.client), origin.port, `${s.name.replace(/\W+/g, "-")}-${mode}`);
    const logs = servers.flatMap((p) => p.logs).join("\n");
    for (const re of s.serverLog ?? []) assertMatch(logs, re, `${s.name} (${mode}): server log`);
  } finally {
    await client?.stop();
    for (const p of servers) await p.stop();
    for (const p of [client, ...servers]) if (p?.dir) await Deno.remove(p.dir, { recursive: true });
    await origin.close();
  }
}

const SCENARIOS: Scenario[] = [
  {
    name: "ws (auto handler, HTTP CONNECT inside)",
    server: ["gost -L ws://:8080"],
    client: "gost -L http://:8000 -F ws://:8080",
    serverYaml: seedYaml("gost -L ws://:8080"),
    // GOST's request: Host is the node address with its port, Go's User-Agent, path /ws.
    serverLog: [/GET \/ws HTTP\/1\.1\\r\\nHost: 127\.0\.0\.1:\d+\\r\\nUser-Agent: Go-http-client\/1\.1/],
  },
  {
    name: "wss",
    server: ["gost -L wss://:8080"],
    client: "gost -L http://:8000 -F wss://:8080",
    serverYaml: seedYaml("gost -L wss://:8080"),
  },
  {
    name: "mws",
    server: ["gost -L mws://:8443"],
    client: "gost -L http://:8080 -F mws://:8443",
    serverYaml: seedYaml("gost -L mws://:8443"),
  },
  {
    name: "mwss",
    server: ["gost -L mwss://:8443"],
    client: "gost -L http://:8080 -F mwss://:8443",
    serverYaml: seedYaml("gost -L mwss://:8443"),
  },
  {
    name: "wss path=/ws",
    server: ["gost -L wss://:8443?path=/ws"],
    client: "gost -L http://:8080 -F wss://:8443?path=/ws",
    serverYaml: seedYaml("gost -L wss://:8443?path=/ws"),
    clientYaml: seedYaml("gost -L http://:8080 -F wss://:8443?path=/ws"),
  },
  {
    name: "wss host=example.com",
    server: ["gost -L wss://:8443"],
    client: "gost -L http://:8080 -F wss://:8443?host=example.com",
    clientYaml: seedYaml("gost -L http://:8080 -F wss://:8443?host=example.com"),
    serverLog: [/\\r\\nHost: example\.com\\r\\n/],
  },
  {
    name: "wss keepalive=true ttl=15s",
    server: ["gost -L wss://:8443"],
    client: 'gost -L http://:8080 -F "wss://:8443?keepalive=true&ttl=15s"',
    clientYaml: seedYaml('gost -L http://:8080 -F "wss://:8443?keepalive=true&ttl=15s"'),
  },
  {
    name: "wss custom request headers (YAML header map)",
    server: ["gost -L wss://:8443"],
    client: "gost -L http://:8080 -F wss://:8443",
    clientYaml: SEED_YAML_ONLY.find((y) => y.seed === "003" && y.yaml.includes("foo: bar"))!.yaml,
    // The header map must put its headers on the wire.
    serverLog: [/\\r\\nUser-Agent: gost\/3\.0\\r\\n/, /\\r\\nFoo: bar/],
  },
  {
    name: "http+wss",
    server: ["gost -L http+wss://:8443"],
    client: "gost -L http://:8080 -F http+wss://:8443",
    serverYaml: seedYaml("gost -L http+wss://:8443"),
  },
  {
    name: "socks5+wss",
    server: ["gost -L socks5+wss://:8443"],
    client: "gost -L http://:8080 -F socks5+wss://:8443",
    serverYaml: seedYaml("gost -L socks5+wss://:8443"),
  },
  {
    name: "relay+wss",
    server: ["gost -L relay+wss://:8443"],
    client: "gost -L http://:8080 -F relay+wss://:8443",
    serverYaml: seedYaml("gost -L relay+wss://:8443"),
  },
  {
    name: "relay+mwss (the seed's `# type: mwss` variant)",
    server: ["gost -L relay+mwss://:8443"],
    client: "gost -L http://:8080 -F relay+mwss://:8443",
  },
  {
    name: "wss port forwarding to a SOCKS5 service",
    server: ["gost -L wss://:8443/:1080 -L socks5://:1080"],
    client: "gost -L http://:8080 -F socks5+wss://:8443",
    serverYaml: seedYaml("gost -L wss://:8443/:1080 -L socks5://:1080"),
  },
  {
    name: "forward+wss port forwarding (same as wss://:8443/:1080)",
    server: ["gost -L forward+wss://:8443/:1080 -L socks5://:1080"],
    client: "gost -L http://:8080 -F socks5+wss://:8443",
    serverYaml: seedYaml("gost -L forward+wss://:8443/:1080 -L socks5://:1080"),
  },
  {
    name: "socks5+ws with user:pass (seed 001)",
    server: ["gost -L socks5+ws://user:pass@:1080"],
    client: "gost -L http://:8000 -F socks5+ws://user:pass@:1080",
    serverYaml: seedYaml("gost -L socks5+ws://user:pass@:1080"),
    clientYaml: seedYaml("gost -L http://:8000 -F socks5+ws://user:pass@:1080"),
  },
];

for (const s of SCENARIOS) {
  Deno.test({
    name: `e2e ${s.name}: ${[...s.server, s.client].join(" | ")}`,
    ignore: !hasCurl,
    async fn() {
      // The header scenario is YAML-only (a map cannot be given on the command line).
      if (!s.name.startsWith("wss custom")) await runScenario(s, "cli");
      if (s.serverYaml) await runScenario(s, "server-yaml");
      if (s.clientYaml) await runScenario(s, "client-yaml");
    },
  });
}

Deno.test({
  name: "e2e ws: wrong credentials and a wrong path fail the request, never the servers",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const ports = new Ports();
    const server = await startDost([
      ...ports.args("gost -L socks5+ws://user:pass@:1080"),
      ...ports.args("gost -L wss://:8443?path=/tunnel"),
    ]);
    const bad = await startDost(ports.args("gost -L http://:8000 -F socks5+ws://user:wrong@:1080"));
    const wrongPath = await startDost(ports.args("gost -L http://:8001 -F wss://:8443?path=/other"));
    const good = await startDost(ports.args("gost -L http://:8002 -F wss://:8443?path=/tunnel"));
    const url = `http://127.0.0.1:${origin.port}/x`;
    try {
      assert(!(await curl("-x", `http://127.0.0.1:${ports.port("8000")}`, url)).stdout.endsWith("200"));
      assert(!(await curl("-x", `http://127.0.0.1:${ports.port("8001")}`, url)).stdout.endsWith("200"));
      assertEquals((await curl("-x", `http://127.0.0.1:${ports.port("8002")}`, url)).stdout, "origin:/x\n200");
      const log = wrongPath.logs.join("\n");
      assertStringIncludes(log, "404", "the client names the server's answer");
    } finally {
      for (const p of [bad, wrongPath, good, server]) await p.stop();
      await origin.close();
    }
  },
});

// ---------------------------------------------------------------- nginx in front

for (const kind of ["ws", "wss", "mws", "mwss"]) {
  Deno.test({
    name: `e2e nginx: dost client -> nginx -> dost ${kind} server (relay+${kind})`,
    ignore: !hasCurl || !hasNginx,
    async fn() {
      const tls = kind.endsWith("ss");
      const origin = startOrigin();
      const s = freePort(), c = freePort();
      const server = await startDost(["-L", `relay+${kind}://u:p@127.0.0.1:${s}`]);
      const nginx = await startNginx({
        upstream: `127.0.0.1:${s}`,
        upstreamTls: tls,
        tls: tls ? await generateCertificate({ dnsNames: ["localhost"] }) : undefined,
      });
      const client = await startDost([
        "-L",
        `http://127.0.0.1:${c}`,
        "-F",
        `relay+${kind}://u:p@127.0.0.1:${nginx.port}`,
      ]);
      try {
        await assertTraffic(curl, c, origin.port, `nginx-${kind}`);
        // Several concurrent tunnels through nginx at once.
        const results = await Promise.all(
          Array.from(
            { length: 10 },
            (_, i) => curl("-x", `http://127.0.0.1:${c}`, `http://127.0.0.1:${origin.port}/n${i}`),
          ),
        );
        results.forEach((r, i) => assertEquals(r.stdout, `origin:/n${i}\n200`));
      } finally {
        await client.stop();
        await nginx.close().catch(() => {});
        await server.stop();
        await origin.close();
      }
    },
  });
}

Deno.test({
  name: "e2e nginx: the access log shows the upgrades (101, Upgrade: websocket, Host from ?host=)",
  ignore: !hasCurl || !hasNginx,
  async fn() {
    const origin = startOrigin();
    const s = freePort(), c = freePort();
    const server = await startDost(["-L", `ws://127.0.0.1:${s}`]);
    const nginx = await startNginx({ upstream: `127.0.0.1:${s}` });
    const client = await startDost([
      "-L",
      `http://127.0.0.1:${c}`,
      "-F",
      `ws://127.0.0.1:${nginx.port}?host=example.com`,
    ]);
    try {
      assertEquals(
        (await curl("-x", `http://127.0.0.1:${c}`, `http://127.0.0.1:${origin.port}/log`)).stdout,
        "origin:/log\n200",
      );
      await client.stop();
      // nginx logs a WebSocket request when the tunnel ends.
      let log = "";
      for (let i = 0; i < 50 && !log.includes("status=101"); i++) {
        await new Promise((r) => setTimeout(r, 50));
        log = await nginx.accessLog();
      }
      assertStringIncludes(log, "host=example.com uri=/ws status=101 upgrade=websocket");
    } finally {
      await client.stop();
      await nginx.close().catch(() => {});
      await server.stop();
      await origin.close();
    }
  },
});

// ---------------------------------------------------------------- reliability (the list)

function countLines(p: DostProcess, text: string): number {
  return p.logs.filter((l) => l.includes(text)).length;
}

Deno.test({
  name: "e2e mws: 100 sequential and 50 concurrent requests all succeed over one session",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const s = freePort(), c = freePort();
    const server = await startDost(["-L", `mws://127.0.0.1:${s}`, "-D"]);
    const client = await startDost(["-L", `http://127.0.0.1:${c}`, "-F", `mws://127.0.0.1:${s}`, "-D"]);
    const proxy = `http://127.0.0.1:${c}`;
    try {
      for (let i = 0; i < 100; i++) {
        const r = await curl("-x", proxy, `http://127.0.0.1:${origin.port}/s${i}`);
        assertEquals(r.stdout, `origin:/s${i}\n200`);
      }
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => curl("-p", "-x", proxy, `http://127.0.0.1:${origin.port}/c${i}`)),
      );
      results.forEach((r, i) => assertEquals(r.stdout, `origin:/c${i}\n200`));
      assertEquals(countLines(server, "mux session started"), 1, "one WebSocket carried all 150 requests");
      assertEquals(countLines(client, "mux session started"), 1);
    } finally {
      await client.stop();
      await server.stop();
      await origin.close();
    }
  },
});

/**
 * An origin that drips 16 KiB every 20 ms for a minute: a long transfer that
 * never fills the mux receive buffer (smux does not time out a session whose
 * reader is stalled on a full buffer, so a rate-limited client would hide the
 * keepalive under its own backlog).
 */
function startDrip(): { port: number; close(): Promise<void> } {
  const ac = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} }, () => {
    let timer: ReturnType<typeof setInterval> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        let n = 0;
        timer = setInterval(() => {
          if (n++ > 3000) {
            clearInterval(timer);
            ctl.close();
          } else ctl.enqueue(new Uint8Array(16 * 1024).fill(100));
        }, 20);
      },
      cancel() {
        clearInterval(timer);
      },
    });
    ac.signal.addEventListener("abort", () => clearInterval(timer));
    return new Response(body);
  });
  return {
    port: server.addr.port,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

/** A long download through the proxy; resolves with curl's exit code and when it ended. */
function longDownload(proxyPort: number, originPort: number) {
  const child = new Deno.Command("curl", {
    args: [
      "-s",
      "-o",
      "/dev/null",
      "--max-time",
      "60",
      "-x",
      `http://127.0.0.1:${proxyPort}`,
      `http://127.0.0.1:${originPort}/`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  return child.status.then((st) => ({ code: st.code, at: performance.now() }));
}

const MUX_FAST = "mux.keepaliveInterval=200ms&mux.keepaliveTimeout=1s";

Deno.test({
  name: "e2e mws: a frozen server (SIGSTOP) cuts the client's streams within the mux keepalive timeout",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const s = freePort(), c = freePort();
    const drip = startDrip();
    const server = await startDost(["-L", `mws://127.0.0.1:${s}?${MUX_FAST}`]);
    const client = await startDost(["-L", `http://127.0.0.1:${c}`, "-F", `mws://127.0.0.1:${s}?${MUX_FAST}`]);
    try {
      const downloads = [longDownload(c, drip.port), longDownload(c, drip.port)];
      await new Promise((r) => setTimeout(r, 700));
      server.child.kill("SIGSTOP");
      const t0 = performance.now();
      const ended = await Promise.all(downloads);
      for (const e of ended) {
        assert(e.code !== 0, "the transfer was cut, not completed");
        const took = e.at - t0;
        // smux checks once per keepaliveTimeout for silence since the last check: at most 2 × 1 s.
        assert(took < 2500, `stream ended ${took.toFixed(0)} ms after the server froze (keepalive timeout 1 s)`);
      }
      server.child.kill("SIGCONT");
    } finally {
      await client.stop();
      await server.stop("SIGKILL");
      await origin.close();
      await drip.close();
    }
  },
});

Deno.test({
  name:
    "e2e mws/mwss: server killed mid-transfer (SIGKILL): streams end at once, the first request after restart succeeds",
  ignore: !hasCurl,
  async fn() {
    for (const kind of ["mws", "mwss"]) {
      const origin = startOrigin();
      const s = freePort(), c = freePort();
      const drip = startDrip();
      const serverArgs = ["-L", `${kind}://127.0.0.1:${s}?${MUX_FAST}`];
      let server = await startDost(serverArgs);
      const client = await startDost(["-L", `http://127.0.0.1:${c}`, "-F", `${kind}://127.0.0.1:${s}?${MUX_FAST}`]);
      const proxy = `http://127.0.0.1:${c}`;
      try {
        assertEquals((await curl("-x", proxy, `http://127.0.0.1:${origin.port}/before`)).stdout, "origin:/before\n200");
        const downloads = [longDownload(c, drip.port), longDownload(c, drip.port), longDownload(c, drip.port)];
        await new Promise((r) => setTimeout(r, 700));
        const t0 = performance.now();
        await server.stop("SIGKILL");
        const ended = await Promise.all(downloads);
        for (const e of ended) {
          assert(e.code !== 0, `${kind}: the transfer was cut`);
          assert(e.at - t0 < 2000, `${kind}: stream ended ${(e.at - t0).toFixed(0)} ms after the kill`);
        }
        server = await startDost(serverArgs);
        // The very first request after the restart: no "two requests needed".
        assertEquals(
          (await curl("-x", proxy, `http://127.0.0.1:${origin.port}/after`)).stdout,
          "origin:/after\n200",
          `${kind}: first request after restart`,
        );
        assertEquals(
          (await curl("-p", "-x", proxy, `http://127.0.0.1:${origin.port}/again`)).stdout,
          "origin:/again\n200",
        );
      } finally {
        await client.stop();
        await server.stop();
        await origin.close();
        await drip.close();
      }
    }
  },
});

Deno.test({
  name:
    "e2e ws/mws servers: wrong path, missing upgrade headers and bad frames get an HTTP error or a close, never a crash",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const w = freePort(), m = freePort(), c1 = freePort(), c2 = freePort();
    const server = await startDost(["-L", `ws://127.0.0.1:${w}`, "-L", `mws://127.0.0.1:${m}`]);
    const send = async (port: number, bytes: string | Uint8Array) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
        const buf = new Uint8Array(4096);
        let out = "";
        const timer = setTimeout(() => conn.close(), 5000);
        try {
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            out += new TextDecoder().decode(buf.subarray(0, n));
          }
        } catch {
          // reset or closed by the timer
        } finally {
          clearTimeout(timer);
        }
        return out;
      } finally {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
    };
    const upgrade = (path: string) =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    try {
      for (const port of [w, m]) {
        assertMatch(await send(port, upgrade("/wrong")), /^HTTP\/1\.1 404 /);
        assertMatch(await send(port, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"), /^HTTP\/1\.1 400 /);
        assertMatch(await send(port, upgrade("/ws").replace("GET", "PUT")), /^HTTP\/1\.1 405 /);
        assertMatch(await send(port, "\x00\xff\x13garbage\r\n\r\n"), /^HTTP\/1\.1 400 /);
        // A valid upgrade, then an unmasked frame (clients must mask): the server answers 101, then closes.
        const frames = upgrade("/ws") + "\x82\x03abc";
        const after = await send(port, frames);
        assert(after === "" || after.startsWith("HTTP/1.1 101"), JSON.stringify(after.slice(0, 80)));
        // A valid upgrade and a valid masked frame carrying garbage for the handler / smux.
        const masked = new Uint8Array([
          0x82,
          0x88,
          1,
          2,
          3,
          4,
          ...[9, 9, 9, 9, 9, 9, 9, 9].map((b, i) => b ^ [1, 2, 3, 4][i % 4]),
        ]);
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(new TextEncoder().encode(upgrade("/ws")));
        await new Promise((r) => setTimeout(r, 50));
        await conn.write(masked).catch(() => 0);
        const buf = new Uint8Array(4096);
        const timer = setTimeout(() => conn.close(), 5000);
        try {
          while ((await conn.read(buf)) !== null);
        } catch {
          // reset or closed by the timer
        } finally {
          clearTimeout(timer);
        }
        try {
          conn.close();
        } catch {
          // closed
        }
      }
      // Still serving both listeners, same process.
      const cw = await startDost(["-L", `http://127.0.0.1:${c1}`, "-F", `ws://127.0.0.1:${w}`]);
      const cm = await startDost(["-L", `http://127.0.0.1:${c2}`, "-F", `mws://127.0.0.1:${m}`]);
      try {
        assertEquals(
          (await curl("-x", `http://127.0.0.1:${c1}`, `http://127.0.0.1:${origin.port}/ok`)).stdout,
          "origin:/ok\n200",
        );
        assertEquals(
          (await curl("-x", `http://127.0.0.1:${c2}`, `http://127.0.0.1:${origin.port}/ok`)).stdout,
          "origin:/ok\n200",
        );
      } finally {
        await cw.stop();
        await cm.stop();
      }
      assert(!server.logs.some((l) => /uncaught|panic|"level":"fatal"/i.test(l)), server.logs.join("\n"));
    } finally {
      assertEquals(await server.stop(), 0, "the server exits cleanly on SIGTERM");
      await origin.close();
    }
  },
});
