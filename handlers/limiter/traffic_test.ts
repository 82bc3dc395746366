import { assert, assertEquals, assertRejects, assertStringIncludes, assertThrows } from "../../tests/assert.ts";
import { ClosedError, type Conn } from "../../transports/types.ts";
import { pattern, readAll, sha256, tcpPair } from "../../transports/_testing.ts";
import { concat, writeAll } from "../../transports/_io/write_all.ts";
import { ipKey, parseCIDR, parseIP } from "../matcher/ip.ts";
import { FakeClock, FakeConn, settlesNow } from "./_testing.ts";
import { parseTrafficLimits, TrafficLimiter } from "./traffic.ts";

const K = 1024;
const M = K * K;

function limiter(lines: string[], clock = new FakeClock()): TrafficLimiter {
  return new TrafficLimiter(parseTrafficLimits(lines), { now: clock.now });
}

Deno.test("parseTrafficLimits: the spec's lines", () => {
  const l = parseTrafficLimits(["$ 100MB 100MB", "$$ 10MB", "192.168.1.1 512KB 1MB", "192.168.0.0/16 1MB 5MB"]);
  assertEquals(l.service, { in: 100 * M, out: 100 * M });
  assertEquals(l.conn, { in: 10 * M, out: 0 }, "a missing OUT is unlimited");
  assertEquals(l.ips.get(ipKey(parseIP("192.168.1.1")!)), { in: 512 * K, out: M });
  assertEquals(l.cidrs, [{ cidr: parseCIDR("192.168.0.0/16")!, value: { in: M, out: 5 * M } }]);
});

Deno.test("parseTrafficLimits: spacing, zeros, repeats, IPv6, CIDR order", () => {
  const l = parseTrafficLimits([
    "",
    "   ",
    "\t$\t 1MB \t 2MB  ",
    "$$ 0 0", // limits nothing: dropped
    "10.0.0.0/8 1KB",
    "10.1.0.0/16 2KB",
    "10.0.0.0/8 3KB", // a repeat replaces
    "::ffff:1.2.3.4 1.5MB 1MB512KB",
    "[2001:db8::1] 1KB",
    "2001:db8::/32 0 4KB",
  ]);
  assertEquals(l.service, { in: M, out: 2 * M });
  assertEquals(l.conn, undefined);
  assertEquals(l.ips.get(ipKey(parseIP("1.2.3.4")!)), { in: 1.5 * M, out: M + 512 * K });
  assertEquals(l.ips.get(ipKey(parseIP("2001:db8::1")!)), { in: K, out: 0 });
  assertEquals(l.cidrs.map((c) => [c.cidr.bits, c.value]), [
    [32, { in: 0, out: 4 * K }],
    [16, { in: 2 * K, out: 0 }],
    [8, { in: 3 * K, out: 0 }],
  ]);
});

Deno.test("parseTrafficLimits: a bad line throws a RangeError quoting it", () => {
  const table: [string, string][] = [
    ["$", "missing IN"],
    ["$$", "missing IN"],
    ["$ 16384", `invalid size "16384"`],
    ["$ 10mb", `invalid size "10mb"`],
    ["$ 1MB 1kB", `invalid size "1kB"`],
    ["$ -1MB", `negative size "-1MB"`],
    ["$ 1MB 1MB 1MB", `unexpected "1MB"`],
    ["$ 1MB # comment", `unexpected "comment"`],
    ["* 1MB", `key "*"`],
    ["$$$ 1MB", `key "$$$"`],
    ["localhost 1MB", `key "localhost"`],
    ["192.168.1.256 1MB", `key "192.168.1.256"`],
    ["10.0.0.0/33 1MB", `key "10.0.0.0/33"`],
    ["10.0.0.0/8/8 1MB", `key "10.0.0.0/8/8"`],
  ];
  for (const [line, why] of table) {
    const err = assertThrows(() => parseTrafficLimits(["$ 1MB", line]), RangeError);
    assertStringIncludes(err.message, `"${line.trim()}"`);
    assertStringIncludes(err.message, why);
  }
});

