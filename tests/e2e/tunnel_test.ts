/**
 * gost's reverse-proxy tunnel as a user runs it (issue 14): a dost tunnel
 * server with a public entrypoint, dost clients holding tunnels over ws/wss,
 * and real clients on the entrypoint: curl with `--resolve`/`--connect-to`
 * for HTTP by Host, curl and `openssl s_client -servername` for TLS by SNI
 * (passed through, the origin's own certificate arrives). Ingress rules from
 * a file and a real redis-server, reloaded; the sniffing `tcp` forwarder.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { type DostProcess, freePort, hasCommand, run, runDost, startDost } from "./_dost.ts";
import { curlWith, hasCurl } from "./_common.ts";
import { startOrigin } from "./_servers.ts";
import { generateCertificate } from "../../transports/tls/mod.ts";
import { RedisClient } from "../../handlers/loader/mod.ts";

const curl = curlWith({ maxTime: 10 });
const hasOpenssl = hasCommand("openssl");
const hasRedis = hasCommand("redis-server");
const A = "4d21094e-b74c-4916-86c1-d9fa36ea677b";
const B = "ac74d9dd-3125-442a-a7c1-f9e49e05faca";
const C = "aede1f6a-762b-45da-b937-b6632356555a";
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitLog(proc: DostProcess, re: RegExp, n = 1, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (proc.logs.filter((l) => re.test(l)).length < n) {
    if (Date.now() > until) throw new Error(`no ${n}× ${re} in the logs within ${ms} ms:\n${proc.logs.join("\n")}`);
    await delay(25);
  }
}

/** An HTTPS origin whose certificate names `name`. */
async function tlsOrigin(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const { cert, key } = await generateCertificate({ commonName: name });
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, signal: ac.signal, onListen() {} },
    (req) => new Response(`secure:${new URL(req.url).pathname}`),
  );
  return {
    port: server.addr.port,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

/** A client exposing 127.0.0.1:`target` through tunnel `id`; waits for its registration. */
async function client(node: string, id: string, target: number): Promise<DostProcess> {
  const p = await startDost(["-L", `rtcp://:0/127.0.0.1:${target}`, "-F", `${node}?tunnel.id=${id}`]);
  await waitLog(p, /create tunnel on .* OK/);
  return p;
}

Deno.test({
  name: "e2e tunnel: HTTP by Host and TLS by SNI through one entrypoint over wss; 502 for no rule, 503 for no client",
  ignore: !hasCurl || !hasOpenssl,
  async fn() {
    const web = startOrigin();
    const secure = await tlsOrigin("secure.example.com");
    const [s, e] = [freePort(), freePort()];
    const rules = `.example.com:${A},secure.example.com:${B},down.example.org:${C}`;
    const server = await startDost(["-L", `tunnel+wss://127.0.0.1:${s}?entrypoint=127.0.0.1:${e}&tunnel=${rules}`]);
    const node = `tunnel+wss://127.0.0.1:${s}`;
    const c1 = await client(node, A, web.port);
    const c2 = await client(node, B, secure.port);
    try {
      const at = (host: string) => ["--resolve", `${host}:${e}:127.0.0.1`];
      assertEquals((await curl(...at("app.example.com"), `http://app.example.com:${e}/x`)).stdout, "origin:/x\n200");
      assertEquals(
        (await curl("--connect-to", `example.com:80:127.0.0.1:${e}`, "http://example.com/y")).stdout,
        "origin:/y\n200",
      );
      // TLS is passed through: curl talks to the origin itself (its certificate names secure.example.com).
      const tls = await curl("-k", ...at("secure.example.com"), `https://secure.example.com:${e}/z`);
      assertEquals(tls.stdout, "secure:/z\n200");
      const o = await run("openssl", [
        "s_client",
        "-connect",
        `127.0.0.1:${e}`,
        "-servername",
        "secure.example.com",
      ], { timeoutMs: 15_000 });
      assertStringIncludes(o.stdout, "CN = secure.example.com");
      // No rule: 502 (as gost); a rule whose tunnel has no client: 503; TLS without a rule: closed.
      const none = await curl(...at("nope.example.net"), `http://nope.example.net:${e}/`);
      assertStringIncludes(none.stdout, "502");
      const down = await curl(...at("down.example.org"), `http://down.example.org:${e}/`);
      assertStringIncludes(down.stdout, "503");
      const closed = await curl("-k", ...at("nope.example.net"), `https://nope.example.net:${e}/`);
      assert(closed.code !== 0, closed.stdout);
      // A client that goes away is replaced by a new one for the same tunnel.
      await c1.stop();
      await waitLog(server, /connector .* closed/);
      assertStringIncludes((await curl(...at("app.example.com"), `http://app.example.com:${e}/`)).stdout, "503");
      const c3 = await client(node, A, web.port);
      try {
        assertEquals((await curl(...at("app.example.com"), `http://app.example.com:${e}/w`)).stdout, "origin:/w\n200");
      } finally {
        await c3.stop();
      }
    } finally {
      await c1.stop();
      await c2.stop();
      await server.stop();
      await secure.close();
      await web.close();
    }
  },
});

async function startRedis(): Promise<{ addr: string; stop(): Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command("redis-server", {
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const addr = `127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
  };
  for (let i = 0; i < 100; i++) {
    try {
      (await RedisClient.connect(addr, { timeout: 500 })).close();
      return { addr, stop };
    } catch {
      await delay(50);
    }
  }
  await stop();
  throw new Error("redis-server did not start");
}

async function redis(addr: string, ...cmd: string[]): Promise<void> {
  const r = await RedisClient.connect(addr);
  try {
    await r.command(...cmd);
  } finally {
    r.close();
  }
}

Deno.test({
  name: "e2e tunnel: ingress rules inline, from a file and from redis, reloaded; a malformed rule keeps the last good",
  ignore: !hasCurl || !hasRedis,
  async fn() {
    const rs = await startRedis();
    const web = startOrigin();
    const dir = await Deno.makeTempDir();
    const file = `${dir}/ingress.txt`;
    await Deno.writeTextFile(file, `# hostname endpoint\nfile.test ${A}\n`);
    const [s, e] = [freePort(), freePort()];
    const yaml = `
services:
- name: tunnel
  addr: 127.0.0.1:${s}
  handler:
    type: tunnel
    metadata:
      entrypoint: 127.0.0.1:${e}
      ingress: ingress-0
  listener:
    type: ws
ingresses:
- name: ingress-0
  reload: 1s
  rules:
  - hostname: inline.test
    endpoint: ${A}
  file:
    path: ${file}
  redis:
    addr: ${rs.addr}
    key: gost:ingresses:ingress-0
`;
    const cfg = `${dir}/gost.yaml`;
    await Deno.writeTextFile(cfg, yaml);
    const server = await startDost(["-C", cfg], { services: 1 });
    const c = await client(`tunnel+ws://127.0.0.1:${s}`, A, web.port);
    const at = (host: string) => ["--resolve", `${host}:${e}:127.0.0.1`, `http://${host}:${e}/`];
    const until = async (host: string, want: string) => {
      let last = "";
      for (let i = 0; i < 60; i++) {
        last = (await curl(...at(host))).stdout;
        if (last.endsWith(want)) return;
        await delay(100);
      }
      throw new Error(`${host}: wanted ${want}, got ${last}\n${server.logs.join("\n")}`);
    };
    try {
      await until("inline.test", "200");
      await until("file.test", "200");
      await until("redis.test", "502");
      await redis(rs.addr, "HSET", "gost:ingresses:ingress-0", "redis.test", A);
      await until("redis.test", "200");
      await Deno.writeTextFile(file, `file2.test ${A}\n`);
      await until("file2.test", "200");
      await until("file.test", "502");
      // A malformed line: the reload fails and the last good rules stay.
      await Deno.writeTextFile(file, `file2.test not-a-uuid\n`);
      await waitLog(server, /reload of .{1,2}ingress-0.{1,2} failed, keeping the last good data.*not-a-uuid/);
      await until("file2.test", "200");
      await until("inline.test", "200");
      // A config reload (SIGHUP) that only adds a rule keeps the service, its entrypoint and the live tunnel.
      await Deno.writeTextFile(file, `file2.test ${A}\n`);
      await Deno.writeTextFile(
        cfg,
        yaml.replace(
          "  - hostname: inline.test",
          `  - hostname: hup.test\n    endpoint: ${A}\n  - hostname: inline.test`,
        ),
      );
      server.child.kill("SIGHUP");
      await waitLog(server, /config reloaded/);
      await until("hup.test", "200");
      assertEquals(server.logs.filter((l) => /connector .* established/.test(l)).length, 1);
    } finally {
      await c.stop();
      await server.stop();
      await web.close();
      await rs.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e tunnel: two entrypoint servers share one set of rules in redis; a rule added there reaches both",
  ignore: !hasCurl || !hasRedis,
  async fn() {
    const rs = await startRedis();
    const web = startOrigin();
    const servers: DostProcess[] = [];
    const clients: DostProcess[] = [];
    const entrypoints: number[] = [];
    try {
      await redis(rs.addr, "HSET", "gost:ingresses:shared", "one.test", A);
      for (let i = 0; i < 2; i++) {
        const [s, e] = [freePort(), freePort()];
        entrypoints.push(e);
        const cfg = JSON.stringify({
          services: [{
            name: "tunnel",
            addr: `127.0.0.1:${s}`,
            handler: { type: "tunnel", metadata: { entrypoint: `127.0.0.1:${e}`, ingress: "shared" } },
            listener: { type: "ws" },
          }],
          ingresses: [{ name: "shared", reload: "1s", redis: { addr: rs.addr, key: "gost:ingresses:shared" } }],
        });
        servers.push(await startDost(["-C", cfg], { services: 1 }));
        clients.push(await client(`tunnel+ws://127.0.0.1:${s}`, A, web.port));
      }
      const status = (host: string, e: number) =>
        curl("--resolve", `${host}:${e}:127.0.0.1`, `http://${host}:${e}/`).then((r) => r.stdout.slice(-3));
      for (const e of entrypoints) assertEquals(await status("one.test", e), "200");
      for (const e of entrypoints) assertEquals(await status("two.test", e), "502");
      await redis(rs.addr, "HSET", "gost:ingresses:shared", "two.test", A);
      // Within the reload period (1 s) both servers route the new host; allow for a loaded machine.
      for (const e of entrypoints) {
        let last = "";
        for (let i = 0; i < 50 && last !== "200"; i++) {
          last = await status("two.test", e);
          if (last !== "200") await delay(100);
        }
        assertEquals(last, "200", `entrypoint ${e} never routed two.test`);
      }
    } finally {
      for (const p of [...clients, ...servers]) await p.stop();
      await web.close();
      await rs.stop();
    }
  },
});

Deno.test({
  name: "e2e tunnel: a malformed ingress rule or an unknown ingress name stops dost at start with file:line",
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const bad = `${dir}/bad.yaml`;
      await Deno.writeTextFile(
        bad,
        `services:\n- name: t\n  addr: 127.0.0.1:${freePort()}\n  handler:\n    type: tunnel\n    metadata:\n      ingress: i\n` +
          `ingresses:\n- name: i\n  rules:\n  - hostname: a.test\n    endpoint: nope\n`,
      );
      const r = await runDost(["-C", bad]);
      assert(r.code !== 0);
      assertStringIncludes(r.stderr, `bad.yaml:10: ingresses[0].rules[0]`);
      assertStringIncludes(r.stderr, `"nope"`);
      const r2 = await runDost(["-L", `tunnel://127.0.0.1:${freePort()}?ingress=missing`]);
      assert(r2.code !== 0);
      assertStringIncludes(r2.stderr, `no ingress named "missing"`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** An HTTP origin that answers `<tag>:<path>`. */
function tagged(tag: string): { port: number; close(): Promise<void> } {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    (req) => new Response(`${tag}:${new URL(req.url).pathname}`),
  );
  return {
    port: server.addr.port,
    async close() {
      ac.abort();
      await server.finished;
    },
  };
}

Deno.test({
  name: "e2e sniffing: a tcp forwarder picks its node by Host and SNI (exact, *. and . wildcards, fallback)",
  ignore: !hasCurl,
  async fn() {
    const [a, b, c] = [tagged("a"), tagged("b"), tagged("c")];
    const secure = await tlsOrigin("tls.test");
    const dir = await Deno.makeTempDir();
    const p = freePort();
    const q = freePort();
    await Deno.writeTextFile(
      `${dir}/gost.yaml`,
      `
services:
- name: sniff
  addr: 127.0.0.1:${p}
  handler:
    type: tcp
    metadata:
      sniffing: true
  listener:
    type: tcp
  forwarder:
    nodes:
    - name: a
      addr: 127.0.0.1:${a.port}
      filter:
        host: a.test
    - name: b
      addr: 127.0.0.1:${b.port}
      host: "*.b.test"
    - name: tls
      addr: 127.0.0.1:${secure.port}
      filter:
        host: tls.test
    - name: fallback
      addr: 127.0.0.1:${c.port}
- name: strict
  addr: 127.0.0.1:${q}
  handler:
    type: tcp
    metadata:
      sniffing: true
  listener:
    type: tcp
  forwarder:
    nodes:
    - name: only
      addr: 127.0.0.1:${a.port}
      filter:
        host: .only.test
`,
    );
    const server = await startDost(["-C", `${dir}/gost.yaml`], { services: 2 });
    const get = (port: number, host: string, path = "/") =>
      curl("--resolve", `${host}:${port}:127.0.0.1`, `http://${host}:${port}${path}`);
    try {
      assertEquals((await get(p, "a.test", "/1")).stdout, "a:/1\n200");
      assertEquals((await get(p, "x.b.test", "/2")).stdout, "b:/2\n200");
      assertEquals((await get(p, "b.test", "/3")).stdout, "b:/3\n200");
      assertEquals((await get(p, "other.test", "/4")).stdout, "c:/4\n200");
      assertEquals((await get(p, "xa.test", "/5")).stdout, "c:/5\n200"); // not a label boundary: fallback
      const tls = await curl("-k", "--resolve", `tls.test:${p}:127.0.0.1`, `https://tls.test:${p}/t`);
      assertEquals(tls.stdout, "secure:/t\n200");
      assertEquals((await get(q, "x.only.test", "/6")).stdout, "a:/6\n200");
      assertStringIncludes((await get(q, "nope.test")).stdout, "502");
      assertStringIncludes(
        (await curl("-H", `Host: ${"h".repeat(40 * 1024)}.only.test`, `http://127.0.0.1:${q}/`)).stdout,
        "431",
      );
      assertEquals((await get(q, "only.test", "/7")).stdout, "a:/7\n200"); // still serving
    } finally {
      await server.stop();
      await Promise.all([a.close(), b.close(), c.close(), secure.close()]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e tunnel: an external entrypoint (tcp sniffing=true, tunnel.id = the server's entrypoint.id)",
  ignore: !hasCurl,
  async fn() {
    const web = startOrigin();
    const EP = "9fd6c586-86f9-49c1-a03a-d4876851695a";
    const [s, p] = [freePort(), freePort()];
    const server = await startDost(["-L", `tunnel://127.0.0.1:${s}?entrypoint.id=${EP}&tunnel=.app.test:${A}`]);
    const c = await client(`tunnel://127.0.0.1:${s}`, A, web.port);
    const ep = await startDost([
      "-L",
      `tcp://127.0.0.1:${p}?sniffing=true`,
      "-F",
      `tunnel://127.0.0.1:${s}?tunnel.id=${EP}`,
    ]);
    try {
      const r = await curl("--resolve", `www.app.test:${p}:127.0.0.1`, `http://www.app.test:${p}/ext`);
      assertEquals(r.stdout, "origin:/ext\n200");
      const miss = await curl("--resolve", `other.test:${p}:127.0.0.1`, `http://other.test:${p}/`);
      assertStringIncludes(miss.stdout, "503"); // the tunnel server answered 07 (no route): the dial failed
    } finally {
      await ep.stop();
      await c.stop();
      await server.stop();
      await web.close();
    }
  },
});

Deno.test({
  name: "e2e tunnel: entrypoints with their own ingresses; ingresses changed through the Web API keep the tunnel",
  ignore: !hasCurl,
  async fn() {
    const web = startOrigin();
    const dir = await Deno.makeTempDir();
    const [s, e1, e2, api] = [freePort(), freePort(), freePort(), freePort()];
    await Deno.writeTextFile(
      `${dir}/gost.yaml`,
      `
services:
- name: t
  addr: 127.0.0.1:${s}
  handler:
    type: tunnel
    metadata:
      ingress: ing
      entrypoints:
      - addr: 127.0.0.1:${e1}
      - addr: 127.0.0.1:${e2}
        ingress: other
ingresses:
- name: ing
  rules:
  - hostname: a.test
    endpoint: ${A}
- name: other
  rules:
  - hostname: b.test
    endpoint: ${A}
`,
    );
    const server = await startDost(["-C", `${dir}/gost.yaml`, "-api", `127.0.0.1:${api}`], { services: 1 });
    const c = await client(`tunnel://127.0.0.1:${s}`, A, web.port);
    const code = async (host: string, port: number) =>
      (await curl("--resolve", `${host}:${port}:127.0.0.1`, `http://${host}:${port}/`)).stdout.split("\n").pop();
    try {
      assertEquals(
        [await code("a.test", e1), await code("b.test", e1), await code("a.test", e2), await code("b.test", e2)],
        ["200", "502", "502", "200"],
      );
      const put = (rules: unknown) =>
        fetch(`http://127.0.0.1:${api}/config/ingresses/ing`, {
          method: "PUT",
          body: JSON.stringify({ name: "ing", rules }),
        }).then((r) => r.json());
      assertEquals(await put([{ hostname: "c.test", endpoint: A }]), { msg: "OK" });
      assertEquals([await code("a.test", e1), await code("c.test", e1), await code("b.test", e2)], [
        "502",
        "200",
        "200",
      ]);
      const bad = await put([{ hostname: "d.test", endpoint: "bad" }]);
      assertEquals(bad.code, 40003);
      assertStringIncludes(bad.msg, `"bad"`);
      assertEquals(await code("c.test", e1), "200");
      assertEquals(server.logs.filter((l) => /connector .* established/.test(l)).length, 1);
    } finally {
      await c.stop();
      await server.stop();
      await web.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e tunnel: one client process holding two connections; a server restart is ridden out with back-off",
  ignore: !hasCurl,
  async fn() {
    const web = startOrigin();
    const [s, e] = [freePort(), freePort()];
    const args = ["-L", `tunnel://127.0.0.1:${s}?entrypoint=127.0.0.1:${e}&tunnel=app.test:${A}`];
    let server = await startDost(args);
    // Two rtcp services on one chain: two connections for the tunnel, taken in turn.
    const target = `rtcp://:0/127.0.0.1:${web.port}`;
    const c = await startDost(["-L", target, "-L", target, "-F", `tunnel://127.0.0.1:${s}?tunnel.id=${A}`]);
    const get = () => curl("--resolve", `app.test:${e}:127.0.0.1`, `http://app.test:${e}/r`);
    try {
      await waitLog(c, /create tunnel on .* OK/, 2);
      await waitLog(server, /connectors":2/);
      for (let i = 0; i < 4; i++) assertEquals((await get()).stdout, "origin:/r\n200");
      const used = () =>
        c.logs.filter((l) => l.includes(" >< ")).map((l) => /"service":"(service-[01])"/.exec(l)?.[1]).filter(Boolean);
      await until(() => used().length >= 4);
      assertEquals(new Set(used()).size, 2, "both connections carried requests");
      await server.stop();
      server = await startDost(args);
      await waitLog(c, /create tunnel on .* OK/, 4, 20_000);
      assertEquals((await get()).stdout, "origin:/r\n200");
    } finally {
      await c.stop();
      await server.stop();
      await web.close();
    }
  },
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await delay(25);
  }
}
