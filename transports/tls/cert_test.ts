import { createPrivateKey, X509Certificate } from "node:crypto";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../../tests/assert.ts";
import { generateCertificate } from "./cert.ts";
import { have } from "./_test_util.ts";

Deno.test("generateCertificate: GOST defaults (O=GOST, CN=gost.run, P-256, SAN, EKU, serial, 1 year)", async () => {
  const before = Date.now();
  const { cert, key } = await generateCertificate();
  assertMatch(cert, /^-----BEGIN CERTIFICATE-----\n/);
  assertMatch(key, /^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8

  const x = new X509Certificate(cert);
  assertStringIncludes(x.subject, "O=GOST");
  assertStringIncludes(x.subject, "CN=gost.run");
  assertEquals(x.subject, x.issuer);
  assertEquals(x.subjectAltName, "DNS:gost.run");
  assertEquals(x.ca, false);
  assert(x.verify(x.publicKey), "self-signed signature verifies");
  assertEquals(x.publicKey.asymmetricKeyType, "ec");
  assertEquals(x.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert(x.checkPrivateKey(createPrivateKey(key)), "key matches certificate");
  // A random serial that fits in 128 bits (positive, so at most 127 significant bits here).
  const serial = BigInt(`0x${x.serialNumber}`);
  assert(serial > 0n && serial < 2n ** 127n, `serial ${x.serialNumber}`);
  assert(x.serialNumber.length >= 30, `serial ${x.serialNumber} is too short to be 128-bit random`);

  const notBefore = Date.parse(x.validFrom);
  const notAfter = Date.parse(x.validTo);
  assert(Math.abs(notBefore - before) < 5_000, `validFrom ${x.validFrom} is now`);
  const days = (notAfter - notBefore) / 86_400_000;
  assert(days > 364.9 && days < 365.1, `valid for one year, got ${days} days`);

  // Two certificates never share a serial.
  const other = new X509Certificate((await generateCertificate()).cert);
  assert(other.serialNumber !== x.serialNumber);
});

Deno.test("generateCertificate: custom names and validity", async () => {
  const { cert } = await generateCertificate({
    commonName: "example.org",
    organization: "ACME",
    validityMs: 3_600_000,
  });
  const x = new X509Certificate(cert);
  assertStringIncludes(x.subject, "O=ACME");
  assertStringIncludes(x.subject, "CN=example.org");
  assertEquals(x.subjectAltName, "DNS:example.org");
  const hours = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / 3_600_000;
  assert(hours > 0.99 && hours < 1.01, `valid for one hour, got ${hours}`);
});

Deno.test("generateCertificate: CA and a certificate it issues", async () => {
  const ca = await generateCertificate({ commonName: "Test CA", isCA: true });
  const leaf = await generateCertificate({
    commonName: "client",
    dnsNames: ["client.test"],
    ipAddresses: ["127.0.0.1"],
    issuer: ca,
  });
  const caX = new X509Certificate(ca.cert);
  const leafX = new X509Certificate(leaf.cert);
  assertEquals(caX.ca, true);
  assertEquals(leafX.issuer, caX.subject);
  assert(leafX.checkIssued(caX));
  assert(leafX.verify(caX.publicKey), "leaf is signed by the CA key");
  assertStringIncludes(leafX.subjectAltName ?? "", "DNS:client.test");
  assertStringIncludes(leafX.subjectAltName ?? "", "IP Address:127.0.0.1");
});

Deno.test({
  name: "generateCertificate: openssl reads key usage, EKU and SAN",
  ignore: !(await have("openssl")),
  fn: async () => {
    const { cert, key } = await generateCertificate();
    const run = async (args: string[], input: string) => {
      const p = new Deno.Command("openssl", { args, stdin: "piped", stdout: "piped", stderr: "piped" }).spawn();
      const w = p.stdin.getWriter();
      await w.write(new TextEncoder().encode(input));
      await w.close();
      const out = await p.output();
      assert(out.success, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout);
    };
    const text = await run(["x509", "-noout", "-text"], cert);
    assertMatch(text, /Subject: O\s?=\s?GOST, CN\s?=\s?gost\.run/);
    assertMatch(text, /Public Key Algorithm: id-ecPublicKey/);
    assertMatch(text, /NIST CURVE: P-256|ASN1 OID: prime256v1/);
    assertMatch(text, /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign/);
    assertMatch(text, /Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    assertMatch(text, /Subject Alternative Name:\s+DNS:gost\.run/);
    assertMatch(text, /Signature Algorithm: ecdsa-with-SHA256/);
    const keyText = await run(["pkey", "-noout", "-text"], key);
    assertMatch(keyText, /Private-Key: \(256 bit/);
    // The certificate verifies against itself as the trust anchor.
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/c.pem`, cert);
      const v = await run(["verify", "-CAfile", `${dir}/c.pem`, `${dir}/c.pem`], "");
      assertStringIncludes(v, "OK");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
