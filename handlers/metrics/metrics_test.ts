import { assert, assertEquals } from "../../tests/assert.ts";
import { readAll } from "../../transports/_testing.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import { BufferedConn } from "../../transports/_io/buffered_conn.ts";
import { readRequestHead } from "../../transports/_http1/head.ts";
import { Http1RequestConn, isHttp2RequestConn } from "../../transports/http2/mod.ts";
import type { Conn, Listener } from "../../transports/types.ts";
import type { Handler, HandleResult } from "../types.ts";
import { samples, series } from "./_testing.ts";
import {
  MAX_CLIENTS,
  Metrics,
  metricsHandler,
  metricsListener,
  NODE_CONNECT_BUCKETS,
  REQUEST_DURATION_BUCKETS,
  serviceStarted,
} from "./mod.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("Metrics: gost's families with gost's names, help, types, labels and buckets", () => {
  const m = new Metrics({ host: "h1" });
  // Nothing counted yet: like client_golang, families without series are not shown.
  assert(!m.render().includes("gost_"));
  const down = m.serviceUp();
  m.accepted("svc", "10.0.0.1").input.inc(3);
  m.requestStarted("svc", "10.0.0.1")(true);
  m.connectError("chain-0", "node-0");
  m.nodeConnected("chain-0", "node-0", 0.07);
  const text = m.render();
  for (
    const [name, type, help] of [
      ["gost_services", "gauge", "Current number of services"],
      ["gost_service_requests_total", "counter", "Total number of requests"],
      ["gost_service_requests_in_flight", "gauge", "Current in-flight requests"],
      ["gost_service_request_duration_seconds", "histogram", "Distribution of request latencies"],
      ["gost_service_handler_errors_total", "counter", "Total service handler errors"],
      ["gost_service_transfer_input_bytes_total", "counter", "Total service input data transfer size in bytes"],
      ["gost_service_transfer_output_bytes_total", "counter", "Total service output data transfer size in bytes"],
      ["gost_chain_errors_total", "counter", "Total chain errors"],
      ["gost_chain_node_connect_duration_seconds", "histogram", "Distribution of chain node connect latencies"],
    ]
  ) {
    assert(text.includes(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`), name);
  }
  const s = samples(text);
  const client = { client: "10.0.0.1", host: "h1", service: "svc" };
  assertEquals(s.get(series("gost_services", { host: "h1" })), 1);
  assertEquals(s.get(series("gost_service_requests_total", client)), 1);
  assertEquals(s.get(series("gost_service_requests_in_flight", client)), 0);
  assertEquals(s.get(series("gost_service_handler_errors_total", client)), 1);
  assertEquals(s.get(series("gost_service_transfer_input_bytes_total", client)), 3);
  assertEquals(s.get(series("gost_service_transfer_output_bytes_total", client)), 0);
  assertEquals(s.get(series("gost_chain_errors_total", { chain: "chain-0", host: "h1", node: "node-0" })), 1);
  const les = (name: string) =>
    [...text.matchAll(new RegExp(`^${name}_bucket\\{.*le="([^"]+)"\\} `, "gm"))].map((x) => x[1]);
  assertEquals(les("gost_service_request_duration_seconds"), [...REQUEST_DURATION_BUCKETS.map(String), "+Inf"]);
  assertEquals(
    les("gost_service_request_duration_seconds").join(" "),
    "0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 15 30 60 +Inf",
  );
  assertEquals(
    les("gost_chain_node_connect_duration_seconds").join(" "),
    "0.01 0.05 0.1 0.25 0.5 1 1.5 2 5 10 15 30 60 +Inf",
  );
  assertEquals(NODE_CONNECT_BUCKETS.length, 13);
  const node = { chain: "chain-0", host: "h1", node: "node-0" };
  assertEquals(s.get(series("gost_chain_node_connect_duration_seconds_bucket", { ...node, le: "0.05" })), 0);
  assertEquals(s.get(series("gost_chain_node_connect_duration_seconds_bucket", { ...node, le: "0.1" })), 1);
  assertEquals(s.get(series("gost_chain_node_connect_duration_seconds_sum", node)), 0.07);
  assertEquals(s.get(series("gost_service_request_duration_seconds_count", { host: "h1", service: "svc" })), 1);
  down();
  down();
  assertEquals(samples(m.render()).get(series("gost_services", { host: "h1" })), 0, "taken back once");
});

Deno.test("Metrics: the host label defaults to Deno.hostname()", () => {
  assertEquals(new Metrics().host, Deno.hostname());
});