Deno.test("TrafficLimiter: IN limits reads, OUT limits writes, each cut to one burst", async () => {
  const tl = limiter(["$ 10KB 20KB"]);
  const c = tl.wrap(new FakeConn("10.0.0.1", new Uint8Array(M)));
  assertEquals(await c.read(new Uint8Array(64 * K)), 10 * K);
  assertEquals(await c.write(new Uint8Array(64 * K)), 20 * K);

  const inOnly = limiter(["$ 10KB"]).wrap(new FakeConn("10.0.0.1", new Uint8Array(M)));
  assertEquals(await inOnly.read(new Uint8Array(64 * K)), 10 * K);
  assertEquals(await inOnly.write(new Uint8Array(M)), M, "a missing OUT is unlimited");

  const none = limiter([]).wrap(new FakeConn("10.0.0.1", new Uint8Array(M)));
  assertEquals(await none.read(new Uint8Array(M)), M);
  assertEquals(await none.write(new Uint8Array(2 * M)), 2 * M);
});

Deno.test("TrafficLimiter: which lines apply (exact IP beats CIDR, slowest wins)", async () => {
  const lines = [
    "10.0.0.0/8 300KB 100KB",
    "10.1.0.0/16 0 200KB",
    "10.0.0.5 0 1MB",
    "192.168.0.0/16 0 50KB",
    "192.168.1.1 0 2MB",
    "$$ 0 500KB",
  ];
  const table: [string | Deno.Addr, number, number][] = [
    // host, bytes one read may take, bytes one write may take
    ["10.0.0.6", 300 * K, 100 * K], // the CIDR
    ["10.1.2.3", 300 * K, 200 * K], // the most specific CIDR per direction; IN 0 there falls back to the /8
    ["10.0.0.5", 300 * K, 500 * K], // the exact IP's OUT (1MB) beats the CIDR; $$ (500KB) is slower
    ["::ffff:10.0.0.5", 300 * K, 500 * K], // IPv4-mapped IPv6 is the IPv4 address
    ["192.168.1.1", 4 * M, 500 * K], // an exact IP beats its CIDR even when faster
    ["192.168.9.9", 4 * M, 50 * K], // the CIDR is slower than $$
    ["172.16.0.1", 4 * M, 500 * K], // only $$
    [{ transport: "unix", path: "/tmp/x.sock" }, 4 * M, 500 * K], // no IP: $ and $$ only
  ];
  for (const [host, rd, wr] of table) {
    const c = limiter(lines).wrap(new FakeConn(host, new Uint8Array(8 * M)));
    assertEquals(await c.read(new Uint8Array(4 * M)), rd, `read from ${JSON.stringify(host)}`);
    assertEquals(await c.write(new Uint8Array(4 * M)), wr, `write to ${JSON.stringify(host)}`);
    c.close();
  }
  const svc = limiter([...lines, "$ 0 20KB"]).wrap(new FakeConn("10.0.0.5"));
  assertEquals(await svc.write(new Uint8Array(4 * M)), 20 * K, "$ slowest");
});

/** Drains a bucket with one full write from `a`, then reports whether a small write from `b` must wait. */
async function secondWaits(tl: TrafficLimiter, a: string, b: string): Promise<boolean> {
  const ca = tl.wrap(new FakeConn(a));
  const cb = tl.wrap(new FakeConn(b));
  try {
    assert(await settlesNow(ca.write(new Uint8Array(100 * K))), "a full bucket's burst goes at once");
    const pending = cb.write(new Uint8Array(10 * K));
    const waited = !(await settlesNow(pending));
    cb.close();
    if (waited) await assertRejects(() => pending, ClosedError);
    return waited;
  } finally {
    ca.close();
    cb.close();
  }
}

Deno.test("TrafficLimiter: $ is one bucket for every conn, $$ one per conn", async () => {
  assertEquals(await secondWaits(limiter(["$ 0 100KB"]), "10.0.0.1", "10.0.0.2"), true);
  assertEquals(await secondWaits(limiter(["$$ 0 100KB"]), "10.0.0.1", "10.0.0.1"), false);
});

