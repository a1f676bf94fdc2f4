// costops dashboard: fetches /dashboard/api/panels with the filters and draws every panel.
// Money arrives as exact decimal strings; it is turned into numbers only to draw and to print.
"use strict";

const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9ca3af"];
const charts = {};
window.costopsCharts = charts;
const state = { top: "tenant", routing: "route", experiment: null, data: null };

function usd(s) {
  const n = Number(s);
  if (!n) return "$0";
  if (Math.abs(n) < 0.0001) return "<$0.0001";
  return "$" + n.toLocaleString("en-US", { minimumFractionDigits: n < 100 ? 4 : 2, maximumFractionDigits: n < 100 ? 4 : 2 });
}
function label(v) { return v === null || v === undefined ? "(none)" : String(v); }
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function table(id, headers, rows, numeric) {
  const t = document.getElementById(id);
  t.replaceChildren();
  const head = el("tr");
  headers.forEach((h, i) => head.appendChild(el("th", numeric.includes(i) ? { class: "n" } : {}, h)));
  t.appendChild(head);
  if (!rows.length) {
    const tr = el("tr");
    tr.appendChild(el("td", { class: "empty", colspan: String(headers.length) }, "none in this period"));
    t.appendChild(tr);
  }
  for (const r of rows) {
    const tr = el("tr");
    r.forEach((c, i) => tr.appendChild(el("td", numeric.includes(i) ? { class: "n" } : {}, c)));
    t.appendChild(tr);
  }
}
function draw(id, config) {
  if (charts[id]) charts[id].destroy();
  config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
  charts[id] = new Chart(document.getElementById(id), config);
  return charts[id];
}
const money = { ticks: { callback: (v) => usd(v) } };

function fillSelect(select, values, current, all) {
  select.replaceChildren();
  if (all !== null) select.appendChild(el("option", { value: "" }, all));
  for (const v of values) {
    const o = el("option", { value: v }, v);
    if (v === current) o.selected = true;
    select.appendChild(o);
  }
}

function query() {
  const form = document.getElementById("filters");
  const p = new URLSearchParams();
  for (const name of ["since", "tenant", "project", "tag", "stack"]) {
    const v = form.elements[name].value;
    if (v) p.set(name, v);
  }
  return p;
}

