/**
 * Reload as an operator does it: edit the YAML, send SIGHUP (or let `-R`
 * pick it up). Unchanged listeners stay (open tunnels keep working, no
 * connection is refused while the reload runs), handler changes apply to new
 * connections, added services open, removed ones close, a broken file is
 * rejected whole with file:line and the running config stays.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { type DostProcess, freePort, runDost, startDost } from "./_dost.ts";
import { curlWith, echoes, hasCurl, openTunnel } from "./_common.ts";
import { startEcho, startOrigin } from "./_servers.ts";

const curl = curlWith({ maxTime: 10 });

/** Opens a CONNECT tunnel through the HTTP proxy on `proxy` to `target`. */

/** Waits for a log line containing `text` after index `from`; returns its index. */
async function waitLog(d: DostProcess, text: string, from = 0, ms = 10_000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const i = d.logs.findIndex((l, j) => j >= from && l.includes(text));
    if (i >= 0) return i;
    if (Date.now() > deadline) throw new Error(`no log line with "${text}":\n${d.logs.slice(from).join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test({
  name: "e2e reload: SIGHUP keeps unchanged listeners and their tunnels, applies handler changes, adds and removes",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const echo = startEcho();
    const dir = await Deno.makeTempDir({ prefix: "dost-e2e-reload-" });
    const path = `${dir}/gost.yaml`;
    const [a, b, c] = [freePort(), freePort(), freePort()];
    const svc = (name: string, port: number, extra = "") =>
      `- name: ${name}\n  addr: 127.0.0.1:${port}\n  handler: {type: http${extra}}\n`;
    await Deno.writeTextFile(path, `services:\n${svc("a", a)}${svc("b", b, ", auth: {username: u, password: old}")}`);
    const dost = await startDost(["-C", path], { services: 2 });
    const url = `http://127.0.0.1:${origin.port}/r`;
    try {
      const t = await openTunnel(a, echo.port);
      assert(await echoes(t, "before"), "tunnel works");
      assertEquals((await curl("-U", "u:old", "-x", `http://127.0.0.1:${b}`, url)).stdout, "origin:/r\n200");

      // Keep connecting to `a` while the reload runs: none may be refused.
      let refused = 0, made = 0, hammering = true;
      const hammer = (async () => {
        while (hammering) {
          try {
            (await Deno.connect({ hostname: "127.0.0.1", port: a })).close();
            made++;
          } catch {
            refused++;
          }
        }
      })();

      await Deno.writeTextFile(
        path,
        `services:\n${svc("a", a)}${svc("b", b, ", auth: {username: u, password: new}")}${svc("c", c)}`,
      );
      const mark = dost.logs.length;
      dost.child.kill("SIGHUP");
      const i = await waitLog(dost, "config reloaded", mark);
      await new Promise((r) => setTimeout(r, 200));
      hammering = false;
      await hammer;
      assertEquals(refused, 0, `no connection to a kept listener was refused (${made} made)`);
      const line = JSON.parse(dost.logs[i]);
      assertEquals(line.kept, ["a", "b"]);
      assertEquals(line.added, ["c"]);
      assert(await echoes(t, "after"), "the tunnel opened before the reload still works");
      assertEquals((await curl("-U", "u:old", "-x", `http://127.0.0.1:${b}`, url)).stdout.trim(), "407");
      assertEquals((await curl("-U", "u:new", "-x", `http://127.0.0.1:${b}`, url)).stdout, "origin:/r\n200");
      assertEquals((await curl("-x", `http://127.0.0.1:${c}`, url)).stdout, "origin:/r\n200");

      // A broken file is rejected whole: the error names file:line, everything keeps serving.
      await Deno.writeTextFile(path, `services:\n${svc("a", a)}- name: b\n  addr: 127.0.0.1:99999\n`);
      const mark2 = dost.logs.length;
      dost.child.kill("SIGHUP");
      const j = await waitLog(dost, "config reload (SIGHUP) failed", mark2);
      assertStringIncludes(dost.logs[j], `${path}:6: services[1].addr`);
      assertEquals((await curl("-x", `http://127.0.0.1:${c}`, url)).stdout, "origin:/r\n200", "c still serves");
      assert(await echoes(t, "still"), "the tunnel survives the failed reload too");

      // c removed, a's listener changed: c closes, a is rebound; a's open tunnel drains instead of being cut.
      await Deno.writeTextFile(
        path,
        `services:\n${svc("a", a).replace("handler:", "listener: {type: tls}\n  handler:")}`,
      );
      const mark3 = dost.logs.length;
      // The replacement is bound beside the old listener before it closes: no client is refused.
      let refused2 = 0, made2 = 0, hammering2 = true;
      const hammer2 = (async () => {
        while (hammering2) {
          try {
            (await Deno.connect({ hostname: "127.0.0.1", port: a })).close();
            made2++;
          } catch {
            refused2++;
          }
        }
      })();
      dost.child.kill("SIGHUP");
      const k = await waitLog(dost, "config reloaded", mark3);
      await new Promise((r) => setTimeout(r, 200));
      hammering2 = false;
      await hammer2;
      assertEquals(refused2, 0, `no connection to a replaced service's port was refused (${made2} made)`);
      const l3 = JSON.parse(dost.logs[k]);
      assertEquals(l3.replaced, ["a"]);
      assertEquals(l3.removed, ["b", "c"]);
      assert(await echoes(t, "draining"), "a replaced service's open tunnel keeps working during the grace period");
      const tls = await curl("--proxy-insecure", "-x", `https://127.0.0.1:${a}`, url);
      assertEquals(tls.stdout, "origin:/r\n200", `a, rebound as an HTTPS proxy: ${tls.stderr}`);
      const gone = await curl("-x", `http://127.0.0.1:${c}`, url);
      assert(gone.code === 7, `c's port is closed: ${gone.code}`);
      t.close();
    } finally {
      await dost.stop();
      await echo.close();
      await origin.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e reload: -R picks up an edited file on its own",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const dir = await Deno.makeTempDir({ prefix: "dost-e2e-reload-" });
    const path = `${dir}/gost.yaml`;
    const p = freePort();
    const yaml = (pw: string) =>
      `services:\n- name: s\n  addr: 127.0.0.1:${p}\n  handler: {type: http, auth: {username: u, password: ${pw}}}\n`;
    await Deno.writeTextFile(path, yaml("one"));
    const dost = await startDost(["-C", path, "-R", "1s"], { services: 1 });
    const url = `http://127.0.0.1:${origin.port}/p`;
    try {
      assertEquals((await curl("-U", "u:one", "-x", `http://127.0.0.1:${p}`, url)).stdout, "origin:/p\n200");
      await Deno.writeTextFile(path, yaml("two"));
      const deadline = Date.now() + 8000;
      while ((await curl("-U", "u:two", "-x", `http://127.0.0.1:${p}`, url)).stdout !== "origin:/p\n200") {
        assert(Date.now() < deadline, "the edit was never applied");
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await dost.stop();
      await origin.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("e2e reload: the port sharing a reload uses never lets a second process onto a port in use", async () => {
  const p = freePort();
  const first = await startDost(["-L", `http://127.0.0.1:${p}`]);
  try {
    const second = await runDost(["-L", `http://127.0.0.1:${p}`]);
    assertEquals(second.code, 1);
    assertStringIncludes(second.stderr, "in use");
    const tls = await runDost(["-L", `http+tls://127.0.0.1:${p}`]);
    assertEquals(tls.code, 1, "a TLS listener is checked the same way");
  } finally {
    await first.stop();
  }
});
