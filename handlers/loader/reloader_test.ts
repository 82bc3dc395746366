import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { delay } from "../../transports/_testing.ts";
import { MIN_RELOAD_PERIOD, Reloader } from "./reloader.ts";

const noop = () => {};

/** Waits until `cond` holds (polling), failing after `ms`. */
async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await delay(5);
  }
}

Deno.test("Reloader: period clamping", () => {
  const period = (p: number, minPeriod?: number) =>
    new Reloader({ period: p, load: () => Promise.resolve(0), apply: noop, onError: noop, minPeriod }).period;
  assertEquals(MIN_RELOAD_PERIOD, 1000);
  assertEquals(period(1), 1000); // e.g. `reload: 60` read as 60 ns by viper
  assertEquals(period(999), 1000);
  assertEquals(period(1000), 1000);
  assertEquals(period(60_000), 60_000);
  assertEquals(period(0), 0);
  assertEquals(period(-5), 0);
  assertEquals(period(NaN), 0);
  assertEquals(period(Infinity), 2 ** 31 - 1);
  assertEquals(period(1, 20), 20);
});

Deno.test("Reloader: applies on success, keeps the last good data on failure", async () => {
  const script: (number | Error)[] = [1, 2, new Error("source down"), 4];
  const applied: number[] = [];
  const errors: unknown[] = [];
  let loads = 0;
  const r = new Reloader<number>({
    period: 20,
    minPeriod: 20,
    load: () => {
      const v = script[Math.min(loads++, script.length - 1)];
      return v instanceof Error ? Promise.reject(v) : Promise.resolve(v);
    },
    apply: (v) => applied.push(v),
    onError: (e) => errors.push(e),
  });
  try {
    await r.start();
    assertEquals(applied, [1]); // applied before start() resolves
    await until(() => applied.length >= 3);
    assertEquals(applied.slice(0, 3), [1, 2, 4]);
    assertEquals(errors.length, 1);
    assertEquals((errors[0] as Error).message, "source down");
  } finally {
    r.close();
  }
});

Deno.test("Reloader: a failed first load rejects start() and schedules nothing", async () => {
  let loads = 0;
  const applied: unknown[] = [];
  const r = new Reloader({
    period: 10,
    minPeriod: 10,
    load: () => {
      loads++;
      return Promise.reject(new Error('redis 127.0.0.1:6379 key "gost": Connection refused'));
    },
    apply: (v) => applied.push(v),
    onError: noop,
  });
  await assertRejects(() => r.start(), Error, "Connection refused");
  await delay(50);
  assertEquals(loads, 1);
  assertEquals(applied, []);
  r.close();
});

Deno.test("Reloader: period <= 0 loads once", async () => {
  let loads = 0;
  const r = new Reloader({ period: 0, minPeriod: 1, load: () => Promise.resolve(++loads), apply: noop, onError: noop });
  await r.start();
  await delay(30);
  assertEquals(loads, 1);
  r.close();
});

Deno.test("Reloader: close() stops the timer; idempotent", async () => {
  let loads = 0;
  const r = new Reloader({
    period: 10,
    minPeriod: 10,
    load: () => Promise.resolve(++loads),
    apply: noop,
    onError: noop,
  });
  await r.start();
  await until(() => loads >= 2);
  r.close();
  r.close();
  const seen = loads;
  await delay(50);
  assertEquals(loads, seen);
});

Deno.test("Reloader: close() aborts a reload in flight; nothing is applied or reported after", async () => {
  let loads = 0;
  let aborted: unknown;
  const applied: number[] = [];
  const errors: unknown[] = [];
  const r = new Reloader<number>({
    period: 10,
    minPeriod: 10,
    load: (signal) => {
      if (++loads === 1) return Promise.resolve(1);
      return new Promise((_, reject) => {
        signal.addEventListener("abort", () => {
          aborted = signal.reason;
          reject(signal.reason);
        });
      });
    },
    apply: (v) => applied.push(v),
    onError: (e) => errors.push(e),
  });
  await r.start();
  await until(() => loads === 2);
  r.close();
  assert(aborted instanceof Deno.errors.Interrupted);
  await delay(30);
  assertEquals(applied, [1]);
  assertEquals(errors, []);
  assertEquals(loads, 2);
});

Deno.test("Reloader: close() during the first load rejects start()", async () => {
  const r = new Reloader({
    period: 10,
    minPeriod: 10,
    // Ignores the signal and succeeds late: still not applied.
    load: () => delay(30).then(() => 1),
    apply: () => {
      throw new Error("must not apply");
    },
    onError: noop,
  });
  const started = r.start();
  r.close();
  await assertRejects(() => started, Error, "closed");
});

Deno.test("Reloader: a throwing apply or onError does not stop the reloads", async () => {
  let loads = 0;
  const errors: unknown[] = [];
  const r = new Reloader<number>({
    period: 10,
    minPeriod: 10,
    load: () => Promise.resolve(++loads),
    apply: (v) => {
      if (v === 2) throw new Error("bad data");
    },
    onError: (e) => {
      errors.push(e);
      throw new Error("reporter broke");
    },
  });
  try {
    await r.start();
    await until(() => loads >= 4);
    assertEquals(errors.length, 1);
    assertEquals((errors[0] as Error).message, "bad data");
  } finally {
    r.close();
  }
});

Deno.test("Reloader: start() twice throws", async () => {
  const r = new Reloader({ period: 0, load: () => Promise.resolve(0), apply: noop, onError: noop });
  await r.start();
  await assertRejects(() => r.start(), Error, "already started");
  r.close();
});

Deno.test("Reloader: the real 1 s clamp (period 1 ms reloads after about a second)", async () => {
  const times: number[] = [];
  const t0 = Date.now();
  const r = new Reloader({
    period: 1,
    load: () => Promise.resolve(times.push(Date.now() - t0)),
    apply: noop,
    onError: noop,
  });
  try {
    await r.start();
    await delay(300);
    assertEquals(times.length, 1);
    await until(() => times.length >= 2, 3000);
    assert(times[1] >= 990, `second load after ${times[1]} ms`);
  } finally {
    r.close();
  }
});
