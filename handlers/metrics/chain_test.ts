import { assert, assertEquals, assertRejects } from "../../tests/assert.ts";
import { Metadata } from "../../transports/metadata.ts";
import { tcpDialer } from "../../transports/tcp/mod.ts";
import { Chain, ChainError } from "../chain/chain.ts";
import { Hop } from "../chain/hop.ts";
import type { Node } from "../chain/node.ts";
import { relayConnector } from "../relay/connector.ts";
import { deadPort, RelayServer, silentLog, TestServer } from "../relay/_testing.ts";
import { readAll } from "../../transports/_testing.ts";
import { writeAll } from "../../transports/_io/write_all.ts";
import { samples, series } from "./_testing.ts";
import { type ChainMetrics, Metrics } from "./mod.ts";

// nodelay: the relay CONNECT is answered during dial, so a refused target fails the dial.
const copts = { metadata: new Metadata({ nodelay: true }), tls: { secure: false }, log: silentLog };

function relayNode(name: string, addr: string): Node {
  return { name, addr, connector: relayConnector(copts), dialer: tcpDialer() };
}

/** A target that speaks first, so a relay server (which defers its OK until the target sends) answers at once. */
function greeter(): TestServer {
  return new TestServer(async (c) => {
    await writeAll(c, new TextEncoder().encode("hi"));
    await readAll(c);
  });
}

class Recorder implements ChainMetrics {
  readonly errors: string[] = [];
  readonly connects: { chain: string; node: string; seconds: number }[] = [];
  connectError(chain: string, firstNode: string): void {
    this.errors.push(`${chain}/${firstNode}`);
  }
  nodeConnected(chain: string, node: string, seconds: number): void {
    this.connects.push({ chain, node, seconds });
  }
}

Deno.test("Chain metrics: the first node's connect is timed; a failed target is not a chain error", async () => {
  const relay = new RelayServer();
  const target = greeter();
  const rec = new Recorder();
  const chain = new Chain("c", [new Hop("h", [relayNode("n0", relay.addr)])], rec);
  try {
    const conn = await chain.dial("tcp", target.addr);
    conn.close();
    assertEquals(rec.connects.map((c) => `${c.chain}/${c.node}`), ["c/n0"]);
    assert(rec.connects[0].seconds >= 0 && rec.connects[0].seconds < 5);
    // The connect phase succeeded; only the relay's CONNECT to the target failed (gost: no chain error).
    await assertRejects(() => chain.dial("tcp", `127.0.0.1:${deadPort()}`), ChainError);
    assertEquals(rec.errors, []);
    assertEquals(rec.connects.length, 2);
  } finally {
    await relay.handled(2);
    await relay.close();
    await target.close();
  }
});

Deno.test("Chain metrics: a failed connect phase counts once, under the route's first node", async () => {
  const relay = new RelayServer();
  const rec = new Recorder();
  const dead = `127.0.0.1:${deadPort()}`;
  try {
    // One hop, its node down.
    const one = new Chain("one", [new Hop("h0", [relayNode("down", dead)])], rec);
    await assertRejects(() => one.dial("tcp", "127.0.0.1:1"), ChainError);
    assertEquals(rec.errors, ["one/down"]);
    assertEquals(rec.connects, []);

    // Two hops: the first node is up (and timed), the second is down: the error is the first node's.
    const two = new Chain("two", [
      new Hop("h0", [relayNode("first", relay.addr)]),
      new Hop("h1", [relayNode("second", dead)]),
    ], rec);
    await assertRejects(() => two.dial("tcp", "127.0.0.1:1"), ChainError);
    assertEquals(rec.errors, ["one/down", "two/first"]);
    assertEquals(rec.connects.map((c) => `${c.chain}/${c.node}`), ["two/first"]);

    // Bind runs the same connect phase.
    await assertRejects(() => one.bind("tcp", "127.0.0.1:0"), ChainError);
    assertEquals(rec.errors.length, 3);
  } finally {
    await relay.handled(1);
    await relay.close();
  }
});

Deno.test("Chain metrics: with a Metrics, gost_chain_* series appear in the scrape", async () => {
  const m = new Metrics({ host: "h" });
  const chain = new Chain("chain-0", [new Hop("hop-0", [relayNode("node-0", `127.0.0.1:${deadPort()}`)])], m);
  await assertRejects(() => chain.dial("tcp", "127.0.0.1:1"), ChainError);
  await assertRejects(() => chain.dial("tcp", "127.0.0.1:1"), ChainError);
  const s = samples(m.render());
  assertEquals(s.get(series("gost_chain_errors_total", { chain: "chain-0", host: "h", node: "node-0" })), 2);
  assert(!m.render().includes("gost_chain_node_connect_duration_seconds"), "no node connected");
});

Deno.test("Chain metrics: a chain without metrics dials as before", async () => {
  const relay = new RelayServer();
  const target = greeter();
  try {
    const chain = new Chain("c", [new Hop("h", [relayNode("n0", relay.addr)])]);
    assertEquals(chain.metrics, undefined);
    (await chain.dial("tcp", target.addr)).close();
  } finally {
    await relay.handled(1);
    await relay.close();
    await target.close();
  }
});