Deno.test("Metrics: process and deno families are present and sane", async () => {
  const m = new Metrics({ host: "h" });
  const before = Date.now() / 1000;
  // Burn a little CPU so the counter has something to show.
  let x = 0;
  for (let i = 0; i < 2e6; i++) x += Math.sqrt(i);
  assert(x > 0);
  const text = m.render();
  const s = samples(text);
  const v = (n: string) => s.get(n)!;
  for (
    const [name, type] of [
      ["process_cpu_seconds_total", "counter"],
      ["process_open_fds", "gauge"],
      ["process_max_fds", "gauge"],
      ["process_virtual_memory_bytes", "gauge"],
      ["process_resident_memory_bytes", "gauge"],
      ["process_start_time_seconds", "gauge"],
      ["deno_heap_used_bytes", "gauge"],
      ["deno_heap_total_bytes", "gauge"],
      ["deno_external_memory_bytes", "gauge"],
    ]
  ) {
    assert(text.includes(`# TYPE ${name} ${type}\n`), name);
    assert(Number.isFinite(v(name)) && v(name) >= 0, `${name} = ${v(name)}`);
  }
  assert(v("process_cpu_seconds_total") > 0);
  const rss = v("process_resident_memory_bytes");
  assert(rss > 10 * 1024 * 1024 && rss < v("process_virtual_memory_bytes"), `rss ${rss}`);
  assert(v("process_open_fds") >= 3 && v("process_open_fds") <= v("process_max_fds"));
  const start = v("process_start_time_seconds");
  assert(start <= before + 1 && start > before - 3600, `start ${start}, now ${before}`);
  assert(v("deno_heap_used_bytes") > 0 && v("deno_heap_used_bytes") <= v("deno_heap_total_bytes"));
  // Opening a file shows up in the fd count.
  const f = await Deno.open(new URL(import.meta.url));
  try {
    assert(samples(m.render()).get("process_open_fds")! > v("process_open_fds"));
  } finally {
    f.close();
  }
});

Deno.test("Metrics: without --allow-all (no /proc) CPU, memory and start time are still there", async () => {
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    const mod = new URL("./mod.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { Metrics } from ${JSON.stringify(mod)};\nconsole.log(new Metrics({ host: "h" }).render());\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-read", "--allow-sys", script],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const s = samples(text);
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "deno_heap_used_bytes"]) {
      assert(s.get(name)! > 0, `${name} in\n${text}`);
    }
    const start = s.get("process_start_time_seconds")!;
    assert(Math.abs(start - Date.now() / 1000) < 120, `start ${start}`);
    for (const name of ["process_open_fds", "process_max_fds", "process_virtual_memory_bytes"]) {
      assert(!text.includes(name), `${name} needs /proc`);
    }
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("metricsListener: counts each accepted conn and its bytes both ways, by client IP", async () => {
  const m = new Metrics({ host: "h" });
  const ln = metricsListener(TcpListener.listen("127.0.0.1:0"), m, "svc");
  const port = (ln.addr as Deno.NetAddr).port;
  try {
    for (let i = 0; i < 2; i++) {
      const [c, s] = await Promise.all([Deno.connect({ hostname: "127.0.0.1", port }), ln.accept()]);
      assertEquals((s.remoteAddr as Deno.NetAddr).port, c.localAddr.port);
      await writeAll(c, enc("hello"));
      await c.closeWrite();
      assertEquals((await readAll(s)).length, 5);
      await writeAll(s, enc("world!!"));
      await s.closeWrite();
      assertEquals((await readAll(c)).length, 7);
      s.close();
      c.close();
    }
    const s = samples(m.render());
    const labels = { client: "127.0.0.1", host: "h", service: "svc" };
    assertEquals(s.get(series("gost_service_requests_total", labels)), 2);
    assertEquals(s.get(series("gost_service_transfer_input_bytes_total", labels)), 10);
    assertEquals(s.get(series("gost_service_transfer_output_bytes_total", labels)), 14);
  } finally {
    ln.close();
  }
});

Deno.test("metricsListener, metricsHandler, serviceStarted: metrics off wraps nothing", () => {
  const ln = TcpListener.listen("127.0.0.1:0");
  const h: Handler = { handle: () => Promise.resolve({}) };
  try {
    assert(metricsListener(ln, undefined, "s") === ln);
    assert(metricsHandler(h, undefined, "s") === h);
    serviceStarted(undefined)();
  } finally {
    ln.close();
  }
});

/** A loopback pair whose server side is what a handler gets. */
async function served(): Promise<{ client: Deno.Conn; server: Conn; close(): void }> {
  const ln = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [client, server] = await Promise.all([
      Deno.connect({ hostname: "127.0.0.1", port: ln.addr.port }),
      ln.accept(),
    ]);
    return {
      client,
      server,
      close: () => {
        closeQuietly(client);
        closeQuietly(server);
      },
    };
  } finally {
    ln.close();
  }
}

