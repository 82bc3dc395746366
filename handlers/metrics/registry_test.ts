import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { escapeHelp, escapeLabelValue, formatValue, Registry } from "./registry.ts";

Deno.test("Registry.render: golden text of counters, gauges, histograms and scrape-time values", () => {
  const r = new Registry();
  const c = r.counter({ name: "t_requests_total", help: "Requests.", labels: ["service", "client"] });
  const g = r.gauge({ name: "t_in_flight", help: "In flight.", labels: ["service"] });
  const h = r.histogram({ name: "t_seconds", help: "Latency.", labels: ["service"], buckets: [0.1, 1, 2.5] });
  r.counter({ name: "t_unused_total", help: "Never used: no series, not shown.", labels: ["x"] });
  r.gaugeFunc("t_func", "Read at scrape time.", () => 42.5);
  r.gaugeFunc("t_missing", "Unreadable: not shown.", () => undefined);
  r.counterFunc("t_plain_total", "A counter without labels.", () => 0);

  c.with("b", "10.0.0.2").inc();
  c.with("a", "10.0.0.1").inc(2);
  c.with("b", "10.0.0.1").inc(1.5);
  g.with("s").inc();
  g.with("s").inc();
  g.with("s").dec();
  h.with("s").observe(0.1);
  h.with("s").observe(0.5);
  h.with("s").observe(3);

  assertEquals(
    r.render(),
    [
      "# HELP t_func Read at scrape time.",
      "# TYPE t_func gauge",
      "t_func 42.5",
      "# HELP t_in_flight In flight.",
      "# TYPE t_in_flight gauge",
      't_in_flight{service="s"} 1',
      "# HELP t_plain_total A counter without labels.",
      "# TYPE t_plain_total counter",
      "t_plain_total 0",
      "# HELP t_requests_total Requests.",
      "# TYPE t_requests_total counter",
      // Label pairs sorted by name (client before service), series by those values.
      't_requests_total{client="10.0.0.1",service="a"} 2',
      't_requests_total{client="10.0.0.1",service="b"} 1.5',
      't_requests_total{client="10.0.0.2",service="b"} 1',
      "# HELP t_seconds Latency.",
      "# TYPE t_seconds histogram",
      't_seconds_bucket{service="s",le="0.1"} 1',
      't_seconds_bucket{service="s",le="1"} 2',
      't_seconds_bucket{service="s",le="2.5"} 2',
      't_seconds_bucket{service="s",le="+Inf"} 3',
      't_seconds_sum{service="s"} 3.6',
      't_seconds_count{service="s"} 3',
      "",
    ].join("\n"),
  );
});

Deno.test("Histogram: upper bounds are inclusive, counts cumulative, +Inf takes the rest", () => {
  const r = new Registry();
  const f = r.histogram({ name: "h", help: "h", buckets: [1, 2, 5, Infinity] });
  const h = f.with();
  for (const v of [0, 1, 1.0000001, 2, 4.9, 5, 5.1, 100, -3]) h.observe(v);
  assertEquals(h.cumulative(), [3, 5, 7, 9]);
  assertEquals(h.count, 9);
  assertEquals(h.sum, 0 + 1 + 1.0000001 + 2 + 4.9 + 5 + 5.1 + 100 - 3);
  h.observe(NaN); // like client_golang: +Inf bucket, and the sum becomes NaN
  assertEquals(h.cumulative(), [3, 5, 7, 10]);
  const text = r.render();
  assertEquals(text.split("\n").filter((l) => l.startsWith("h_bucket")).length, 4, "a trailing +Inf is not doubled");
  assertEquals(text.includes("h_sum NaN"), true);
});

Deno.test("Registry: label values and help are escaped as the text format requires", () => {
  assertEquals(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assertEquals(escapeHelp('back\\slash\n"quote"'), 'back\\\\slash\\n"quote"');
  const r = new Registry();
  r.counter({ name: "e_total", help: "Line one\nline two \\", labels: ["v"] }).with('x"y\\z\nw').inc();
  assertEquals(
    r.render(),
    '# HELP e_total Line one\\nline two \\\\\n# TYPE e_total counter\ne_total{v="x\\"y\\\\z\\nw"} 1\n',
  );
});

Deno.test("formatValue: special values and plain numbers", () => {
  assertEquals(formatValue(Infinity), "+Inf");
  assertEquals(formatValue(-Infinity), "-Inf");
  assertEquals(formatValue(NaN), "NaN");
  assertEquals(formatValue(0), "0");
  assertEquals(formatValue(0.005), "0.005");
  assertEquals(formatValue(123456789012), "123456789012");
  assertEquals(formatValue(1e-7), "1e-7");
});

Deno.test("Family: a capped label folds new values into 'other' past the cap; known values stay", () => {
  const r = new Registry();
  const f = r.counter({ name: "c_total", help: "c", labels: ["service", "client"], cap: { label: "client", max: 3 } });
  for (const ip of ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4", "5.5.5.5"]) f.with("s", ip).inc();
  f.with("t", "1.1.1.1").inc(); // a known value, in another series
  f.with("s", "2.2.2.2").inc();
  assertEquals(f.size, 5);
  assertEquals(f.with("s", "other").value, 2, "4.4.4.4 and 5.5.5.5 folded");
  assertEquals(f.with("s", "2.2.2.2").value, 2);
  assertEquals(f.with("t", "1.1.1.1").value, 1);
  assertEquals(r.render().includes("4.4.4.4"), false);
});

Deno.test("Registry: bad names, labels, buckets, counts and duplicates are refused", () => {
  const r = new Registry();
  assertThrows(() => r.counter({ name: "1bad", help: "" }), TypeError, '"1bad"');
  assertThrows(() => r.counter({ name: "ok_total", help: "", labels: ["__x"] }), TypeError, '"__x"');
  assertThrows(() => r.counter({ name: "ok_total", help: "", labels: ["a", "a"] }), TypeError);
  assertThrows(() => r.histogram({ name: "h1", help: "", labels: ["le"], buckets: [1] }), TypeError, '"le"');
  assertThrows(() => r.histogram({ name: "h2", help: "", buckets: [1, 1] }), RangeError);
  assertThrows(() => r.histogram({ name: "h3", help: "", buckets: [NaN] }), RangeError);
  assertThrows(() => r.counter({ name: "c_total", help: "", labels: ["a"], cap: { label: "b", max: 1 } }), TypeError);
  const c = r.counter({ name: "c_total", help: "", labels: ["a"] });
  assertThrows(() => r.gauge({ name: "c_total", help: "" }), TypeError, "already registered");
  assertThrows(() => c.with(), RangeError);
  assertThrows(() => c.with("x").inc(-1), RangeError);
  assertEquals(new Registry().render(), "");
});
