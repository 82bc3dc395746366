import { X509Certificate } from "node:crypto";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../../tests/assert.ts";
import { generateCertificate } from "./cert.ts";
import { defaultServerTLS, loadClientTLS, loadServerTLS } from "./load.ts";
import { quietLogger } from "./_test_util.ts";
import type { ServerTLSConfig } from "../types.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dost-tls-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const server = await generateCertificate({ commonName: "server.test" });
const ca = await generateCertificate({ commonName: "Test CA", isCA: true });
const other = await generateCertificate({ commonName: "other.test" });

Deno.test("loadServerTLS: no files means the default config, with this config's ALPN", async () => {
  const base: ServerTLSConfig = { cert: server.cert, key: server.key };
  const out = await loadServerTLS({ options: { alpn: ["h2", "http/1.1"] } }, () => Promise.resolve(base));
  assertEquals(out, { cert: server.cert, key: server.key, alpn: ["h2", "http/1.1"] });
  assert(out !== base, "a copy, not the shared default");
  assertEquals(await loadServerTLS(undefined, () => Promise.resolve(base)), base);
});

Deno.test("loadServerTLS: loads the pair, and caFile requires client certificates", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/c.pem`, server.cert);
    await Deno.writeTextFile(`${dir}/k.pem`, server.key);
    await Deno.writeTextFile(`${dir}/ca.pem`, ca.cert);
    const noDefault = () => Promise.reject(new Error("default must not be used"));
    const out = await loadServerTLS({ certFile: `${dir}/c.pem`, keyFile: `${dir}/k.pem` }, noDefault);
    assertEquals(out, { cert: server.cert, key: server.key });
    const mtls = await loadServerTLS(
      { certFile: `${dir}/c.pem`, keyFile: `${dir}/k.pem`, caFile: `${dir}/ca.pem`, alpn: ["h2"] },
      noDefault,
    );
    assertEquals(mtls, { cert: server.cert, key: server.key, ca: ca.cert, alpn: ["h2"] });
  });
});

Deno.test("loadServerTLS: errors name the file", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/c.pem`, server.cert);
    await Deno.writeTextFile(`${dir}/k.pem`, server.key);
    await Deno.writeTextFile(`${dir}/other.key`, other.key);
    await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate\n");
    const d = () => Promise.reject(new Error("unused"));
    await assertRejects(
      () => loadServerTLS({ certFile: `${dir}/missing.pem`, keyFile: `${dir}/k.pem` }, d),
      Error,
      `"${dir}/missing.pem"`,
    );
    await assertRejects(
      () => loadServerTLS({ certFile: `${dir}/junk.pem`, keyFile: `${dir}/k.pem` }, d),
      SyntaxError,
      `"${dir}/junk.pem"`,
    );
    await assertRejects(
      () => loadServerTLS({ certFile: `${dir}/c.pem`, keyFile: `${dir}/junk.pem` }, d),
      SyntaxError,
      `"${dir}/junk.pem"`,
    );
    await assertRejects(
      () => loadServerTLS({ certFile: `${dir}/c.pem`, keyFile: `${dir}/other.key` }, d),
      TypeError,
      "does not match",
    );
    await assertRejects(
      () => loadServerTLS({ certFile: `${dir}/c.pem`, keyFile: `${dir}/k.pem`, caFile: `${dir}/nope.pem` }, d),
      Error,
      `"${dir}/nope.pem"`,
    );
    await assertRejects(() => loadServerTLS({ certFile: `${dir}/c.pem` }, d), TypeError, "keyFile is empty");
  });
});

Deno.test("defaultServerTLS: cert.pem/key.pem in the working directory, ca.pem makes client certs mandatory", async () => {
  await withDir(async (dir) => {
    const log = quietLogger();
    await Deno.writeTextFile(`${dir}/cert.pem`, server.cert);
    await Deno.writeTextFile(`${dir}/key.pem`, server.key);
    assertEquals(await defaultServerTLS(undefined, { cwd: dir, log }), { cert: server.cert, key: server.key });
    await Deno.writeTextFile(`${dir}/ca.pem`, ca.cert);
    assertEquals(await defaultServerTLS(undefined, { cwd: dir, log }), {
      cert: server.cert,
      key: server.key,
      ca: ca.cert,
    });
  });
});

Deno.test("defaultServerTLS: no files means one generated certificate per process", async () => {
  await withDir(async (dir) => {
    const lines: string[] = [];
    const a = await defaultServerTLS(undefined, { cwd: dir, log: quietLogger(lines) });
    const b = await defaultServerTLS(undefined, { cwd: dir, log: quietLogger(lines) });
    assertEquals(a, b);
    assert(a.ca === undefined);
    const x = new X509Certificate(a.cert);
    assertStringIncludes(x.subject, "CN=gost.run");
    assertStringIncludes(x.subject, "O=GOST");
    assertEquals([...Deno.readDirSync(dir)].length, 0, "nothing written to disk");
    assert(lines.every((l) => JSON.parse(l).level === "debug"), "absent files are not worth a warning");
  });
});

Deno.test("defaultServerTLS: a tls section's files, or a generated certificate with its names when they fail", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/s.crt`, server.cert);
    await Deno.writeTextFile(`${dir}/s.key`, server.key);
    const log = quietLogger();
    assertEquals(await defaultServerTLS({ certFile: `${dir}/s.crt`, keyFile: `${dir}/s.key` }, { log }), {
      cert: server.cert,
      key: server.key,
    });
    const lines: string[] = [];
    const gen = await defaultServerTLS(
      { certFile: `${dir}/absent.crt`, keyFile: `${dir}/s.key`, commonName: "proxy.test", organization: "Org" },
      { log: quietLogger(lines) },
    );
    const x = new X509Certificate(gen.cert);
    assertStringIncludes(x.subject, "CN=proxy.test");
    assertStringIncludes(x.subject, "O=Org");
    assert(lines.some((l) => JSON.parse(l).level === "warn" && l.includes("absent.crt")), lines.join("\n"));
  });
});

Deno.test("loadClientTLS: serverName from the node address, insecure by default, CA and client cert files", async () => {
  assertEquals(await loadClientTLS(undefined, "example.com:443"), { serverName: "example.com", secure: false });
  assertEquals(await loadClientTLS({}, "[::1]:443"), { serverName: "::1", secure: false });
  assertEquals(await loadClientTLS({}, "example.com"), { serverName: "example.com", secure: false });
  assertEquals(await loadClientTLS({ serverName: "sni.test", secure: true, alpn: ["h2"] }, "1.2.3.4:443"), {
    serverName: "sni.test",
    secure: true,
    alpn: ["h2"],
  });
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/ca.pem`, ca.cert);
    await Deno.writeTextFile(`${dir}/c.pem`, server.cert);
    await Deno.writeTextFile(`${dir}/k.pem`, server.key);
    const out = await loadClientTLS(
      { caFile: `${dir}/ca.pem`, certFile: `${dir}/c.pem`, keyFile: `${dir}/k.pem` },
      "h:1",
    );
    assertEquals(out, { serverName: "h", secure: false, ca: ca.cert, cert: server.cert, key: server.key });
    await assertRejects(() => loadClientTLS({ caFile: `${dir}/none.pem` }, "h:1"), Error, `"${dir}/none.pem"`);
  });
});
