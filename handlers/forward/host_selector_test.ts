import { assertEquals } from "../../tests/assert.ts";
import { Selector } from "../chain/mod.ts";
import type { Target } from "../types.ts";
import { HostSelector, normalizeFilter } from "./host_selector.ts";

const t = (name: string, host?: string) => ({ name, addr: `${name}:80`, host });

Deno.test("host selector: exact over wildcard, longest wildcard first, label boundaries, fallback", () => {
  const sel = new HostSelector(
    [t("a", "a.test"), t("w", "*.test"), t("sub", ".sub.test"), t("any"), t("star", "*x.org")],
    (list: Target[]) => new Selector(list),
  );
  const pick = (h: string) => sel.selectFor(h)?.name;
  assertEquals(pick("a.test"), "a");
  assertEquals(pick("A.TEST:8080"), "a");
  assertEquals(pick("b.test"), "w");
  assertEquals(pick("test"), "w");
  assertEquals(pick("x.sub.test"), "sub");
  assertEquals(pick("sub.test"), "sub");
  assertEquals(pick("x.org"), "star");
  assertEquals(pick("y.x.org"), "star");
  assertEquals(pick("badtest"), "any");
  assertEquals(pick("other.net"), "any");
  assertEquals(sel.select()?.name, "any");
  assertEquals(sel.size, 5);
  assertEquals(normalizeFilter("*example.com"), ".example.com");
  const strict = new HostSelector([t("a", "a.test")], (list: Target[]) => new Selector(list));
  assertEquals(strict.selectFor("b.test"), undefined);
  assertEquals(strict.select(), undefined);
});
