import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { freePort } from "../../transports/_testing.ts";
import { ClosedError } from "../../transports/types.ts";
import { DnsResolver, type NameserverOptions, ResolveError } from "./mod.ts";
import { queryOrder } from "./resolver.ts";
import { decodeMessage, EDNS0_SUBNET, encodeQuery, TYPE_A, TYPE_AAAA, TYPE_OPT } from "./message.ts";
import {
  DNSMASQ,
  dohServer,
  forwardTo,
  recordingLogger,
  replyTo,
  type Respond,
  selfSigned,
  startDnsmasq,
  streamServer,
  type TestServer,
  udpServer,
  until,
} from "./_test_util.ts";

const ignore = !DNSMASQ; // integration tests need a real dnsmasq (Debian package `dnsmasq`)

/** Runs `fn` with a dnsmasq, closing every server and resolver it made on the way out. */
async function withDnsmasq(
  fn: (ctx: {
    port: number;
    resolver: (ns: NameserverOptions[], lines?: string[]) => DnsResolver;
    serve: <T extends TestServer>(s: T) => T;
  }) => Promise<void>,
): Promise<void> {
  const d = await startDnsmasq();
  const { resolver, serve, cleanup } = tracker();
  try {
    await fn({ port: d.port, resolver, serve });
  } finally {
    await cleanup();
    await d.close();
  }
}

/** Resolvers and servers a test makes, closed together at its end. */
function tracker() {
  const resolvers: DnsResolver[] = [];
  const servers: TestServer[] = [];
  return {
    resolver(ns: NameserverOptions[], lines: string[] = []) {
      const r = new DnsResolver(ns, { log: recordingLogger(lines) });
      resolvers.push(r);
      return r;
    },
    serve<T extends TestServer>(s: T): T {
      servers.push(s);
      return s;
    },
    async cleanup() {
      for (const r of resolvers) r.close();
      for (const s of servers) await s.close();
    },
  };
}

/** Runs `fn` with the tracker only (tests that need no dnsmasq). */
async function withFakes(fn: (t: ReturnType<typeof tracker>) => Promise<void>): Promise<void> {
  const t = tracker();
  try {
    await fn(t);
  } finally {
    await t.cleanup();
  }
}

const aFor = (ips: string[]): Respond => (q) => Promise.resolve(replyTo(q, { ips }));
const silent: Respond = () => Promise.resolve(null);

Deno.test({ name: "udp and tcp against dnsmasq: A, AAAA fallback, CNAME chain, NXDOMAIN", ignore }, async () => {
  await withDnsmasq(async ({ port, resolver }) => {
    for (const addr of [`127.0.0.1:${port}`, `udp://127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`]) {
      const r = resolver([{ addr }]);
      assertEquals(await r.resolve("v4.test"), ["127.0.0.7"], addr);
      assertEquals(await r.resolve("both.test"), ["127.0.0.8"], addr);
      assertEquals(await r.resolve("V6.Test."), ["::9"], `${addr}: no A, so AAAA`);
      assertEquals(await r.resolve("alias.test"), ["127.0.0.8"], `${addr}: CNAME followed`);
      const err = await assertRejects(() => r.resolve("nope.test"), ResolveError);
      assertEquals(err.message, "resolver: domain nope.test does not exist");
    }
  });
});

Deno.test(
  { name: "DoT (tls:// and dot://) through a self-signed TLS server in front of dnsmasq", ignore },
  async () => {
    await withDnsmasq(async ({ port, resolver, serve }) => {
      const dot = serve(streamServer(forwardTo(port), selfSigned));
      for (const scheme of ["tls", "dot"]) {
        const r = resolver([{ addr: `${scheme}://127.0.0.1:${dot.port}`, ttl: -1 }]);
        assertEquals(await r.resolve("both.test"), ["127.0.0.8"]);
        assertEquals(await r.resolve("alias.test"), ["127.0.0.8"]);
        await assertRejects(() => r.resolve("nope.test"), ResolveError);
      }
      assertEquals(dot.queries.length, 8, "per scheme: both.test, alias.test, nope.test A and AAAA");
    });
  },
);

