/**
 * Listening sockets that a reload can take over without refusing a client:
 * every TCP listener is bound with SO_REUSEPORT, so a replacement for a
 * changed service can be bound on the same port while the old one still
 * accepts; then the old one closes. A plain test bind first makes sure the
 * port is free, so a second process (another dost included) still gets
 * "address in use" instead of silently sharing the port.
 *
 * @module
 */

const takeovers = new Map<number, number>();

/** Lets the next binds of `port` share it with this process's own listener; returns the undo. */
export function allowTakeover(port: number): () => void {
  takeovers.set(port, (takeovers.get(port) ?? 0) + 1);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    const n = (takeovers.get(port) ?? 1) - 1;
    if (n <= 0) takeovers.delete(port);
    else takeovers.set(port, n);
  };
}

/**
 * Binds with `listen({ reusePort: true })` after checking that `port` is free
 * (unless a takeover of it is under way, or the port is 0).
 *
 * @throws {Deno.errors.AddrInUse} when something else holds the port
 */
export function bindShared<T>(hostname: string, port: number, listen: (opts: { reusePort: boolean }) => T): T {
  if (port !== 0 && !takeovers.has(port)) Deno.listen({ hostname, port, transport: "tcp" }).close();
  return listen({ reusePort: true });
}
