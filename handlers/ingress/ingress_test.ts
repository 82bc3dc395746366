import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { formatUuid, Ingress, parseEndpoint, parseIngressLines, parseUuid } from "./mod.ts";

const A = "4d21094e-b74c-4916-86c1-d9fa36ea677b";
const B = "ac74d9dd-3125-442a-a7c1-f9e49e05faca";
const C = "aede1f6a-762b-45da-b937-b6632356555a";

Deno.test("uuid: every form Go's uuid.Parse takes, canonical output, bad input refused", () => {
  for (const s of [A, A.toUpperCase(), `{${A}}`, `urn:uuid:${A}`, A.replaceAll("-", "")]) {
    assertEquals(formatUuid(parseUuid(s)), A, s);
  }
  for (const s of ["", "x", A.slice(1), A.replace("-", "+"), `${A}0`, "zz21094e-b74c-4916-86c1-d9fa36ea677b"]) {
    assertThrows(() => parseUuid(s), TypeError, "not a UUID");
  }
  assertEquals(parseEndpoint(`$${A}`).private, true);
  assertEquals(parseEndpoint(A).private, false);
  assertThrows(() => parseEndpoint("00000000-0000-0000-0000-000000000000"), TypeError, "zero UUID");
});

Deno.test("ingress: exact, .wildcard and *.wildcard, parent wildcards in turn, port and case ignored", () => {
  const ing = new Ingress("i", [
    { hostname: ".example.com", endpoint: A },
    { hostname: "example.org", endpoint: B },
    { hostname: "*.sub.example.com", endpoint: C },
    { hostname: "exact.sub.example.com", endpoint: `$${B}` },
  ]);
  const id = (h: string) => {
    const r = ing.getRule(h);
    return r ? (r.private ? "$" : "") + formatUuid(r.id) : undefined;
  };
  assertEquals(id("example.com"), A); // ".example.com" covers the name itself
  assertEquals(id("a.example.com"), A);
  assertEquals(id("a.b.example.com:8080"), A);
  assertEquals(id("A.EXAMPLE.COM"), A);
  assertEquals(id("x.sub.example.com"), C);
  assertEquals(id("sub.example.com"), C);
  assertEquals(id("exact.sub.example.com"), `$${B}`);
  assertEquals(id("example.org"), B);
  assertEquals(id("a.example.org"), undefined); // no wildcard for example.org
  assertEquals(id("badexample.com"), undefined); // a suffix that is not a label boundary
  assertEquals(id("example.net"), undefined);
  assertEquals(id(""), undefined);
  assertEquals(id("[::1]:80"), undefined);
});

Deno.test("ingress: a later rule for the same name wins; set() replaces all", () => {
  const ing = new Ingress("i", [{ hostname: "a.test", endpoint: A }, { hostname: "a.test", endpoint: B }]);
  assertEquals(formatUuid(ing.getRule("a.test")!.id), B);
  ing.set([{ hostname: "b.test", endpoint: C }]);
  assertEquals(ing.getRule("a.test"), undefined);
  assertEquals(formatUuid(ing.getRule("b.test")!.id), C);
  assertEquals(ing.list(), [{ hostname: "b.test", endpoint: C }]);
});

Deno.test("ingress: malformed rules and lines are errors that quote the value", () => {
  assertThrows(() => new Ingress("i", [{ hostname: "a.test", endpoint: "not-a-uuid" }]), TypeError, "not-a-uuid");
  assertThrows(() => new Ingress("i", [{ hostname: "", endpoint: A }]), TypeError, "hostname");
  assertThrows(() => new Ingress("i", [{ hostname: "a..b", endpoint: A }]), TypeError, '"a..b"');
  assertThrows(() => new Ingress("i", [{ hostname: "a b", endpoint: A }]), TypeError, "hostname");
  assertThrows(() => parseIngressLines(["a.test"]), TypeError, '"a.test"');
  assertThrows(() => parseIngressLines([`a.test ${A} extra`]), TypeError, "want");
  assertEquals(parseIngressLines([` a.test\t${A} `]), [{ hostname: "a.test", endpoint: A }]);
  assert(new Ingress("i", []).size === 0);
  // `*` is the plain-TCP default, never a host wildcard.
  const d = new Ingress("i", [{ hostname: "*", endpoint: A }]);
  assertEquals(formatUuid(d.default!.id), A);
  assertEquals(d.getRule("a.test"), undefined);
  assertEquals(d.getRule("*"), undefined);
  assertEquals(new Ingress("i", []).default, undefined);
});
