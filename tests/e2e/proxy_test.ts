/**
 * dost as a user runs it (`main.ts` in a child process), driven by curl and
 * chained to real third-party proxies (squid, dante, microsocks).
 */
import { assert, assertEquals, assertMatch } from "../assert.ts";
import { freePort, run, startDost } from "./_dost.ts";
import { hasDante, hasMicrosocks, hasSquid, startDante, startMicrosocks, startSquid } from "./_peers.ts";
import { startEcho, startOrigin } from "./_servers.ts";
import { curlWith, hasCurl } from "./_common.ts";

const curl = curlWith();

Deno.test({
  name: "e2e http: auth ok (absolute URI and CONNECT), 407 without, 407 wrong password",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const p = freePort();
    const dost = await startDost(["-L", `http://user:s3cret@127.0.0.1:${p}`]);
    const url = `http://127.0.0.1:${origin.port}/a`;
    try {
      assertEquals((await curl("-x", `http://user:s3cret@127.0.0.1:${p}`, url)).stdout, "origin:/a\n200");
      assertEquals((await curl("-p", "-x", `http://user:s3cret@127.0.0.1:${p}`, url)).stdout, "origin:/a\n200");
      assertEquals((await curl("-x", `http://127.0.0.1:${p}`, url)).stdout.trim(), "407");
      assertEquals((await curl("-x", `http://user:wrong@127.0.0.1:${p}`, url)).stdout.trim(), "407");
      assertEquals((await curl("-p", "-x", `http://user:wrong@127.0.0.1:${p}`, url)).code, 56);
    } finally {
      assertEquals(await dost.stop(), 0);
      await origin.close();
    }
    const logs = dost.logs.join("\n");
    assert(!logs.includes("s3cret"), "the password must never be logged");
    assert(!logs.includes(btoa("user:s3cret")), "the encoded credentials must never be logged");
    const done = dost.logs.map((l) => JSON.parse(l)).filter((r) => r.msg?.includes(" >< "));
    assert(done.length >= 5, "one log line per finished connection");
    assert(done.some((r) => r.outputBytes > 0 && r.duration && r.dst), JSON.stringify(done[0]));
  },
});

