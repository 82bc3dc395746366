/**
 * The gost metrics (go-gost/x v0.8.1 `metrics/prom.go`; shared/spec/
 * operations.md §3.2): the same names, types, help texts, labels and
 * buckets, every series labelled `host`. Families appear in a scrape once a
 * series exists, as client_golang shows them; the `process_*` and `deno_*`
 * families are always there.
 *
 * A `Metrics` exists only when metrics are enabled: without one nothing is
 * wrapped and nothing is counted (gost's no-op metrics).
 *
 * @module
 */
import { registerProcessMetrics } from "./process.ts";
import { type Counter, type Family, type Gauge, type Histogram, Registry } from "./registry.ts";

/**
 * Distinct `client` label values kept per family. A proxy open to the
 * internet sees unbounded client IPs and every series lives for the life of
 * the process (as in gost), so past this many distinct clients a family
 * counts new ones under `client="other"`.
 */
export const MAX_CLIENTS = 10_000;

/** The label value new clients get once a family holds {@linkcode MAX_CLIENTS}. */
export const OTHER_CLIENT = "other";

/** Buckets of `gost_service_request_duration_seconds`. */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  15,
  30,
  60,
];

/** Buckets of `gost_chain_node_connect_duration_seconds`. */
export const NODE_CONNECT_BUCKETS: readonly number[] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5, 10, 15, 30, 60];

/** What a chain reports (gost `chain/route.go`). */
export interface ChainMetrics {
  /** The route's connect phase failed; `firstNode` is the route's first node even if a later one failed. */
  connectError(chain: string, firstNode: string): void;
  /** The first node's dial and handshake succeeded after `seconds`. */
  nodeConnected(chain: string, node: string, seconds: number): void;
}

/** The byte counters of one accepted conn. */
export interface TransferCounters {
  input: Counter;
  output: Counter;
}

export interface MetricsOptions {
  /** The `host` label. @default Deno.hostname(), or "" when it cannot be read */
  host?: string;
  /** Distinct `client` values per family before folding into `other`. @default {@linkcode MAX_CLIENTS} */
  maxClients?: number;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return ""; // gost ignores os.Hostname's error the same way
  }
}

export class Metrics implements ChainMetrics {
  /** The `host` label of every gost series. */
  readonly host: string;
  readonly registry: Registry = new Registry();
  readonly #services: Family<Gauge>;
  readonly #requests: Family<Counter>;
  readonly #inFlight: Family<Gauge>;
  readonly #duration: Family<Histogram>;
  readonly #handlerErrors: Family<Counter>;
  readonly #input: Family<Counter>;
  readonly #output: Family<Counter>;
  readonly #chainErrors: Family<Counter>;
  readonly #nodeConnect: Family<Histogram>;

  constructor(opts: MetricsOptions = {}) {
    this.host = opts.host ?? hostname();
    const r = this.registry;
    const cap = { label: "client", max: opts.maxClients ?? MAX_CLIENTS, fold: OTHER_CLIENT };
    const perClient = ["host", "service", "client"];
    this.#services = r.gauge({ name: "gost_services", help: "Current number of services", labels: ["host"] });
    this.#inFlight = r.gauge({
      name: "gost_service_requests_in_flight",
      help: "Current in-flight requests",
      labels: perClient,
      cap,
    });
    this.#requests = r.counter({
      name: "gost_service_requests_total",
      help: "Total number of requests",
      labels: perClient,
      cap,
    });
    this.#input = r.counter({
      name: "gost_service_transfer_input_bytes_total",
      help: "Total service input data transfer size in bytes",
      labels: perClient,
      cap,
    });
    this.#output = r.counter({
      name: "gost_service_transfer_output_bytes_total",
      help: "Total service output data transfer size in bytes",
      labels: perClient,
      cap,
    });
    this.#handlerErrors = r.counter({
      name: "gost_service_handler_errors_total",
      help: "Total service handler errors",
      labels: perClient,
      cap,
    });
    this.#chainErrors = r.counter({
      name: "gost_chain_errors_total",
      help: "Total chain errors",
      labels: ["host", "chain", "node"],
    });
    this.#duration = r.histogram({
      name: "gost_service_request_duration_seconds",
      help: "Distribution of request latencies",
      labels: ["host", "service"],
      buckets: REQUEST_DURATION_BUCKETS,
    });
    this.#nodeConnect = r.histogram({
      name: "gost_chain_node_connect_duration_seconds",
      help: "Distribution of chain node connect latencies",
      labels: ["host", "chain", "node"],
      buckets: NODE_CONNECT_BUCKETS,
    });
    registerProcessMetrics(r);
  }

  /** Everything, in the text exposition format 0.0.4. */
  render(): string {
    return this.registry.render();
  }

  /** `gost_services` +1; the returned function takes it back, once. */
  serviceUp(): () => void {
    const g = this.#services.with(this.host);
    g.inc();
    let up = true;
    return () => {
      if (up) g.dec();
      up = false;
    };
  }

  /** Counts an accepted conn of `service` from `client` and returns its byte counters. */
  accepted(service: string, client: string): TransferCounters {
    this.#requests.with(this.host, service, client).inc();
    return {
      input: this.#input.with(this.host, service, client),
      output: this.#output.with(this.host, service, client),
    };
  }

  /**
   * A handler starts serving `client`: in-flight +1. The returned function
   * ends it: in-flight −1, the duration observed, and an error counted when
   * `failed`.
   */
  requestStarted(service: string, client: string): (failed: boolean) => void {
    const inFlight = this.#inFlight.with(this.host, service, client);
    inFlight.inc();
    const start = performance.now();
    return (failed) => {
      inFlight.dec();
      this.#duration.with(this.host, service).observe((performance.now() - start) / 1000);
      if (failed) this.#handlerErrors.with(this.host, service, client).inc();
    };
  }

  connectError(chain: string, firstNode: string): void {
    this.#chainErrors.with(this.host, chain, firstNode).inc();
  }

  nodeConnected(chain: string, node: string, seconds: number): void {
    this.#nodeConnect.with(this.host, chain, node).observe(seconds);
  }
}
