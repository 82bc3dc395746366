/**
 * Metrics end to end, without main.ts: real services (handlers/service.ts on
 * transports/tcp listeners) wrapped by hand with the metrics wrappers, curl
 * pushing traffic through them, the metrics server scraped, the scrape
 * checked by `promtool check metrics`, and a real Prometheus server scraping
 * it until its query API shows the requests.
 *
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import { curlWith, hasCurl } from "./_common.ts";
import { freePort, hasCommand, run } from "./_dost.ts";
import { Chain, ChainRouter } from "../../handlers/chain/mod.ts";
import { Hop } from "../../handlers/chain/hop.ts";
import { ForwardHandler } from "../../handlers/forward/handler.ts";
import { httpHandler } from "../../handlers/http/mod.ts";
import { samples, series } from "../../handlers/metrics/_testing.ts";
import { Metrics, metricsHandler, metricsListener, serviceStarted } from "../../handlers/metrics/mod.ts";
import { relayConnector } from "../../handlers/relay/connector.ts";
import { deadPort, RelayServer } from "../../handlers/relay/_testing.ts";
import { Service } from "../../handlers/service.ts";
import type { Handler, HandlerOptions, Router, Target } from "../../handlers/types.ts";
import { Logger } from "../../transports/log.ts";
import { Metadata } from "../../transports/metadata.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import { tcpDialer } from "../../transports/tcp/mod.ts";
import { serveMetrics } from "../../ops/metrics_server.ts";

const log = new Logger({}, { level: "fatal", sink: () => {} });
const hasPromtool = hasCommand("promtool");
const hasPrometheus = hasCommand("prometheus");
const USER = "prom";
const PASS = "scrape-me";

function handlerOptions(router: Router, target?: Target): HandlerOptions {
  return {
    metadata: new Metadata({}),
    router,
    forwarder: target && { select: () => target, markFailed: () => {}, markOk: () => {}, size: 1 },
    tls: () => Promise.reject(new Error("No TLS here")),
    log,
  };
}

interface Stack {
  metrics: Metrics;
  /** The `forward` service's port (to the origin). */
  forwardPort: number;
  /** An HTTP proxy whose chain goes through a relay node. */
  proxyPort: number;
  /** An HTTP proxy whose chain's only node is down. */
  deadProxyPort: number;
  originPort: number;
  metricsPort: number;
  scrape(): Promise<string>;
}

/** Three wrapped services, an origin, a relay node and the metrics server; all released after `fn`. */
async function withStack(fn: (s: Stack) => Promise<void>): Promise<void> {
  const metrics = new Metrics();
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response("hello\n"));
  const relay = new RelayServer();
  const copts = { metadata: new Metadata({}), tls: { secure: false }, log };
  const node = (name: string, addr: string) => ({ name, addr, connector: relayConnector(copts), dialer: tcpDialer() });
  const chain = new Chain("chain-0", [new Hop("hop-0", [node("node-0", relay.addr)])], metrics);
  const deadChain = new Chain("chain-1", [new Hop("hop-1", [node("dead-0", `127.0.0.1:${deadPort()}`)])], metrics);
  const originAddr = `127.0.0.1:${origin.addr.port}`;

  const defs: [string, Handler][] = [
    ["forward-0", new ForwardHandler(handlerOptions(new ChainRouter(), { name: "origin", addr: originAddr }))],
    ["http-0", httpHandler(handlerOptions(new ChainRouter(chain)))],
    ["http-1", httpHandler(handlerOptions(new ChainRouter(deadChain)))],
  ];
  const running: { service: Service; serving: Promise<void> }[] = [];
  for (const [name, h] of defs) {
    // As config/build.ts is to wire them: the metrics wrappers outermost, the accept loop counted.
    const ln = metricsListener(TcpListener.listen("127.0.0.1:0"), metrics, name);
    const service = new Service(name, ln, metricsHandler(h, metrics, name), log);
    const down = serviceStarted(metrics);
    running.push({ service, serving: service.serve().finally(down) });
  }
  const server = await serveMetrics({ addr: "127.0.0.1:0", auth: { username: USER, password: PASS }, metrics, log });
  const port = (i: number) => (running[i].service.listener.addr as Deno.NetAddr).port;
  try {
    await fn({
      metrics,
      forwardPort: port(0),
      proxyPort: port(1),
      deadProxyPort: port(2),
      originPort: origin.addr.port,
      metricsPort: server.addr.port,
      async scrape() {
        const r = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`, {
          headers: { authorization: `Basic ${btoa(`${USER}:${PASS}`)}` },
        });
        assertEquals(r.status, 200);
        return await r.text();
      },
    });
  } finally {
    await server.close();
    for (const r of running) await r.service.shutdown(1000);
    await Promise.all(running.map((r) => r.serving));
    await relay.close();
    await origin.shutdown();
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
  const inFlight = () =>
    [...s.metrics.render().matchAll(/^gost_service_requests_in_flight\{.*\} (\S+)$/gm)].reduce(
      (a, m) => a + Number(m[1]),
      0,
    );
  for (let i = 0; i < 100 && inFlight() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assertEquals(inFlight(), 0);
}

Deno.test({
  name: "metrics e2e: curl through wrapped services; the scrape counts it and passes promtool check metrics",
  ignore: !hasCurl || !hasPromtool,
  async fn() {
    await withStack(async (s) => {
      await pushTraffic(s);
      const text = await s.scrape();
      const v = samples(text);
      const host = s.metrics.host;
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
          assertEquals(fwd.metric.host, s.metrics.host);
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
