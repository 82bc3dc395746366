import { assertEquals } from "../../tests/assert.ts";
import { AnswerCache, cacheLifetime, DEFAULT_CACHE_TTL } from "./cache.ts";

Deno.test("cacheLifetime: fixed ttl, smallest non-zero record TTL, 60 s without one", () => {
  assertEquals(cacheLifetime(1500, [300]), 1500);
  assertEquals(cacheLifetime(0, [300, 60, 120]), 60_000);
  assertEquals(cacheLifetime(0, [0, 30]), 30_000, "TTL 0 records do not count, as in GOST");
  assertEquals(cacheLifetime(0, [0, 0]), DEFAULT_CACHE_TTL);
  assertEquals(cacheLifetime(0, []), DEFAULT_CACHE_TTL, "negative answers");
});

Deno.test("AnswerCache: stale entries stay readable, size is bounded, oldest stored goes first", () => {
  const c = new AnswerCache(3);
  c.set("a", ["1.1.1.1"], 1000, 0);
  c.set("b", [], 1000, 0);
  c.set("c", ["3.3.3.3"], 1000, 0);
  c.set("a", ["1.1.1.2"], 1000, 0); // refreshed: now the newest
  c.set("d", ["4.4.4.4"], 1000, 0);
  assertEquals(c.size, 3);
  assertEquals(c.get("b"), undefined);
  assertEquals(c.get("a"), { ips: ["1.1.1.2"], expires: 1000 });
  assertEquals(c.get("d")?.expires, 1000);
  const ips = ["5.5.5.5"];
  c.set("e", ips, 1);
  ips.push("6.6.6.6");
  assertEquals(c.get("e")?.ips, ["5.5.5.5"], "the cache keeps its own copy");
});
