/**
 * Header-name spelling on the wire. `Headers` hands names out in lower
 * case; Go (and so GOST) writes them in canonical form (`Content-Length`,
 * `X-Accel-Buffering`), and so does dost, so its messages look the same.
 *
 * @module
 */

const cache = new Map<string, string>();

/** `content-length` → `Content-Length` (each dash-separated word capitalised). */
export function canonicalHeaderName(name: string): string {
  let c = cache.get(name);
  if (c === undefined) {
    c = name.replace(/(^|-)([a-z])/g, (_, d: string, ch: string) => d + ch.toUpperCase());
    if (cache.size < 1024) cache.set(name, c);
  }
  return c;
}
