import { assert, assertEquals } from "../../tests/assert.ts";
import { delay } from "../../transports/_testing.ts";
import { type Selectable, Selector } from "./selector.ts";

type Item = Selectable & { name: string };

Deno.test("selector: round robin, fifo, and a single candidate ignores its fail state", () => {
  const a = { name: "a" }, b = { name: "b" };
  const rr = new Selector<Item>([a, b]);
  assertEquals([rr.select(), rr.select(), rr.select()].map((x) => x!.name), ["a", "b", "a"]);
  const fifo = new Selector<Item>([a, b], { strategy: "fifo" });
  assertEquals(fifo.select(), a);
  fifo.markFailed(a);
  assertEquals(fifo.select(), b);
  const one = new Selector<Item>([a]);
  one.markFailed(a);
  assertEquals(one.select(), a);
});

Deno.test("selector: backups serve only when every primary has failed", () => {
  const p1 = { name: "p1" }, p2 = { name: "p2" }, bk = { name: "bk", backup: true };
  const s = new Selector<Item>([p1, bk, p2], { strategy: "fifo" });
  assertEquals(s.select(), p1);
  s.markFailed(p1);
  assertEquals(s.select(), p2);
  s.markFailed(p2);
  assertEquals(s.select(), bk);
  s.markOk(p2);
  assertEquals(s.select(), p2);
});

Deno.test("selector: all failed falls back to all (dost never empties a hop)", () => {
  const a = { name: "a" }, b = { name: "b" };
  const s = new Selector<Item>([a, b], { strategy: "fifo" });
  s.markFailed(a);
  s.markFailed(b);
  assertEquals(s.select(), a);
});

Deno.test("selector: per-item maxFails and failTimeout; the count is kept after the timeout", async () => {
  const tough = { name: "tough", maxFails: 3 }, quick = { name: "quick", failTimeout: 30 };
  const s = new Selector<Item>([tough, quick], { strategy: "fifo", failTimeout: 60_000 });
  s.markFailed(tough);
  s.markFailed(tough);
  assertEquals(s.select(), tough, "two failures of three allowed");
  s.markFailed(tough);
  assertEquals(s.select(), quick);
  s.markFailed(quick);
  assertEquals(s.select(), tough, "both failed: fall back to all");
  await delay(40);
  s.markOk(tough);
  assertEquals(s.select(), tough);
  s.markFailed(tough);
  s.markFailed(tough);
  s.markFailed(tough);
  assertEquals(s.select(), quick, "quick's timeout has passed: eligible again");
  s.markFailed(quick);
  assertEquals(s.select(), tough, "one more failure excludes quick again at once");
});

Deno.test("selector: random honours weights", () => {
  const heavy = { name: "heavy", weight: 3 }, light = { name: "light", weight: 0 };
  const s = new Selector<Item>([heavy, light], { strategy: "random" });
  let h = 0;
  for (let i = 0; i < 4000; i++) if (s.select() === heavy) h++;
  assert(h > 2700 && h < 3300, `heavy chosen ${h} of 4000 (expected about 3000)`);
});
