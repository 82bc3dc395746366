import { assert, assertEquals } from "../../tests/assert.ts";
import { readAll } from "../../transports/_testing.ts";
import { closeQuietly, writeAll } from "../../transports/_io/write_all.ts";
import type { Listener } from "../../transports/types.ts";
import { ConnLimiter, parseConnLimits } from "./conn.ts";
import { limitListener } from "./listener.ts";
import { parseTrafficLimits, TrafficLimiter } from "./traffic.ts";

const M = 1024 * 1024;

/** Reads what the server sent before closing: a refused client gets nothing (EOF or a reset). */
async function received(c: Deno.Conn): Promise<number> {
  try {
    return (await readAll(c)).length;
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionReset) return 0;
    throw err;
  }
}

Deno.test("limitListener: a client over the climiter is closed without a byte, the next is accepted", async () => {
  const raw = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = raw.addr.port;
  const climiter = new ConnLimiter(parseConnLimits(["$ 1"]));
  const ln = limitListener(raw as unknown as Listener, {
    conn: climiter,
    traffic: new TrafficLimiter(parseTrafficLimits(["$ 1MB 1MB"])),
  });
  const clients: Deno.Conn[] = [];
  const connect = async () => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    clients.push(c);
    return c;
  };
  try {
    const a = await connect();
    const sa = await ln.accept();
    assertEquals((sa.remoteAddr as Deno.NetAddr).port, (a.localAddr as Deno.NetAddr).port);
    assertEquals(climiter.active, 1);

    const next = ln.accept();
    for (let i = 0; i < 3; i++) assertEquals(await received(await connect()), 0, "refused: closed, nothing sent");
    assertEquals(climiter.active, 1);

    sa.close();
    closeQuietly(sa); // Deno's second close throws; the release must still not run twice
    assertEquals(climiter.active, 0, "released once when the admitted conn closed");
    const c = await connect();
    const sc = await next;
    assertEquals((sc.remoteAddr as Deno.NetAddr).port, (c.localAddr as Deno.NetAddr).port, "accept went on");
    assertEquals(climiter.active, 1);

    await writeAll(c, new TextEncoder().encode("hello"));
    const buf = new Uint8Array(16);
    assertEquals(await sc.read(buf), 5);
    assertEquals(await sc.write(new Uint8Array(2 * M)), M, "the admitted conn is traffic limited");
    sc.close();
    assertEquals(climiter.active, 0);
  } finally {
    ln.close();
    for (const c of clients) {
      try {
        c.close();
      } catch {
        // closed by the test
      }
    }
  }
});

Deno.test("limitListener: nothing to limit leaves the listener as it is", () => {
  const raw = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    assert(limitListener(raw as unknown as Listener, {}) === (raw as unknown as Listener));
  } finally {
    raw.close();
  }
});
