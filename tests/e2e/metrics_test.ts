/**
 * Metrics as an operator runs them: dost started with a `metrics:` section
 * (Basic auth) in front of a forward service, an HTTP proxy chained through
 * a relay server and an HTTP proxy whose chain node is down; curl pushes
 * traffic; the scrape passes `promtool check metrics`; a real Prometheus
 * server scrapes it until its query API shows the requests; `-metrics` on
 * the command line listens on loopback.
 *
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import { curlWith, hasCurl } from "./_common.ts";
import { freePort, hasCommand, run, startDost } from "./_dost.ts";
import { samples, series } from "../../handlers/metrics/_testing.ts";

const hasPromtool = hasCommand("promtool");
const hasPrometheus = hasCommand("prometheus");
const USER = "prom";
const PASS = "scrape-me";
const HOST = Deno.hostname();

interface Stack {
  forwardPort: number;
  proxyPort: number;
  deadProxyPort: number;
  originPort: number;
  metricsPort: number;
  scrape(): Promise<string>;
}

async function withStack(fn: (s: Stack) => Promise<void>): Promise<void> {
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response("hello\n"));
  const [forwardPort, proxyPort, deadProxyPort, relayPort, metricsPort] = [1, 2, 3, 4, 5].map(() => freePort());
  const dir = await Deno.makeTempDir({ prefix: "dost-e2e-metrics-" });
  const dead = freePort();
  await Deno.writeTextFile(
    `${dir}/gost.yaml`,
    `services:
- name: forward-0
  addr: 127.0.0.1:${forwardPort}
  handler: {type: tcp}
  listener: {type: tcp}
  forwarder: {nodes: [{name: origin, addr: "127.0.0.1:${origin.addr.port}"}]}
- name: http-0
  addr: 127.0.0.1:${proxyPort}
  handler: {type: http, chain: chain-0}
- name: http-1
  addr: 127.0.0.1:${deadProxyPort}
  handler: {type: http, chain: chain-1}
chains:
- name: chain-0
  hops: [{name: hop-0, nodes: [{name: node-0, addr: "127.0.0.1:${relayPort}", connector: {type: relay}}]}]
- name: chain-1
  hops: [{name: hop-0, nodes: [{name: dead-0, addr: "127.0.0.1:${dead}", connector: {type: relay}}]}]
metrics:
  addr: 127.0.0.1:${metricsPort}
  auth: {username: ${USER}, password: ${PASS}}
`,
  );
  const relay = await startDost(["-L", `relay://127.0.0.1:${relayPort}`]);
  const dost = await startDost(["-C", `${dir}/gost.yaml`], { services: 3 });
  const auth = "Basic " + btoa(`${USER}:${PASS}`);
  try {
    await fn({
      forwardPort,
      proxyPort,
      deadProxyPort,
      originPort: origin.addr.port,
      metricsPort,
      async scrape() {
        const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { headers: { authorization: auth } });
        assertEquals(r.status, 200);
        return await r.text();
      },
    });
  } finally {
    assertEquals(await dost.stop(), 0);
    await relay.stop();
    await origin.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Pushes traffic: 2 requests through the forward service, 1 through each proxy. */
