/**
 * nginx as a gRPC reverse proxy in front of a dost grpc listener, the way
 * users deploy it behind a CDN-style front: `listen … http2` (plaintext h2c
 * or TLS) and `grpc_pass grpc://` or `grpcs://` to dost. Runs as root in
 * the foreground from a throw-away prefix directory on a free loopback port.
 *
 * @module
 */
import { freePort } from "../../e2e/_dost.ts";
import { NGINX } from "../../e2e/_nginx.ts";

export { hasNginx } from "../../e2e/_nginx.ts";

export interface NginxGrpcOptions {
  /** `host:port` of the dost grpc listener. */
  upstream: string;
  /** dost listens with TLS (the default grpc listener): `grpc_pass grpcs://`. */
  upstreamTls?: boolean;
  /** nginx itself listens with TLS (clients use TLS gRPC to it). */
  tls?: { cert: string; key: string };
  /** Location prefix proxied. @default "/GostTunel/" */
  location?: string;
}

export interface NginxGrpc {
  port: number;
  /** Access log lines: `uri=<uri> status=<code> proto=<protocol> ct=<content type>`. */
  accessLog(): Promise<string>;
  errorLog(): Promise<string>;
  close(): Promise<void>;
}

function config(dir: string, port: number, o: NginxGrpcOptions): string {
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
  log_format grpc 'uri=$request_uri status=$status proto=$server_protocol ct=$content_type grpc=$sent_trailer_grpc_status';
  access_log ${dir}/access.log grpc;
  server {
    listen 127.0.0.1:${port}${o.tls ? " ssl" : ""} http2;
    ${o.tls ? `ssl_certificate ${dir}/cert.pem;\n    ssl_certificate_key ${dir}/key.pem;` : ""}
    client_max_body_size 0;
    location ${o.location ?? "/GostTunel/"} {
      grpc_pass ${o.upstreamTls ? "grpcs" : "grpc"}://${o.upstream};
      grpc_ssl_verify off;
      grpc_read_timeout 300s;
      grpc_send_timeout 300s;
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

/** Starts nginx with `grpc_pass` to `upstream`; `close()` stops it and removes its directory. */
export async function startNginxGrpc(o: NginxGrpcOptions): Promise<NginxGrpc> {
  if (!NGINX) throw new Error("nginx is not installed");
  const dir = await Deno.makeTempDir({ prefix: "dost-nginx-grpc-" });
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
