import { assertEquals } from "../../tests/assert.ts";
import { readAll, tcpPair } from "../../transports/_testing.ts";
import type { Conn } from "../../transports/types.ts";
import type { Handler, HandleResult } from "../types.ts";
import { FakeClock, FakeConn } from "./_testing.ts";
import { limitHandler, RateLimitError } from "./handler.ts";
import { parseRateLimits, RateLimiter } from "./rate.ts";

/** A handler that says "ok" and closes. */
function okHandler(served: string[]): Handler {
  return {
    async handle(conn: Conn): Promise<HandleResult> {
      served.push((conn.remoteAddr as Deno.NetAddr).hostname);
      await conn.write(new TextEncoder().encode("ok"));
      conn.close();
      return { outBytes: 2 };
    },
  };
}

Deno.test("limitHandler: $ 1 serves two back-to-back, refuses the third without a byte", async () => {
  const served: string[] = [];
  const rl = new RateLimiter(parseRateLimits(["$ 1"]), { now: new FakeClock().now });
  const h = limitHandler(okHandler(served), rl);
  const signal = new AbortController().signal;
  const results: HandleResult[] = [];
  const got: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [client, server] = await tcpPair();
    results.push(await h.handle(server, signal));
    got.push((await readAll(client)).length);
    client.close();
  }
  assertEquals(got, [2, 2, 0]);
  assertEquals(results.slice(0, 2), [{ outBytes: 2 }, { outBytes: 2 }]);
  const err = results[2].error;
  assertEquals(err instanceof RateLimitError && err.message, "rate limit");
  assertEquals(served.length, 2);
});

Deno.test("limitHandler: keyed by client IP (IPv4-mapped IPv6 unmapped)", async () => {
  const served: string[] = [];
  const rl = new RateLimiter(parseRateLimits(["$$ 1"]), { now: new FakeClock().now });
  const h = limitHandler(okHandler(served), rl);
  const signal = new AbortController().signal;
  const hosts = ["10.0.0.1", "::ffff:10.0.0.1", "10.0.0.1", "10.0.0.2"];
  const conns = hosts.map((host) => new FakeConn(host));
  const errors = [];
  for (const c of conns) errors.push((await h.handle(c, signal)).error instanceof RateLimitError);
  assertEquals(errors, [false, false, true, false]);
  assertEquals(conns.map((c) => c.closed), [true, true, true, true]);
  assertEquals(conns.map((c) => c.written), [2, 2, 0, 2]);
});
