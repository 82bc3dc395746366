/**
 * Where each loaded config object came from, so that checks made after
 * merging (unsupported keys, bad references, bad values) can name the file,
 * the line and the key: `gost.yaml:12: services[3].admission: …`. Objects
 * from the command line name the flag instead: `-L "http://:8080?…": …`.
 *
 * @module
 */

/** A configuration that is malformed or inconsistent; `file`, `line` and `key` say where. */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly file: string, readonly line: number, readonly key: string, readonly reason: string) {
    super(`${file}${line > 0 ? `:${line}` : ""}: ${key ? key + ": " : ""}${reason}`);
  }
}

/** The source of one object: its file (or flag), its key path, and how to find a key's line. */
export interface Origin {
  file: string;
  /** Key path of the object in its source, e.g. `services[0].handler`. */
  path: string;
  /** Line of `key` inside the object (the object's own line without a key); 0 when unknown. */
  line(key?: string): number;
  /** For merged objects: the origin of the source that gave `key`. */
  of?(key: string): Origin | undefined;
}

const ORIGINS = new WeakMap<object, Origin>();

export function setOrigin(obj: object, origin: Origin): void {
  ORIGINS.set(obj, origin);
}

export function originOf(obj: object): Origin | undefined {
  return ORIGINS.get(obj);
}

/**
 * Marks `obj` and every object below it as coming from a command-line flag
 * (objects that already have an origin keep it).
 */
export function markFlagOrigin(obj: object, flag: string, path = ""): void {
  if (ORIGINS.has(obj)) return;
  ORIGINS.set(obj, { file: flag, path, line: () => 0 });
  for (const [k, v] of Object.entries(obj)) {
    if (k === "metadata" || v === null || typeof v !== "object") continue;
    if (Array.isArray(v)) {
      v.forEach((x, i) => x && typeof x === "object" && markFlagOrigin(x, flag, `${path}${path ? "." : ""}${k}[${i}]`));
    } else markFlagOrigin(v, flag, `${path}${path ? "." : ""}${k}`);
  }
}

/**
 * A {@linkcode ConfigError} at `key` of `obj` (`key` may be empty, or a
 * sub-path such as `nodes[2]`). `fallbackPath` names objects without an origin.
 */
export function errorAt(obj: object, key: string, reason: string, fallbackPath = ""): ConfigError {
  const first = key.split(/[.[]/)[0];
  const own = ORIGINS.get(obj);
  const o = (first && own?.of?.(first)) || own;
  const base = o ? o.path : fallbackPath;
  const full = key ? (base ? `${base}${key.startsWith("[") ? "" : "."}${key}` : key) : base;
  return new ConfigError(o?.file ?? "<config>", o ? o.line(first || undefined) : 0, full, reason);
}
