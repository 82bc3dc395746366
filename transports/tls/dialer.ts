import { splitHostPort } from "../addr.ts";
import type { ClientTLSConfig, Conn, Dialer, DialerOptions, DialOptions, RawDial } from "../types.ts";
import { dialTls } from "./conn.ts";
import { parseDialerMetadata, type TlsDialerOptions } from "./metadata.ts";

/** The `tls` dialer: the raw stream, then a TLS client handshake over it. */
export class TlsDialer implements Dialer {
  readonly #tls: ClientTLSConfig;
  readonly #opts: TlsDialerOptions;
  /** Per-host copies of the config when it names no server (keeps the secure-context cache warm). */
  readonly #byHost = new Map<string, ClientTLSConfig>();

  constructor(tls: ClientTLSConfig, opts: TlsDialerOptions) {
    this.#tls = tls;
    this.#opts = opts;
  }

  async dial(addr: string, raw: RawDial, opts: DialOptions = {}): Promise<Conn> {
    const cfg = this.#tls.serverName ? this.#tls : this.#forHost(hostOf(addr));
    return await dialTls(addr, raw, cfg, {
      signal: opts.signal,
      timeout: this.#opts.handshakeTimeout,
      learnPin: this.#opts.learnPin,
    });
  }

  #forHost(host: string | undefined): ClientTLSConfig {
    if (!host) return this.#tls;
    let cfg = this.#byHost.get(host);
    if (!cfg) {
      if (this.#byHost.size >= 1024) this.#byHost.clear();
      cfg = { ...this.#tls, serverName: host };
      this.#byHost.set(host, cfg);
    }
    return cfg;
  }
}

function hostOf(addr: string): string | undefined {
  try {
    return splitHostPort(addr).host || undefined;
  } catch {
    return undefined;
  }
}

export function tlsDialer(opts: DialerOptions): Dialer {
  return new TlsDialer(opts.tls, parseDialerMetadata(opts.metadata));
}