Deno.test({ name: "DoH: POSTs application/dns-message to a self-signed HTTPS server", ignore }, async () => {
  await withDnsmasq(async ({ port, resolver, serve }) => {
    const doh = serve(dohServer(forwardTo(port), selfSigned));
    const r = resolver([{ addr: `https://127.0.0.1:${doh.port}/dns-query`, prefer: "ipv6" }]);
    assertEquals(await r.resolve("both.test"), ["::8"]);
    assertEquals(await r.resolve("v4.test"), ["127.0.0.7"]);
    assertEquals(await r.resolve("alias.test"), ["::8"]);
    assertEquals(doh.contentTypes.length, 4, "both.test AAAA, v4.test AAAA then A, alias.test AAAA");
    assert(doh.contentTypes.every((t) => t === "application/dns-message"));
    assertEquals(decodeMessage(doh.queries[0]).questions[0], { name: "both.test", type: TYPE_AAAA, class: 1 });
  });
});

Deno.test({ name: "DoH: a non-200 status is a failed nameserver; the next one answers", ignore }, async () => {
  await withDnsmasq(async ({ port, resolver, serve }) => {
    const broken = serve(dohServer(forwardTo(port), selfSigned, { status: 503 }));
    const lines: string[] = [];
    const r = resolver([{ addr: `https://127.0.0.1:${broken.port}/q`, only: "ipv4" }, {
      addr: `tcp://127.0.0.1:${port}`,
    }], lines);
    assertEquals(await r.resolve("v4.test"), ["127.0.0.7"]);
    assertEquals(broken.queries.length, 1);
    assertStringIncludes(lines.join("\n"), "answered HTTP 503");
  });
});

Deno.test({ name: "prefer and only decide which record types are asked, in which order", ignore }, async () => {
  await withDnsmasq(async ({ port, resolver, serve }) => {
    const fwd = serve(udpServer(forwardTo(port)));
    const types = () => fwd.queries.splice(0).map((q) => decodeMessage(q).questions[0].type);
    const addr = `127.0.0.1:${fwd.port}`;
    const cases: [Partial<NameserverOptions>, string, string[] | null, number[]][] = [
      [{}, "both.test", ["127.0.0.8"], [TYPE_A]],
      [{ prefer: "ipv4" }, "v6.test", ["::9"], [TYPE_A, TYPE_AAAA]],
      [{ prefer: "ipv6" }, "both.test", ["::8"], [TYPE_AAAA]],
      [{ prefer: "ipv6" }, "v4.test", ["127.0.0.7"], [TYPE_AAAA, TYPE_A]],
      [{ only: "ipv6" }, "both.test", ["::8"], [TYPE_AAAA]],
      [{ only: "ipv6" }, "v4.test", null, [TYPE_AAAA]],
      [{ only: "ipv4" }, "v6.test", null, [TYPE_A]],
      [{ prefer: "ipv6", only: "ipv4" }, "both.test", ["127.0.0.8"], [TYPE_A]],
      [{ prefer: "ipv6", only: "ip6" }, "both.test", ["127.0.0.8"], [TYPE_A]], // "ip6" replaces prefer, restricts nothing
      [{ only: "ip4" }, "v6.test", ["::9"], [TYPE_A, TYPE_AAAA]],
    ];
    for (const [opts, host, want, asked] of cases) {
      const r = resolver([{ addr, ttl: -1, ...opts }]);
      const what = `${JSON.stringify(opts)} ${host}`;
      if (want) assertEquals(await r.resolve(host), want, what);
      else await assertRejects(() => r.resolve(host), ResolveError, undefined);
      assertEquals(types(), asked, what);
      r.close();
    }
  });
});

Deno.test("queryOrder: GOST's prefer/only rules", () => {
  assertEquals(queryOrder(), [TYPE_A, TYPE_AAAA]);
  assertEquals(queryOrder("ipv6"), [TYPE_AAAA, TYPE_A]);
  assertEquals(queryOrder("IPv6"), [TYPE_A, TYPE_AAAA], "case-sensitive, as in GOST");
  assertEquals(queryOrder(undefined, "ipv4"), [TYPE_A]);
  assertEquals(queryOrder("ipv6", "ipv4"), [TYPE_A]);
  assertEquals(queryOrder(undefined, "ipv6"), [TYPE_AAAA]);
  assertEquals(queryOrder("ipv6", "ip6"), [TYPE_A, TYPE_AAAA]);
  assertEquals(queryOrder("ipv6", "bogus"), [TYPE_AAAA, TYPE_A]);
});

