import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { type NameserverAddr, parseNameserverAddr } from "./addr.ts";

Deno.test("parseNameserverAddr: GOST's forms, default ports, unknown schemes as UDP", () => {
  const table: [string, NameserverAddr][] = [
    ["1.1.1.1", { protocol: "udp", host: "1.1.1.1", port: 53 }],
    ["1.1.1.1:5353", { protocol: "udp", host: "1.1.1.1", port: 5353 }],
    ["udp://1.1.1.1", { protocol: "udp", host: "1.1.1.1", port: 53 }],
    ["UDP://1.1.1.1:54", { protocol: "udp", host: "1.1.1.1", port: 54 }],
    ["tcp://8.8.8.8", { protocol: "tcp", host: "8.8.8.8", port: 53 }],
    ["tls://8.8.8.8", { protocol: "tls", host: "8.8.8.8", port: 53 }], // 53 even for TLS, as GOST does
    ["tls://8.8.8.8:853", { protocol: "tls", host: "8.8.8.8", port: 853 }],
    ["dot://dns.example:853", { protocol: "tls", host: "dns.example", port: 853 }],
    ["foo://9.9.9.9:99", { protocol: "udp", host: "9.9.9.9", port: 99 }],
    ["udp-chain://9.9.9.9", { protocol: "udp", host: "9.9.9.9", port: 53 }],
    ["[::1]", { protocol: "udp", host: "::1", port: 53 }],
    ["[::1]:5300", { protocol: "udp", host: "::1", port: 5300 }],
    ["tcp://[2001:db8::1]:5300", { protocol: "tcp", host: "2001:db8::1", port: 5300 }],
    ["2001:db8::1", { protocol: "udp", host: "2001:db8::1", port: 53 }],
    ["  tcp://1.2.3.4:53/ignored  ", { protocol: "tcp", host: "1.2.3.4", port: 53 }],
    ["https://1.0.0.1/dns-query", {
      protocol: "https",
      host: "1.0.0.1",
      port: 443,
      url: "https://1.0.0.1/dns-query",
    }],
    ["https://dns.example:8443/q?x=1", {
      protocol: "https",
      host: "dns.example",
      port: 8443,
      url: "https://dns.example:8443/q?x=1",
    }],
    ["https://[::1]/dns-query", { protocol: "https", host: "::1", port: 443, url: "https://[::1]/dns-query" }],
    ["https://1.0.0.1", { protocol: "https", host: "1.0.0.1", port: 443, url: "https://1.0.0.1/" }],
  ];
  for (const [addr, want] of table) assertEquals(parseNameserverAddr(addr), want, addr);
});

Deno.test("parseNameserverAddr: bad ports, empty hosts and bad URLs are TypeErrors quoting the value", () => {
  const bad: [string, string][] = [
    ["", "empty host"],
    ["udp://", "empty host"],
    [":53", "empty host"],
    ["tcp://[]:53", "empty host"],
    ["1.1.1.1:0", `bad port "0"`],
    ["1.1.1.1:65536", `bad port "65536"`],
    ["1.1.1.1:", `bad port ""`],
    ["tcp://1.1.1.1:dns", `bad port "dns"`],
    ["[::1]x", `junk after "]"`],
    ["[::1", `missing "]"`],
    ["https://", "not a valid URL"],
    ["https://1.1.1.1:99999/dns-query", "not a valid URL"],
    ["https://1.1.1.1:0/dns-query", `bad port "0"`],
  ];
  for (const [addr, why] of bad) {
    const err = assertThrows(() => parseNameserverAddr(addr), TypeError, why);
    assertEquals(err.message.includes(`"${addr}"`), true, err.message);
  }
});
