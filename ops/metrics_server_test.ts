import { assert, assertEquals, assertRejects } from "../tests/assert.ts";
import { Metrics } from "../handlers/metrics/mod.ts";
import { Logger } from "../transports/log.ts";
import { METRICS_CONTENT_TYPE, parseBasicAuth, serveMetrics } from "./metrics_server.ts";

const log = new Logger({}, { level: "fatal", sink: () => {} });

async function get(url: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: string }> {
  const r = await fetch(url, init);
  return { status: r.status, headers: r.headers, body: await r.text() };
}

const basic = (user: string, pass: string) => ({ authorization: `Basic ${btoa(`${user}:${pass}`)}` });

Deno.test("serveMetrics: serves the scrape on the exact path only, GET and HEAD only", async () => {
  const m = new Metrics({ host: "h" });
  m.serviceUp();
  const srv = await serveMetrics({ addr: "127.0.0.1:0", metrics: m, log });
  const base = `http://127.0.0.1:${srv.addr.port}`;
  try {
    assertEquals(srv.addr.hostname, "127.0.0.1");
    const ok = await get(`${base}/metrics`);
    assertEquals(ok.status, 200);
    assertEquals(ok.headers.get("content-type"), METRICS_CONTENT_TYPE);
    assert(ok.body.includes('gost_services{host="h"} 1\n'), ok.body);
    assert(ok.body.includes("# TYPE process_resident_memory_bytes gauge\n"));
    assertEquals((await get(`${base}/metrics?x=1`)).status, 200, "the query does not matter");

    for (const p of ["/metrics/", "/", "/metricsx", "/x/metrics", "/Metrics"]) {
      const r = await get(base + p);
      assertEquals(r.status, 404, p);
      assertEquals(r.body, "404 page not found\n");
    }

    const head = await fetch(`${base}/metrics`, { method: "HEAD" });
    assertEquals(head.status, 200);
    assertEquals(head.headers.get("content-type"), METRICS_CONTENT_TYPE);
    assertEquals(await head.text(), "");

    for (const method of ["POST", "PUT", "DELETE"]) {
      const r = await get(`${base}/metrics`, { method, body: method === "DELETE" ? undefined : "x" });
      assertEquals(r.status, 405, method);
      assertEquals(r.headers.get("allow"), "GET, HEAD");
    }
  } finally {
    await srv.close();
  }
});

Deno.test("serveMetrics: a custom path; a path ending in / is a subtree, as in Go's ServeMux", async () => {
  const m = new Metrics({ host: "h" });
  for (const [path, ok, missing] of [["/prom", "/prom", "/prom/"], ["/m/", "/m/x", "/m"]]) {
    const srv = await serveMetrics({ addr: "127.0.0.1:0", path, metrics: m, log });
    const base = `http://127.0.0.1:${srv.addr.port}`;
    try {
      assertEquals((await get(base + ok)).status, 200, ok);
      assertEquals((await get(base + missing)).status, 404, missing);
      assertEquals((await get(`${base}/metrics`)).status, 404);
    } finally {
      await srv.close();
    }
  }
});

Deno.test("serveMetrics: Basic auth; a failure is 401, empty, with no WWW-Authenticate", async () => {
  const m = new Metrics({ host: "h" });
  const srv = await serveMetrics({
    addr: "127.0.0.1:0",
    auth: { username: "prom", password: "s3cret" },
    metrics: m,
    log,
  });
  const url = `http://127.0.0.1:${srv.addr.port}/metrics`;
  try {
    for (
      const headers of [
        {},
        basic("prom", "wrong"),
        basic("other", "s3cret"),
        basic("prom", ""),
        { authorization: "Bearer x" },
        { authorization: "Basic !!!" },
      ]
    ) {
      const r = await get(url, { headers });
      assertEquals(r.status, 401, JSON.stringify(headers));
      assertEquals(r.body, "");
      assertEquals(r.headers.get("www-authenticate"), null);
    }
    assertEquals((await get(url, { headers: basic("prom", "s3cret") })).status, 200);
    assertEquals((await get(url, { headers: { authorization: `basic ${btoa("prom:s3cret")}` } })).status, 200);
    assertEquals((await get(`${url}/`, { headers: {} })).status, 404, "the path is checked first");
    assertEquals((await get(url, { method: "POST", body: "x", headers: {} })).status, 401, "then the credentials");
  } finally {
    await srv.close();
  }
});

Deno.test("serveMetrics: an auther replaces auth; an empty user name admits no one", async () => {
  const m = new Metrics({ host: "h" });
  const seen: string[] = [];
  const auther = {
    authenticate(u: string, p: string) {
      seen.push(`${u}:${p}`);
      return u === "a" && p === "b";
    },
  };
  const srv = await serveMetrics({
    addr: "127.0.0.1:0",
    auth: { username: "prom", password: "x" },
    auther,
    metrics: m,
    log,
  });
  const url = `http://127.0.0.1:${srv.addr.port}/metrics`;
  try {
    assertEquals((await get(url, { headers: basic("a", "b") })).status, 200);
    assertEquals((await get(url, { headers: basic("prom", "x") })).status, 401);
    assertEquals((await get(url)).status, 401);
    assertEquals(seen, ["a:b", "prom:x", ":"], "no credentials are checked as empty ones, as Go does");
  } finally {
    await srv.close();
  }
  const none = await serveMetrics({ addr: "127.0.0.1:0", auth: { username: "" }, metrics: m, log });
  try {
    const r = await get(`http://127.0.0.1:${none.addr.port}/metrics`, { headers: basic("", "") });
    assertEquals(r.status, 401);
  } finally {
    await none.close();
  }
});

Deno.test("serveMetrics: a taken or malformed address rejects", async () => {
  const m = new Metrics({ host: "h" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assertRejects(
      () => serveMetrics({ addr: `127.0.0.1:${taken.addr.port}`, metrics: m, log }),
      Deno.errors.AddrInUse,
    );
    await assertRejects(() => serveMetrics({ addr: "127.0.0.1", metrics: m, log }), TypeError, "missing port");
  } finally {
    taken.close();
  }
});

Deno.test("parseBasicAuth: Go's Request.BasicAuth", () => {
  assertEquals(parseBasicAuth(`Basic ${btoa("u:p:q")}`), ["u", "p:q"]);
  assertEquals(parseBasicAuth(`BASIC ${btoa("u:")}`), ["u", ""]);
  assertEquals(parseBasicAuth(`Basic ${btoa("nocolon")}`), undefined);
  assertEquals(parseBasicAuth("Basic"), undefined);
  assertEquals(parseBasicAuth(null), undefined);
  // UTF-8 credentials.
  const b = String.fromCharCode(...new TextEncoder().encode("ü:ß"));
  assertEquals(parseBasicAuth(`Basic ${btoa(b)}`), ["ü", "ß"]);
});