Deno.test({ name: "cache: a second resolve and concurrent identical ones cost one query", ignore }, async () => {
  await withDnsmasq(async ({ port, resolver, serve }) => {
    const fwd = serve(udpServer(forwardTo(port)));
    const r = resolver([{ addr: `127.0.0.1:${fwd.port}` }]);
    const all = await Promise.all([r.resolve("both.test"), r.resolve("both.test"), r.resolve("BOTH.test")]);
    assertEquals(all, [["127.0.0.8"], ["127.0.0.8"], ["127.0.0.8"]]);
    assertEquals(fwd.queries.length, 1, "one query in flight for all three");
    assertEquals(await r.resolve("both.test"), ["127.0.0.8"]);
    assertEquals(fwd.queries.length, 1, "answered from the cache (TTL 300)");
    const got = await r.resolve("both.test");
    got.push("mutated");
    assertEquals(await r.resolve("both.test"), ["127.0.0.8"], "callers get copies");

    await assertRejects(() => r.resolve("nope.test"), ResolveError);
    const afterNx = fwd.queries.length;
    assertEquals(afterNx, 3, "nope.test: A and AAAA");
    await assertRejects(() => r.resolve("nope.test"), ResolveError);
    assertEquals(fwd.queries.length, afterNx, "negative answers are cached too");
  });
});

Deno.test({ name: "ttl < 0 caches nothing; ttl > 0 is a fixed lifetime", ignore }, async () => {
  await withDnsmasq(async ({ port, resolver, serve }) => {
    const fwd = serve(udpServer(forwardTo(port)));
    const none = resolver([{ addr: `127.0.0.1:${fwd.port}`, ttl: -1, only: "ipv4" }]);
    assertEquals(await none.resolve("v4.test"), ["127.0.0.7"]);
    assertEquals(await none.resolve("v4.test"), ["127.0.0.7"]);
    assertEquals(fwd.queries.length, 2);

    const fixed = resolver([{ addr: `127.0.0.1:${fwd.port}`, ttl: 150, only: "ipv4" }]);
    assertEquals(await fixed.resolve("v4.test"), ["127.0.0.7"]);
    assertEquals(await fixed.resolve("v4.test"), ["127.0.0.7"]);
    assertEquals(fwd.queries.length, 3, "fresh for 150 ms");
    await new Promise((r) => setTimeout(r, 250));
    assertEquals(await fixed.resolve("v4.test"), ["127.0.0.7"]);
    assertEquals(fwd.queries.length, 4, "expired: asked again");
  });
});

Deno.test("async: a stale answer is served at once and refreshed in the background", async () => {
  await withFakes(async ({ resolver, serve }) => {
    let delay = 0;
    let n = 0;
    const srv = serve(udpServer(async (q) => {
      const first = ++n === 1;
      if (delay) await new Promise((r) => setTimeout(r, delay));
      return replyTo(q, { ips: [first ? "10.0.0.1" : "10.0.0.2"] });
    }));
    const r = resolver([{ addr: `127.0.0.1:${srv.port}`, ttl: 100, async: true, only: "ipv4" }]);
    assertEquals(await r.resolve("x.test"), ["10.0.0.1"]);
    await new Promise((res) => setTimeout(res, 200));
    delay = 300; // a refresh on the caller's path would show in the elapsed time
    const t0 = Date.now();
    assertEquals(await r.resolve("x.test"), ["10.0.0.1"], "stale, served at once");
    assertEquals(await r.resolve("x.test"), ["10.0.0.1"]);
    assert(Date.now() - t0 < 250, `stale answer took ${Date.now() - t0} ms`);
    await until(() => srv.queries.length === 2);
    assertEquals(srv.queries.length, 2, "one refresh in flight, not one per caller");
    delay = 0;
    let got: string[] = [];
    await until(() => {
      r.resolve("x.test").then((ips) => got = ips);
      return got[0] === "10.0.0.2";
    });
  });
});

