/**
 * The client end of a remote port forward (`rtcp`/`rudp` with a chain): a
 * listener that binds its address on the far end of the chain and accepts
 * what the far end sends back. A failed bind or a lost tunnel is retried
 * with GOST's back-off (1 s, 2 s, 4 s, capped at 5 s, reset once a bind
 * succeeds), re-establishing the whole chain each time; `accept` only
 * rejects once the listener itself is closed.
 *
 * @module
 */
import { splitHostPort } from "../addr.ts";
import type { Logger } from "../log.ts";
import { type Addr, type Binder, ClosedError, type Conn, type DialOptions, type Listener } from "../types.ts";
import type { PacketListenerOptions } from "../udp/metadata.ts";

/** First retry delay after a failed bind or a lost tunnel. */
export const MIN_RETRY_DELAY = 1_000;
/** Largest retry delay. */
export const MAX_RETRY_DELAY = 5_000;

/** What a chain's `bind` gets besides the network and address. */
export interface BindOptions extends DialOptions {
  /** Options of the pseudo-connection listener a UDP bind returns (`rudp` listener metadata). */
  udp?: Partial<PacketListenerOptions>;
}

export interface ReverseListenerOptions {
  log: Logger;
  /** Passed to every bind (the abort signal is the listener's own). */
  bind?: Omit<BindOptions, "signal">;
  /** @default MIN_RETRY_DELAY */
  minDelay?: number;
  /** @default MAX_RETRY_DELAY */
  maxDelay?: number;
}

/** Binds through `bind` on first accept and again after every failure. */
export class ReverseListener implements Listener {
  readonly #bind: Binder;
  readonly #network: string;
  readonly #address: string;
  readonly #opts: ReverseListenerOptions;
  readonly #abort = new AbortController();
  readonly #addr: Addr;
  #inner: Listener | undefined;
  #delay = 0;

  constructor(bind: Binder, network: "tcp" | "udp", address: string, opts: ReverseListenerOptions) {
    const { host, port } = splitHostPort(address);
    this.#bind = bind;
    this.#network = network;
    this.#address = address;
    this.#opts = opts;
    this.#addr = { transport: network, hostname: host || "0.0.0.0", port };
  }

  /** The address requested on the far end. */
  get addr(): Addr {
    return this.#addr;
  }

  /** True while a bind is established. */
  get bound(): boolean {
    return this.#inner !== undefined;
  }

  async accept(): Promise<Conn> {
    const signal = this.#abort.signal;
    for (;;) {
      if (signal.aborted) throw new ClosedError("Listener closed");
      if (!this.#inner) {
        try {
          const ln = await this.#bind(this.#network, this.#address, { ...this.#opts.bind, signal } as BindOptions);
          if (signal.aborted) {
            ln.close();
            continue;
          }
          this.#inner = ln;
          this.#delay = 0;
          this.#opts.log.info(`bound ${this.#network} ${this.#address} on the far end`, { bound: addrText(ln.addr) });
        } catch (err) {
          if (signal.aborted) continue;
          await this.#backoff(`bind ${this.#network} ${this.#address} failed`, err);
          continue;
        }
      }
      const inner = this.#inner;
      try {
        return await inner.accept();
      } catch (err) {
        inner.close();
        if (this.#inner === inner) this.#inner = undefined;
        if (signal.aborted) continue;
        await this.#backoff(`tunnel for ${this.#network} ${this.#address} lost`, err);
      }
    }
  }

  async #backoff(what: string, err: unknown): Promise<void> {
    const min = this.#opts.minDelay ?? MIN_RETRY_DELAY;
    const max = this.#opts.maxDelay ?? MAX_RETRY_DELAY;
    this.#delay = this.#delay === 0 ? min : Math.min(this.#delay * 2, max);
    this.#opts.log.warn(`${what}: ${describe(err)}; retrying in ${this.#delay / 1000}s`);
    await sleep(this.#delay, this.#abort.signal);
  }

  close(): void {
    this.#abort.abort(new ClosedError("Listener closed"));
    this.#inner?.close();
    this.#inner = undefined;
  }
}

/** An error's message with the messages of its causes that add something. */
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e !== undefined && depth < 4; depth++) {
    const msg = e instanceof Error ? e.message : String(e);
    if (msg && !parts.some((p) => p.includes(msg))) parts.push(msg);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}

function addrText(a: Addr): string {
  return "hostname" in a ? `${a.hostname}:${a.port}` : String((a as { path?: string }).path ?? "");
}

/** Resolves after `ms` or as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
