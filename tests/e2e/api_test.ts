/**
 * The Web API as automation drives it: the same sequence of calls against
 * dost and (with `GOST_BIN`) gost 3.2.6, status codes and error codes
 * compared; services added, replaced and deleted while another service's
 * tunnel stays open; auth, CORS, bad input.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { freePort, startDost } from "./_dost.ts";
import { curlWith, echoes, hasCurl, openTunnel } from "./_common.ts";
import { startEcho, startOrigin } from "./_servers.ts";
import { GOST_BIN, startGost } from "./_gost.ts";
import { parse as parseYaml } from "yaml";

const curl = curlWith({ maxTime: 10 });

interface Call {
  method: string;
  path: string;
  body?: unknown;
  /** Compared with gost when true. */
  same?: boolean;
}

async function call(base: string, c: Call, auth = "") {
  const headers: Record<string, string> = auth ? { authorization: "Basic " + btoa(auth) } : {};
  const r = await fetch(base + c.path, {
    method: c.method,
    headers,
    body: c.body === undefined ? undefined : typeof c.body === "string" ? c.body : JSON.stringify(c.body),
  });
  const text = await r.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: r.status, text, json, headers: r.headers };
}

Deno.test({
  name: "e2e api: create, replace and delete services and authers; other tunnels stay open; gost's codes",
  ignore: !hasCurl,
  async fn() {
    const origin = startOrigin();
    const echo = startEcho();
    const dir = await Deno.makeTempDir({ prefix: "dost-e2e-api-" });
    const url = `http://127.0.0.1:${origin.port}/api`;
    const sides: { name: string; base: string; s0: number; p1: number; stop(): Promise<unknown> }[] = [];
    try {
      for (const who of GOST_BIN ? ["dost", "gost"] : ["dost"]) {
        const [api, s0, p1] = [freePort(), freePort(), freePort()];
        const path = `${dir}/${who}.yaml`;
        await Deno.writeTextFile(
          path,
          `services:\n- name: s0\n  addr: 127.0.0.1:${s0}\n  handler: {type: http}\napi:\n  addr: 127.0.0.1:${api}\n`,
        );
        const stop = who === "dost"
          ? (await startDost(["-C", path], { services: 2 })).stop
          : (await startGost(["-C", path], 1)).stop;
        sides.push({ name: who, base: `http://127.0.0.1:${api}`, s0, p1, stop });
      }
      const results = new Map<string, { status: number; code?: unknown; msg?: unknown }[]>();
      for (const s of sides) {
        const t = await openTunnel(s.s0, echo.port);
        assert(await echoes(t, "first"), s.name);
        const svc = (auth?: string) => ({
          name: "s1",
          addr: `127.0.0.1:${s.p1}`,
          handler: { type: "http", ...(auth ? { auth: { username: "u", password: auth } } : {}) },
          listener: { type: "tcp" },
        });
        const calls: Call[] = [
          { method: "GET", path: "/config/services/nope", same: true },
          { method: "POST", path: "/config/services", body: svc(), same: true },
          { method: "POST", path: "/config/services", body: svc(), same: true }, // duplicate
          { method: "POST", path: "/config/services", body: { addr: "127.0.0.1:1" }, same: true }, // no name
          { method: "POST", path: "/config/services", body: "{not json", same: true },
          { method: "PUT", path: "/config/services/s1", body: svc("pw"), same: true },
          { method: "PUT", path: "/config/services/nope", body: svc(), same: true },
          {
            method: "POST",
            path: "/config/authers",
            body: { name: "a0", auths: [{ username: "x", password: "y" }] },
            same: true,
          },
          { method: "GET", path: "/config/authers", same: true },
          { method: "DELETE", path: "/config/authers/a0", same: true },
          { method: "DELETE", path: "/config/authers/a0", same: true },
          { method: "GET", path: "/config/nosuchkind", same: true },
        ];
        const got: { status: number; code?: unknown; msg?: unknown }[] = [];
        for (const c of calls) {
          const r = await call(s.base, c);
          got.push({ status: r.status, code: r.json?.code, msg: r.status === 200 ? r.json?.msg : undefined });
          if (c.method === "PUT" && c.path.endsWith("/s1")) {
            // The replaced service asks for credentials now; s0's tunnel is untouched.
            assertEquals((await curl("-x", `http://127.0.0.1:${s.p1}`, url)).stdout.trim(), "407", s.name);
            assertEquals((await curl("-U", "u:pw", "-x", `http://127.0.0.1:${s.p1}`, url)).stdout, "origin:/api\n200");
            assert(await echoes(t, "after-put"), `${s.name}: the s0 tunnel survives a change to s1`);
          }
          if (c.method === "POST" && c.path === "/config/services" && got.length === 2) {
            assertEquals((await curl("-x", `http://127.0.0.1:${s.p1}`, url)).stdout, "origin:/api\n200", s.name);
          }
        }
        results.set(s.name, got);
        const del = await call(s.base, { method: "DELETE", path: "/config/services/s1" });
        assertEquals(del.status, 200, `${s.name}: ${del.text}`);
        assertEquals((await curl("-x", `http://127.0.0.1:${s.p1}`, url)).code, 7, `${s.name}: s1's port is closed`);
        assert(await echoes(t, "after-delete"), `${s.name}: the s0 tunnel survives deleting s1`);
        t.close();
      }
      const d = results.get("dost")!;
      assertEquals(d.map((r) => r.status), [200, 200, 400, 400, 400, 200, 400, 200, 200, 200, 400, 404]);
      assertEquals(d.map((r) => r.code), [
        undefined,
        undefined,
        40002,
        40001,
        40001,
        undefined,
        40004,
        undefined,
        undefined,
        undefined,
        40004,
        undefined,
      ]);
      const g = results.get("gost");
      if (g) assertEquals(d, g, "the same calls get the same answers from gost 3.2.6");
    } finally {
      for (const s of sides) await s.stop();
      await echo.close();
      await origin.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "e2e api: GET /config (json, yaml, status), bad objects refused with the reason, reload, save, auth, CORS",
  ignore: !hasCurl,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dost-e2e-api-" });
    const [api, s0] = [freePort(), freePort()];
    const path = `${dir}/gost.yaml`;
    await Deno.writeTextFile(
      path,
      `services:\n- name: s0\n  addr: 127.0.0.1:${s0}\n  handler: {type: http, auther: a0}\nauthers: [{name: a0, auths: [{username: u, password: p}]}]\napi:\n  addr: 127.0.0.1:${api}\n  auth: {username: admin, password: secret}\n  accesslog: true\n`,
    );
    // Ready when both the service and the API say "listening on".
    const dost = await startDost(["-C", path], { services: 2 });
    const base = `http://127.0.0.1:${api}`;
    const A = "admin:secret";
    try {
      const denied = await call(base, { method: "GET", path: "/config" });
      assertEquals(denied.status, 401);
      assertEquals(denied.json, { code: 401, msg: "Unauthorized" });
      assertEquals(denied.headers.get("www-authenticate"), "Basic");
      assertEquals((await call(base, { method: "GET", path: "/config" }, "admin:wrong")).status, 401);
      const pre = await fetch(base + "/config", { method: "OPTIONS" });
      await pre.body?.cancel();
      assertEquals(pre.status, 204);
      assertEquals(pre.headers.get("access-control-allow-origin"), "*");
      const docs = await call(base, { method: "GET", path: "/docs/swagger.yaml" });
      assertEquals(docs.status, 200, "the API description needs no credentials, as in gost");
      assertEquals(docs.headers.get("content-type"), "application/x-yaml");
      const swagger = parseYaml(docs.text) as { swagger: string; paths: Record<string, unknown> };
      assertEquals(swagger.swagger, "2.0");
      assert("/config/{kind}/{name}" in swagger.paths);
      assertEquals((await call(base, { method: "GET", path: "/" })).status, 401, "the dashboard needs the API user");
      const page = await call(base, { method: "GET", path: "/" }, A);
      assertEquals(page.status, 200);
      assertStringIncludes(page.text, '<svg id="traffic"');
      const nf = await call(base, { method: "GET", path: "/nothing" });
      assertEquals([nf.status, nf.text], [404, "404 page not found"]);

      const all = await call(base, { method: "GET", path: "/config" }, A);
      const svc = (all.json!.services as Record<string, unknown>[])[0];
      assertEquals(svc.name, "s0");
      assertEquals((svc.status as Record<string, unknown>).state, "ready");
      const yaml = await fetch(base + "/config?format=yaml", { headers: { authorization: "Basic " + btoa(A) } });
      assertEquals(yaml.headers.get("content-type"), "text/x-yaml");
      assertStringIncludes(await yaml.text(), "name: s0");

      // Refusals say why, and nothing changes.
      const bad = await call(base, {
        method: "POST",
        path: "/config/services",
        body: { name: "x", addr: "127.0.0.1:1", handler: { type: "nosuch" } },
      }, A);
      assertEquals(bad.status, 500);
      assertEquals(bad.json!.code, 40003);
      assertStringIncludes(bad.json!.msg as string, 'handler type "nosuch" is not supported');
      const inUse = await call(base, { method: "DELETE", path: "/config/authers/a0" }, A);
      assertEquals(inUse.status, 500, "deleting a referenced auther would open the service (gost lets everyone in)");
      assertStringIncludes(inUse.json!.msg as string, 'no auther named "a0"');
      const huge = await call(base, { method: "POST", path: "/config/services", body: "x".repeat(2 << 20) }, A);
      assertEquals(huge.status, 413);
      const loose = await call(base, {
        method: "POST",
        path: "/config/bypasses",
        body: { Name: "bp0", Matchers: ["10.0.0.0/33"] },
      }, A);
      assertEquals(loose.status, 500);
      assertStringIncludes(loose.json!.msg as string, "not a valid CIDR");

      // Save, then reload from the file (the API's changes are gone, as in gost).
      const added = await call(base, {
        method: "POST",
        path: "/config/hosts",
        body: { name: "h0", mappings: [{ ip: "127.0.0.1", hostname: "x.test" }] },
      }, A);
      assertEquals(added.status, 200, added.text);
      const saved = await call(base, { method: "POST", path: `/config?format=json&path=${dir}/saved.json` }, A);
      assertEquals(saved.status, 200);
      const savedCfg = JSON.parse(await Deno.readTextFile(`${dir}/saved.json`));
      assertEquals(savedCfg.hosts[0].name, "h0");
      assertEquals((await call(base, { method: "POST", path: "/config/reload" }, A)).status, 200);
      const hosts = await call(base, { method: "GET", path: "/config/hosts" }, A);
      assertEquals(hosts.json, { data: { count: 0, list: null } });
      assert(dost.logs.some((l) => l.includes('"uri":"/config/hosts"')), "access log");
      assert(!dost.logs.some((l) => l.includes("secret")), "credentials are never logged");
    } finally {
      await dost.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
