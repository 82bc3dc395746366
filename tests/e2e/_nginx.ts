/**
 * nginx as a WebSocket reverse proxy in front of a dost ws/wss/mws/mwss
 * listener, the way users deploy it: `proxy_pass` with HTTP/1.1 and the
 * `Upgrade`/`Connection` headers passed on. Runs as root in the foreground
 * from a throw-away prefix directory on a free loopback port.
 *
 * @module
 */
import { freePort, hasCommand } from "./_dost.ts";

export const NGINX =
  ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"].find((p) => hasCommand(p)) ??
    (hasCommand("nginx") ? "nginx" : undefined);
export const hasNginx = NGINX !== undefined;

export interface NginxOptions {
  /** `host:port` of the dost listener behind nginx. */
  upstream: string;
  /** The dost listener speaks TLS (wss/mwss): `proxy_pass https://` without verification. */
  upstreamTls?: boolean;
  /** nginx itself listens with TLS (clients dial wss/mwss to it); needs `cert`. */
  tls?: { cert: string; key: string };
  /** Location proxied. @default "/ws" */
  path?: string;
}

export interface Nginx {
  port: number;
  dir: string;
  /** The access log so far: one `host=<Host> uri=<uri> status=<code> upgrade=<Upgrade>` line per request. */
  accessLog(): Promise<string>;
  errorLog(): Promise<string>;
  close(): Promise<void>;
}

function config(dir: string, port: number, o: NginxOptions): string {
  const path = o.path ?? "/ws";
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
  log_format ws 'host=$http_host uri=$request_uri status=$status upgrade=$http_upgrade';
  access_log ${dir}/access.log ws;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }
  server {
    listen 127.0.0.1:${port}${o.tls ? " ssl" : ""};
    ${o.tls ? `ssl_certificate ${dir}/cert.pem;\n    ssl_certificate_key ${dir}/key.pem;` : ""}
    location ${path} {
      proxy_pass ${o.upstreamTls ? "https" : "http"}://${o.upstream};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_ssl_verify off;
      proxy_ssl_server_name off;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
      proxy_buffering off;
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

/** Starts nginx proxying `path` to `upstream`; `close()` stops it and removes its directory. */
export async function startNginx(o: NginxOptions): Promise<Nginx> {
  if (!NGINX) throw new Error("nginx is not installed");
  const dir = await Deno.makeTempDir({ prefix: "dost-nginx-" });
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
    dir,
    accessLog: () => Deno.readTextFile(`${dir}/access.log`).catch(() => ""),
    errorLog: () => Deno.readTextFile(`${dir}/error.log`).catch(() => ""),
    async close() {
      try {
        child.kill("SIGTERM"); // fast shutdown: the master stops its workers (SIGKILL would orphan them)
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
