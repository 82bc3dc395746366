import { assert, assertEquals } from "../../tests/assert.ts";
import { TokenBucket } from "./token_bucket.ts";

Deno.test("TokenBucket: starts full, then earns rate per second up to burst", () => {
  const b = new TokenBucket(1000, 1000, 0);
  assertEquals(b.tokens(0), 1000);
  assert(b.full(0));
  assertEquals(b.reserve(1000, 0), 0);
  assertEquals(b.tokens(0), 0);
  assertEquals(b.tokens(250), 250);
  assertEquals(b.tokens(10_000), 1000, "capped at burst");
});

Deno.test("TokenBucket: a reservation beyond the tokens waits for the debt", () => {
  const table: { rate: number; burst: number; takes: [number, number][]; waits: number[] }[] = [
    // rate 1000/s: a full burst, then 500 more waits 0.5 s
    { rate: 1000, burst: 1000, takes: [[1000, 0], [500, 0]], waits: [0, 500] },
    // two reservers queue: the second waits for both
    { rate: 1000, burst: 1000, takes: [[1000, 0], [1000, 0], [1000, 0]], waits: [0, 1000, 2000] },
    // time passing pays the debt off
    { rate: 100, burst: 100, takes: [[100, 0], [50, 250], [100, 1000]], waits: [0, 250, 500] },
    // 200 KiB/s: 512000 bytes in 64 KiB pieces take (512000 - 204800) / 204800 = 1.5 s at the end
    {
      rate: 204800,
      burst: 204800,
      takes: [...Array(7).fill([65536, 0]), [53248, 0]],
      waits: [0, 0, 0, 280, 600, 920, 1240, 1500],
    },
  ];
  for (const t of table) {
    const b = new TokenBucket(t.rate, t.burst, 0);
    const got = t.takes.map(([n, now]) => Math.round(b.reserve(n, now)));
    assertEquals(got, t.waits, JSON.stringify(t.takes));
  }
});

Deno.test("TokenBucket: setRate keeps the tokens, clamped to the new burst", () => {
  const b = new TokenBucket(1000, 1000, 0);
  b.reserve(400, 0);
  b.setRate(100, 100, 0);
  assertEquals(b.tokens(0), 100);
  assertEquals(b.burst, 100);
  assertEquals(b.rate, 100);
  b.reserve(100, 0);
  b.setRate(10_000, 10_000, 0);
  assertEquals(b.tokens(0), 0, "raising the limit earns no tokens by itself");
  assertEquals(b.tokens(100), 1000);
});

Deno.test("TokenBucket: refund gives back unused tokens up to burst", () => {
  const b = new TokenBucket(10, 10, 0);
  assertEquals(b.reserve(10, 0), 0);
  b.refund(4, 0);
  assertEquals(b.tokens(0), 4);
  b.refund(100, 0);
  assertEquals(b.tokens(0), 10);
});

Deno.test("TokenBucket: tryTake never goes into debt (Go's Allow)", () => {
  const b = new TokenBucket(1, 2, 0); // gost's rlimiter "$ 1": burst int(1)+1
  assertEquals([b.tryTake(1, 0), b.tryTake(1, 0), b.tryTake(1, 0)], [true, true, false]);
  assertEquals(b.tokens(0), 0);
  assertEquals(b.tryTake(1, 999), false);
  assertEquals(b.tryTake(1, 1000), true);
});

Deno.test("TokenBucket: a clock going backwards changes nothing", () => {
  const b = new TokenBucket(1000, 1000, 5000);
  b.reserve(1000, 5000);
  assertEquals(b.tokens(4000), 0);
  assertEquals(b.tokens(5500), 500);
});
