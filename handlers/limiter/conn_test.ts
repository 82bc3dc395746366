import { assertEquals, assertStringIncludes, assertThrows } from "../../tests/assert.ts";
import { ipKey, parseCIDR, parseIP } from "../matcher/ip.ts";
import { ConnLimiter, parseConnLimits } from "./conn.ts";

Deno.test("parseConnLimits: the spec's lines", () => {
  const l = parseConnLimits(["$ 1000", "$$ 100", "192.168.1.1 10", "10.0.0.0/8 5", "10.9.9.9 0"]);
  assertEquals(l.service, 1000);
  assertEquals(l.conn, 100);
  assertEquals(l.ips.get(ipKey(parseIP("192.168.1.1")!)), 10);
  assertEquals(l.ips.has(ipKey(parseIP("10.9.9.9")!)), false, "0 limits nothing");
  assertEquals(l.cidrs, [{ cidr: parseCIDR("10.0.0.0/8")!, value: 5 }]);
});

Deno.test("parseConnLimits: a bad line throws a RangeError quoting it", () => {
  const table: [string, string][] = [
    ["$", "missing N"],
    ["$ 1.5", `"1.5" is not a connection count`],
    ["$ -1", `"-1" is not a connection count`],
    ["$ 1MB", `"1MB" is not a connection count`],
    ["$ 10 20", `unexpected "20"`],
    ["example.com 10", `key "example.com"`],
  ];
  for (const [line, why] of table) {
    const err = assertThrows(() => parseConnLimits([line]), RangeError);
    assertStringIncludes(err.message, `"${line}"`);
    assertStringIncludes(err.message, why);
  }
});

/** Acquires for each IP in turn; true where admitted. */
function admits(cl: ConnLimiter, ips: string[], held: (() => void)[] = []): boolean[] {
  return ips.map((ip) => {
    const r = cl.acquire(ip);
    if (r) held.push(r);
    return r !== undefined;
  });
}

Deno.test("ConnLimiter: $ counts the service, IP and CIDR lines count per IP, $$ the IPs no line names", () => {
  const table: { lines: string[]; ips: string[]; want: boolean[] }[] = [
    { lines: ["$ 2"], ips: ["10.0.0.1", "10.0.0.2", "10.0.0.3"], want: [true, true, false] },
    { lines: ["$ 2"], ips: ["", "", ""], want: [true, true, false] },
    { lines: ["10.0.0.1 1"], ips: ["10.0.0.1", "::ffff:10.0.0.1", "10.0.0.2"], want: [true, false, true] },
    // one counter per IP inside the CIDR
    { lines: ["10.0.0.0/8 1"], ips: ["10.0.0.1", "10.0.0.2", "10.0.0.1", "11.0.0.1"], want: [true, true, false, true] },
    // the exact IP beats the CIDR
    { lines: ["10.0.0.0/8 1", "10.0.0.5 2"], ips: ["10.0.0.5", "10.0.0.5", "10.0.0.5"], want: [true, true, false] },
    // $$ only where no IP/CIDR line matches
    {
      lines: ["$$ 1", "10.0.0.0/8 2"],
      ips: ["10.0.0.1", "10.0.0.1", "10.0.0.1", "192.168.0.1", "192.168.0.1"],
      want: [true, true, false, true, false],
    },
    // no IP: $$ does not apply
    { lines: ["$$ 1"], ips: ["", ""], want: [true, true] },
    { lines: [], ips: ["10.0.0.1", "10.0.0.1"], want: [true, true] },
  ];
  for (const t of table) {
    assertEquals(admits(new ConnLimiter(parseConnLimits(t.lines)), t.ips), t.want, JSON.stringify(t));
  }
});

Deno.test("ConnLimiter: a refusal rolls back, a release frees (once)", () => {
  const cl = new ConnLimiter(parseConnLimits(["$ 2", "10.0.0.1 1"]));
  const held: (() => void)[] = [];
  assertEquals(admits(cl, ["10.0.0.1", "10.0.0.1"], held), [true, false]);
  assertEquals(cl.active, 1, "the IP refusal did not count the service");
  assertEquals(admits(cl, ["10.0.0.2", "10.0.0.3"], held), [true, false]);
  assertEquals(cl.active, 2);
  const first = held[0];
  first();
  first();
  assertEquals(cl.active, 1, "a second release does nothing");
  assertEquals(admits(cl, ["10.0.0.1", "10.0.0.3"], held), [true, false]);
  for (const r of held) r();
  assertEquals(cl.active, 0);
  assertEquals(admits(cl, ["10.0.0.1", "10.0.0.2"]), [true, true]);
});

Deno.test("ConnLimiter: update keeps open conns counted", () => {
  const cl = new ConnLimiter(parseConnLimits([]));
  const held: (() => void)[] = [];
  assertEquals(admits(cl, ["10.0.0.1", "10.0.0.1", "10.0.0.2"], held), [true, true, true]);
  cl.update(parseConnLimits(["$ 3", "10.0.0.1 2"]));
  assertEquals(admits(cl, ["10.0.0.1", "10.0.0.3"]), [false, false]);
  held[0]();
  assertEquals(admits(cl, ["10.0.0.1"]), [true]);
});
