/**
 * The Debian packages dost's tests use as real peers, and an installer that
 * runs only as root on a machine with apt-get.
 *
 * @module
 */

/** Debian package → a command (or path) that proves it is installed. */
export const PEERS: Record<string, string> = {
  curl: "curl",
  squid: "squid",
  "dante-server": "danted",
  microsocks: "microsocks",
  nginx: "nginx",
  "python3-websockets": "/usr/lib/python3/dist-packages/websockets",
  "python3-grpcio": "/usr/lib/python3/dist-packages/grpc",
  "python3-h2": "/usr/lib/python3/dist-packages/h2",
  "nghttp2-client": "h2load",
  iperf3: "iperf3",
  wrk: "wrk",
  "netcat-openbsd": "nc",
  openssl: "openssl",
  "golang-1.19-go": "/usr/lib/go-1.19/bin/go",
  "golang-github-xtaci-smux-dev": "/usr/share/gocode/src/github.com/xtaci/smux",
  "golang-github-gorilla-websocket-dev": "/usr/share/gocode/src/github.com/gorilla/websocket",
  "ngtcp2-client": "gtlsclient",
  "ngtcp2-server": "/usr/sbin/gtlsserver",
  "python3-requests": "/usr/lib/python3/dist-packages/requests",
  "python3-socks": "/usr/lib/python3/dist-packages/socks.py",
  "redis-server": "redis-server",
  dnsmasq: "/usr/sbin/dnsmasq",
  prometheus: "promtool",
  chromium: "chromium",
};

export async function has(cmdOrPath: string): Promise<boolean> {
  if (cmdOrPath.startsWith("/")) {
    try {
      await Deno.stat(cmdOrPath);
      return true;
    } catch {
      return false;
    }
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    try {
      await Deno.stat(`${dir}/${cmdOrPath}`);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

export async function missingPeers(): Promise<string[]> {
  const out: string[] = [];
  for (const [pkg, probe] of Object.entries(PEERS)) if (!(await has(probe))) out.push(pkg);
  return out;
}

/** Installs missing peers when root with apt-get; returns what is still missing. */
export async function installPeers(log = console.error): Promise<string[]> {
  let missing = await missingPeers();
  if (missing.length === 0) return missing;
  const root = Deno.uid?.() === 0;
  if (!root || !(await has("apt-get"))) {
    log(`test: not root with apt-get; tests needing ${missing.join(", ")} will be skipped`);
    return missing;
  }
  log(`test: installing ${missing.join(" ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const run = (args: string[]) =>
    new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "inherit" }).output();
  await run(["update", "-qq"]);
  await run(["install", "-y", "-qq", "--no-install-recommends", ...missing]);
  missing = await missingPeers();
  if (missing.length) log(`test: still missing after apt-get: ${missing.join(", ")}`);
  return missing;
}
