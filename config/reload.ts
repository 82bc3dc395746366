/**
 * Reloading a running config (SIGHUP, `-R`, the API): the new config is
 * checked, loaded and built in full before anything changes, so a broken
 * file is rejected whole and the running one stays. Then, unlike gost
 * (which rebinds every listener), a service whose listener settings did not
 * change keeps its listener and its open connections, and gets the new
 * handler, policies and logger for new connections; new services are bound
 * first on free addresses; a changed or removed service closes its listener
 * and drains its connections for the grace period, and a changed one is
 * bound again at once.
 *
 * @module
 */
import { splitHostPort } from "../transports/addr.ts";
import { allowTakeover } from "../transports/tcp/share.ts";
import type { Logger } from "../transports/log.ts";
import {
  type BuildOptions,
  newService,
  prepareRuntime,
  Runtime,
  type ServicePlan,
  type ServiceRecord,
} from "./build.ts";
import type { Config } from "./schema.ts";

export interface ReloadOptions extends BuildOptions {
  /** Milliseconds the connections of a changed or removed service get to finish. */
  grace: number;
}

/** Which services a reload kept (same listener), replaced, added and removed. */
export interface ReloadSummary {
  kept: string[];
  replaced: string[];
  added: string[];
  removed: string[];
}

/**
 * Applies `cfg` to the running `old` runtime and returns the new runtime.
 * `old` must not be used afterwards (its kept services live on in the new one).
 *
 * @throws {ConfigError} or a listen error when the new config cannot be applied; `old` is then untouched
 */
export async function reloadRuntime(
  old: Runtime,
  cfg: Config,
  log: Logger,
  opts: ReloadOptions,
): Promise<{ runtime: Runtime; summary: ReloadSummary }> {
  const { policies, chains, plans } = await prepareRuntime(cfg, log, opts);
  const before = new Map(old.records.map((r) => [r.service.name, r]));
  const kept = new Map<string, ServiceRecord>();
  const fresh: ServicePlan[] = [];
  for (const plan of plans) {
    const r = before.get(plan.name);
    if (r && r.plan.listenerKey === plan.listenerKey) kept.set(plan.name, r);
    else fresh.push(plan);
  }
  const opened: ServiceRecord[] = [];
  const later: ServicePlan[] = [];
  const leaving = old.records.filter((r) => !kept.has(r.service.name));
  const taken = new Set(leaving.map((r) => portOf(r.plan.addr)));
  try {
    for (const plan of plans) {
      const r = kept.get(plan.name);
      if (r) plan.check(r.listenerMd);
    }
    // New listeners on free addresses first: if one fails, nothing has changed yet.
    for (const plan of fresh) {
      if (taken.has(portOf(plan.addr))) {
        later.push(plan);
        continue;
      }
      const { listener, listenerMd } = await plan.open();
      opened.push({ service: newService(plan, listener, opts), plan, listenerMd });
    }
  } catch (err) {
    for (const r of opened) r.service.listener.close();
    policies.close();
    throw err;
  }

  // From here on the new config is in force.
  for (const plan of plans) {
    const r = kept.get(plan.name);
    if (!r) continue;
    plan.inherit?.(r.plan);
    r.service.replace(plan.parts);
    r.plan = plan;
  }
  // A changed service keeps its port: the replacement is bound beside the old listener (SO_REUSEPORT, see
  // transports/tcp/share.ts) before the old one stops accepting, so no client is refused in between. Where
  // that cannot be (a UDP port), the old listener closes first.
  const draining: Promise<void>[] = [];
  const stopPort = (port: string) => {
    for (const r of leaving.filter((r) => portOf(r.plan.addr) === port && !r.service.listenerClosed)) {
      draining.push(r.service.shutdown(opts.grace));
    }
  };
  for (const plan of later) {
    const port = portOf(plan.addr);
    const undo = allowTakeover(Number(port));
    try {
      let bound;
      try {
        bound = await plan.open();
      } catch (err) {
        if (!(errRoot(err) instanceof Deno.errors.AddrInUse)) throw err;
        stopPort(port);
        bound = await plan.open();
      }
      opened.push({ service: newService(plan, bound.listener, opts), plan, listenerMd: bound.listenerMd });
    } catch (err) {
      log.error(`reload: service "${plan.name}" could not take over its address: ${(err as Error).message}`);
    } finally {
      undo();
    }
  }
  for (const r of leaving) if (!r.service.listenerClosed) draining.push(r.service.shutdown(opts.grace));
  const byName = new Map([...kept, ...opened.map((r) => [r.service.name, r] as const)]);
  const records = plans.map((p) => byName.get(p.name)).filter((r): r is ServiceRecord => r !== undefined);
  const runtime = new Runtime(records, chains, policies, opts.metrics);
  runtime.serve();
  // Open connections of every old service may still use the old policies (resolvers, limiters).
  const delay = new Promise<void>((r) => Deno.unrefTimer(setTimeout(r, opts.grace)));
  Promise.all([...draining, delay]).finally(() => old.policies.close());

  const names = new Set(plans.map((p) => p.name));
  return {
    runtime,
    summary: {
      kept: [...kept.keys()],
      replaced: fresh.filter((p) => before.has(p.name)).map((p) => p.name),
      added: fresh.filter((p) => !before.has(p.name)).map((p) => p.name),
      removed: old.records.map((r) => r.service.name).filter((n) => !names.has(n)),
    },
  };
}

/** The innermost cause of an error (listeners wrap bind errors). */
function errRoot(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 8 && e instanceof Error && e.cause !== undefined; i++) e = e.cause;
  return e;
}

/** Two listeners conflict when they share a port (whatever the host: a wildcard covers every address). */
function portOf(addr: string): string {
  try {
    return String(splitHostPort(addr).port);
  } catch {
    return addr;
  }
}
