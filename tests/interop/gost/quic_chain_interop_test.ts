/**
 * quic, wt and h3 as the second hop of a dost client's chain: the QUIC
 * packets go through the first hop's UDP relaying (relay UDP CONNECT, or
 * SOCKS5 UDP-TUN) to the QUIC node. Each hop is a dost or a gost 3.2.6
 * server (`GOST_BIN`); the dost-only combination runs without gost. A gost
 * client reaches a dost QUIC node through a dost relay hop too (gost asks
 * for a UDP association, BIND with bind=true).
 */
import { hasCurl } from "../../e2e/_common.ts";
import { freePort } from "../../e2e/_dost.ts";
import { GOST_BIN } from "../../e2e/_gost.ts";
import { fetchChecked, type Impl, makeBody, start, withOrigin, withProcs } from "./_pair.ts";

const body = await makeBody(4 << 20);

/** `[first hop, QUIC hop]` server implementations. */
const COMBOS: [Impl, Impl][] = [["dost", "dost"], ["gost", "dost"], ["dost", "gost"], ["gost", "gost"]];
/** The QUIC transports and the URL of a relay service on each. */
const QUIC_HOPS: Record<string, string> = {
  quic: "relay+quic",
  wt: "relay+wt",
  h3: "relay+h3",
};

function chainCase(first: "relay" | "socks5", transport: string, ignoreWithoutGost: boolean) {
  const scheme = QUIC_HOPS[transport];
  return {
    name: `chain: ${first} hop, then ${scheme} as the second hop (${ignoreWithoutGost ? "with gost" : "dost only"})`,
    ignore: !hasCurl || (ignoreWithoutGost && !GOST_BIN),
    fn: (t: Deno.TestContext) =>
      withOrigin(body, async (port) => {
        for (const [a, b] of COMBOS.filter(([x, y]) => (x === "gost" || y === "gost") === ignoreWithoutGost)) {
          await t.step(`${a} ${first} server, then ${b} ${scheme} server`, () => {
            const [p1, p2, h] = [freePort(), freePort(), freePort()];
            // gost's socks5 handler relays UDP only with udp=true.
            const firstUrl = first === "socks5" ? `socks5://127.0.0.1:${p1}?udp=true` : `relay://127.0.0.1:${p1}`;
            return withProcs([
              () => start(a, ["-L", firstUrl]),
              () => start(b, ["-L", `${scheme}://127.0.0.1:${p2}`]),
              () =>
                start("dost", [
                  "-L",
                  `http://127.0.0.1:${h}`,
                  "-F",
                  `${first}://127.0.0.1:${p1}`,
                  "-F",
                  `${scheme}://127.0.0.1:${p2}`,
                ]),
            ], async () => {
              // Two requests: the second reuses the QUIC session through the same tunnel.
              await fetchChecked(body, `http://127.0.0.1:${port}/`, `http://127.0.0.1:${h}`);
              await fetchChecked(body, `http://127.0.0.1:${port}/`, `http://127.0.0.1:${h}`);
            });
          });
        }
      }),
  };
}

for (const transport of Object.keys(QUIC_HOPS)) {
  Deno.test(chainCase("relay", transport, false));
  Deno.test(chainCase("relay", transport, true));
}
Deno.test(chainCase("socks5", "quic", false));
Deno.test(chainCase("socks5", "quic", true));

Deno.test({
  name: "chain: a gost client's quic and wt second hop through a dost relay hop (UDP association, bind=true)",
  ignore: !hasCurl || !GOST_BIN,
  fn: (t) =>
    withOrigin(body, async (port) => {
      for (const scheme of ["relay+quic", "relay+wt"]) {
        await t.step(`gost client, dost relay server, dost ${scheme} server`, () => {
          const [p1, p2, h] = [freePort(), freePort(), freePort()];
          return withProcs([
            () => start("dost", ["-L", `relay://127.0.0.1:${p1}?bind=true`]),
            () => start("dost", ["-L", `${scheme}://127.0.0.1:${p2}`]),
            () =>
              start("gost", [
                "-L",
                `http://127.0.0.1:${h}`,
                "-F",
                `relay://127.0.0.1:${p1}`,
                "-F",
                `${scheme}://127.0.0.1:${p2}`,
              ]),
          ], () => fetchChecked(body, `http://127.0.0.1:${port}/`, `http://127.0.0.1:${h}`));
        });
      }
    }),
});
