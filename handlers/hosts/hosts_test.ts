import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { Hosts, parseHostsLines } from "./hosts.ts";

Deno.test("hosts: exact names, dotted names for sub-domains, first IP wins", () => {
  const h = new Hosts("h0", [
    { hostname: "example.org", ip: "127.0.0.1" },
    { hostname: "example.org", ip: "127.0.0.2" },
    { hostname: ".wild.test", ip: "::1" },
  ]);
  assertEquals(h.lookup("example.org"), "127.0.0.1");
  assertEquals(h.lookup("a.example.org"), undefined);
  assertEquals(h.lookup("wild.test"), "::1");
  assertEquals(h.lookup("a.b.wild.test"), "::1");
  assertEquals(h.lookup("EXAMPLE.org"), undefined);
  assertEquals(h.lookup("10.0.0.1"), undefined);
});

Deno.test("hosts: file lines and bad input", () => {
  assertEquals(parseHostsLines(["127.0.0.1 a.test b.test", "  ", "::1\tc.test"]), [
    { hostname: "a.test", ip: "127.0.0.1" },
    { hostname: "b.test", ip: "127.0.0.1" },
    { hostname: "c.test", ip: "::1" },
  ]);
  assertThrows(() => parseHostsLines(["300.0.0.1 a.test"]), TypeError, "300.0.0.1");
  assertThrows(() => parseHostsLines(["127.0.0.1"]), TypeError);
  assertThrows(() => new Hosts("x", [{ hostname: "a", ip: "nope" }]), TypeError, "nope");
});
