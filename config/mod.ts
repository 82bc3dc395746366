/**
 * GOST configuration as pure data: the command line (`cli.ts`), the `-L`/`-F`
 * URL grammar (`url.ts`), YAML/JSON files (`load.ts`), the schema
 * (`schema.ts`) and `-O` output (`output.ts`).
 *
 * ```ts
 * import { parseArgs, loadConfig, formatConfig } from "./config/mod.ts";
 * const args = parseArgs(Deno.args);
 * const cfg = await loadConfig(args);
 * if (args.O) console.log(formatConfig(cfg, args.O));
 * ```
 *
 * @module
 */
export * from "./schema.ts";
export {
  buildCLIConfig,
  type CLIConfigOptions,
  GOST_NAMES,
  type KnownNames,
  type NameSet,
  type NodeURLOptions,
  parseAddrURL,
  parseNodeURL,
  parseServiceURL,
  type ServiceURLOptions,
} from "./url.ts";
export { applyOverrides, type CLIArgs, CLIError, type Env, parseArgs, splitWorkers, USAGE } from "./cli.ts";
export {
  ConfigError,
  type ConfigFormat,
  findDefaultConfig,
  formatOf,
  loadConfig,
  loadConfigSource,
  mergeConfigs,
  parseConfig,
  type ParseOptions,
  type ResolveOptions,
  type SourceOptions,
  validateConfig,
} from "./load.ts";
export { formatConfig, toOutput } from "./output.ts";
