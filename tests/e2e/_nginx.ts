/**
 * nginx as a reverse proxy in front of a dost listener, the way users deploy
 * it. Three shapes, chosen by {@linkcode NginxOptions.mode}:
 *
 * - `"ws"`: a WebSocket reverse proxy in front of ws/wss/mws/mwss —
 *   `proxy_pass` with HTTP/1.1 and the `Upgrade`/`Connection` headers passed on.
 * - `"http"`: a plain HTTP reverse proxy in front of pht/phts — `proxy_pass`
 *   with HTTP/1.1 keep-alive upstream conns, request buffering on (the
 *   default), and response buffering on or off — `proxy_buffering on` is what
 *   made PHT hang in gost issue #721 until the pull response said
 *   `X-Accel-Buffering: no`.
 * - `"grpc"`: a gRPC reverse proxy in front of grpc, the way users deploy it
 *   behind a CDN-style front: `listen … http2` (plaintext h2c or TLS) and
 *   `grpc_pass grpc://` or `grpcs://` to dost.
 *
 * Runs as root in the foreground from a throw-away prefix directory on a free
 * loopback port.
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
  /**
   * What nginx proxies: `"ws"` (WebSocket upgrades), `"http"` (plain HTTP/1.x, for PHT) or `"grpc"` (`grpc_pass`).
   * @default "ws"
   */
  mode?: "ws" | "http" | "grpc";
  /** The dost listener speaks TLS (wss/mwss/phts/grpc): `proxy_pass https://` or `grpc_pass grpcs://`, unverified. */
  upstreamTls?: boolean;
  /** nginx itself listens with TLS (clients dial wss/mwss/phts/TLS gRPC to it). */
  tls?: { cert: string; key: string };
  /**
   * Location proxied (`"http"` mode always proxies `/`).
   * @default "/ws" for `"ws"`, "/GostTunel/" for `"grpc"`
   */
  path?: string;
  /** `"http"` mode: `proxy_buffering` (nginx's default is on). @default true */
  buffering?: boolean;
  /** `"http"` mode: leave nginx's default HTTP/1.0 to the upstream (one upstream conn per request, close-delimited pulls). */
  http10?: boolean;
}

export interface Nginx {
  port: number;
  dir: string;
  /**
   * The access log so far, one line per request: `host=<Host> uri=<uri> status=<code> upgrade=<Upgrade>` (`"ws"`),
   * `uri=<uri> status=<code> upstream=<addr>` (`"http"`) or `uri=<uri> status=<code> proto=<protocol> ct=<content
   * type> grpc=<grpc-status>` (`"grpc"`).
   */
  accessLog(): Promise<string>;
  errorLog(): Promise<string>;
  close(): Promise<void>;
}

function wsServer(o: NginxOptions): string {
  return `
    location ${o.path ?? "/ws"} {
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
    }`;
}

function httpServer(o: NginxOptions): string {
  return `
    client_max_body_size 4m;
    location / {
      proxy_pass ${o.upstreamTls ? "https" : "http"}://dost;
      ${o.http10 ? "" : 'proxy_http_version 1.1;\n      proxy_set_header Connection "";'}
      proxy_set_header Host $http_host;
      proxy_ssl_verify off;
      proxy_ssl_session_reuse on;
      proxy_read_timeout 300s;
      proxy_send_timeout 300s;
      proxy_buffering ${o.buffering ?? true ? "on" : "off"};
    }`;
}

function grpcServer(o: NginxOptions): string {
  return `
    client_max_body_size 0;
    location ${o.path ?? "/GostTunel/"} {
      grpc_pass ${o.upstreamTls ? "grpcs" : "grpc"}://${o.upstream};
      grpc_ssl_verify off;
      grpc_read_timeout 300s;
      grpc_send_timeout 300s;
    }`;
}

function config(dir: string, port: number, o: NginxOptions): string {
  const mode = o.mode ?? "ws";
  const http = {
    ws: `
  log_format ws 'host=$http_host uri=$request_uri status=$status upgrade=$http_upgrade';
  access_log ${dir}/access.log ws;
  map $http_upgrade $connection_upgrade {
    default upgrade;
    '' close;
  }`,
    http: `
  log_format pht 'uri=$request_uri status=$status upstream=$upstream_addr';
  access_log ${dir}/access.log pht;
  upstream dost {
    server ${o.upstream};
    ${o.http10 ? "" : "keepalive 16;"}
  }`,
    grpc: `
  log_format grpc 'uri=$request_uri status=$status proto=$server_protocol ct=$content_type grpc=$sent_trailer_grpc_status';
  access_log ${dir}/access.log grpc;`,
  }[mode];
  const server = { ws: wsServer, http: httpServer, grpc: grpcServer }[mode](o);
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
  scgi_temp_path ${dir}/scgi;${http}
  server {
    listen 127.0.0.1:${port}${o.tls ? " ssl" : ""}${mode === "grpc" ? " http2" : ""};
    ${o.tls ? `ssl_certificate ${dir}/cert.pem;\n    ssl_certificate_key ${dir}/key.pem;` : ""}${server}
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

/** Starts nginx proxying to `upstream` as `mode` says; `close()` stops it and removes its directory. */
export async function startNginx(o: NginxOptions): Promise<Nginx> {
  if (!NGINX) throw new Error("nginx is not installed");
  const dir = await Deno.makeTempDir({ prefix: `dost-nginx-${o.mode && o.mode !== "ws" ? `${o.mode}-` : ""}` });
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
