/**
 * nginx as a plain HTTP reverse proxy in front of a dost pht/phts listener,
 * the way users put PHT behind a web server: `proxy_pass` with HTTP/1.1
 * keep-alive upstream conns, request buffering on (the default), and
 * response buffering on or off — `proxy_buffering on` is what made PHT hang
 * in gost issue #721 until the pull response said `X-Accel-Buffering: no`.
 * Runs as root in the foreground from a throw-away prefix on a free port.
 *
 * @module
 */
import { freePort } from "./_dost.ts";
import { NGINX } from "./_nginx.ts";

export { hasNginx } from "./_nginx.ts";

export interface PhtNginxOptions {
  /** `host:port` of the dost listener behind nginx. */
  upstream: string;
  /** The dost listener speaks TLS (phts): `proxy_pass https://` without verification. */
  upstreamTls?: boolean;
  /** nginx itself listens with TLS (clients dial phts to it). */
  tls?: { cert: string; key: string };
  /** `proxy_buffering` (nginx's default is on). */
  buffering: boolean;
  /** Leave nginx's default HTTP/1.0 to the upstream (one upstream conn per request, close-delimited pulls). */
  http10?: boolean;
}

export interface PhtNginx {
  port: number;
  /** One `uri=<uri> status=<code> upstream=<addr>` line per request. */
  accessLog(): Promise<string>;
  errorLog(): Promise<string>;
  close(): Promise<void>;
}

function config(dir: string, port: number, o: PhtNginxOptions): string {
  return `
user root;
worker_processes 1;
error_log ${dir}/error.log info;
events { worker_connections 1024; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format pht 'uri=$request_uri status=$status upstream=$upstream_addr';
  access_log ${dir}/access.log pht;
  upstream dost {
    server ${o.upstream};
    ${o.http10 ? "" : "keepalive 16;"}
  }
  server {
    listen 127.0.0.1:${port}${o.tls ? " ssl" : ""};
    ${o.tls ? `ssl_certificate ${dir}/cert.pem;\n    ssl_certificate_key ${dir}/key.pem;` : ""}
    client_max_body_size 4m;
    location / {
      proxy_pass ${o.upstreamTls ? "https" : "http"}://dost;
      ${o.http10 ? "" : 'proxy_http_version 1.1;\n      proxy_set_header Connection "";'}
      proxy_set_header Host $http_host;
      proxy_ssl_verify off;
      proxy_ssl_session_reuse on;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
      proxy_buffering ${o.buffering ? "on" : "off"};
    }
  }
}
`;
}

async function waitPort(port: number, child: Deno.ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let exited = false;
  child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) {
      const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
      throw new Error(`nginx exited before listening:\n${log}`);
    }
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nginx did not listen on ${port}`);
}

/** Starts nginx proxying everything to `upstream`; `close()` stops it and removes its directory. */
export async function startPhtNginx(o: PhtNginxOptions): Promise<PhtNginx> {
  if (!NGINX) throw new Error("nginx is not installed");
  const dir = await Deno.makeTempDir({ prefix: "dost-nginx-pht-" });
  const port = freePort();
  if (o.tls) {
    await Deno.writeTextFile(`${dir}/cert.pem`, o.tls.cert);
    await Deno.writeTextFile(`${dir}/key.pem`, o.tls.key, { mode: 0o600 });
  }
  await Deno.writeTextFile(`${dir}/nginx.conf`, config(dir, port, o));
  const child = new Deno.Command(NGINX, {
    args: ["-e", `${dir}/error.log`, "-g", `daemon off; pid ${dir}/nginx.pid;`, "-p", dir, "-c", `${dir}/nginx.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitPort(port, child, dir);
  } catch (err) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw err;
  }
  return {
    port,
    accessLog: () => Deno.readTextFile(`${dir}/access.log`).catch(() => ""),
    errorLog: () => Deno.readTextFile(`${dir}/error.log`).catch(() => ""),
    async close() {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 3000);
      await child.status;
      clearTimeout(timer);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