Deno.test({
  name: "e2e socks5 (auth) and socks4a through curl; auto serves http, socks4a and socks5 on one port",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const s5 = freePort(), s4 = freePort(), auto = freePort();
    const dost = await startDost([
      "-L",
      `socks5://user:pass@127.0.0.1:${s5}`,
      "-L",
      `socks4://127.0.0.1:${s4}`,
      "-L",
      `127.0.0.1:${auto}`,
    ]);
    const url = `http://127.0.0.1:${origin.port}/s`;
    try {
      assertEquals((await curl("-x", `socks5h://user:pass@127.0.0.1:${s5}`, url)).stdout, "origin:/s\n200");
      assertEquals((await curl("-x", `socks5://user:pass@127.0.0.1:${s5}`, url)).stdout, "origin:/s\n200");
      assert((await curl("-x", `socks5h://user:bad@127.0.0.1:${s5}`, url)).code !== 0);
      assertEquals((await curl("--socks4a", `127.0.0.1:${s4}`, url)).stdout, "origin:/s\n200");
      for (const proxy of [`http://127.0.0.1:${auto}`, `socks5h://127.0.0.1:${auto}`, `socks4a://127.0.0.1:${auto}`]) {
        assertEquals((await curl("-x", proxy, url)).stdout, "origin:/s\n200", proxy);
      }
    } finally {
      assertEquals(await dost.stop(), 0);
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e chain: squid as the upstream HTTP proxy (absolute URI and CONNECT)",
  ignore: !hasCurl || !hasSquid,
  async fn() {
    const origin = startOrigin();
    const squid = await startSquid();
    const p = freePort();
    const dost = await startDost(["-L", `http://127.0.0.1:${p}`, "-F", `http://127.0.0.1:${squid.port}`]);
    const url = `http://127.0.0.1:${origin.port}/squid`;
    try {
      assertEquals((await curl("-x", `http://127.0.0.1:${p}`, url)).stdout, "origin:/squid\n200");
      assertEquals((await curl("-p", "-x", `http://127.0.0.1:${p}`, url)).stdout, "origin:/squid\n200");
      assertEquals(
        (await curl("-x", `socks5h://127.0.0.1:${p}`, url)).code,
        97,
        "an HTTP port answers a SOCKS greeting at once",
      );
    } finally {
      await dost.stop();
      await squid.close();
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e chain: dante and microsocks (with auth) as upstream SOCKS5 servers",
  ignore: !hasCurl || !hasDante || !hasMicrosocks,
  async fn() {
    const origin = startOrigin();
    const dante = await startDante();
    const micro = await startMicrosocks({ user: "mu", pass: "mp" });
    const a = freePort(), b = freePort();
    const d1 = await startDost(["-L", `http://127.0.0.1:${a}`, "-F", `socks5://127.0.0.1:${dante.port}`]);
    const d2 = await startDost(["-L", `socks5://127.0.0.1:${b}`, "-F", `socks5://mu:mp@127.0.0.1:${micro.port}`]);
    const url = `http://127.0.0.1:${origin.port}/socks`;
    try {
      assertEquals((await curl("-x", `http://127.0.0.1:${a}`, url)).stdout, "origin:/socks\n200");
      assertEquals((await curl("-x", `socks5h://127.0.0.1:${b}`, url)).stdout, "origin:/socks\n200");
    } finally {
      await d1.stop();
      await d2.stop();
      await dante.close();
      await micro.close();
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e three-hop dost chain: http -> socks5 -> relay+tls",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const h = freePort(), s = freePort(), r = freePort(), c = freePort();
    const servers = await startDost([
      "-L",
      `http://127.0.0.1:${h}`,
      "-L",
      `socks5://u5:p5@127.0.0.1:${s}`,
      "-L",
      `relay+tls://ur:pr@127.0.0.1:${r}`,
    ]);
    const client = await startDost([
      "-L",
      `http://127.0.0.1:${c}`,
      "-F",
      `http://127.0.0.1:${h}`,
      "-F",
      `socks5://u5:p5@127.0.0.1:${s}`,
      "-F",
      `relay+tls://ur:pr@127.0.0.1:${r}`,
    ]);
    try {
      assertEquals(
        (await curl("-x", `http://127.0.0.1:${c}`, `http://127.0.0.1:${origin.port}/3`)).stdout,
        "origin:/3\n200",
      );
      const big = await run("curl", [
        "-s",
        "--max-time",
        "30",
        "-x",
        `http://127.0.0.1:${c}`,
        `http://127.0.0.1:${origin.port}/bytes/5000000`,
      ]);
      assertEquals(big.bytes.length, 5_000_000);
      // The TLS verification warning is printed once for the relay+tls node (and once for the socks5 node).
      const warns = client.logs.filter((l) => l.includes("verification is off"));
      assertEquals(warns.length, 2, warns.join("\n"));
    } finally {
      await client.stop();
      await servers.stop();
      await origin.close();
    }
  },
});

Deno.test({
  name: "e2e forward: tcp://:P/a,b round-robins two targets and skips a dead one",
  ignore: !hasCurl,
  async fn() {
    const o1 = startOrigin(), o2 = startOrigin();
    const dead = freePort();
    const p = freePort(), q = freePort();
    const dost = await startDost([
      "-L",
      `tcp://127.0.0.1:${p}/127.0.0.1:${o1.port},127.0.0.1:${o2.port}`,
      "-L",
      `tcp://127.0.0.1:${q}/127.0.0.1:${dead},127.0.0.1:${o1.port}`,
    ]);
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const r = await run("curl", ["-s", "--max-time", "5", "-D", "-", `http://127.0.0.1:${p}/f`]);
        assertMatch(r.stdout, /origin:\/f$/);
        seen.add(r.stdout);
      }
      for (let i = 0; i < 3; i++) {
        assertEquals((await curl(`http://127.0.0.1:${q}/g`)).stdout, "origin:/g\n200");
      }
      const dsts = dost.logs.map((l) => JSON.parse(l)).filter((r) => r.msg?.includes(" >< ")).map((r) => r.dst);
      assert(dsts.includes(`127.0.0.1:${o1.port}`) && dsts.includes(`127.0.0.1:${o2.port}`), dsts.join(","));
    } finally {
      await dost.stop();
      await o1.close();
      await o2.close();
    }
  },
});

Deno.test("e2e bad input: garbage to http, socks5, relay ports never crashes dost", async () => {
  const echo = startEcho();
  const a = freePort(), b = freePort(), c = freePort();
  const dost = await startDost([
    "-L",
    `http://127.0.0.1:${a}`,
    "-L",
    `socks5://127.0.0.1:${b}`,
    "-L",
    `relay://127.0.0.1:${c}`,
  ]);
  try {
    const garbage = [
      new Uint8Array([0x16, 3, 1, 0, 0]),
      new TextEncoder().encode("\r\n\r\n\r\n"),
      new Uint8Array(2000).map((_, i) => (i * 7919) & 0xff),
      new Uint8Array([5, 0]),
      new Uint8Array([5, 1, 0, 5, 1, 0, 9]),
      new Uint8Array([1, 1, 0xff, 0xff, 2]),
      new Uint8Array([2, 0, 0, 0]),
    ];
    for (const port of [a, b, c]) {
      for (const g of garbage) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(g).catch(() => {});
        await conn.closeWrite().catch(() => {});
        const buf = new Uint8Array(1024);
        while ((await conn.read(buf).catch(() => null)) !== null) { /* drain until closed */ }
        conn.close();
      }
    }
    // Still serving: a CONNECT through the http port reaches the echo server.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: a });
    await conn.write(new TextEncoder().encode(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`));
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    assertMatch(new TextDecoder().decode(buf.subarray(0, n!)), /^HTTP\/1\.1 200 /);
    conn.close();
  } finally {
    assertEquals(await dost.stop(), 0, "dost exits 0 on SIGTERM");
    await echo.close();
  }
});

Deno.test("e2e shutdown: SIGTERM stops accepting, drains an open tunnel, then exits 0", async () => {
  const echo = startEcho();
  const p = freePort();
  const dost = await startDost(["-L", `http://127.0.0.1:${p}`], { env: { DOST_SHUTDOWN_GRACE: "3s" } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: p });
  await conn.write(new TextEncoder().encode(`CONNECT 127.0.0.1:${echo.port} HTTP/1.1\r\n\r\n`));
  const buf = new Uint8Array(1024);
  await conn.read(buf);
  const t0 = Date.now();
  dost.child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 500));
  // The open tunnel still carries bytes during the drain...
  await conn.write(new TextEncoder().encode("ping"));
  const n = await conn.read(buf);
  assertEquals(new TextDecoder().decode(buf.subarray(0, n!)), "ping");
  // ...but new connections are refused.
  let refused = false;
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port: p })).close();
  } catch {
    refused = true;
  }
  assert(refused, "listener must be closed after SIGTERM");
  // The idle tunnel is cut when the grace period ends, and dost exits 0.
  assertEquals(await conn.read(buf).catch(() => null), null);
  conn.close();
  assertEquals(await dost.exited(), 0);
  const elapsed = Date.now() - t0;
  assert(elapsed >= 2500 && elapsed < 10_000, `drain took ${elapsed} ms`);
  await echo.close();
});