Deno.test(
  { name: "fallback: dead and refusing nameservers are skipped; the answer is cached for all", ignore },
  async () => {
    await withDnsmasq(async ({ port, resolver, serve }) => {
      const refusing = serve(udpServer((q) => Promise.resolve(replyTo(q, { rcode: 5 }))));
      const fwd = serve(udpServer(forwardTo(port)));
      const lines: string[] = [];
      const r = resolver([
        { addr: `tcp://127.0.0.1:${freePort()}` }, // connection refused
        { addr: `127.0.0.1:${freePort()}`, timeout: 200 }, // nobody there: no reply
        { addr: `127.0.0.1:${refusing.port}` },
        { addr: `127.0.0.1:${fwd.port}` },
      ], lines);
      assertEquals(await r.resolve("both.test"), ["127.0.0.8"]);
      assertEquals(fwd.queries.length, 1);
      const log = lines.join("\n");
      assertStringIncludes(log, "timed out after 200 ms");
      assertStringIncludes(log, `DNS REFUSED for \\"both.test\\"`);
      assertEquals(lines.filter((l) => l.includes(`"level":"error"`)).length, 3, "one error per failed nameserver");
      // GOST keys its cache by question alone: the first nameserver's lookup now hits it.
      assertEquals(await r.resolve("both.test"), ["127.0.0.8"]);
      assertEquals(
        [refusing.queries.length, fwd.queries.length],
        [2, 1],
        "nobody asked again (A and AAAA were refused)",
      );
      assertEquals(lines.filter((l) => l.includes(`"level":"error"`)).length, 3);
    });
  },
);

Deno.test({ name: "clientIP adds an EDNS0 client subnet; without it there is no OPT record", ignore }, async () => {
  await withDnsmasq(async ({ port, resolver, serve }) => {
    const fwd = serve(udpServer(forwardTo(port)));
    const r = resolver([{ addr: `127.0.0.1:${fwd.port}`, clientIP: "203.0.113.9", only: "ipv4" }]);
    assertEquals(await r.resolve("v4.test"), ["127.0.0.7"], "dnsmasq takes the option");
    const opt = decodeMessage(fwd.queries[0]).additionals;
    assertEquals(opt.length, 1);
    assertEquals(opt[0].type, TYPE_OPT);
    assertEquals([...opt[0].data], [0, EDNS0_SUBNET, 0, 7, 0, 1, 24, 0, 203, 0, 113]);
    const plain = resolver([{ addr: `127.0.0.1:${fwd.port}`, only: "ipv4", ttl: -1 }]);
    await plain.resolve("both.test");
    assertEquals(decodeMessage(fwd.queries[1]).additionals, []);
  });
});

Deno.test("timeout: a UDP nameserver that never answers fails after `timeout` ms", async () => {
  await withFakes(async ({ resolver, serve }) => {
    const quiet = serve(udpServer(silent));
    const r = resolver([{ addr: `127.0.0.1:${quiet.port}`, timeout: 200, only: "ipv4" }]);
    const t0 = Date.now();
    const err = await assertRejects(() => r.resolve("slow.test"), ResolveError);
    const took = Date.now() - t0;
    assert(took >= 190 && took < 1000, `took ${took} ms`);
    assert(err.cause instanceof Deno.errors.TimedOut, `cause ${err.cause}`);
    assertEquals(quiet.queries.length, 1);
  });
});

