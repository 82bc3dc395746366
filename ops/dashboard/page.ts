/**
 * The live dashboard the Web API server answers at `GET {pathPrefix}/`: one
 * self-contained HTML page (inline CSS and script; no build step, no
 * network fetches but its own API) that polls `GET {pathPrefix}/stats`
 * every 2 s and shows the services, a traffic chart and recent errors.
 *
 * - The API base is the page's own path without its trailing `/`, so the
 *   page works under any `pathPrefix` and sends whatever Basic credentials
 *   the browser already holds for it (same origin).
 * - The `/stats` body is `{time, services: [{name, addr, handler, listener,
 *   state, createTime, stats: {totalConns, currentConns, totalErrs,
 *   inputBytes, outputBytes}, events: [{time, msg}]}]}` with `time` in ms,
 *   `createTime` and event times in unix seconds, cumulative byte counters.
 * - Rates are computed in the page from successive samples (delta bytes over
 *   delta of the server's `time`; a counter that went down means the service
 *   restarted), keeping at most 150 samples and 5 minutes.
 * - Data only ever reaches the document through `textContent` and
 *   attributes, never as markup.
 *
 * DOM hooks for tests: `#updated`, `#error` (hidden unless a poll failed),
 * `tr[data-service="NAME"]` with cells `.name .addr .kind .state
 * .current-conns .total-conns .total-errs .in-bytes .out-bytes`,
 * `svg#traffic` with `path#traffic-in` / `path#traffic-out`, `#rate-in`,
 * `#rate-out`, `#errors li` (each `.time .service .msg`).
 *
 * The script is written without backslashes or backticks so the template
 * literal below holds it verbatim.
 *
 * @module
 */

