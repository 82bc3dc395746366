/**
 * dost as a user runs it over HTTP/2: the `http2` proxy and the `h2`/`h2c`
 * tunnels, with the command lines and YAML of the seed docs (loopback
 * addresses substituted), every proxy protocol and forwarding over h2 and
 * h2c, and h2 as a later hop; traffic is real (curl through a client dost).
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { freePort, startDost } from "./_dost.ts";
import { startOrigin } from "./_servers.ts";
import { seedYaml } from "./_common.ts";
import { assertNoSecrets, checkProxy, configFile, curl, hasCurl, protocolMatrix, substitute } from "./_h2_common.ts";

Deno.test({
  name: "e2e seed http2 (CLI): -L http2://user:pass@:P and -L http://:C -F http2://user:pass@:P",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const p = freePort(), c = freePort(), bad = freePort();
    const server = await startDost(["-L", `http2://user:pass@127.0.0.1:${p}`]);
    const client = await startDost(["-L", `http://127.0.0.1:${c}`, "-F", `http2://user:pass@127.0.0.1:${p}`]);
    const wrong = await startDost(["-L", `http://127.0.0.1:${bad}`, "-F", `http2://user:nope@127.0.0.1:${p}`]);
    try {
      await checkProxy(c, origin.port, "http2");
      const denied = await curl("-x", `http://127.0.0.1:${bad}`, `http://127.0.0.1:${origin.port}/p`);
      assertEquals(denied.stdout.trim(), "503", "a 407 upstream makes the chain fail");
      // An HTTP/1.1 client over TLS to the http2 listener (curl has no HTTP/2 to proxies).
      const h1 = await curl(
        "--proxy-insecure",
        "-x",
        `https://user:pass@127.0.0.1:${p}`,
        `http://127.0.0.1:${origin.port}/h1`,
      );
      assertEquals(h1.stdout, "origin:/h1\n200");
      const h1c = await curl(
        "-p",
        "--proxy-insecure",
        "-x",
        `https://user:pass@127.0.0.1:${p}`,
        `http://127.0.0.1:${origin.port}/h1c`,
      );
      assertEquals(h1c.stdout, "origin:/h1c\n200");
      const noauth = await curl("--proxy-insecure", "-x", `https://127.0.0.1:${p}`, `http://127.0.0.1:${origin.port}/`);
      assertEquals(noauth.stdout.trim(), "407");
    } finally {
      await wrong.stop();
      assertEquals(await client.stop(), 0);
      assertEquals(await server.stop(), 0);
      await origin.close();
    }
    assertNoSecrets([...server.logs, ...client.logs], "pass");
    const done = server.logs.map((l) => JSON.parse(l)).filter((r) => r.msg?.includes(" >< "));
    assert(done.some((r) => r.user === "user" && r.dst?.startsWith("127.0.0.1:")), JSON.stringify(done[0]));
  },
});

Deno.test({
  name: "e2e seed http2 (YAML): the server and client configs of the seed",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const p = freePort(), c = freePort();
    const sf = await configFile(substitute(seedYaml("gost -L http2://user:pass@:8443"), p));
    const cf = await configFile(substitute(seedYaml("gost -L http://:8000 -F http2://user:pass@:8443"), p, c));
    const server = await startDost(["-C", sf], { services: 1 });
    const client = await startDost(["-C", cf], { services: 1 });
    try {
      await checkProxy(c, origin.port, "http2 yaml");
    } finally {
      await client.stop();
      await server.stop();
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e seed h2/h2c (CLI): -L socks5+h2(c)://user:pass@:P and -F socks5+h2(c)://user:pass@:P",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const p2 = freePort(), pc = freePort(), c2 = freePort(), cc = freePort();
    const server = await startDost([
      "-L",
      `socks5+h2://user:pass@127.0.0.1:${p2}`,
      "-L",
      `socks5+h2c://user:pass@127.0.0.1:${pc}`,
    ]);
    const h2 = await startDost(["-L", `http://127.0.0.1:${c2}`, "-F", `socks5+h2://user:pass@127.0.0.1:${p2}`]);
    const h2c = await startDost(["-L", `http://127.0.0.1:${cc}`, "-F", `socks5+h2c://user:pass@127.0.0.1:${pc}`]);
    try {
      await checkProxy(c2, origin.port, "socks5+h2");
      await checkProxy(cc, origin.port, "socks5+h2c");
      // The h2 node's TLS is not verified by default, as in GOST: dost says so.
      assert(h2.logs.some((l) => l.includes("verification is off")));
    } finally {
      await h2.stop();
      await h2c.stop();
      await server.stop();
      await origin.close();
    }
    assertNoSecrets([...server.logs, ...h2.logs, ...h2c.logs], "pass");
  },
});

Deno.test({
  name: "e2e seed h2/h2c (YAML): listener and dialer type h2, then h2c",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    try {
      for (const type of ["h2", "h2c"]) {
        const p = freePort(), c = freePort();
        const server = await startDost([
          "-C",
          await configFile(substitute(seedYaml(`gost -L socks5+${type}://user:pass@:8443`), p)),
        ], { services: 1 });
        const client = await startDost([
          "-C",
          await configFile(substitute(seedYaml(`gost -L http://:8000 -F socks5+${type}://user:pass@:8443`), p, c)),
        ], {
          services: 1,
        });
        try {
          await checkProxy(c, origin.port, `${type} yaml`);
        } finally {
          await client.stop();
          await server.stop();
        }
      }
    } finally {
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e over h2 and h2c: http, socks5, relay, auto and forward handlers and connectors",
  ignore: !hasCurl,
  async fn() {
    await protocolMatrix([{ name: "h2" }, { name: "h2c" }]);
  },
});

Deno.test({
  name: "e2e h2 options: path and host must agree; a later hop rides inside an HTTP CONNECT",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const h = freePort(), p = freePort(), c = freePort(), mismatch = freePort();
    const servers = await startDost([
      "-L",
      `http://127.0.0.1:${h}`,
      "-L",
      `relay+h2://127.0.0.1:${p}?path=/tunnel`,
    ]);
    const client = await startDost([
      "-L",
      `http://127.0.0.1:${c}`,
      "-F",
      `http://127.0.0.1:${h}`,
      "-F",
      `relay+h2://127.0.0.1:${p}?path=/tunnel&host=cdn.example.com`,
    ]);
    const wrong = await startDost(["-L", `http://127.0.0.1:${mismatch}`, "-F", `relay+h2://127.0.0.1:${p}`]);
    try {
      await checkProxy(c, origin.port, "http -> relay+h2 (path)");
      const r = await curl("-x", `http://127.0.0.1:${mismatch}`, `http://127.0.0.1:${origin.port}/`);
      assertEquals(r.stdout.trim(), "503", "CONNECT against a path-only server is refused (400)");
      // The log line may trail the response by a moment.
      for (let i = 0; i < 50 && !wrong.logs.some((l) => l.includes("400 Bad Request")); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert(wrong.logs.some((l) => l.includes("400 Bad Request")), wrong.logs.join("\n"));
    } finally {
      await wrong.stop();
      await client.stop();
      await servers.stop();
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e h2c: one HTTP/2 connection carries many proxied requests; a server restart is survived",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const p = freePort(), c = freePort();
    let server = await startDost(["-D", "-L", `relay+h2c://127.0.0.1:${p}`]);
    const client = await startDost(["-L", `http://127.0.0.1:${c}`, "-F", `relay+h2c://127.0.0.1:${p}`]);
    const url = `http://127.0.0.1:${origin.port}/r`;
    try {
      await Promise.all(Array.from({ length: 10 }, async () => {
        assertEquals((await curl("-x", `http://127.0.0.1:${c}`, url)).stdout, "origin:/r\n200");
      }));
      const sessions = server.logs.filter((l) => l.includes("HTTP/2 session started")).length;
      assertEquals(sessions, 1, "one HTTP/2 connection for ten proxied requests");
      await server.stop();
      server = await startDost(["-L", `relay+h2c://127.0.0.1:${p}`]);
      assertEquals(
        (await curl("-x", `http://127.0.0.1:${c}`, url)).stdout,
        "origin:/r\n200",
        "first request after restart",
      );
    } finally {
      await client.stop();
      await server.stop();
      await origin.close();
    }
    assertStringIncludes(client.logs.join("\n"), "listening on");
  },
});