Deno.test("timeout over TCP, DoT and DoH: a server that reads the query and never answers", async () => {
  await withFakes(async ({ resolver, serve }) => {
    let release!: () => void;
    const held = new Promise<null>((r) => release = () => r(null));
    const tcp = serve(streamServer(() => held));
    const dot = serve(streamServer(() => held, selfSigned));
    const doh = serve(dohServer(() => held, selfSigned));
    try {
      for (
        const addr of [`tcp://127.0.0.1:${tcp.port}`, `tls://127.0.0.1:${dot.port}`, `https://127.0.0.1:${doh.port}/`]
      ) {
        const r = resolver([{ addr, timeout: 200, only: "ipv4" }]);
        const t0 = Date.now();
        const err = await assertRejects(() => r.resolve("slow.test"), ResolveError);
        const took = Date.now() - t0;
        assert(took >= 190 && took < 1500, `${addr}: took ${took} ms`);
        assert(err.cause instanceof Deno.errors.TimedOut, `${addr}: cause ${err.cause}`);
      }
      assertEquals([tcp.queries.length, dot.queries.length, doh.queries.length], [1, 1, 1]);
    } finally {
      release();
    }
  });
});

Deno.test("garbage: stray datagrams are ignored, a broken reply moves on to the next nameserver", async () => {
  await withFakes(async ({ resolver, serve }) => {
    const noisy = serve(udpServer((q) => {
      const other = q.slice();
      other[0] ^= 0xff; // another id
      const good = replyTo(q, { ips: ["10.0.0.1"] });
      return Promise.resolve([crypto.getRandomValues(new Uint8Array(40)), replyTo(other, { ips: ["6.6.6.6"] }), good]);
    }));
    const broken = serve(udpServer((q) => {
      const r = replyTo(q, { ips: ["6.6.6.6"] });
      return Promise.resolve(r.subarray(0, r.length - 2)); // header and question fine, answer cut
    }));
    const good = serve(udpServer(aFor(["10.0.0.2"])));
    const lines: string[] = [];
    assertEquals(await resolver([{ addr: `127.0.0.1:${noisy.port}` }]).resolve("x.test"), ["10.0.0.1"]);
    const r = resolver([{ addr: `127.0.0.1:${broken.port}`, only: "ipv4" }, { addr: `127.0.0.1:${good.port}` }], lines);
    assertEquals(await r.resolve("x.test"), ["10.0.0.2"]);
    assertStringIncludes(lines.join("\n"), "Malformed DNS message");
  });
});

Deno.test("garbage over TCP: junk frames, short frames, early closes and wrong answers are failures", async () => {
  await withFakes(async ({ resolver, serve }) => {
    const junk = serve(streamServer(() => Promise.resolve(crypto.getRandomValues(new Uint8Array(30)))));
    const short = serve(
      streamServer(() => Promise.resolve(new Uint8Array([0, 40, 1, 2, 3])), undefined, { raw: true }),
    );
    const closes = serve(streamServer(silent));
    const wrong = serve(streamServer((q) => {
      const otherQuestion = encodeQuery((q[0] << 8) | q[1], "other.test", TYPE_A); // same id
      return Promise.resolve(replyTo(otherQuestion, { ips: ["6.6.6.6"] }));
    }));
    const good = serve(streamServer(aFor(["10.0.0.3"])));
    const lines: string[] = [];
    const r = resolver(
      [junk, short, closes, wrong, good].map((s) => ({ addr: `tcp://127.0.0.1:${s.port}`, only: "ipv4" })),
      lines,
    );
    assertEquals(await r.resolve("x.test"), ["10.0.0.3"]);
    const errors = lines.filter((l) => l.includes(`"level":"error"`));
    assertEquals(errors.length, 4, errors.join("\n"));
    assertStringIncludes(errors[3], "does not match the query");
  });
});

Deno.test("SERVFAIL is a failure, not an answer: it is not cached and the next nameserver is asked", async () => {
  await withFakes(async ({ resolver, serve }) => {
    const failing = serve(udpServer((q) => Promise.resolve(replyTo(q, { rcode: 2 }))));
    const good = serve(udpServer(aFor(["10.0.0.4"])));
    const r = resolver([{ addr: `127.0.0.1:${failing.port}`, only: "ipv4" }, {
      addr: `127.0.0.1:${good.port}`,
      ttl: -1,
    }]);
    assertEquals(await r.resolve("x.test"), ["10.0.0.4"]);
    assertEquals(await r.resolve("x.test"), ["10.0.0.4"]);
    assertEquals(failing.queries.length, 2);
  });
});

