/**
 * Exposing a local service from outside (issue 6), as a user runs it: a
 * server dost with `bind=true`, a client dost with `rtcp://`/`rudp://`, and
 * real clients (curl, netcat-openbsd, python3) on the server's port. Also
 * plain UDP port forwarding (`udp://`), the kill-and-reconnect cycle and the
 * port release when a client vanishes.
 */
import { stringify } from "yaml";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import { registerBuiltins } from "../../config/builtins.ts";
import { listenerRegistry } from "../../transports/registry.ts";
import { type DostProcess, freePort, hasCommand, run, startDost } from "./_dost.ts";
import { startOrigin } from "./_servers.ts";

registerBuiltins();
const hasCurl = hasCommand("curl");
const hasNc = hasCommand("nc");
const PYTHON = "/usr/bin/python3";
const hasPython = hasCommand(PYTHON);
const CURL = ["-s", "-S", "--max-time", "10"];
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `n` log lines of `proc` match `re`. */
async function waitLog(proc: DostProcess, re: RegExp, n = 1, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (proc.logs.filter((l) => re.test(l)).length < n) {
    if (Date.now() > until) throw new Error(`no ${n}× ${re} in the logs within ${ms} ms:\n${proc.logs.join("\n")}`);
    await delay(25);
  }
}

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (err) {
    return err instanceof Deno.errors.ConnectionRefused;
  }
}

