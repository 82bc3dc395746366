import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { type Addr, ClosedError, type Conn, type Listener } from "../../transports/types.ts";
import { MergedListener } from "./merged_listener.ts";

/** A listener fed by hand. */
class Fake implements Listener {
  readonly addr: Addr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  closed = false;
  #waiters: { resolve: (c: Conn) => void; reject: (e: unknown) => void }[] = [];
  accept(): Promise<Conn> {
    if (this.closed) return Promise.reject(new ClosedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }
  give(c: Conn): void {
    this.#waiters.shift()!.resolve(c);
  }
  fail(e: unknown): void {
    this.#waiters.shift()!.reject(e);
  }
  close(): void {
    this.closed = true;
    for (const w of this.#waiters.splice(0)) w.reject(new ClosedError());
  }
}

const conn = (port: number) =>
  ({ localAddr: { transport: "tcp", hostname: "127.0.0.1", port }, close() {} }) as unknown as Conn;
const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("merged listener: accepts from all, passes accept errors on, closes everything with the main one", async () => {
  const main = new Fake();
  const extra = new Fake();
  const m = new MergedListener(main, [extra]);
  assertEquals(m.addr, main.addr);
  await tick();
  extra.give(conn(2));
  main.give(conn(1));
  const ports = [await m.accept(), await m.accept()].map((c) => (c.localAddr as Deno.NetAddr).port).sort();
  assertEquals(ports, [1, 2]);
  await tick();
  extra.fail(new Error("bad handshake"));
  await assertRejects(() => m.accept(), Error, "bad handshake");
  main.close();
  await tick();
  assert(extra.closed, "the entrypoints close with the service's listener");
  await assertRejects(() => m.accept(), ClosedError);
});
