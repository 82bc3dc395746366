import { assertEquals } from "../../tests/assert.ts";
import { assertRejects } from "../../tests/assert.ts";
import { closeQuietly } from "../../transports/_io/write_all.ts";
import { rootLogger } from "../../transports/log.ts";
import { TcpListener } from "../../transports/tcp/listener.ts";
import { Admission, AdmissionGroup, compileAdmission } from "./admission.ts";
import { admissionListener } from "./listener.ts";

Deno.test("admission: IPs, CIDRs and names, blacklist and whitelist", async () => {
  const c = await compileAdmission(["10.9.9.9", "192.168.0.0/16", "::1", "localhost", "2001:db8::/32"]);
  const black = new Admission("b");
  black.set(c);
  const white = new Admission("w", true);
  white.set(c);
  const cases: [string, boolean][] = [
    ["10.9.9.9", true],
    ["10.9.9.8", false],
    ["192.168.4.4", true],
    ["127.0.0.1", true], // localhost resolves to it
    ["::1", true],
    ["::ffff:10.9.9.9", true],
    ["2001:db8::5", true],
    ["2001:db9::5", false],
  ];
  for (const [ip, matched] of cases) {
    assertEquals(black.admit(ip), !matched, `black ${ip}`);
    assertEquals(white.admit(ip), matched, `white ${ip}`);
  }
  assertEquals(white.admit(""), true); // no IP (e.g. a unix socket): gost admits
});

Deno.test("admission: every member of a group must admit", async () => {
  const a = new Admission("a", true);
  a.set(await compileAdmission(["10.0.0.0/8"]));
  const b = new Admission("b");
  b.set(await compileAdmission(["10.0.0.5"]));
  const g = new AdmissionGroup([a, b]);
  assertEquals(g.admit("10.0.0.4"), true);
  assertEquals(g.admit("10.0.0.5"), false);
  assertEquals(g.admit("11.0.0.1"), false);
});

Deno.test("admission: a name that does not resolve is an error, not a silent gap", async () => {
  await assertRejects(() => compileAdmission(["no-such-host.invalid"]), TypeError, "does not resolve");
  await assertRejects(() => compileAdmission(["10.0.0.0/40"]), TypeError);
});

Deno.test("admission listener: a refused client is closed without a byte and the next is served", async () => {
  const inner = TcpListener.listen("127.0.0.1:0");
  const port = (inner.addr as Deno.NetAddr).port;
  const refuseAll = new Admission("w", true);
  refuseAll.set(await compileAdmission(["10.9.9.9"]));
  let allow = false;
  const ln = admissionListener(inner, { admit: (ip) => allow || refuseAll.admit(ip) }, rootLogger);
  const accepted = ln.accept();
  const c1 = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(8);
  assertEquals(await c1.read(buf), null); // closed by the server, nothing sent
  c1.close();
  allow = true;
  const c2 = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = await accepted;
  await c2.write(new Uint8Array([1]));
  assertEquals(await conn.read(buf), 1);
  closeQuietly(conn);
  c2.close();
  ln.close();
});
