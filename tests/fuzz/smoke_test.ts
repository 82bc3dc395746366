/**
 * The fuzzer's smoke run, part of the tests: 1,000 cases per in-process
 * target, and 50 per network target against one real dost process (the
 * network targets are slower, ~300 cases/s, so the smoke run only checks that
 * each still works end to end; `deno task fuzz` runs 100,000 of each).
 */
import { assert, assertEquals } from "../assert.ts";
import { TARGETS } from "./targets.ts";
import { runTarget } from "./runner.ts";
import { NetHarness } from "./network.ts";

const SMOKE_CASES = 1000;
const SMOKE_NET_CASES = 50;

Deno.test(`fuzz smoke: ${SMOKE_CASES} cases per in-process target, no findings`, async (t) => {
  for (const target of TARGETS) {
    await t.step(target.name, async () => {
      const r = await runTarget(target, { seed: 0x5eed, cases: SMOKE_CASES, slowMs: 5000 });
      assertEquals(r.cases, SMOKE_CASES);
      const findings = r.findings.filter((f) => f.kind !== "known").map((f) => `case ${f.index} ${f.kind}: ${f.error}`);
      assertEquals(findings, [], `${target.name}: ${findings.join("\n")}`);
    });
  }
});

Deno.test(`fuzz smoke: ${SMOKE_NET_CASES} cases per network target, dost stays up and serves`, async (t) => {
  const h = new NetHarness();
  await h.start();
  try {
    for (const tg of h.targets) {
      await t.step(tg.name, async () => {
        const r = await h.run(tg, { seed: 0x5eed, cases: SMOKE_NET_CASES, batch: SMOKE_NET_CASES });
        assertEquals(r.cases, SMOKE_NET_CASES);
        assertEquals(r.findings.map((f) => `${f.kind}: ${f.detail}`), []);
        assert(h.alive, "dost exited");
      });
    }
  } finally {
    await h.stop();
  }
});
