/**
 * Name resolution and shared policy data as a fleet runs them: targets
 * resolved through a real dnsmasq on loopback (udp and tcp nameservers, the
 * command-line and YAML forms), and two dost servers sharing one user table
 * and one bypass list in a real redis-server, changes reaching both within
 * their reload period.
 */
import { assert, assertEquals } from "../assert.ts";
import { freePort, hasCommand, startDost } from "./_dost.ts";
import { curlWith, hasCurl } from "./_common.ts";
import { startOrigin } from "./_servers.ts";
import { DNSMASQ, startDnsmasq } from "../../handlers/resolver/_test_util.ts";
import { RedisClient } from "../../handlers/loader/mod.ts";

const curl = curlWith({ maxTime: 10 });
const hasRedis = hasCommand("redis-server");

/** An HTTP origin on 127.0.0.7, the address dnsmasq gives `v4.test`. */
function originAt7(): { port: number; close(): Promise<void> } {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.7", port: 0, signal: ac.signal, onListen() {} },
    (req) => new Response(`seven:${new URL(req.url).pathname}`),
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
  name: "e2e names: targets resolve through dnsmasq (udp and tcp nameservers); an unknown name is a 503",
  ignore: !hasCurl || !DNSMASQ,
  async fn() {
    const dns = await startDnsmasq();
    const origin = originAt7();
    const p = freePort();
    const q = freePort();
    const a = await startDost(["-L", `auto://127.0.0.1:${p}?resolver=udp://127.0.0.1:${dns.port}`]);
    const b = await startDost(["-L", `http://127.0.0.1:${q}?resolver=tcp://127.0.0.1:${dns.port}&prefer=ipv4`]);
    try {
      const url = `http://v4.test:${origin.port}/n`;
      assertEquals((await curl("-x", `http://127.0.0.1:${p}`, url)).stdout, "seven:/n\n200");
      assertEquals((await curl("-x", `socks5h://127.0.0.1:${p}`, url)).stdout, "seven:/n\n200");
      assertEquals((await curl("-p", "-x", `http://127.0.0.1:${q}`, url)).stdout, "seven:/n\n200");
      const missing = await curl("-x", `http://127.0.0.1:${q}`, `http://nope.test:${origin.port}/`);
      assertEquals(missing.stdout.trim(), "503");
      // The service logs the request once it has ended, which may be just after curl has its answer.
      const logged = () => b.logs.some((l) => l.includes("resolver: domain nope.test does not exist"));
      for (let i = 0; i < 40 && !logged(); i++) await new Promise((r) => setTimeout(r, 50));
      assert(logged(), b.logs.join("\n"));
    } finally {
      await a.stop();
      await b.stop();
      await origin.close();
      await dns.close();
    }
  },
});

Deno.test({
  name: "e2e names: a chain node's own address resolves through the hop's resolver",
  ignore: !hasCurl || !DNSMASQ,
  async fn() {
    const dns = await startDnsmasq();
    const origin = startOrigin();
    const s = freePort();
    const c = freePort();
    // The server listens on 127.0.0.7, the address dnsmasq has for v4.test.
    const server = await startDost(["-L", `socks5://127.0.0.7:${s}`]);
    const client = await startDost([
      "-L",
      `http://127.0.0.1:${c}`,
      "-F",
      `socks5://v4.test:${s}?resolver=udp://127.0.0.1:${dns.port}`,
    ]);
    try {
      assertEquals(
        (await curl("-x", `http://127.0.0.1:${c}`, `http://127.0.0.1:${origin.port}/via`)).stdout,
        "origin:/via\n200",
      );
    } finally {
      await client.stop();
      await server.stop();
      await origin.close();
      await dns.close();
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
      const r = await RedisClient.connect(addr, { timeout: 500 });
      r.close();
      return { addr, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
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
  name: "e2e redis: two dost servers share one user table and one bypass set; a change reaches both within reload",
  ignore: !hasCurl || !hasRedis,
  async fn() {
    const rs = await startRedis();
    const origin = startOrigin();
    const blocked = startOrigin();
    const dir = await Deno.makeTempDir({ prefix: "dost-e2e-redis-" });
    const servers = [];
    try {
      await redis(rs.addr, "HSET", "gost:users", "alice", "s3cret");
      await redis(rs.addr, "SADD", "gost:bypass", "127.0.0.1:1");
      const ports = [freePort(), freePort()];
      for (const [i, p] of ports.entries()) {
        const path = `${dir}/s${i}.yaml`;
        await Deno.writeTextFile(
          path,
          `services:
- name: service-0
  addr: 127.0.0.1:${p}
  bypass: bp0
  handler: {type: http, auther: a0}
authers:
- name: a0
  reload: 1s
  redis: {addr: "${rs.addr}", key: "gost:users"}
bypasses:
- name: bp0
  reload: 1s
  redis: {addr: "${rs.addr}", key: "gost:bypass"}
`,
        );
        servers.push(await startDost(["-C", path], { services: 1 }));
      }
      const status = async (p: number, user: string, port = origin.port) =>
        (await curl("-U", user, "-x", `http://127.0.0.1:${p}`, `http://127.0.0.1:${port}/r`)).stdout.slice(-3);
      for (const p of ports) {
        assertEquals(await status(p, "alice:s3cret"), "200");
        assertEquals(await status(p, "bob:pw"), "407");
        assertEquals(await status(p, "alice:s3cret", blocked.port), "200");
      }
      await redis(rs.addr, "HSET", "gost:users", "bob", "pw");
      await redis(rs.addr, "SADD", "gost:bypass", `127.0.0.1:${blocked.port}`);
      const deadline = Date.now() + 8000;
      for (const p of ports) {
        while ((await status(p, "bob:pw")) !== "200" || (await status(p, "alice:s3cret", blocked.port)) !== "403") {
          assert(Date.now() < deadline, `server on ${p} never saw the change`);
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      // Redis goes away: the servers keep the last good data and say why.
      await rs.stop();
      await new Promise((r) => setTimeout(r, 2500));
      for (const p of ports) assertEquals(await status(p, "bob:pw"), "200");
      assert(servers[0].logs.some((l) => l.includes("keeping the last good data")), servers[0].logs.join("\n"));
    } finally {
      for (const s of servers) await s.stop();
      await rs.stop();
      await Deno.remove(dir, { recursive: true });
      await origin.close();
      await blocked.close();
    }
  },
});