Deno.test("TrafficLimiter: an IP line is one bucket shared by that IP's conns", async () => {
  const lines = ["10.0.0.5 0 100KB"];
  assertEquals(await secondWaits(limiter(lines), "10.0.0.5", "10.0.0.5"), true);
  assertEquals(await secondWaits(limiter(lines), "10.0.0.5", "::ffff:10.0.0.5"), true);
  assertEquals(await secondWaits(limiter(lines), "10.0.0.5", "10.0.0.6"), false);
});

Deno.test("TrafficLimiter: a CIDR line is one bucket per client IP inside", async () => {
  const lines = ["10.0.0.0/8 0 100KB"];
  assertEquals(await secondWaits(limiter(lines), "10.0.0.1", "10.0.0.1"), true);
  assertEquals(await secondWaits(limiter(lines), "10.0.0.1", "10.0.0.2"), false);
  assertEquals(await secondWaits(limiter(lines), "10.0.0.1", "11.0.0.1"), false);
});

Deno.test("TrafficLimiter: a throttled read settles when the conn closes", async () => {
  const inner = new FakeConn("10.0.0.1", new Uint8Array(M));
  const c = limiter(["$$ 10KB"]).wrap(inner);
  const buf = new Uint8Array(64 * K);
  assertEquals(await c.read(buf), 10 * K);
  const pending = c.read(buf);
  assertEquals(await settlesNow(pending), false);
  c.close();
  await assertRejects(() => pending, ClosedError);
  assert(inner.closed);
  await assertRejects(() => c.read(buf), Deno.errors.BadResource);
});

Deno.test("TrafficLimiter: update applies to conns already open", async () => {
  const clock = new FakeClock();
  const tl = limiter(["$$ 0 10KB", "$ 0 1MB"], clock);
  const c = tl.wrap(new FakeConn("10.0.0.1"));
  const big = new Uint8Array(8 * M);
  assertEquals(await c.write(big), 10 * K);

  // A raised bucket keeps its tokens (Go's SetLimit/SetBurst): it fills to the new burst as time passes.
  tl.update(parseTrafficLimits(["$$ 0 100KB", "$ 0 1MB"]));
  clock.advance(10_000);
  assertEquals(await c.write(big), 100 * K, "raised");

  tl.update(parseTrafficLimits(["$ 0 40KB"]));
  clock.advance(10_000);
  assertEquals(await c.write(big), 40 * K, "$$ gone, $ lowered");

  tl.update(parseTrafficLimits([]));
  assertEquals(await c.write(big), big.length, "no limits: passes through");

  tl.update(parseTrafficLimits(["10.0.0.0/8 0 30KB"]));
  clock.advance(10_000);
  assertEquals(await c.write(big), 30 * K, "a new CIDR line");
  tl.update(parseTrafficLimits(["10.0.0.0/8 0 30KB", "10.0.0.1 0 60KB"]));
  clock.advance(10_000);
  assertEquals(await c.write(big), 60 * K, "an exact IP line now beats the CIDR");
  c.close();
});

Deno.test("TrafficLimiter: update keeps a lowered bucket's debt (no fresh burst on reload)", async () => {
  const clock = new FakeClock();
  const tl = limiter(["$ 0 100KB"], clock);
  const a = tl.wrap(new FakeConn("10.0.0.1"));
  assertEquals(await a.write(new Uint8Array(100 * K)), 100 * K);
  tl.update(parseTrafficLimits(["$ 0 50KB"]));
  const pending = a.write(new Uint8Array(K));
  assertEquals(await settlesNow(pending), false);
  a.close();
  await assertRejects(() => pending, ClosedError);
});

