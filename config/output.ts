/**
 * `-O yaml` / `-O json`: the merged configuration printed with canonical key
 * names in GOST's field order, zero values left out. The text loads back
 * through `load.ts` to an equal configuration.
 *
 * @module
 */
import { stringify } from "yaml";
import { type Config, CONFIG_SHAPE, type Field, type Shape } from "./schema.ts";

/**
 * A plain object in GOST's key order without empty fields: what `-O` prints.
 * Keys that the schema does not know are kept after the known ones.
 */
export function toOutput(cfg: Config): Record<string, unknown> {
  return orderStruct(cfg as Record<string, unknown>, CONFIG_SHAPE);
}

/** Renders `cfg` as JSON when `format` is `json`, as YAML otherwise (as GOST does). */
export function formatConfig(cfg: Config, format = "yaml"): string {
  const out = toOutput(cfg);
  if (format === "json") return JSON.stringify(out, null, 2) + "\n";
  return stringify(out, { indentSeq: false, lineWidth: 0 });
}

function orderStruct(v: Record<string, unknown>, shape: Shape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of [...Object.keys(shape), ...Object.keys(v).filter((k) => !(k in shape))]) {
    const x = key in shape ? orderField(v[key], shape[key]) : v[key];
    if (!isEmpty(x)) out[key] = x;
  }
  return out;
}

function orderField(v: unknown, field: Field): unknown {
  if (v === undefined || v === null) return undefined;
  if (typeof field === "object") {
    if ("struct" in field) return orderStruct(v as Record<string, unknown>, field.struct);
    const shape = field.list;
    return (v as unknown[]).map((item) => shape === "any" ? item : orderStruct(item as Record<string, unknown>, shape));
  }
  return v; // scalars, lists of strings and free maps (metadata values are printed as they are)
}

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === "" || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === "object" && Object.keys(v as object).length === 0;
}