Deno.test("abort: the caller's signal ends the wait and releases the socket", async () => {
  await withFakes(async ({ resolver, serve }) => {
    const quiet = serve(udpServer(silent));
    const r = resolver([{ addr: `127.0.0.1:${quiet.port}`, timeout: 10_000 }]);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error("gave up")), 50);
    const t0 = Date.now();
    await assertRejects(() => r.resolve("x.test", ctl.signal), Error, "gave up");
    assert(Date.now() - t0 < 1000);
    await assertRejects(() => r.resolve("x.test", AbortSignal.abort(new Error("already"))), Error, "already");
  });
});

Deno.test("abort: one caller giving up does not end a query another caller waits for", async () => {
  await withFakes(async ({ resolver, serve }) => {
    const slow = serve(udpServer(async (q) => {
      await new Promise((r) => setTimeout(r, 150));
      return replyTo(q, { ips: ["10.0.0.5"] });
    }));
    const r = resolver([{ addr: `127.0.0.1:${slow.port}` }]);
    const ctl = new AbortController();
    const first = r.resolve("x.test", ctl.signal);
    const second = r.resolve("x.test", new AbortController().signal);
    setTimeout(() => ctl.abort(new Error("first gave up")), 30);
    await assertRejects(() => first, Error, "first gave up");
    assertEquals(await second, ["10.0.0.5"]);
    assertEquals(slow.queries.length, 1);
  });
});

Deno.test("close: queries in flight end with ClosedError; later resolves are refused", async () => {
  await withFakes(async ({ resolver, serve }) => {
    let release!: () => void;
    const held = new Promise<null>((r) => release = () => r(null));
    const quiet = serve(udpServer(silent));
    const dot = serve(streamServer(() => held, selfSigned)); // reads the query, never answers
    const r = resolver([{ addr: `127.0.0.1:${quiet.port}` }]);
    const r2 = resolver([{ addr: `tls://127.0.0.1:${dot.port}` }]);
    const pending = [r.resolve("x.test"), r2.resolve("x.test")].map((p) => p.then(() => null, (e) => e));
    await until(() => quiet.queries.length === 1 && dot.queries.length === 1);
    r.close();
    r2.close();
    for (const err of await Promise.all(pending)) assert(err instanceof ClosedError, `got ${err}`);
    await assertRejects(() => r.resolve("x.test"), ClosedError, "closed");
    release();
  });
});

Deno.test("IP literals come back as they are; bad names fail without a query", async () => {
  await withFakes(async ({ resolver, serve }) => {
    const srv = serve(udpServer(aFor(["10.0.0.6"])));
    const r = resolver([{ addr: `127.0.0.1:${srv.port}` }]);
    assertEquals(await r.resolve("192.0.2.1"), ["192.0.2.1"]);
    assertEquals(await r.resolve("2001:db8::1"), ["2001:db8::1"]);
    assertEquals(await r.resolve("[::1]"), ["::1"]);
    const err = await assertRejects(() => r.resolve("a..b"), ResolveError);
    assertEquals(err.message, "resolver: domain a..b does not exist");
    await assertRejects(() => r.resolve(""), ResolveError);
    await assertRejects(() => r.resolve("x".repeat(64) + ".test"), ResolveError);
    assertEquals(srv.queries.length, 0);
    assertEquals(await r.resolve("ok.test"), ["10.0.0.6"]);
  });
});

Deno.test("constructor: empty addresses are skipped, bad ones skipped with a warning", async () => {
  await withFakes(async ({ resolver, serve }) => {
    const srv = serve(udpServer(aFor(["10.0.0.7"])));
    const lines: string[] = [];
    const r = resolver(
      [{ addr: "  " }, { addr: "1.1.1.1:99999" }, { addr: `127.0.0.1:${srv.port}`, clientIP: "x" }],
      lines,
    );
    assertEquals(await r.resolve("x.test"), ["10.0.0.7"]);
    assertStringIncludes(lines.join("\n"), `bad port \\"99999\\"`);
    assertStringIncludes(lines.join("\n"), `Invalid client IP \\"x\\"`);
    await assertRejects(() => resolver([]).resolve("x.test"), ResolveError, "does not exist");
  });
});
