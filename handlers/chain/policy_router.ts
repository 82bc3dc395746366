/**
 * A service's router with its policies around the chain router (gost
 * `chain/router.go`): the service bypass refuses a target before anything
 * is dialled, then the target's name goes through the service's hosts and
 * resolver, and a failed attempt is retried `retries` times.
 *
 * @module
 */
import { joinHostPort } from "../../transports/addr.ts";
import type { Conn, DialOptions } from "../../transports/types.ts";
import type { BypassMatcher } from "../bypass/mod.ts";
import type { HostMapper } from "../hosts/mod.ts";
import { goSplitHostPort } from "../matcher/hostport.ts";
import { parseIP } from "../matcher/ip.ts";
import { ForbiddenError, type Router } from "../types.ts";

/** Resolves a host name to IP addresses (a `resolvers[]` entry). */
export interface NameResolver {
  resolve(host: string, signal?: AbortSignal): Promise<string[]>;
}

export interface RouterPolicy {
  bypass?: BypassMatcher;
  hosts?: HostMapper;
  resolver?: NameResolver;
  /** Extra attempts after a failed dial (`handler.retries`). @default 0 */
  retries?: number;
}

/**
 * The address to dial for `addr`: a host name mapped by `hosts`, else
 * resolved by `resolver` (first address), else unchanged. IP literals are
 * never looked up.
 */
export async function resolveAddr(
  addr: string,
  hosts: HostMapper | undefined,
  resolver: NameResolver | undefined,
  signal?: AbortSignal,
): Promise<string> {
  if (!hosts && !resolver) return addr;
  const hp = goSplitHostPort(addr);
  if (!hp || hp.host === "" || parseIP(hp.host)) return addr;
  const mapped = hosts?.lookup(hp.host);
  if (mapped) return joinHostPort(mapped, hp.port);
  if (!resolver) return addr;
  const ips = await resolver.resolve(hp.host, signal);
  return joinHostPort(ips[0], hp.port);
}

export class PolicyRouter implements Router {
  readonly bind?: Router["bind"];

  constructor(readonly inner: Router, readonly policy: RouterPolicy) {
    if (inner.bind) this.bind = inner.bind.bind(inner);
  }

  get hasChain(): boolean {
    return this.inner.hasChain;
  }

  async dial(network: string, addr: string, opts: DialOptions = {}): Promise<Conn> {
    const { bypass, hosts, resolver, retries = 0 } = this.policy;
    if (bypass?.contains(addr)) throw new ForbiddenError(`Target ${addr} is refused by the service's bypass`);
    let last: unknown;
    for (let attempt = 0; attempt <= Math.max(0, retries); attempt++) {
      if (opts.signal?.aborted) break;
      try {
        const target = await resolveAddr(addr, hosts, resolver, opts.signal);
        return await this.inner.dial(network, target, opts);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? opts.signal?.reason;
  }
}