async function load() {
  const status = document.getElementById("status");
  status.className = "";
  status.textContent = "Loading…";
  const response = await fetch("/dashboard/api/panels?" + query().toString(), { credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    status.className = "error";
    status.textContent = (body.error && body.error.message) || ("the dashboard's data failed: HTTP " + response.status);
    return;
  }
  state.data = body;
  render(body);
  status.textContent = "Updated " + new Date(body.now * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  document.getElementById("panels").hidden = false;
  document.body.dataset.ready = "1";
}

function render(d) {
  const form = document.getElementById("filters");
  fillSelect(form.elements.tenant, d.options.tenants, d.filters.tenant, "all");
  fillSelect(form.elements.project, d.options.projects, d.filters.project, "all");
  const tagPairs = [];
  for (const [k, vs] of Object.entries(d.options.tags)) for (const v of vs) tagPairs.push(k + "=" + v);
  const currentTag = Object.entries(d.filters.tags).map(([k, v]) => k + "=" + v)[0];
  fillSelect(form.elements.tag, tagPairs, currentTag, "any");
  fillSelect(form.elements.stack, d.options.stacks, d.spend_over_time.stack, null);

  const t = d.totals;
  const kpis = document.getElementById("kpis");
  kpis.replaceChildren();
  for (const [name, value] of [["spend", usd(t.cost_usd)], ["list price", usd(t.list_cost_usd)], ["saved by caches", usd(t.saved_usd)],
    ["requests", t.requests.toLocaleString()], ["errors", t.errors.toLocaleString()], ["unpriced calls", t.unpriced.toLocaleString()],
    ["month projected", d.forecast.month ? usd(d.forecast.month.projected_usd) + " (est.)" : "-"]]) {
    const k = el("div", { class: "kpi" });
    k.appendChild(el("b", {}, value));
    k.appendChild(el("span", {}, name));
    kpis.appendChild(k);
  }

  const s = d.spend_over_time;
  draw("chart-spend", {
    type: "bar",
    data: { labels: s.buckets, datasets: s.series.map((x, i) => ({ label: label(x.name), data: x.cost_usd.map(Number), backgroundColor: PALETTE[i % PALETTE.length] })) },
    options: { scales: { x: { stacked: true }, y: Object.assign({ stacked: true }, money) }, plugins: { tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + usd(c.raw) } } } },
  });

  tabs("top-tabs", Object.keys(d.top), "top", renderTop);
  renderTop();

  const f = d.forecast;
  document.getElementById("forecast-note").textContent = f.seasonal ? `weekly seasonality, ${Math.round(f.level * 100)}% interval` : "less than two weeks of history: no weekday pattern";
  const hist = f.history.slice(-28);
  const labels = hist.map((h) => h.day).concat(f.forecast.map((x) => x.day));
  const pad = (arr, before) => new Array(before).fill(null).concat(arr);
  draw("chart-forecast", {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "spent", data: hist.map((h) => Number(h.cost_usd)), borderColor: PALETTE[0], pointRadius: 1 },
        { label: "forecast (est.)", data: pad(f.forecast.map((x) => Number(x.cost_usd)), hist.length), borderColor: PALETTE[2], borderDash: [5, 4], pointRadius: 1 },
        { label: "high", data: pad(f.forecast.map((x) => Number(x.high_usd)), hist.length), borderColor: "rgba(245,158,11,.25)", backgroundColor: "rgba(245,158,11,.15)", pointRadius: 0, fill: "+1" },
        { label: "low", data: pad(f.forecast.map((x) => Number(x.low_usd)), hist.length), borderColor: "rgba(245,158,11,.25)", pointRadius: 0 },
      ],
    },
    options: { scales: { y: money } },
  });

  renderBudgets(d.budgets);

  const kinds = d.cache.kinds;
  draw("chart-cache", {
    type: "doughnut",
    data: { labels: kinds.map((k) => label(k.cache || "no cache")), datasets: [{ data: kinds.map((k) => k.requests), backgroundColor: kinds.map((_, i) => PALETTE[i % PALETTE.length]) }] },
    options: { plugins: { legend: { position: "right" } } },
  });
  const pc = d.cache.prompt_cache;
  document.getElementById("cache-note").textContent = "provider prompt cache: hit rate " + (pc.hit_rate === null ? "-" : (pc.hit_rate * 100).toFixed(1) + "%") + ", net saving " + usd(pc.net_saving_usd);
  // saved is net: the semantic cache's LLM checks (check cost) are taken off what its hits avoided
  table("cache-table", ["cache", "requests", "share", "check cost", "saved"], kinds.map((k) => [label(k.cache || "no cache"), k.requests.toLocaleString(), k.share === null ? "-" : (k.share * 100).toFixed(1) + "%", k.check_cost_usd === undefined ? "-" : usd(k.check_cost_usd), usd(k.saved_usd)]), [1, 2, 3, 4]);

  const rj = d.rejections;
  draw("chart-rejections", {
    type: "bar",
    data: { labels: rj.days, datasets: rj.series.map((x, i) => ({ label: label(x.name), data: x.requests, backgroundColor: PALETTE[(i + 3) % PALETTE.length] })) },
    options: { scales: { x: { stacked: true }, y: { stacked: true } } },
  });

  tabs("routing-tabs", Object.keys(d.routing), "routing", renderRouting);
  renderRouting();

  const names = d.experiments.map((x) => label(x.policy));
  if (!names.includes(state.experiment)) state.experiment = names.length ? names[0] : null;
  tabs("experiment-tabs", names, "experiment", renderExperiment);
  renderExperiment();

  table("unpriced", ["model", "cause", "requests"], d.unpriced.map((u) => [label(u.model), u.cause, u.requests.toLocaleString()]), [2]);
  table("anomalies", ["tenant", "day", "spent", "baseline", "excess"], d.anomalies.map((a) => [label(a.value), a.day, usd(a.cost_usd), usd(a.baseline_usd), usd(a.excess_usd)]), [2, 3, 4]);
  table("unit", ["feature", "requests", "cost", "per request", "per user", "per good outcome", "token efficiency"],
    d.unit.rows.map((r) => [label(r.value), r.requests.toLocaleString(), usd(r.cost_usd), r.cost_per_request_usd === null ? "-" : usd(r.cost_per_request_usd),
      r.cost_per_user_usd === null ? "-" : usd(r.cost_per_user_usd), r.cost_per_good_outcome_usd === null ? "-" : usd(r.cost_per_good_outcome_usd),
      r.token_efficiency === null ? "-" : (r.token_efficiency * 100).toFixed(1) + "%"]), [1, 2, 3, 4, 5, 6]);
}

function tabs(id, names, key, then) {
  const box = document.getElementById(id);
  box.replaceChildren();
  for (const name of names) {
    const b = el("button", { type: "button", class: name === state[key] ? "on" : "" }, name);
    b.addEventListener("click", () => { state[key] = name; tabs(id, names, key, then); then(); });
    box.appendChild(b);
  }
}