async function pushTraffic(s: Stack): Promise<void> {
  const curl = curlWith({ maxTime: 10 });
  for (let i = 0; i < 2; i++) {
    const r = await curl(`http://127.0.0.1:${s.forwardPort}/`);
    assertEquals(r.stdout, "hello\n\n200", r.stderr);
  }
  const origin = `http://127.0.0.1:${s.originPort}/`;
  assertEquals((await curl("-x", `http://127.0.0.1:${s.proxyPort}`, origin)).stdout, "hello\n\n200");
  assertEquals((await curl("-x", `http://127.0.0.1:${s.deadProxyPort}`, origin)).stdout.split("\n").at(-1), "503");
  // The services log (and count) a request when its handler ends, just after curl has its answer.
  const inFlight = async () =>
    [...(await s.scrape()).matchAll(/^gost_service_requests_in_flight\{.*\} (\S+)$/gm)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
  for (let i = 0; i < 100 && (await inFlight()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assertEquals(await inFlight(), 0);
}

Deno.test({
  name: "metrics e2e: curl through wrapped services; the scrape counts it and passes promtool check metrics",
  ignore: !hasCurl || !hasPromtool,
  async fn() {
    await withStack(async (s) => {
      await pushTraffic(s);
      const text = await s.scrape();
      const v = samples(text);
      const host = HOST;
      const fwd = { client: "127.0.0.1", host, service: "forward-0" };
      assertEquals(v.get(series("gost_services", { host })), 3);
      assertEquals(v.get(series("gost_service_requests_total", fwd)), 2);
      assert(v.get(series("gost_service_transfer_input_bytes_total", fwd))! > 100, "two GET requests");
      assert(v.get(series("gost_service_transfer_output_bytes_total", fwd))! > 100, "two responses");
      assertEquals(v.get(series("gost_service_request_duration_seconds_count", { host, service: "forward-0" })), 2);
      assertEquals(v.get(series("gost_service_handler_errors_total", fwd)), undefined);
      const dead = { client: "127.0.0.1", host, service: "http-1" };
      assertEquals(v.get(series("gost_service_handler_errors_total", dead)), 1, "the 503");
      assertEquals(v.get(series("gost_chain_errors_total", { chain: "chain-1", host, node: "dead-0" })), 1);
      const node = { chain: "chain-0", host, node: "node-0" };
      assertEquals(v.get(series("gost_chain_node_connect_duration_seconds_count", node)), 1);
      assert(v.get("process_resident_memory_bytes")! > 0);

      const check = await run("promtool", ["check", "metrics"], { stdin: new TextEncoder().encode(text) });
      assertEquals(check.code, 0, `promtool: ${check.stdout}${check.stderr}\n${text}`);
      assertEquals((check.stdout + check.stderr).trim(), "", "no lint findings");
    });
  },
});

/** Waits for `url` to answer 200 with JSON for which `ok` holds; returns that JSON. */
async function poll<T>(url: string, ok: (body: T) => boolean, timeoutMs: number, child: Deno.ChildProcess) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => (exited = true));
  let last: unknown;
  while (Date.now() < deadline && !exited) {
    try {
      const r = await fetch(url);
      const body = r.ok ? await r.json() as T : (await r.body?.cancel(), undefined);
      last = body;
      if (body !== undefined && ok(body)) return body;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become ready${exited ? " (prometheus exited)" : ""}; last: ${JSON.stringify(last)}`);
}

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

Deno.test({
  name: "metrics e2e: a real Prometheus scrapes the metrics server (with Basic auth) and queries the requests",
  ignore: !hasCurl || !hasPrometheus,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "dost-prom-" });
    try {
      await withStack(async (s) => {
        await pushTraffic(s);
        const promPort = freePort();
        await Deno.writeTextFile(
          `${dir}/prometheus.yml`,
          [
            "global:",
            "  scrape_interval: 1s",
            "  scrape_timeout: 1s",
            "  evaluation_interval: 1s",
            "scrape_configs:",
            "  - job_name: dost",
            "    metrics_path: /metrics",
            "    basic_auth:",
            `      username: ${USER}`,
            `      password: ${PASS}`,
            "    static_configs:",
            `      - targets: ["127.0.0.1:${s.metricsPort}"]`,
            "",
          ].join("\n"),
        );
        const child = new Deno.Command("prometheus", {
          args: [
            `--config.file=${dir}/prometheus.yml`,
            `--storage.tsdb.path=${dir}/data`,
            `--web.listen-address=127.0.0.1:${promPort}`,
          ],
          cwd: dir,
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).spawn();
        // Prometheus logs to stderr; keep reading it so it never blocks, and keep it for a failure message.
        let logs = "";
        const reading = (async () => {
          const dec = new TextDecoder();
          for await (const chunk of child.stderr) logs += dec.decode(chunk, { stream: true });
        })();
        try {
          const api = `http://127.0.0.1:${promPort}/api/v1/query?query=`;
          const got = await poll<QueryResult>(
            api + encodeURIComponent("gost_service_requests_total"),
            (b) => b.status === "success" && b.data.result.some((r) => Number(r.value[1]) > 0),
            60_000,
            child,
          ).catch((err) => {
            throw new Error(`${err.message}\nprometheus log:\n${logs}`);
          });
          const fwd = got.data.result.find((r) => r.metric.service === "forward-0");
          assert(fwd, JSON.stringify(got.data.result));
          assertEquals(fwd.metric.job, "dost");
          assertEquals(fwd.metric.client, "127.0.0.1");
          assertEquals(fwd.metric.host, HOST);
          assertEquals(Number(fwd.value[1]), 2);
          const up = await poll<QueryResult>(
            api + encodeURIComponent('up{job="dost"}'),
            (b) => b.data.result.length === 1,
            10_000,
            child,
          );
          assertEquals(up.data.result[0].value[1], "1", "the scrape succeeded with the credentials");
        } finally {
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
          await child.status;
          clearTimeout(killer);
          await reading;
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "metrics e2e: -metrics on the command line: loopback by default, 401 without credentials, 404 off the path",
  ignore: !hasCurl,
  async fn() {
    const [p, m] = [freePort(), freePort()];
    const dost = await startDost(["-L", `http://127.0.0.1:${p}`, "-metrics", `u:pw@:${m}?path=/m`]);
    try {
      assert(dost.logs.some((l) => l.includes(`listening on 127.0.0.1:${m}/m`)), dost.logs.join("\n"));
      const curl = curlWith({ maxTime: 5 });
      assertEquals((await curl(`http://127.0.0.1:${m}/m`)).stdout, "\n401");
      assertEquals((await curl("-u", "u:pw", `http://127.0.0.1:${m}/metrics`)).stdout.slice(-3), "404");
      const ok = await curl("-u", "u:pw", `http://127.0.0.1:${m}/m`);
      assert(ok.stdout.includes("# TYPE gost_services gauge"), ok.stdout);
      assert(ok.stdout.includes(`gost_services{host="${HOST}"} 1`), ok.stdout);
    } finally {
      await dost.stop();
    }
  },
});
