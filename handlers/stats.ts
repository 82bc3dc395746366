/**
 * Per-service counters for the Web API and the dashboard (gost's service
 * `status.stats` and `status.events`): connections, errors, and the bytes of
 * open connections counted as they move.
 *
 * @module
 */
import { closeQuietly } from "../transports/_io/write_all.ts";
import { keepExtras } from "../transports/_io/keep_extras.ts";
import { hasHttp2RequestBrand } from "../transports/http2/brand.ts";
import type { Addr, Conn } from "../transports/types.ts";

/** Events kept per service (gost keeps 20). */
export const MAX_EVENTS = 20;

export interface ServiceEvent {
  /** Unix seconds. */
  time: number;
  msg: string;
}

export class ServiceStats {
  /** Unix seconds. */
  readonly createTime: number = Math.floor(Date.now() / 1000);
  totalConns = 0;
  currentConns = 0;
  totalErrs = 0;
  inputBytes = 0;
  outputBytes = 0;
  readonly events: ServiceEvent[] = [];

  /** Records a finished connection's error. */
  error(msg: string): void {
    this.totalErrs++;
    this.events.push({ time: Math.floor(Date.now() / 1000), msg });
    if (this.events.length > MAX_EVENTS) this.events.shift();
  }

  /** Wraps an accepted conn so that its bytes count while it is open. */
  count(conn: Conn): Conn {
    const counted = new CountingConn(conn, this);
    return hasHttp2RequestBrand(conn) ? keepExtras(conn, counted) : counted;
  }

  toJSON(): Record<string, number> {
    const { totalConns, currentConns, totalErrs, inputBytes, outputBytes } = this;
    return { totalConns, currentConns, totalErrs, inputBytes, outputBytes };
  }
}

class CountingConn implements Conn {
  constructor(readonly inner: Conn, readonly stats: ServiceStats) {}
  get localAddr(): Addr {
    return this.inner.localAddr;
  }
  get remoteAddr(): Addr {
    return this.inner.remoteAddr;
  }
  async read(p: Uint8Array): Promise<number | null> {
    const n = await this.inner.read(p);
    if (n) this.stats.inputBytes += n;
    return n;
  }
  readReady(p: Uint8Array): number {
    const n = this.inner.readReady?.(p) ?? 0;
    this.stats.inputBytes += n;
    return n;
  }
  async write(p: Uint8Array): Promise<number> {
    const n = await this.inner.write(p);
    this.stats.outputBytes += n;
    return n;
  }
  closeWrite(): Promise<void> {
    return this.inner.closeWrite();
  }
  close(): void {
    closeQuietly(this.inner);
  }
}
