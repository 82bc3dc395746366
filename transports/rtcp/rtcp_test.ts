import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { Logger } from "../log.ts";
import { writeAll } from "../_io/write_all.ts";
import { tcpPair } from "../_mux/test_util.ts";
import { TcpListener } from "../tcp/listener.ts";
import { type Addr, ClosedError, type Conn, type Listener } from "../types.ts";
import { MuxBindListener, serveMuxBind } from "./mux.ts";
import { ReverseListener } from "./reverse.ts";

const lines: string[] = [];
const log = new Logger({}, { level: "info", sink: (l) => lines.push(l) });
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

class FakeListener implements Listener {
  closed = false;
  #reject?: (e: unknown) => void;
  readonly addr: Addr = { transport: "tcp", hostname: "0.0.0.0", port: 1 };
  accept(): Promise<Conn> {
    return new Promise((_, reject) => (this.#reject = reject));
  }
  /** Simulates a lost tunnel. */
  die(): void {
    this.#reject?.(new ClosedError("smux session closed"));
  }
  close(): void {
    this.closed = true;
    this.die();
  }
}

Deno.test("reverse listener: retries a failed bind 1, 2, 4, 5, 5 (scaled), rebinds after a lost tunnel", async () => {
  lines.length = 0;
  const calls: number[] = [];
  let fail = 5;
  const bound: FakeListener[] = [];
  const t0 = performance.now();
  const ln = new ReverseListener(
    (network, addr) => {
      calls.push(performance.now() - t0);
      assertEquals([network, addr], ["tcp", ":2222"]);
      if (fail-- > 0) return Promise.reject(new Error("connection refused"));
      const l = new FakeListener();
      bound.push(l);
      return Promise.resolve(l);
    },
    "tcp",
    ":2222",
    { log, minDelay: 20, maxDelay: 100 },
  );
  assertEquals(ln.addr, { transport: "tcp", hostname: "0.0.0.0", port: 2222 });
  const accepting = ln.accept();
  while (bound.length === 0) await new Promise((r) => setTimeout(r, 5));
  const gaps = calls.slice(1).map((t, i) => t - calls[i]);
  const want = [20, 40, 80, 100, 100];
  // The delays asked for are exact; the timers only never fire early (a loaded machine makes them late).
  const delays = () => lines.map((l) => /retrying in ([\d.]+)s/.exec(l)?.[1]).filter(Boolean).map(Number);
  assertEquals(delays(), want.map((ms) => ms / 1000));
  gaps.forEach((g, i) => assert(g >= want[i] - 2, `gap ${i}: ${g} ms, want at least ${want[i]}`));
  assert(ln.bound);
  // Lost tunnel: the delay starts again at the minimum, then it binds again.
  bound[0].die();
  while (bound.length === 1) await new Promise((r) => setTimeout(r, 5));
  assertEquals(delays().slice(5), [0.02], "after a successful bind the back-off starts over");
  assert(bound[0].closed);
  ln.close();
  await assertRejects(() => accepting, ClosedError);
  assert(bound[1].closed);
});

Deno.test("reverse listener: close() interrupts a back-off wait at once", async () => {
  const ln = new ReverseListener(() => Promise.reject(new Error("down")), "udp", "127.0.0.1:53", { log });
  const p = ln.accept();
  await new Promise((r) => setTimeout(r, 20));
  const t = performance.now();
  ln.close();
  await assertRejects(() => p, ClosedError);
  assert(performance.now() - t < 200);
});

Deno.test("mux bind: serveMuxBind ↔ MuxBindListener carry connections with their peer address", async () => {
  const [srv, cli] = await tcpPair();
  const ln = TcpListener.listen("127.0.0.1:0");
  const port = (ln.addr as Deno.NetAddr).port;
  const mux = { keepaliveInterval: 50, keepaliveTimeout: 200 };
  const serving = serveMuxBind(srv, ln, {
    mux,
    header: (peer) => enc(`${(peer as Deno.NetAddr).port}\n`.padStart(8, "0")),
  });
  const client = new MuxBindListener(cli, mux, async (s) => {
    const b = new Uint8Array(8);
    for (let off = 0; off < 8;) off += (await s.read(b.subarray(off)))!;
    return { transport: "tcp", hostname: "198.51.100.1", port: Number(dec(b).trim()) };
  }, { transport: "tcp", hostname: "127.0.0.1", port });
  try {
    const peers = await Promise.all([1, 2, 3].map(() => Deno.connect({ hostname: "127.0.0.1", port })));
    for (let i = 0; i < 3; i++) {
      const s = await client.accept();
      const p = peers.find((c) => c.localAddr.port === (s.remoteAddr as Deno.NetAddr).port);
      assert(p, "the header names the peer");
      await writeAll(p, enc("q"));
      const b = new Uint8Array(1);
      assertEquals(await s.read(b), 1);
      await writeAll(s, enc("a"));
      assertEquals(await p.read(b), 1);
      s.close();
    }
    peers.forEach((c) => c.close());
    // Silence from the client side past the keepalive timeout is not what happens here: both ping.
    await new Promise((r) => setTimeout(r, 300));
    assert(!client.session.closed, "keepalive keeps an idle tunnel up");
  } finally {
    client.close();
  }
  const stats = await serving;
  assertEquals(stats.conns, 3);
  await client.done;
  await assertRejects(() => client.accept(), ClosedError);
});
