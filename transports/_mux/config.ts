import type { Metadata } from "../metadata.ts";

/** GOST's smux version (xtaci/smux's default too). */
export const DEFAULT_VERSION = 1;
/** How often a NOP is sent. */
export const DEFAULT_KEEPALIVE_INTERVAL = 10_000;
/** How long without any inbound frame before the session is closed. */
export const DEFAULT_KEEPALIVE_TIMEOUT = 30_000;
/** Largest PSH payload this side sends. */
export const DEFAULT_MAX_FRAME_SIZE = 32768;
/** Session-wide limit of received, unread bytes (v1 and v2). */
export const DEFAULT_MAX_RECEIVE_BUFFER = 4194304;
/** Per-stream window announced in UPD frames (v2). */
export const DEFAULT_MAX_STREAM_BUFFER = 65536;

/** smux session options, as GOST passes them (`mux.*` metadata). */
export interface MuxConfig {
  /** Protocol version, 1 or 2; both peers must agree. @default 1 */
  version: number;
  /** Send no NOPs and never time the session out. @default false */
  keepaliveDisabled: boolean;
  /** Milliseconds between NOPs. @default 10000 */
  keepaliveInterval: number;
  /** Milliseconds; the session closes when a whole window passes with no inbound frame. @default 30000 */
  keepaliveTimeout: number;
  /** Largest PSH payload sent, 1..65535. @default 32768 */
  maxFrameSize: number;
  /** Received-but-unread bytes after which the transport is no longer read. @default 4194304 */
  maxReceiveBuffer: number;
  /** Per-stream window announced to the peer (v2). @default 65536 */
  maxStreamBuffer: number;
}

/** GOST's defaults. */
export const DEFAULT_MUX_CONFIG: Readonly<MuxConfig> = Object.freeze({
  version: DEFAULT_VERSION,
  keepaliveDisabled: false,
  keepaliveInterval: DEFAULT_KEEPALIVE_INTERVAL,
  keepaliveTimeout: DEFAULT_KEEPALIVE_TIMEOUT,
  maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
  maxReceiveBuffer: DEFAULT_MAX_RECEIVE_BUFFER,
  maxStreamBuffer: DEFAULT_MAX_STREAM_BUFFER,
});

/** Throws a RangeError for a config xtaci/smux's `VerifyConfig` would reject. */
export function verifyMuxConfig(c: MuxConfig): void {
  if (c.version !== 1 && c.version !== 2) {
    throw new RangeError(`Invalid mux.version "${c.version}": must be 1 or 2`);
  }
  if (!c.keepaliveDisabled) {
    if (!(c.keepaliveInterval > 0)) {
      throw new RangeError(`Invalid mux.keepaliveInterval "${c.keepaliveInterval}ms": must be positive`);
    }
    if (!(c.keepaliveTimeout >= c.keepaliveInterval)) {
      throw new RangeError(
        `Invalid mux.keepaliveTimeout "${c.keepaliveTimeout}ms": must not be less than the interval (${c.keepaliveInterval}ms)`,
      );
    }
  }
  if (!Number.isInteger(c.maxFrameSize) || c.maxFrameSize < 1 || c.maxFrameSize > 65535) {
    throw new RangeError(`Invalid mux.maxFrameSize "${c.maxFrameSize}": must be 1..65535`);
  }
  if (!Number.isInteger(c.maxReceiveBuffer) || c.maxReceiveBuffer <= 0) {
    throw new RangeError(`Invalid mux.maxReceiveBuffer "${c.maxReceiveBuffer}": must be positive`);
  }
  if (!Number.isInteger(c.maxStreamBuffer) || c.maxStreamBuffer <= 0) {
    throw new RangeError(`Invalid mux.maxStreamBuffer "${c.maxStreamBuffer}": must be positive`);
  }
  if (c.maxStreamBuffer > c.maxReceiveBuffer) {
    throw new RangeError(
      `Invalid mux.maxStreamBuffer "${c.maxStreamBuffer}": must not exceed mux.maxReceiveBuffer (${c.maxReceiveBuffer})`,
    );
  }
  if (c.maxStreamBuffer > 0x7fffffff) {
    throw new RangeError(`Invalid mux.maxStreamBuffer "${c.maxStreamBuffer}": must not exceed 2147483647`);
  }
}

/** Fills unset fields with defaults and verifies the result. */
export function resolveMuxConfig(partial: Partial<MuxConfig> = {}): MuxConfig {
  const c: MuxConfig = { ...DEFAULT_MUX_CONFIG };
  for (const k of Object.keys(c) as (keyof MuxConfig)[]) {
    const v = partial[k];
    if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  }
  verifyMuxConfig(c);
  return c;
}

/**
 * Parses GOST's `mux.*` metadata. As in GOST, zero, negative or absent
 * values keep the default (`defaults` over GOST's: mtcp's version is 2);
 * the result is then checked like smux does.
 */
export function parseMuxMetadata(md: Metadata, defaults: Partial<MuxConfig> = {}): MuxConfig {
  const c: MuxConfig = { ...DEFAULT_MUX_CONFIG, ...defaults };
  const pos = (v: number | undefined, def: number) => (v !== undefined && v > 0 ? v : def);
  c.version = pos(md.int("mux.version"), c.version);
  c.keepaliveDisabled = md.bool("mux.keepaliveDisabled") ?? false;
  c.keepaliveInterval = pos(md.duration("mux.keepaliveInterval"), c.keepaliveInterval);
  c.keepaliveTimeout = pos(md.duration("mux.keepaliveTimeout"), c.keepaliveTimeout);
  c.maxFrameSize = pos(md.int("mux.maxFrameSize"), c.maxFrameSize);
  c.maxReceiveBuffer = pos(md.int("mux.maxReceiveBuffer"), c.maxReceiveBuffer);
  c.maxStreamBuffer = pos(md.int("mux.maxStreamBuffer"), c.maxStreamBuffer);
  verifyMuxConfig(c);
  return c;
}
