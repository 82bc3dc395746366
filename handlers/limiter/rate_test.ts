import { assertEquals, assertStringIncludes, assertThrows } from "../../tests/assert.ts";
import { ipKey, parseIP } from "../matcher/ip.ts";
import { FakeClock } from "./_testing.ts";
import { parseRateLimits, rateBurst, RateLimiter } from "./rate.ts";

Deno.test("parseRateLimits: float rates", () => {
  const l = parseRateLimits(["$ 100", "$$ 10", "192.168.1.1 0.5", "192.168.0.0/16 5", "10.0.0.1 0", "10.0.0.2 1e1"]);
  assertEquals(l.service, 100);
  assertEquals(l.conn, 10);
  assertEquals(l.ips.get(ipKey(parseIP("192.168.1.1")!)), 0.5);
  assertEquals(l.ips.has(ipKey(parseIP("10.0.0.1")!)), false, "0 limits nothing");
  assertEquals(l.ips.get(ipKey(parseIP("10.0.0.2")!)), 10);
  assertEquals(l.cidrs.length, 1);
});

Deno.test("parseRateLimits: a bad line throws a RangeError quoting it", () => {
  const table: [string, string][] = [
    ["$", "missing R"],
    ["$ fast", `"fast" is not a rate`],
    ["$ -1", `"-1" is not a rate`],
    ["$ Infinity", `"Infinity" is not a rate`],
    ["$ 1e999", `"1e999" is not a rate`],
    ["$ 1 2", `unexpected "2"`],
    ["10.0.0.0/40 1", `key "10.0.0.0/40"`],
  ];
  for (const [line, why] of table) {
    const err = assertThrows(() => parseRateLimits([line]), RangeError);
    assertStringIncludes(err.message, `"${line}"`);
    assertStringIncludes(err.message, why);
  }
});

Deno.test("rateBurst: int(R)+1", () => {
  assertEquals([0.5, 1, 1.9, 10, 100.5].map(rateBurst), [1, 2, 2, 11, 101]);
});

/** Calls `allow` for each IP in turn (no time passing). */
function allows(rl: RateLimiter, ips: string[]): boolean[] {
  return ips.map((ip) => rl.allow(ip));
}

Deno.test("RateLimiter: which buckets apply", () => {
  const a = "10.0.0.1";
  const b = "10.0.0.2";
  const table: { lines: string[]; ips: string[]; want: boolean[] }[] = [
    // gost [obs]: "$ 1" admits 2 back-to-back and refuses the 3rd
    { lines: ["$ 1"], ips: [a, a, a], want: [true, true, false] },
    { lines: ["$ 1"], ips: [a, b, ""], want: [true, true, false] },
    { lines: ["$$ 1"], ips: [a, a, a, b, b, b], want: [true, true, false, true, true, false] },
    { lines: ["$$ 1"], ips: ["", "", ""], want: [true, true, true] },
    { lines: ["10.0.0.1 1"], ips: [a, a, a, b, b, b], want: [true, true, false, true, true, true] },
    { lines: ["10.0.0.0/8 1"], ips: [a, a, a, b, b, b], want: [true, true, false, true, true, false] },
    { lines: ["10.0.0.0/8 1", "10.0.0.1 2"], ips: [a, a, a, a], want: [true, true, true, false] },
    {
      lines: ["$$ 2", "10.0.0.0/8 1"],
      ips: [a, a, a, "1.1.1.1", "1.1.1.1", "1.1.1.1", "1.1.1.1"],
      want: [true, true, false, true, true, true, false],
    },
    { lines: ["::ffff:10.0.0.1 1"], ips: [a, "::ffff:10.0.0.1", a], want: [true, true, false] },
  ];
  for (const t of table) {
    const rl = new RateLimiter(parseRateLimits(t.lines), { now: new FakeClock().now });
    assertEquals(allows(rl, t.ips), t.want, JSON.stringify(t));
  }
});

Deno.test("RateLimiter: every applicable bucket is charged, even when another refuses", () => {
  const clock = new FakeClock();
  const rl = new RateLimiter(parseRateLimits(["$ 2", "$$ 1"]), { now: clock.now });
  // $ has 3 tokens, each IP's $$ has 2.
  assertEquals(allows(rl, ["10.0.0.1", "10.0.0.1", "10.0.0.1"]), [true, true, false]);
  // The third call was refused by $$, yet it took the last of $'s 3 tokens.
  assertEquals(rl.allow("10.0.0.2"), false);
});

Deno.test("RateLimiter: tokens come back at the rate", () => {
  const clock = new FakeClock();
  const rl = new RateLimiter(parseRateLimits(["$ 2"]), { now: clock.now });
  assertEquals(allows(rl, ["", "", "", ""]), [true, true, true, false]);
  clock.advance(499);
  assertEquals(rl.allow(""), false);
  clock.advance(1);
  assertEquals(allows(rl, ["", ""]), [true, false]);
});

Deno.test("RateLimiter: update applies at once and keeps spent buckets spent", () => {
  const clock = new FakeClock();
  const rl = new RateLimiter(parseRateLimits(["10.0.0.0/8 1"]), { now: clock.now });
  assertEquals(allows(rl, ["10.0.0.1", "10.0.0.1", "10.0.0.1"]), [true, true, false]);
  rl.update(parseRateLimits(["10.0.0.0/8 5"]));
  assertEquals(rl.allow("10.0.0.1"), false, "no fresh burst on reload");
  clock.advance(200);
  assertEquals(rl.allow("10.0.0.1"), true, "the new rate refills");
  rl.update(parseRateLimits([]));
  assertEquals(allows(rl, Array(20).fill("10.0.0.1")).every(Boolean), true, "no limits");
});
