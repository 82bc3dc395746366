/**
 * Real third-party peers for end-to-end tests: squid (HTTP proxy), dante and
 * microsocks (SOCKS5). Each starts on a free loopback port with a throw-away
 * config and is killed by `close()`.
 *
 * @module
 */
import { freePort, hasCommand } from "./_dost.ts";

export interface Peer {
  port: number;
  close(): Promise<void>;
}

async function waitPort(port: number, child: Deno.ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${name} exited before listening`);
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${name} did not listen on ${port}`);
}

function spawn(cmd: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
}

async function stop(child: Deno.ChildProcess, dir?: string) {
  try {
    child.kill("SIGKILL");
  } catch {
    // gone
  }
  await child.status;
  if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
}

export const hasSquid = hasCommand("squid");
export const hasDante = hasCommand("danted");
export const hasMicrosocks = hasCommand("microsocks");

/** squid as a plain forward proxy on loopback (CONNECT to any port allowed). */
export async function startSquid(): Promise<Peer> {
  const dir = await Deno.makeTempDir({ prefix: "dost-squid-" });
  await Deno.chmod(dir, 0o777);
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/squid.conf`,
    [
      `http_port 127.0.0.1:${port}`,
      "http_access allow all",
      "cache deny all",
      "cache_mem 8 MB",
      "access_log none",
      `cache_log ${dir}/cache.log`,
      `pid_filename ${dir}/squid.pid`,
      "shutdown_lifetime 0 seconds",
      "dns_v4_first on",
      `coredump_dir ${dir}`,
    ].join("\n") + "\n",
  );
  const child = spawn("squid", ["-N", "-f", `${dir}/squid.conf`]);
  try {
    await waitPort(port, child, "squid");
  } catch (err) {
    const log = await Deno.readTextFile(`${dir}/cache.log`).catch(() => "");
    await stop(child, dir);
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { port, close: () => stop(child, dir) };
}

/** dante (danted) as an RFC 1928 SOCKS5 server without authentication. */
export async function startDante(): Promise<Peer> {
  const dir = await Deno.makeTempDir({ prefix: "dost-dante-" });
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/danted.conf`,
    [
      `logoutput: ${dir}/danted.log`,
      `internal: 127.0.0.1 port = ${port}`,
      "external: 127.0.0.1",
      "socksmethod: none",
      "clientmethod: none",
      "user.privileged: root",
      "user.unprivileged: nobody",
      "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }",
      "socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8 }",
    ].join("\n") + "\n",
  );
  const child = spawn("danted", ["-f", `${dir}/danted.conf`, "-p", `${dir}/danted.pid`]);
  try {
    await waitPort(port, child, "danted");
  } catch (err) {
    const log = await Deno.readTextFile(`${dir}/danted.log`).catch(() => "");
    await stop(child, dir);
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return { port, close: () => stop(child, dir) };
}

/** microsocks as a SOCKS5 server, optionally with user/password auth. */
export async function startMicrosocks(auth?: { user: string; pass: string }): Promise<Peer> {
  const port = freePort();
  const args = ["-i", "127.0.0.1", "-p", String(port)];
  if (auth) args.push("-u", auth.user, "-P", auth.pass);
  const child = spawn("microsocks", args);
  await waitPort(port, child, "microsocks");
  return { port, close: () => stop(child) };
}
