import type { Conn } from "../types.ts";

const CONN_MEMBERS = new Set<PropertyKey>(["read", "write", "closeWrite", "close"]);

/**
 * A wrapper around `wrapped` for a conn that carries more than the Conn
 * interface (the `http2` listener's request conns, answered through
 * `respond()`): reads, writes and closes go through `wrapped`, every other
 * member reaches `original`, so policy wrappers (limits, metrics) do not
 * hide what the handler needs.
 */
export function keepExtras(original: Conn, wrapped: Conn): Conn {
  return new Proxy(original, {
    get(target, key) {
      const from = CONN_MEMBERS.has(key) ? wrapped : target;
      const v = Reflect.get(from, key, from);
      return typeof v === "function" ? v.bind(from) : v;
    },
  });
}
