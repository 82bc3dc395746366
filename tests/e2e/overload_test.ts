/**
 * An overloaded target loses no tunnel: 12 concurrent requests through
 * `-L http -F relay+T` to a dost `relay+T` server, to a target that listens
 * with backlog 1 and accepts one connection every 0.3 s
 * (tests/fixtures/slow_target.py). Behind a full accept queue Linux answers
 * with SYN cookies and resets a connection whose second data segment arrives
 * before its first was accepted, so the server must send what the client sent
 * during the dial in one write. A gost 3.2.6 client (`GOST_BIN`) splits the
 * request into two gRPC messages; dost's client is tested too.
 *
 * What is asserted is that no request fails fast (a reset shows up as a 503
 * within about a second). A request whose data segment keeps meeting a full
 * queue waits out TCP's retransmission backoff and may hit the 15 s timeouts
 * on loaded machines; that is the kernel's doing and is not counted here.
 */
import { assert, assertEquals } from "../assert.ts";
import { freePort, run, startDost } from "./_dost.ts";
import { hasCurl } from "./_common.ts";
import { GOST_BIN, startGost } from "./_gost.ts";

const PYTHON = "/usr/bin/python3";
const hasPython = (() => {
  try {
    return Deno.statSync(PYTHON).isFile;
  } catch {
    return false;
  }
})();
const TARGET = new URL("../fixtures/slow_target.py", import.meta.url).pathname;

const TRANSPORTS: Record<string, string[]> = {
  gost: ["relay+grpc://HOST?grpcInsecure=true", "relay+grpc://HOST", "relay+h2c://HOST", "relay+mws://HOST"],
  dost: ["relay+grpc://HOST?grpcInsecure=true", "relay+ws://HOST", "relay+pht://HOST", "relay+h3://HOST"],
};
/** A failure sooner than this is a reset, not a stall. */
const FAST_MS = 5_000;

/** Starts the slow target on `port` and resolves once it listens (its stdout stays open until it is killed). */
async function slowTarget(port: number): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(PYTHON, { args: [TARGET, String(port)], stdout: "piped", stderr: "null" }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  if (!new TextDecoder().decode(value).includes("ready")) throw new Error("slow target did not start");
  return child;
}

/** "status seconds" of each of `n` concurrent curl requests through `proxy`. */
async function statuses(n: number, proxy: string, url: string): Promise<string[]> {
  const runs = await Promise.all(
    Array.from(
      { length: n },
      () =>
        run("curl", [
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code} %{time_total}",
          "--max-time",
          "20",
          "-x",
          proxy,
          url,
        ]),
    ),
  );
  return runs.map((r) => r.stdout);
}

for (const client of ["gost", "dost"]) {
  Deno.test({
    name: `overloaded target: no request from a ${client} client is reset behind dost relay servers`,
    ignore: !hasCurl || !hasPython || (client === "gost" && !GOST_BIN),
    async fn(t) {
      for (const template of TRANSPORTS[client]) {
        await t.step(template.replace("HOST", "…"), async () => {
          const [target, server, proxy] = [freePort(), freePort(), freePort()];
          const url = template.replace("HOST", `127.0.0.1:${server}`);
          const slow = await slowTarget(target);
          const dost = await startDost(["-L", url], { env: { DOST_SHUTDOWN_GRACE: "1s" } });
          const args = ["-L", `http://127.0.0.1:${proxy}`, "-F", url];
          const front = client === "gost"
            ? await startGost(args)
            : await startDost(args, { env: { DOST_SHUTDOWN_GRACE: "1s" } });
          try {
            const got = await statuses(12, `http://127.0.0.1:${proxy}`, `http://127.0.0.1:${target}/`);
            const fastFailures = got.filter((r) => !r.startsWith("200 ") && Number(r.split(" ")[1]) * 1000 < FAST_MS);
            assertEquals(fastFailures, [], dost.logs.filter((l) => l.includes('"outputBytes":0')).join("\n"));
            assert(got.filter((r) => r.startsWith("200 ")).length >= 6, got.join(", "));
          } finally {
            await front.stop();
            await dost.stop();
            try {
              slow.kill();
            } catch {
              // exited already
            }
            await slow.status;
            await slow.stdout.cancel();
          }
        });
      }
    },
  });
}
