/**
 * Per-connection admission policies as functions: a gate takes a freshly
 * accepted conn and returns it (possibly wrapped: limited, counted) or
 * `undefined` when it refused and closed it. A service runs its gates on
 * every accepted conn, so a reload can swap them without touching the
 * listener; {@linkcode gatedListener} applies a gate as a listener wrapper.
 *
 * @module
 */
import type { Conn, Listener } from "../transports/types.ts";

/** Refuses (closing the conn, returning `undefined`) or passes a conn, perhaps wrapped. */
export type ConnGate = (conn: Conn) => Conn | undefined;

/** Runs `gates` in order; the first refusal ends it. */
export function composeGates(...gates: (ConnGate | undefined)[]): ConnGate | undefined {
  const list = gates.filter((g): g is ConnGate => g !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  return (conn) => {
    let c: Conn | undefined = conn;
    for (const g of list) {
      c = g(c);
      if (!c) return undefined;
    }
    return c;
  };
}

/** A listener that hands out only the conns `gate` passes; refused ones are skipped. */
export function gatedListener(ln: Listener, gate: ConnGate | undefined): Listener {
  if (!gate) return ln;
  return {
    get addr() {
      return ln.addr;
    },
    close: () => ln.close(),
    async accept(): Promise<Conn> {
      for (;;) {
        const c = gate(await ln.accept());
        if (c) return c;
      }
    },
  };
}
