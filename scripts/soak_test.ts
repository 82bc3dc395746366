import { assert, assertEquals, assertStringIncludes } from "../tests/assert.ts";
import { CUT_EVERY, kindOf, minuteOf, type Sample, slope, slopes, svgChart } from "./soak.ts";
import { fdsPerTunnel, tunnelsThatFit } from "./bench_idle.ts";

Deno.test("slope: least squares of a line, of noise around it, and of too few points", () => {
  assertEquals(slope([0, 1, 2, 3], [1, 3, 5, 7]), 2);
  const xs = Array.from({ length: 100 }, (_, i) => i);
  const s = slope(xs, xs.map((x) => 10 - 0.5 * x + (x % 2 ? 1 : -1)));
  assert(Math.abs(s + 0.5) < 0.01, `slope ${s}`);
  assert(Number.isNaN(slope([1], [1])));
  assert(Number.isNaN(slope([1, 1], [1, 2])));
  assertEquals(slope([0, 1, 2, NaN], [0, 1, 2, 99]), 1);
});

Deno.test("slopes: per 10 minutes over the window, flat passes and a leak fails", () => {
  const samples: Sample[] = Array.from({ length: 60 }, (_, i) => ({
    t: i * 10,
    client: { rssMiB: 100 + i * 0.1, heapMiB: 20, fds: 40 + (i % 3) },
    server: { rssMiB: 80, heapMiB: 15 + (i % 2), fds: 30 },
    ok: 1,
    failed: 0,
    cuts: 0,
  }));
  const rows = Object.fromEntries(slopes(samples, 300).map((r) => [r.what, r]));
  // 0.1 MiB per 10 s sample = 6 MiB per 10 minutes.
  assert(Math.abs(rows["client RSS"].value - 6) < 1e-9);
  assertEquals(rows["client RSS"].pass, false);
  assertEquals(rows["server RSS"].value, 0);
  assert(rows["server RSS"].pass && rows["client heap"].pass && rows["client fds"].pass);
  // The fd count swings within each minute but its floor is flat: judged on the floor, it passes.
  assertEquals(rows["client fds"].floor, 0);
  // A floor that rises by one fd a minute is 10 per 10 minutes: not under the limit.
  const leaking = samples.map((s, i) => ({ ...s, server: { ...s.server, fds: 30 + Math.floor(i / 6) } }));
  const fds = slopes(leaking, 0).find((r) => r.what === "server fds")!;
  assert(Math.abs(fds.floor - 10) < 1e-9 && !fds.pass, `floor ${fds.floor}`);
});

Deno.test("minuteOf: a sample just after a minute's end counts in that minute", () => {
  assertEquals([0, 10, 60, 60.3, 61, 180.04].map(minuteOf), [1, 1, 1, 1, 2, 3]);
});

Deno.test("kindOf: one cut in every CUT_EVERY connections", () => {
  const kinds = Array.from({ length: CUT_EVERY * 10 }, (_, i) => kindOf(i));
  assertEquals(kinds.filter((k) => k === "cut").length, 10);
  assert(kinds.filter((k) => k === "bulk").length > 0);
});

Deno.test("svgChart: one polyline per series, escaped labels, the window shaded", () => {
  const svg = svgChart([
    { title: "Memory", unit: "MiB", series: [{ label: "a<b", color: "red", points: [[0, 1], [60, 2], [120, NaN]] }] },
    { title: "fds", unit: "count", series: [{ label: "c", color: "blue", dashed: true, points: [[0, 5], [60, 6]] }] },
  ], { title: "t", windowStart: 60 });
  assert(svg.startsWith("<svg "));
  assertEquals(svg.match(/<polyline /g)?.length, 2);
  assertStringIncludes(svg, "a&lt;b");
  assertStringIncludes(svg, 'fill="#f2f2f2"');
  assert(!svg.includes("NaN"));
});

Deno.test("bench_idle: tunnels that fit under the open-files limit", () => {
  assertEquals(fdsPerTunnel("ws"), 2);
  assertEquals(fdsPerTunnel("mws"), 1);
  assertEquals(tunnelsThatFit("ws", 10_000, 20_000), 9_900);
  assertEquals(tunnelsThatFit("mws", 10_000, 20_000), 10_000);
  assertEquals(tunnelsThatFit("ws", 10_000, 1_048_576), 10_000);
});
