import * as tls from "node:tls";
import type { Socket } from "node:net";
import { ConnDuplex } from "./_duplex.ts";
import { generateCertificate } from "./cert.ts";
import { memoryPair } from "./_test_util.ts";
const ss = await generateCertificate();
const ca = await generateCertificate({ commonName: "Test CA", isCA: true });
const cc = await generateCertificate({ commonName: "client", issuer: ca });
const sca = await generateCertificate({ commonName: "Other CA", isCA: true });
const bad = await generateCertificate({ commonName: "bad", issuer: sca });
Deno.test({
  name: "probe",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    for (const withCert of [false, true, "bad", "stolen"]) {
      const [a, b] = memoryPair();
      const srv = new tls.TLSSocket(new ConnDuplex(b) as unknown as Socket, {
        isServer: true,
        secureContext: tls.createSecureContext({ ...ss, ca: ca.cert }),
        requestCert: true,
        rejectUnauthorized: true,
      });
      srv.on("error", (e) => console.log("srv error", e.message));
      srv.on("secure", () =>
        console.log(
          "srv secure authorized=",
          srv.authorized,
          "err=",
          srv.authorizationError,
          "peer=",
          JSON.stringify(srv.getPeerCertificate()?.subject),
          Object.keys(srv.getPeerCertificate(true) ?? {}).join(","),
          srv.getPeerCertificate(true)?.issuerCertificate?.subject,
        ));
      const cli = tls.connect({
        socket: new ConnDuplex(a) as unknown as Socket,
        rejectUnauthorized: false,
        ...(withCert === true
          ? { cert: cc.cert, key: cc.key }
          : withCert === "bad"
          ? { cert: bad.cert, key: bad.key }
          : withCert === "stolen"
          ? { cert: cc.cert, key: bad.key }
          : {}),
      });
      cli.on("error", (e) => console.log("cli error", e.message));
      cli.on("secureConnect", () => console.log("cli secureConnect"));
      await new Promise((r) => setTimeout(r, 300));
      cli.destroy();
      srv.destroy();
    }
    // backpressure
    const [a, b] = memoryPair(64 * 1024);
    const db = new ConnDuplex(b);
    const srv = new tls.TLSSocket(db as unknown as Socket, {
      isServer: true,
      secureContext: tls.createSecureContext(ss),
    });
    const da = new ConnDuplex(a);
    const cli = tls.connect({ socket: da as unknown as Socket, rejectUnauthorized: false });
    await new Promise((r) => cli.once("secureConnect", r));
    srv.pause();
    let written = 0;
    const chunk = Buffer.alloc(65536);
    for (let i = 0; i < 200; i++) {
      const ok = cli.write(chunk);
      written += chunk.length;
      if (!ok) await Promise.race([new Promise((r) => cli.once("drain", r)), new Promise((r) => setTimeout(r, 200))]);
    }
    console.log(
      "written",
      written,
      "cli.writableLength",
      cli.writableLength,
      "da.writableLength",
      da.writableLength,
      "srv.readableLength",
      srv.readableLength,
      "db.readableLength",
      db.readableLength,
      "srv.isPaused",
      srv.isPaused(),
      "srv flowing",
      srv.readableFlowing,
    );
    let got = 0;
    srv.on("data", (d: Buffer) => got += d.length);
    srv.resume();
    await new Promise((r) => setTimeout(r, 500));
    console.log("after resume got", got, "mem", Deno.memoryUsage().rss >> 20, "MiB");
    cli.destroy();
    srv.destroy();
  },
});
import { Buffer } from "node:buffer";
