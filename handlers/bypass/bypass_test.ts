import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { Bypass, BypassGroup } from "./bypass.ts";
import { checkPattern } from "./check.ts";

// The spec's table (access-control.md §5.2-5.3), each case observed on gost 3.2.6 or read from x v0.8.1.
const PATTERNS = [
  "10.0.0.0/8",
  "172.20.0.1-172.30.0.255",
  "localhost",
  "*.example.com",
  ".example.org",
  "example.net:443",
  "h.test:8000-8010",
  "exact.test",
  "10.4.0.1:443",
  "fd00::/8",
];

const CASES: [string, boolean][] = [
  ["10.1.2.3:80", true],
  ["11.0.0.1:80", false],
  ["172.25.0.9:22", true],
  ["172.30.0.255:1", true],
  ["172.30.1.0:1", false],
  ["localhost:8080", true],
  ["a.localhost:80", false],
  ["www.example.com:443", true],
  ["a.b.example.com:1", true],
  ["example.com:443", false],
  ["example.org:80", true],
  ["deep.sub.example.org:80", true],
  ["example.net:443", true],
  ["example.net:80", false],
  ["h.test:8005", true],
  ["h.test:8011", false],
  ["exact.test:1", true],
  ["EXACT.test:1", false],
  ["sub.exact.test:1", false],
  ["10.4.0.1:443", true],
  ["[fd12::1]:80", true],
  ["[fe80::1]:80", false],
  ["exact.test", true],
];

Deno.test("bypass: gost's pattern classes and matching (blacklist)", () => {
  const bp = new Bypass("bp0", PATTERNS);
  for (const [addr, want] of CASES) assertEquals(bp.contains(addr), want, addr);
});

Deno.test("bypass: a whitelist bypasses what does not match", () => {
  const bp = new Bypass("w", PATTERNS, true);
  for (const [addr, want] of CASES) assertEquals(bp.contains(addr), !want, addr);
  assertEquals(bp.contains(""), false);
});

Deno.test("bypass: globs with ports, classes and alternatives", () => {
  // Only patterns with `*` or `?` are globs (gost); `[..]` and `{..}` work inside those.
  const bp = new Bypass("g", ["*.a.test:443", "h?.b.test", "[xy]?.c.test", "{one,two}.d.*"]);
  assertEquals(bp.contains("w.a.test:443"), true);
  assertEquals(bp.contains("w.a.test:80"), false);
  assertEquals(bp.contains("h1.b.test:80"), true);
  assertEquals(bp.contains("h12.b.test:80"), false);
  assertEquals(bp.contains("x1.c.test:1"), true);
  assertEquals(bp.contains("z1.c.test:1"), false);
  assertEquals(bp.contains("two.d.test:1"), true);
});

Deno.test("bypass: groups OR whitelists and let any blacklist refuse", () => {
  const w1 = new Bypass("w1", ["a.test"], true);
  const w2 = new Bypass("w2", ["b.test"], true);
  const b1 = new Bypass("b1", ["bad.test"]);
  const g = new BypassGroup([w1, w2, b1]);
  assertEquals(g.contains("a.test:80"), false);
  assertEquals(g.contains("b.test:80"), false);
  assertEquals(g.contains("c.test:80"), true);
  assertEquals(new BypassGroup([b1]).contains("bad.test:1"), true);
  assertEquals(new BypassGroup([b1]).contains("ok.test:1"), false);
});

Deno.test("bypass: update replaces the patterns", () => {
  const bp = new Bypass("u", ["a.test"]);
  assertEquals(bp.contains("a.test:1"), true);
  bp.update(["b.test"]);
  assertEquals(bp.contains("a.test:1"), false);
  assertEquals(bp.contains("b.test:1"), true);
});

Deno.test("bypass: patterns that could never mean what they say are refused", () => {
  for (const ok of PATTERNS) checkPattern(ok);
  for (const bad of ["10.0.0.0/33", "10.0.0.1/x", "10.0.0.1-10.0.0.300", "a.test:http", "[x.test", "a b", ""]) {
    assertThrows(() => checkPattern(bad), TypeError);
  }
});

Deno.test("bypass: several ports of one host all count (gost keeps only the last)", () => {
  const bp = new Bypass("p", ["127.0.0.1:1", "127.0.0.1:9", "h.test:80", "h.test:443"]);
  for (const a of ["127.0.0.1:1", "127.0.0.1:9", "h.test:80", "h.test:443"]) assertEquals(bp.contains(a), true, a);
  assertEquals(bp.contains("127.0.0.1:2"), false);
});