/** The dashboard page, served with `Content-Type: text/html; charset=utf-8`. */
export const DASHBOARD_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dost</title>
<link rel="icon" href="data:,">
<style>
:root{--bg:#f5f6f8;--card:#fff;--fg:#1f2328;--muted:#656d76;--line:#e1e4e8;--in:#2563eb;--out:#e8590c;
--ok:#1a7f37;--okbg:#dafbe1;--bad:#cf222e;--badbg:#ffebe9}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;
--in:#4c8dff;--out:#ff8a3d;--ok:#3fb950;--okbg:#12301c;--bad:#ff7b72;--badbg:#3c1618}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Liberation Sans",sans-serif}
header{display:flex;align-items:baseline;gap:16px;padding:12px max(24px,calc(50% - 596px));background:var(--card);
border-bottom:1px solid var(--line)}
h1{margin:0;font-size:20px;letter-spacing:.02em}
#updated{color:var(--muted);margin-left:auto;font-variant-numeric:tabular-nums}
main{max-width:1240px;margin:0 auto;padding:16px 24px;display:grid;gap:16px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;min-width:0}
h2{margin:0 0 10px;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.06em;color:var(--muted)}
#error{margin:0;padding:10px 14px;border-radius:8px;background:var(--badbg);color:var(--bad);
border:1px solid var(--bad);font-weight:500}
#error[hidden]{display:none}
body.stale #overview,body.stale #services{opacity:.55}
#overview{display:grid;grid-template-columns:repeat(4,1fr);gap:16px}
.tile{margin:0}
.tile dt{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
.tile dd{margin:2px 0 0;font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.tile.in dd{color:var(--in)}.tile.out dd{color:var(--out)}
.scroll{overflow-x:auto}
table{width:100%;border-collapse:collapse}
th,td{padding:7px 10px;text-align:left;border-bottom:1px solid var(--line);white-space:nowrap}
th{font-size:12px;font-weight:600;color:var(--muted)}
tbody tr:last-child td{border-bottom:0}
.num{text-align:right;font-variant-numeric:tabular-nums}
.addr,.kind,#errors{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,monospace;font-size:13px}
.name{font-weight:600;white-space:normal;overflow-wrap:anywhere;min-width:8em}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
background:var(--line);color:var(--muted)}
.badge.running,.badge.ready{background:var(--okbg);color:var(--ok)}
.badge.failed,.badge.closed{background:var(--badbg);color:var(--bad)}
.errs-nonzero{color:var(--bad);font-weight:600}
.empty{color:var(--muted)}
.legend{display:flex;gap:16px;float:right;font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
#traffic{display:block;width:100%;height:200px;overflow:visible}
#traffic .grid{stroke:var(--line);stroke-width:1}
#traffic text{fill:var(--muted);font-size:11px;font-variant-numeric:tabular-nums}
#traffic-in,#traffic-out{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
#traffic-in{stroke:var(--in)}#traffic-out{stroke:var(--out)}
#traffic .area-in{fill:var(--in);opacity:.12}#traffic .area-out{fill:var(--out);opacity:.08}
#errors{list-style:none;margin:0;padding:0;max-height:320px;overflow:auto}
#errors li{display:flex;gap:12px;padding:5px 0;border-bottom:1px solid var(--line)}
#errors li:last-child{border-bottom:0}
#errors .time{color:var(--muted);flex:none}
#errors .service{color:var(--in);flex:none;font-weight:600}
#errors .msg{overflow-wrap:anywhere}
@media (max-width:720px){#overview{grid-template-columns:repeat(2,1fr)}main,header{padding-left:12px;padding-right:12px}}
</style>
</head>
<body>
<header><h1>dost</h1><span id="updated">connecting…</span></header>
<main>
<p id="error" role="alert" hidden></p>
<section id="overview">
<dl class="tile"><dt>Services</dt><dd id="sum-services">–</dd></dl>
<dl class="tile"><dt>Connections</dt><dd id="sum-conns">–</dd></dl>
<dl class="tile in"><dt>In</dt><dd id="rate-in">–</dd></dl>
<dl class="tile out"><dt>Out</dt><dd id="rate-out">–</dd></dl>
</section>
<section>
<div class="legend"><span><i style="background:var(--in)"></i>in</span><span><i style="background:var(--out)"></i>out</span></div>
<h2>Traffic, last 5 minutes</h2>
<svg id="traffic" role="img" aria-label="bytes per second in and out"></svg>
</section>
<section id="services">
<h2>Services</h2>
<div class="scroll"><table>
<thead><tr><th>Name</th><th>Address</th><th>Type</th><th>State</th><th class="num">Conns now</th>
<th class="num">Conns total</th><th class="num">Errors</th><th class="num">In</th><th class="num">Out</th></tr></thead>
<tbody id="service-rows"><tr class="empty"><td colspan="9">No data yet</td></tr></tbody>
</table></div>
</section>
<section>
<h2>Recent errors</h2>
<ul id="errors"></ul>
<p id="no-errors" class="empty">No errors</p>
</section>
</main>
<script>
(function () {
  "use strict";
  var base = location.pathname.replace(/[/]+$/, "");
  var EVERY = 2000, WINDOW = 300000, MAX_SAMPLES = 150, MAX_ERRORS = 100;
  var UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  var prev = null;
  var samples = [];
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function num(v) { return typeof v === "number" && isFinite(v) && v >= 0 ? v : 0; }
  function bytes(n) {
    n = num(n);
    if (n < 1024) return Math.round(n) + " B";
    var i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < UNITS.length - 1);
    return n.toFixed(n < 100 ? 1 : 0) + " " + UNITS[i];
  }
  function clock(ms) { return new Date(ms).toLocaleTimeString(); }

  function row(s) {
    var tr = el("tr");
    tr.dataset.service = s.name;
    ["name", "addr", "kind", "state", "current-conns num", "total-conns num", "total-errs num", "in-bytes num",
      "out-bytes num"].forEach(function (c) { tr.appendChild(el("td", c)); });
    tr.querySelector(".state").appendChild(el("span", "badge"));
    return tr;
  }
  function renderServices(list) {
    var body = $("service-rows");
    var old = {};
    Array.prototype.forEach.call(body.querySelectorAll("tr[data-service]"), function (tr) {
      old[tr.dataset.service] = tr;
    });
    var rows = list.map(function (s) {
      var tr = old[s.name] || row(s);
      var st = s.stats || {};
      var cell = function (c) { return tr.querySelector("." + c); };
      cell("name").textContent = s.name;
      cell("addr").textContent = s.addr || "";
      cell("kind").textContent = [s.handler, s.listener].filter(Boolean).join("+");
      var badge = cell("state").firstChild;
      badge.textContent = s.state || "unknown";
      badge.className = "badge " + String(s.state || "").replace(/[^a-z]/g, "");
      cell("state").title = s.createTime ? "since " + new Date(s.createTime * 1000).toLocaleString() : "";
      cell("current-conns").textContent = num(st.currentConns);
      cell("total-conns").textContent = num(st.totalConns);
      cell("total-errs").textContent = num(st.totalErrs);
      cell("total-errs").classList.toggle("errs-nonzero", num(st.totalErrs) > 0);
      cell("in-bytes").textContent = bytes(st.inputBytes);
      cell("out-bytes").textContent = bytes(st.outputBytes);
      return tr;
    });
    if (!rows.length) {
      var tr = el("tr", "empty");
      var td = el("td", "", "No services");
      td.colSpan = 9;
      tr.appendChild(td);
      rows.push(tr);
    }
    body.replaceChildren.apply(body, rows);
  }

  function addSample(data) {
    var t = num(data.time) || Date.now();
    var per = {}, din = 0, dout = 0;
    data.services.forEach(function (s) {
      var st = s.stats || {}, i = num(st.inputBytes), o = num(st.outputBytes);
      per[s.name] = [i, o];
      var p = prev && prev.per[s.name];
      if (p) {
        din += i >= p[0] ? i - p[0] : i;
        dout += o >= p[1] ? o - p[1] : o;
      } else if (prev && num(s.createTime) * 1000 >= prev.t) {
        din += i;
        dout += o;
      }
    });
    if (prev && t <= prev.t) return;
    if (prev) samples.push({ t: t, i: din * 1000 / (t - prev.t), o: dout * 1000 / (t - prev.t) });
    prev = { t: t, per: per };
    while (samples.length > MAX_SAMPLES || (samples.length && samples[0].t < t - WINDOW)) samples.shift();
    var last = samples[samples.length - 1];
    $("rate-in").textContent = last ? bytes(last.i) + "/s" : "–";
    $("rate-out").textContent = last ? bytes(last.o) + "/s" : "–";
  }

  function niceMax(v) {
    var u = 1;
    while (v / u >= 1000) u *= 1024;
    var m = v / u;
    var steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
    for (var k = 0; k < steps.length; k++) if (steps[k] >= m) return steps[k] * u;
    return 1024 * u;
  }
  function draw() {
    var svg = $("traffic"), ns = svg.namespaceURI;
    var W = svg.clientWidth || 900, H = svg.clientHeight || 200;
    var L = 72, R = 8, T = 8, B = 22, w = W - L - R, h = H - T - B;
    var node = function (tag, attrs, text) {
      var e = document.createElementNS(ns, tag);
      Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e);
      return e;
    };
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.replaceChildren();
    var now = samples.length ? samples[samples.length - 1].t : Date.now();
    var top = niceMax(samples.reduce(function (m, s) { return Math.max(m, s.i, s.o); }, 0) || 1);
    [0, 0.5, 1].forEach(function (f) {
      var y = (T + h - f * h).toFixed(1);
      node("line", { "class": "grid", x1: L, x2: W - R, y1: y, y2: y });
      node("text", { x: L - 8, y: y, "text-anchor": "end", "dominant-baseline": "middle" }, bytes(f * top) + "/s");
    });
    for (var m = 5; m >= 0; m--) {
      node("text", { x: L + w - m * w / 5, y: H - 4, "text-anchor": m === 5 ? "start" : m ? "middle" : "end" },
        m ? "-" + m + " min" : "now");
    }
    var x = function (s) { return (L + w - (now - s.t) / WINDOW * w).toFixed(1); };
    var y = function (v) { return (T + h - v / top * h).toFixed(1); };
    var lines = { in: "i", out: "o" };
    Object.keys(lines).forEach(function (name) {
      lines[name] = samples.map(function (s, n) { return (n ? "L" : "M") + x(s) + " " + y(s[lines[name]]); }).join(" ");
      if (samples.length < 2) return;
      var foot = " L" + x(samples[samples.length - 1]) + " " + (T + h) + " L" + x(samples[0]) + " " + (T + h) + " Z";
      node("path", { "class": "area-" + name, d: lines[name] + foot });
    });
    Object.keys(lines).forEach(function (name) { node("path", { id: "traffic-" + name, d: lines[name] }); });
  }

  function renderErrors(list) {
    var all = [];
    list.forEach(function (s) {
      (s.events || []).forEach(function (e, n) { all.push({ s: s.name, t: num(e.time), m: e.msg, n: n }); });
    });
    all.sort(function (a, b) { return b.t - a.t || b.n - a.n; });
    $("errors").replaceChildren.apply($("errors"), all.slice(0, MAX_ERRORS).map(function (e) {
      var li = el("li");
      li.appendChild(el("span", "time", e.t ? clock(e.t * 1000) : ""));
      li.appendChild(el("span", "service", e.s));
      li.appendChild(el("span", "msg", e.m === undefined ? "" : e.m));
      return li;
    }));
    $("no-errors").hidden = all.length > 0;
  }

  function fail(text) {
    var box = $("error");
    box.textContent = text;
    box.hidden = false;
    document.body.classList.add("stale");
  }
  function render(data) {
    if (!data || !Array.isArray(data.services)) throw new Error("unexpected /stats body");
    $("error").hidden = true;
    document.body.classList.remove("stale");
    $("updated").textContent = "updated " + clock(num(data.time) || Date.now());
    $("sum-services").textContent = data.services.length;
    $("sum-conns").textContent = data.services.reduce(function (n, s) {
      return n + num((s.stats || {}).currentConns);
    }, 0);
    renderServices(data.services);
    addSample(data);
    draw();
    renderErrors(data.services);
  }

  function poll() {
    var started = Date.now();
    fetch(base + "/stats", { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) {
        if (res.status === 401) {
          throw new Error("Not authorized (401): log in with the API user and password, then reload this page.");
        }
        if (!res.ok) throw new Error("Cannot load " + base + "/stats: HTTP " + res.status + " " + res.statusText);
        return res.json();
      })
      .then(render)
      .catch(function (err) { fail(err && err.message ? err.message : String(err)); })
      .then(function () { setTimeout(poll, Math.max(0, EVERY - (Date.now() - started))); });
  }
  window.addEventListener("resize", draw);
  draw();
  poll();
})();
</script>
</body>
</html>
`;