/** A UDP echo server on loopback that prefixes its answers. */
function udpEcho(prefix = "echo:") {
  const sock = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const loop = (async () => {
    for (;;) {
      try {
        const [d, from] = await sock.receive();
        await sock.send(new Uint8Array([...new TextEncoder().encode(prefix), ...d]), from);
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

/** Sends each message as one datagram from one socket and returns the answers (python3). */
async function pyUdp(port: number, messages: string[]): Promise<string[]> {
  const script = `
import socket, sys, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
out = []
for m in json.loads(sys.argv[2]):
    s.sendto(m.encode(), ("127.0.0.1", int(sys.argv[1])))
    out.append(s.recvfrom(65535)[0].decode())
print(json.dumps(out))
`;
  const r = await run(PYTHON, ["-c", script, String(port), JSON.stringify(messages)], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`python3 failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function ncUdp(port: number, text: string): Promise<string> {
  const r = await run("nc", ["-u", "-w", "1", "127.0.0.1", String(port)], {
    stdin: new TextEncoder().encode(text),
    timeoutMs: 10_000,
  });
  return r.stdout;
}

async function ncTcp(port: number, text: string): Promise<string> {
  // Neither -N nor -q (both half-close after stdin's EOF): smux has no half-close, a FIN ends the whole
  // stream (as in GOST), so the answer would be lost. nc quits after 1 s of silence instead.
  const r = await run("nc", ["-w", "1", "127.0.0.1", String(port)], {
    stdin: new TextEncoder().encode(text),
    timeoutMs: 10_000,
  });
  return r.stdout;
}

/** A TCP echo server for nc. */
function tcpEcho() {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Promise<void>>();
  const loop = (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await ln.accept();
      } catch {
        return;
      }
      const p = (async () => {
        const buf = new Uint8Array(4096);
        try {
          for (let n = await c.read(buf); n !== null; n = await c.read(buf)) {
            await c.write(new Uint8Array([...new TextEncoder().encode("tcp:"), ...buf.subarray(0, n)]));
          }
          await c.closeWrite();
        } catch {
          // gone
        } finally {
          try {
            c.close();
          } catch {
            // closed
          }
        }
      })();
      conns.add(p);
      p.finally(() => conns.delete(p));
    }
  })();
  return {
    port: ln.addr.port,
    async close() {
      ln.close();
      await loop;
      await Promise.all(conns);
    },
  };
}

Deno.test({
  name: "e2e rtcp over relay+ws (CLI): curl and nc reach a local service through the server's port",
  ignore: !hasCurl || !hasNc,
  async fn() {
    const origin = startOrigin();
    const echo = tcpEcho();
    const s = freePort(), web = freePort(), raw = freePort();
    const server = await startDost(["-L", `relay+ws://u:p@127.0.0.1:${s}?bind=true`]);
    const client = await startDost([
      "-L",
      `rtcp://127.0.0.1:${web}/127.0.0.1:${origin.port}`,
      "-L",
      `rtcp://127.0.0.1:${raw}/127.0.0.1:${echo.port}`,
      "-F",
      `relay+ws://u:p@127.0.0.1:${s}`,
    ]);
    try {
      await waitLog(client, /bound tcp/, 2);
      assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${web}/expose`])).stdout, "origin:/expose");
      const big = await run("curl", [...CURL, `http://127.0.0.1:${web}/bytes/3000000`]);
      assertEquals(big.bytes.length, 3_000_000);
      assertEquals(await ncTcp(raw, "hello\n"), "tcp:hello\n");
      // The client logs the real peer address of every carried connection.
      await waitLog(client, /"remote":"127\.0\.0\.1:\d+".*"dst":"127\.0\.0\.1:\d+"/, 3);
      // SIGTERM: the client closes its tunnels and exits 0; the server's bind sessions end, so it exits 0 at once too.
      const t = Date.now();
      assertEquals(await client.stop(), 0);
      assertEquals(await server.stop(), 0);
      assert(Date.now() - t < 5000, `shutdown took ${Date.now() - t} ms`);
    } finally {
      await client.stop("SIGKILL");
      await server.stop("SIGKILL");
      await origin.close();
      await echo.close();
    }
    const logs = server.logs.join("\n") + client.logs.join("\n");
    assert(!logs.includes(":p@"), "credentials never logged");
  },
});

Deno.test({
  name: "e2e rtcp over socks5 (CLI, auth, GOST's TLS method): curl through the server's port",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const s = freePort(), web = freePort();
    const server = await startDost(["-L", `socks5://u:p@127.0.0.1:${s}?bind=true`]);
    const client = await startDost([
      "-L",
      `rtcp://127.0.0.1:${web}/127.0.0.1:${origin.port}`,
      "-F",
      `socks5://u:p@127.0.0.1:${s}`,
    ]);
    try {
      await waitLog(client, /bound tcp/);
      assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${web}/socks`])).stdout, "origin:/socks");
      // A wrong password never binds: the client keeps retrying and says why.
      const bad = freePort();
      const wrong = await startDost([
        "-L",
        `rtcp://127.0.0.1:${bad}/127.0.0.1:${origin.port}`,
        "-F",
        `socks5://u:wrong@127.0.0.1:${s}`,
      ]);
      try {
        await waitLog(wrong, /bind tcp .* failed: .*retrying in 1s/);
        assert(await refused(bad));
      } finally {
        await wrong.stop("SIGKILL");
      }
    } finally {
      await client.stop("SIGKILL");
      await server.stop();
      await origin.close();
    }
  },
});

/** Transports to expose through; h2, grpc and pht join when their areas have registered them. */
const TRANSPORTS = ["tcp", "tls", "ws", "wss", "mws", "mwss", "h2", "h2c", "grpc", "pht", "phts", "h3"].filter((t) =>
  listenerRegistry.has(t)
);

Deno.test({
  name: `e2e rtcp and rudp matrix (YAML): relay and socks5 over ${TRANSPORTS.join(", ")}`,
  ignore: !hasCurl || !hasPython,
  async fn() {
    const origin = startOrigin();
    const echo = udpEcho("m:");
    const cases = TRANSPORTS.flatMap((t) => [
      { proto: "relay", t, hop: freePort(), exposed: freePort(), udp: false },
      { proto: "socks5", t, hop: freePort(), exposed: freePort(), udp: false },
      { proto: "relay", t, hop: freePort(), exposed: freePort(), udp: true },
    ]);
    const dir = await Deno.makeTempDir();
    const serverCfg = {
      services: cases.map((c, i) => ({
        name: `bind-${i}`,
        addr: `127.0.0.1:${c.hop}`,
        handler: { type: c.proto, metadata: { bind: true } },
        listener: { type: c.t },
      })),
    };
    const clientCfg = {
      services: cases.map((c, i) => ({
        name: `expose-${i}`,
        addr: `127.0.0.1:${c.exposed}`,
        handler: { type: c.udp ? "rudp" : "rtcp" },
        listener: { type: c.udp ? "rudp" : "rtcp", chain: `chain-${i}` },
        forwarder: { nodes: [{ name: "origin", addr: `127.0.0.1:${c.udp ? echo.port : origin.port}` }] },
      })),
      chains: cases.map((c, i) => ({
        name: `chain-${i}`,
        hops: [{
          name: `hop-${i}`,
          nodes: [{
            name: `node-${i}`,
            addr: `127.0.0.1:${c.hop}`,
            connector: { type: c.proto },
            dialer: { type: c.t },
          }],
        }],
      })),
    };
    await Deno.writeTextFile(`${dir}/server.yaml`, stringify(serverCfg));
    await Deno.writeTextFile(`${dir}/client.yaml`, stringify(clientCfg));
    const server = await startDost(["-C", `${dir}/server.yaml`], { services: cases.length });
    const client = await startDost(["-C", `${dir}/client.yaml`], { services: cases.length });
    try {
      await waitLog(client, /bound (tcp|udp)/, cases.length, 30_000);
      for (const c of cases) {
        if (c.udp) {
          assertEquals(await pyUdp(c.exposed, [`rudp+${c.t}`]), [`m:rudp+${c.t}`]);
          continue;
        }
        const r = await run("curl", [...CURL, `http://127.0.0.1:${c.exposed}/${c.proto}+${c.t}`]);
        assertEquals(r.stdout, `origin:/${c.proto}+${c.t}`, `${c.proto}+${c.t}: ${r.stderr}`);
      }
    } finally {
      await client.stop("SIGKILL");
      await server.stop("SIGKILL");
      await origin.close();
      await echo.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e rtcp through two hops (socks5 then relay+ws), and rtcp without -F listening locally",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const s5 = freePort(), r = freePort(), remote = freePort(), local = freePort();
    const servers = await startDost(["-L", `socks5://127.0.0.1:${s5}`, "-L", `relay+ws://127.0.0.1:${r}?bind=true`]);
    const client = await startDost([
      "-L",
      `rtcp://127.0.0.1:${remote}/127.0.0.1:${origin.port}`,
      "-F",
      `socks5://127.0.0.1:${s5}`,
      "-F",
      `relay+ws://127.0.0.1:${r}`,
    ]);
    const plain = await startDost(["-L", `rtcp://127.0.0.1:${local}/127.0.0.1:${origin.port}`]);
    try {
      await waitLog(client, /bound tcp/);
      assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${remote}/two-hops`])).stdout, "origin:/two-hops");
      assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${local}/local`])).stdout, "origin:/local");
      // The first hop carried the bind connection: a SOCKS5 CONNECT to the relay server, logged when it ends.
      await client.stop("SIGKILL");
      await waitLog(servers, new RegExp(`"handler":"socks5".*"dst":"127\\.0\\.0\\.1:${r}"`));
    } finally {
      await plain.stop("SIGKILL");
      await client.stop("SIGKILL");
      await servers.stop("SIGKILL");
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e udp through relay forward mode: the server picks the UDP target (-L relay://…/target)",
  ignore: !hasPython,
  async fn() {
    const echo = udpEcho("fwd:");
    const r = freePort(), port = freePort();
    const server = await startDost(["-L", `relay://127.0.0.1:${r}/127.0.0.1:${echo.port}`]);
    const client = await startDost(["-L", `udp://127.0.0.1:${port}`, "-F", `relay://127.0.0.1:${r}`]);
    try {
      assertEquals(await pyUdp(port, ["x", "y"]), ["fwd:x", "fwd:y"]);
    } finally {
      await client.stop("SIGKILL");
      await server.stop("SIGKILL");
      await echo.close();
    }
  },
});

Deno.test({
  name: "e2e rtcp: 40 concurrent inbound connections each get their own stream",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const s = freePort(), web = freePort();
    const server = await startDost(["-L", `relay://127.0.0.1:${s}?bind=true`]);
    const client = await startDost([
      "-L",
      `rtcp://127.0.0.1:${web}/127.0.0.1:${origin.port}`,
      "-F",
      `relay://127.0.0.1:${s}`,
    ]);
    try {
      await waitLog(client, /bound tcp/);
      const urls = Array.from({ length: 40 }, (_, i) => `http://127.0.0.1:${web}/c${i}`);
      const r = await run("curl", [
        ...CURL,
        "-Z",
        "--parallel-max",
        "40",
        "-H",
        "Connection: close",
        "-w",
        "\\n%{http_code} %{url}\\n",
        ...urls,
      ]);
      const codes = r.stdout.split("\n").filter((l) => /^\d{3} http:/.test(l));
      assertEquals(codes.length, 40, r.stdout + r.stderr);
      assert(codes.every((l) => l.startsWith("200 ")), r.stdout);
      for (let i = 0; i < 40; i++) assertStringIncludes(r.stdout, `origin:/c${i}`);
      await waitLog(client, /"dst":"127\.0\.0\.1:\d+"/, 40);
    } finally {
      await client.stop("SIGKILL");
      await server.stop("SIGKILL");
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e rtcp: the server dost is killed and restarted; the client rebinds with back-off and serves again",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const s = freePort(), web = freePort();
    const serverArgs = ["-L", `relay+ws://127.0.0.1:${s}?bind=true`];
    let server = await startDost(serverArgs);
    const client = await startDost([
      "-L",
      `rtcp://127.0.0.1:${web}/127.0.0.1:${origin.port}`,
      "-F",
      `relay+ws://127.0.0.1:${s}`,
    ]);
    try {
      await waitLog(client, /bound tcp/);
      assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${web}/before`])).stdout, "origin:/before");
      await server.stop("SIGKILL");
      await waitLog(client, /tunnel for tcp .* lost.*retrying in 1s/);
      await waitLog(client, /bind tcp .* failed.*retrying in 2s/);
      server = await startDost(serverArgs);
      await waitLog(client, /bound tcp/, 2, 15_000);
      assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${web}/after`])).stdout, "origin:/after");
      const delays = client.logs.map((l) => /retrying in (\d+)s/.exec(l)?.[1]).filter(Boolean).map(Number);
      assertEquals(delays.slice(0, 3), [1, 2, 4].slice(0, delays.length > 3 ? 3 : delays.length));
      assert(delays.every((d) => d <= 5), `capped at 5 s: ${delays}`);
    } finally {
      await client.stop("SIGKILL");
      await server.stop("SIGKILL");
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e rtcp: the server releases the port when the client dies (at once) or hangs (within the keepalive timeout)",
  async fn() {
    const origin = startOrigin();
    const s = freePort(), web = freePort();
    const server = await startDost([
      "-L",
      `relay://127.0.0.1:${s}?bind=true&mux.keepaliveInterval=200ms&mux.keepaliveTimeout=600ms`,
    ]);
    const clientArgs = [
      "-L",
      `rtcp://127.0.0.1:${web}/127.0.0.1:${origin.port}`,
      "-F",
      `relay://127.0.0.1:${s}?mux.keepaliveInterval=200ms&mux.keepaliveTimeout=600ms`,
    ];
    let client = await startDost(clientArgs);
    try {
      await waitLog(client, /bound tcp/);
      assert(!(await refused(web)));
      // Killed: the OS closes its sockets, the server sees the end at once.
      await client.stop("SIGKILL");
      let t = Date.now();
      while (!(await refused(web))) await delay(20);
      assert(Date.now() - t < 2000, `released after ${Date.now() - t} ms`);

      // Hung (SIGSTOP: sockets stay open, no NOPs): released by the keepalive timeout.
      client = await startDost(clientArgs);
      await waitLog(client, /bound tcp/);
      client.child.kill("SIGSTOP");
      t = Date.now();
      while (!(await refused(web))) {
        if (Date.now() - t > 8000) throw new Error("port still bound 8 s after the client hung");
        await delay(50);
      }
      const took = Date.now() - t;
      assert(took >= 300 && took < 5000, `released after ${took} ms (keepalive timeout 600 ms)`);
      client.child.kill("SIGCONT");
      // Woken up, the client notices the dead session and binds again.
      await waitLog(client, /bound tcp/, 2, 15_000);
      assertEquals((await run("curl", [...CURL, `http://127.0.0.1:${web}/again`])).stdout, "origin:/again");
    } finally {
      await client.stop("SIGKILL");
      await server.stop("SIGKILL");
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e rudp over relay and socks5: nc -u and a python3 client reach a local UDP service",
  ignore: !hasNc || !hasPython,
  async fn() {
    const echo = udpEcho();
    const r = freePort(), sk = freePort(), viaRelay = freePort(), viaSocks = freePort();
    const server = await startDost([
      "-L",
      `relay://127.0.0.1:${r}?bind=true`,
      "-L",
      `socks5://127.0.0.1:${sk}?bind=true`,
    ]);
    const c1 = await startDost([
      "-L",
      `rudp://127.0.0.1:${viaRelay}/127.0.0.1:${echo.port}?ttl=2s`,
      "-F",
      `relay://127.0.0.1:${r}`,
    ]);
    const c2 = await startDost([
      "-L",
      `rudp://127.0.0.1:${viaSocks}/127.0.0.1:${echo.port}`,
      "-F",
      `socks5://127.0.0.1:${sk}`,
    ]);
    try {
      await waitLog(c1, /bound udp/);
      await waitLog(c2, /bound udp/);
      for (const port of [viaRelay, viaSocks]) {
        assertEquals(await ncUdp(port, "ping"), "echo:ping");
        assertEquals(await pyUdp(port, ["a", "bb", "x".repeat(3000)]), [
          "echo:a",
          "echo:bb",
          "echo:" + "x".repeat(3000),
        ]);
      }
    } finally {
      await c1.stop("SIGKILL");
      await c2.stop("SIGKILL");
      await server.stop("SIGKILL");
      await echo.close();
    }
  },
});

Deno.test({
  name: "e2e udp port forwarding: direct (keepalive, ttl), through relay UDP and through SOCKS5 UDP-TUN",
  ignore: !hasNc || !hasPython,
  async fn() {
    const echo = udpEcho("dns:");
    const r = freePort(), sk = freePort();
    const direct = freePort(), viaRelay = freePort(), viaSocks = freePort();
    const server = await startDost(["-L", `relay://127.0.0.1:${r}`, "-L", `socks5://127.0.0.1:${sk}?udp=true`]);
    const d = await startDost(["-L", `udp://127.0.0.1:${direct}/127.0.0.1:${echo.port}?ttl=500ms&keepalive=true`]);
    const c1 = await startDost([
      "-L",
      `udp://127.0.0.1:${viaRelay}/127.0.0.1:${echo.port}`,
      "-F",
      `relay://127.0.0.1:${r}`,
    ]);
    const c2 = await startDost([
      "-L",
      `udp://127.0.0.1:${viaSocks}/127.0.0.1:${echo.port}`,
      "-F",
      `socks5://127.0.0.1:${sk}`,
    ]);
    try {
      for (const port of [direct, viaRelay, viaSocks]) {
        assertEquals(await pyUdp(port, ["q1", "q2"]), ["dns:q1", "dns:q2"], `port ${port}`);
        assertEquals(await ncUdp(port, "nc"), "dns:nc");
      }
      // keepalive: one session carried q1 and q2, and ended after ttl=500ms of silence.
      await waitLog(d, /"dst":"127\.0\.0\.1:\d+".*"inputBytes":4,"outputBytes":12/, 1, 5000);
      // Without keepalive (GOST's default) each answer ends its session: q1, q2 and nc are three.
      await waitLog(c1, /"dst":"127\.0\.0\.1:\d+".*"inputBytes":2,"outputBytes":6/, 3, 5000);
    } finally {
      for (const p of [d, c1, c2, server]) await p.stop("SIGKILL");
      await echo.close();
    }
  },
});

/** True when python3 has PySocks (Debian python3-socks). */
const hasPySocks = hasPython &&
  new Deno.Command(PYTHON, { args: ["-c", "import socks"], stdout: "null", stderr: "null" }).outputSync().success;
if (!hasPySocks) console.warn("python3-socks (PySocks) not found: the SOCKS5 UDP ASSOCIATE e2e test is ignored");

Deno.test({
  name: "e2e socks5 UDP ASSOCIATE with PySocks: direct, and through a relay chain",
  ignore: !hasPySocks,
  async fn() {
    const echo = udpEcho("as:");
    const r = freePort(), direct = freePort(), chained = freePort();
    const relay = await startDost(["-L", `relay://127.0.0.1:${r}`]);
    const a = await startDost(["-L", `socks5://u:p@127.0.0.1:${direct}?udp=true`]);
    const b = await startDost(["-L", `socks5://127.0.0.1:${chained}?udp=true`, "-F", `relay://127.0.0.1:${r}`]);
    const script = `
import socks, socket, sys, json
s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.set_proxy(socks.SOCKS5, "127.0.0.1", int(sys.argv[1]), username=sys.argv[3] or None, password=sys.argv[4] or None)
s.settimeout(5)
out = []
for m in ["x", "yy"]:
    s.sendto(m.encode(), ("127.0.0.1", int(sys.argv[2])))
    data, addr = s.recvfrom(65535)
    out.append([data.decode(), addr[1]])
print(json.dumps(out))
`;
    try {
      for (const [port, user, pass] of [[direct, "u", "p"], [chained, "", ""]] as const) {
        const out = await run(PYTHON, ["-c", script, String(port), String(echo.port), user, pass], {
          timeoutMs: 20_000,
        });
        assertEquals(out.code, 0, out.stderr);
        assertEquals(JSON.parse(out.stdout), [["as:x", echo.port], ["as:yy", echo.port]]);
      }
    } finally {
      for (const p of [a, b, relay]) await p.stop("SIGKILL");
      await echo.close();
    }
  },
});

Deno.test({
  name: "e2e -O yaml: rtcp/rudp put -F on listener.chain",
  async fn() {
    const out = await run(Deno.execPath(), [
      "run",
      "--allow-all",
      new URL("../../main.ts", import.meta.url).pathname,
      "-L",
      "rtcp://:2222/127.0.0.1:22",
      "-L",
      "rudp://:5353/127.0.0.1:53",
      "-F",
      "relay+wss://u:p@server:443",
      "-O",
      "yaml",
    ]);
    assertEquals(out.code, 0, out.stderr);
    assertMatch(out.stdout, /listener:\n\s+type: rtcp\n\s+chain: chain-0/);
    assertMatch(out.stdout, /listener:\n\s+type: rudp\n\s+chain: chain-0/);
  },
});