/** A conn whose single read is answered when the test says so. */
class ManualConn extends FakeConn {
  #answer?: () => void;
  #data: Uint8Array;
  #done = false;
  constructor(data: Uint8Array) {
    super("10.0.0.1");
    this.#data = data;
  }
  override read(p: Uint8Array): Promise<number | null> {
    if (this.#done) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#answer = () => {
        this.#done = true;
        p.set(this.#data.subarray(0, p.length));
        resolve(Math.min(p.length, this.#data.length));
      };
    });
  }
  answer(): void {
    this.#answer!();
  }
}

Deno.test("TrafficLimiter: a read cut after the limits dropped keeps the rest for later reads", async () => {
  const clock = new FakeClock();
  const tl = limiter(["$$ 1MB"], clock);
  const data = pattern(64 * K, 7);
  const inner = new ManualConn(data);
  const c = tl.wrap(inner);
  const buf = new Uint8Array(64 * K);
  const first = c.read(buf);
  tl.update(parseTrafficLimits(["$$ 16KB"]));
  inner.answer();
  const parts: Uint8Array[] = [];
  let n = await first;
  while (n !== null) {
    assert(n <= 16 * K, `read ${n} > one burst`);
    parts.push(buf.slice(0, n));
    clock.advance(1000);
    n = await c.read(buf);
  }
  assertEquals(parts.length, 4);
  assertEquals(await sha256(concat(...parts)), await sha256(data));
  c.close();
});

/** Bytes per second a transfer of `bytes` in `ms` shows once the full starting bucket (`burst`) is discounted. */
function steadyRate(bytes: number, burst: number, ms: number): number {
  return (bytes - burst) / (ms / 1000);
}

Deno.test("TrafficLimiter: 200KB/s over TCP, upload and download, within 15%", async () => {
  const rate = 200 * K;
  // A new bucket is full: the first `rate` bytes go at once, the next 1.5 s worth at the rate.
  const total = rate + 1.5 * rate;
  const tl = new TrafficLimiter(parseTrafficLimits(["$ 200KB 200KB"]));
  const [upClient, upServer] = await tcpPair();
  const [downClient, downServer] = await tcpPair();
  const up = tl.wrap(upServer);
  const down = tl.wrap(downServer);
  const upload = (async () => {
    const t0 = performance.now();
    const sent = (async () => {
      await writeAll(upClient, pattern(total, 3));
      await upClient.closeWrite();
    })();
    const got = await readAll(up);
    await sent;
    return { bytes: got.length, ms: performance.now() - t0 };
  })();
  const download = (async () => {
    const t0 = performance.now();
    const sent = (async () => {
      await writeAll(down, pattern(total, 4));
      await down.closeWrite();
    })();
    const got = await readAll(downClient);
    await sent;
    return { bytes: got.length, ms: performance.now() - t0 };
  })();
  try {
    for (const [name, r] of [["upload", await upload], ["download", await download]] as const) {
      assertEquals(r.bytes, total);
      const measured = steadyRate(r.bytes, rate, r.ms);
      assert(Math.abs(measured / rate - 1) <= 0.15, `${name}: ${Math.round(measured)} B/s in ${r.ms.toFixed(0)} ms`);
    }
  } finally {
    for (const c of [upClient, up, downClient, down]) c.close();
  }
});

Deno.test("TrafficLimiter: no byte lost or reordered (2 MB echoed at 1MB/s each way)", async () => {
  const tl = new TrafficLimiter(parseTrafficLimits(["$$ 1MB 1MB", "$ 4MB 4MB"]));
  const [client, raw] = await tcpPair();
  const server: Conn = tl.wrap(raw);
  const data = pattern(2 * M, 11);
  const echo = (async () => {
    const buf = new Uint8Array(256 * K);
    for (;;) {
      const n = await server.read(buf);
      if (n === null) break;
      await writeAll(server, buf.subarray(0, n));
    }
    await server.closeWrite();
  })();
  const sent = (async () => {
    await writeAll(client, data);
    await client.closeWrite();
  })();
  try {
    const back = await readAll(client);
    await Promise.all([echo, sent]);
    assertEquals(back.length, data.length);
    assertEquals(await sha256(back), await sha256(data));
  } finally {
    client.close();
    server.close();
  }
});