Deno.test("metricsHandler: in flight while handling, duration observed, errors counted (benign ones too)", async () => {
  const m = new Metrics({ host: "h" });
  const labels = { client: "127.0.0.1", host: "h", service: "svc" };
  let during: number | undefined;
  const results: HandleResult[] = [{}, { error: new Error("auth failed") }, {
    error: new Deno.errors.ConnectionReset(),
  }];
  let i = 0;
  const inner: Handler = {
    async handle(conn) {
      during = samples(m.render()).get(series("gost_service_requests_in_flight", labels));
      await new Promise((r) => setTimeout(r, 20));
      closeQuietly(conn);
      return results[i++];
    },
  };
  const h = metricsHandler(inner, m, "svc");
  const signal = new AbortController().signal;
  for (let n = 0; n < results.length; n++) {
    const p = await served();
    try {
      assert((await h.handle(p.server, signal)) === results[n], "the result passes through untouched");
    } finally {
      p.close();
    }
    assertEquals(during, 1);
  }
  const s = samples(m.render());
  assertEquals(s.get(series("gost_service_requests_in_flight", labels)), 0);
  assertEquals(s.get(series("gost_service_handler_errors_total", labels)), 2);
  const d = { host: "h", service: "svc" };
  assertEquals(s.get(series("gost_service_request_duration_seconds_count", d)), 3);
  assertEquals(s.get(series("gost_service_request_duration_seconds_bucket", { ...d, le: "0.005" })), 0);
  assert(s.get(series("gost_service_request_duration_seconds_sum", d))! >= 0.055);
});

Deno.test("metricsHandler: a handler that rejects still ends the request, as an error", async () => {
  const m = new Metrics({ host: "h" });
  const h = metricsHandler({ handle: () => Promise.reject(new Error("boom")) }, m, "svc");
  const p = await served();
  try {
    let threw = false;
    await h.handle(p.server, new AbortController().signal).catch(() => (threw = true));
    assert(threw);
  } finally {
    p.close();
  }
  const s = samples(m.render());
  const labels = { client: "127.0.0.1", host: "h", service: "svc" };
  assertEquals(s.get(series("gost_service_requests_in_flight", labels)), 0);
  assertEquals(s.get(series("gost_service_handler_errors_total", labels)), 1);
});

Deno.test("Metrics: client labels are capped per family; past the cap new clients count as 'other'", () => {
  assertEquals(MAX_CLIENTS, 10_000);
  const m = new Metrics({ host: "h", maxClients: 2 });
  for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.1"]) m.accepted("svc", ip);
  const s = samples(m.render());
  const total = (client: string) => s.get(series("gost_service_requests_total", { client, host: "h", service: "svc" }));
  assertEquals([total("10.0.0.1"), total("10.0.0.2"), total("other"), total("10.0.0.3")], [2, 1, 2, undefined]);
  assertEquals(
    s.get(series("gost_service_transfer_input_bytes_total", { client: "other", host: "h", service: "svc" })),
    0,
  );
});

Deno.test("metricsListener: an http2 listener's request conn keeps its API (respond, request) and is counted", async () => {
  const m = new Metrics({ host: "h" });
  const p = await served();
  await writeAll(p.client, enc("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nbody"));
  const bc = new BufferedConn(p.server);
  const head = (await readRequestHead(bc))!;
  const inner: Listener = {
    addr: p.server.localAddr,
    accept: () => Promise.resolve(new Http1RequestConn(bc, head)),
    close: () => {},
  };
  try {
    const conn = await metricsListener(inner, m, "h2").accept();
    assert(isHttp2RequestConn(conn));
    assertEquals(conn.request.authority, "example.com:443");
    await conn.respond(200);
    const buf = new Uint8Array(16);
    assertEquals(new TextDecoder().decode(buf.subarray(0, (await conn.read(buf))!)), "body");
    await conn.write(enc("xyz"));
    conn.close();
    const got = new TextDecoder().decode(await readAll(p.client));
    assert(got.startsWith("HTTP/1.1 200 OK\r\n") && got.endsWith("\r\n\r\nxyz"), got);
    const s = samples(m.render());
    const labels = { client: "127.0.0.1", host: "h", service: "h2" };
    assertEquals(s.get(series("gost_service_requests_total", labels)), 1);
    // The request head was read by the listener and the answer written by respond(): only the bodies count.
    assertEquals(s.get(series("gost_service_transfer_input_bytes_total", labels)), 4);
    assertEquals(s.get(series("gost_service_transfer_output_bytes_total", labels)), 3);
  } finally {
    p.close();
  }
});
