/**
 * Prometheus metrics: gost's `gost_*` families (shared/spec/operations.md
 * §3.2) plus the standard `process_*` ones, in a small registry of dost's own
 * rendered in the text format 0.0.4. Collection is a set of wrappers, applied
 * only when metrics are enabled: {@linkcode metricsListener} around a
 * service's listener (outermost), {@linkcode metricsHandler} around its
 * handler (outermost), {@linkcode serviceStarted} around its accept loop, and
 * a {@linkcode Metrics} passed to each `Chain` as its {@linkcode ChainMetrics}.
 * Without a `Metrics` nothing is wrapped and nothing is counted.
 *
 * @module
 */
export {
  type ChainMetrics,
  MAX_CLIENTS,
  Metrics,
  type MetricsOptions,
  NODE_CONNECT_BUCKETS,
  OTHER_CLIENT,
  REQUEST_DURATION_BUCKETS,
  type TransferCounters,
} from "./metrics.ts";
export { MetricsConn, metricsGate, metricsListener } from "./listener.ts";
export { metricsHandler } from "./handler.ts";
export { serviceStarted } from "./service.ts";
export {
  Counter,
  escapeHelp,
  escapeLabelValue,
  Family,
  type FamilyOptions,
  formatValue,
  Gauge,
  Histogram,
  type HistogramOptions,
  type LabelCap,
  type MetricType,
  Registry,
} from "./registry.ts";
