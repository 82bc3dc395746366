/**
 * Access control across implementations: gost 3.2.6 (`GOST_BIN`) and dost as
 * client and server in all four pairings, one server config with an auther
 * file, a bypass and hosts. Every pairing must refuse or pass each request the
 * way gost on both ends does. Skipped (and counted) without `GOST_BIN`.
 */
import { assertEquals } from "../../assert.ts";
import { freePort, startDost } from "../../e2e/_dost.ts";
import { curlWith, hasCurl } from "../../e2e/_common.ts";
import { startOrigin } from "../../e2e/_servers.ts";
import { GOST_BIN, startGost } from "../../e2e/_gost.ts";

const curl = curlWith({ maxTime: 10 });

type Impl = "dost" | "gost";

async function start(impl: Impl, args: string[], services = 1): Promise<() => Promise<unknown>> {
  if (impl === "gost") return (await startGost(args, services)).stop;
  const p = await startDost(args, { services });
  return () => p.stop();
}

for (const protocol of ["relay", "socks5", "http"]) {
  Deno.test({
    name: `interop gost: ${protocol} auther file, bypass and hosts refuse and pass alike in all four pairings`,
    ignore: !GOST_BIN || !hasCurl,
    async fn() {
      const origin = startOrigin();
      const blocked = startOrigin();
      const dir = await Deno.makeTempDir({ prefix: "dost-interop-access-" });
      await Deno.writeTextFile(`${dir}/users.txt`, "alice s3cret\n");
      const results = new Map<string, string[]>();
      try {
        for (const server of ["gost", "dost"] as Impl[]) {
          const s = freePort();
          await Deno.writeTextFile(
            `${dir}/${server}.yaml`,
            `services:
- name: service-0
  addr: 127.0.0.1:${s}
  bypass: bp0
  hosts: h0
  handler: {type: ${protocol}, auther: a0}
authers: [{name: a0, file: {path: ${dir}/users.txt}}]
bypasses: [{name: bp0, matchers: ["127.0.0.1:${blocked.port}"]}]
hosts: [{name: h0, mappings: [{hostname: origin.test, ip: 127.0.0.1}]}]
`,
          );
          const stopServer = await start(server, ["-C", `${dir}/${server}.yaml`]);
          try {
            for (const client of ["gost", "dost"] as Impl[]) {
              const c = freePort();
              const c2 = freePort();
              const stopClient = await start(client, [
                "-L",
                `http://127.0.0.1:${c}`,
                "-F",
                `${protocol}://alice:s3cret@127.0.0.1:${s}`,
              ]);
              const stopWrong = await start(client, [
                "-L",
                `http://127.0.0.1:${c2}`,
                "-F",
                `${protocol}://alice:nope@127.0.0.1:${s}`,
              ]);
              try {
                const proxy = `http://127.0.0.1:${c}`;
                const got = [
                  (await curl("-x", proxy, `http://127.0.0.1:${origin.port}/ok`)).stdout,
                  (await curl("-x", proxy, `http://origin.test:${origin.port}/named`)).stdout,
                  (await curl("-x", proxy, `http://127.0.0.1:${blocked.port}/no`)).stdout.slice(-3),
                  (await curl("-x", `http://127.0.0.1:${c2}`, `http://127.0.0.1:${origin.port}/pw`)).stdout.slice(-3),
                ];
                results.set(`${client}->${server}`, got);
              } finally {
                await stopWrong();
                await stopClient();
              }
            }
          } finally {
            await stopServer();
          }
        }
        const base = results.get("gost->gost")!;
        assertEquals(base.slice(0, 2), ["origin:/ok\n200", "origin:/named\n200"], "gost on both ends passes");
        for (const [pair, got] of results) assertEquals(got, base, `${protocol} ${pair} against gost->gost`);
      } finally {
        await Deno.remove(dir, { recursive: true });
        await origin.close();
        await blocked.close();
      }
    },
  });
}
