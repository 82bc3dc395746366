/**
 * Runs one in-process target in a worker so that the main thread can spot
 * a hang (a parser stuck in a loop never yields) and terminate it. The
 * current case index is published through a shared Int32Array.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { allTargets } from "./targets.ts";
import { runTarget } from "./runner.ts";

export interface WorkerRequest {
  name: string;
  seed: number;
  cases: number;
  from: number;
  timeMs?: number;
  slowMs?: number;
  heartbeat: SharedArrayBuffer;
}

self.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const req = e.data;
  const hb = new Int32Array(req.heartbeat);
  const target = allTargets().find((t) => t.name === req.name)!;
  const result = await runTarget(target, {
    seed: req.seed,
    cases: req.cases,
    from: req.from,
    timeMs: req.timeMs,
    slowMs: req.slowMs,
    save: true,
    onCase: (i) => {
      Atomics.store(hb, 0, i);
      Atomics.store(hb, 1, 1);
    },
  });
  self.postMessage(result);
};
