import { assertEquals } from "../../tests/assert.ts";
import { IdleMap } from "./_idle_map.ts";
import { TokenBucket } from "./token_bucket.ts";

Deno.test("IdleMap: full buckets are swept out lazily, at most once per interval", () => {
  const m = new IdleMap<TokenBucket>({ idle: (b, now) => b.full(now), sweepInterval: 60_000 });
  for (let i = 0; i < 100; i++) {
    const b = new TokenBucket(1000, 1000, 0);
    if (i % 2 === 0) b.reserve(1000, 0); // in use at t=0, full again at t=1000
    m.add(`ip${i}`, b, 0);
  }
  assertEquals(m.size, 100);
  m.add("late", new TokenBucket(1000, 1000, 30_000), 30_000);
  assertEquals(m.size, 101, "no sweep before the interval");
  const busy = new TokenBucket(1, 1000, 59_000); // slow: still refilling a second later
  busy.reserve(500, 59_000);
  m.add("busy", busy, 59_000);
  assertEquals(m.size, 102);
  m.add("new", new TokenBucket(1000, 1000, 60_000), 60_000);
  assertEquals([...m.entries()].map(([k]) => k).sort(), ["busy", "new"], "every full bucket dropped");
});

Deno.test("IdleMap: a flood of busy entries stays bounded", () => {
  const m = new IdleMap<number>({ idle: () => false, maxEntries: 64 });
  for (let i = 0; i < 10_000; i++) m.add(`k${i}`, i, i);
  assertEquals(m.size <= 64, true);
  assertEquals(m.get("k9999"), 9999, "the newest is kept");
  assertEquals(m.get("k0"), undefined, "the oldest went");
});