function bars(id, rows) {
  draw(id, {
    type: "bar",
    data: { labels: rows.map((r) => label(r.value)), datasets: [{ label: "spend", data: rows.map((r) => Number(r.cost_usd)), backgroundColor: PALETTE[0] }] },
    options: { indexAxis: "y", scales: { x: money }, plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => usd(c.raw) } } } },
  });
}
function renderTop() { bars("chart-top", state.data.top[state.top].rows); }
function renderRouting() {
  const rows = state.data.routing[state.routing].rows;
  draw("chart-routing", {
    type: "doughnut",
    data: { labels: rows.map((r) => label(r.value)), datasets: [{ data: rows.map((r) => r.requests), backgroundColor: rows.map((_, i) => PALETTE[i % PALETTE.length]) }] },
    options: { plugins: { legend: { position: "right" } } },
  });
}

// a (mean, low, high) triple from costops experiments, printed as "mean [low, high]"
function ci(t, fmt) { return t ? fmt(t[0]) + " [" + fmt(t[1]) + ", " + fmt(t[2]) + "]" : "-"; }
const pct = (v) => (v * 100).toFixed(1) + "%";
const score = (v) => v.toFixed(3);
function renderExperiment() {
  const x = state.data.experiments.find((e) => label(e.policy) === state.experiment);
  const arms = x ? x.arms : [];
  const name = (a) => a.arm + (a.task ? " (" + a.task + ")" : "");
  draw("chart-experiments", {
    type: "bar",
    data: {
      labels: arms.map(name),
      datasets: [
        { label: "cost per request", data: arms.map((a) => (a.cost_per_request_usd ? a.cost_per_request_usd[0] : null)), backgroundColor: PALETTE[0], yAxisID: "y" },
        { label: "quality, 95% interval", data: arms.map((a) => (a.feedback_quality ? [a.feedback_quality[1], a.feedback_quality[2]] : null)), backgroundColor: "rgba(22,163,74,.35)", borderColor: PALETTE[1], borderWidth: 1, yAxisID: "q" },
        // an empty third slot, so the interval's bar is the middle one, under its mean's point
        { label: "", data: arms.map(() => null), yAxisID: "q" },
        { type: "line", label: "quality (mean feedback score)", data: arms.map((a) => (a.feedback_quality ? a.feedback_quality[0] : null)), borderColor: PALETTE[1], backgroundColor: PALETTE[1], showLine: false, pointRadius: 5, yAxisID: "q" },
      ],
    },
    options: { plugins: { legend: { labels: { filter: (item) => item.text !== "" } } },
      scales: { y: Object.assign({ position: "left", title: { display: true, text: "cost per request" } }, money),
      q: { position: "right", min: 0, title: { display: true, text: "feedback score" }, grid: { drawOnChartArea: false } } } },
  });
  table("experiments", ["arm", "requests", "error rate", "spend", "cost per request", "latency ms", "scored", "quality", "Δ quality vs " + (x ? x.control : "control")],
    arms.map((a) => [name(a), a.requests.toLocaleString(), ci(a.error_rate, pct), usd(a.spend_usd), ci(a.cost_per_request_usd, (v) => "$" + v.toFixed(5)),
      ci(a.latency_ms, (v) => v.toFixed(0)), a.feedback_n.toLocaleString(), ci(a.feedback_quality, score),
      x && a.arm === x.control ? "control" : ci(a.vs_control && a.vs_control.quality, (v) => (v >= 0 ? "+" : "") + v.toFixed(3))]),
    [1, 2, 3, 4, 5, 6, 7, 8]);
}

function renderBudgets(budgets) {
  const box = document.getElementById("budgets");
  for (const id of Object.keys(charts)) if (id.startsWith("chart-budget-")) { charts[id].destroy(); delete charts[id]; }
  box.replaceChildren();
  if (!budgets.length) { box.appendChild(el("p", {}, "No budgets configured (budgets: in the config).")); return; }
  budgets.forEach((b, i) => {
    const card = el("div", { class: "budget" });
    card.appendChild(el("h3", {}, b.name));
    const p = el("p");
    p.append("spent ", el("b", Number(b.spent_usd) > Number(b.limit_usd) ? { class: "over" } : {}, usd(b.spent_usd)), " of ", el("b", {}, usd(b.limit_usd)),
      " · forecast ", el("b", {}, usd(b.forecast_usd)), " · " + b.scope + " · " + b.window);
    card.appendChild(p);
    const box2 = el("div", { class: "chart" });
    const canvas = el("canvas", { id: "chart-budget-" + i });
    box2.appendChild(canvas);
    card.appendChild(box2);
    box.appendChild(card);
    if (!b.active) return;
    draw("chart-budget-" + i, {
      type: "line",
      data: { labels: b.days, datasets: [
        { label: "spent (cumulative)", data: b.cumulative_usd.map(Number), borderColor: PALETTE[0], fill: false, pointRadius: 1 },
        { label: "limit", data: b.days.map(() => Number(b.limit_usd)), borderColor: PALETTE[3], borderDash: [6, 4], pointRadius: 0 },
      ] },
      options: { scales: { y: money } },
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  load().catch((err) => { const s = document.getElementById("status"); s.className = "error"; s.textContent = String(err); });
});
