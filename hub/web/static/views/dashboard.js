// The monitoring dashboard: connections per namespace over time, desktop vs web, connection
// durations, reconnection rate and open alerts, updating live. Charts are drawn with the
// vendored Chart.js (loaded on first use); every chart has a fixed-size box, an aria-label that
// says what it shows, and a table with the same numbers.

import { api, ApiError } from "../api.js";
import { announce, clockSeconds, fill, h } from "../dom.js";
import * as live from "../live.js";
import { claims, crumbs } from "../session.js";

const POLL_MS = 3000;
/** Points kept per time series (3 minutes at one poll every 3 s). */
const WINDOW = 60;
const NAMESPACES = ["/printing-ws", "/orders", "/availability"];
const KINDS = [["desktop", "Desktop agents"], ["web", "Web clients"]];
const COLORS = ["#1f5fbf", "#18794e", "#b45309", "#7c3aed", "#b42318", "#0e7490"];
const KIND_COLORS = { desktop: "#b45309", web: "#1f5fbf" };
const SEVERITY_TONE = { critical: "bad", warning: "warn", info: "info" };

let chartLib = null;

/** Load the vendored Chart.js once (a plain script: the hub serves it, no npm at run time). */
export function loadChartJs() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!chartLib) {
    chartLib = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/chart.umd.min.js";
      script.onload = () => resolve(window.Chart);
      script.onerror = () => { chartLib = null; reject(new Error("The chart library did not load.")); };
      document.head.append(script);
    });
  }
  return chartLib;
}

// ---- Prometheus text -------------------------------------------------------------------

/** Samples of the Prometheus text format: [{name, labels, value}]. */
export function parsePrometheus(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const found = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (!found) continue;
    const labels = {};
    for (const [, key, value] of (found[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value.replace(/\\"/g, "\"").replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
    }
    samples.push({ name: found[1], labels, value: Number(found[3]) });
  }
  return samples;
}

/** Cumulative histogram buckets (summed over every label set) to [{le, count}] per bucket. */
export function bucketCounts(samples, name) {
  const cumulative = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    cumulative.set(le, (cumulative.get(le) || 0) + s.value);
  }
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  return bounds.map((le, i) => ({
    le, count: Math.max(0, cumulative.get(le) - (i ? cumulative.get(bounds[i - 1]) : 0)),
  }));
}

function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${seconds / 60} min`;
  return `${seconds / 3600} h`;
}

function bucketLabel(buckets, i) {
  const { le } = buckets[i];
  if (le === Infinity) return `> ${duration(buckets[i - 1]?.le ?? 0)}`;
  return i ? `${duration(buckets[i - 1].le)}–${duration(le)}` : `≤ ${duration(le)}`;
}

function sumBy(samples, name, label) {
  const out = {};
  for (const s of samples) if (s.name === name) out[s.labels[label]] = (out[s.labels[label]] || 0) + s.value;
  return out;
}

// ---- page parts ------------------------------------------------------------------------

function chartCard(id, title, description, table) {
  const canvas = h("canvas", { role: "img", "aria-label": `${title}: no data yet`, id: `${id}-canvas` });
  const card = h("section", { class: "card dash-card", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    h("p", { class: "muted dash-desc" }, description),
    h("div", { class: "chart-box" }, canvas),
    table);
  return { card, canvas };
}

function dataTable(caption, headers, rows, attrs = {}) {
  const body = h("tbody");
  const table = h("table", { class: "jobs dash-table", ...attrs },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
    body);
  fill(body, rows);
  return { table, body };
}

function alertItem(alert) {
  const tone = SEVERITY_TONE[alert.severity] || "muted";
  return h("li", { class: "alert-row", dataset: { alertId: alert.alertId, kind: alert.kind } },
    h("span", { class: "badge alert-badge", dataset: { tone } }, alert.severity),
    h("span", { class: "alert-text" },
      h("span", { class: "alert-message" }, alert.message),
      h("span", { class: "muted alert-meta" },
        `${alert.kind.replace(/_/g, " ")} · ${alert.subject} · since ${clockSeconds(alert.raisedAt)}`)));
}

function baseOptions(extra = {}) {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    ...extra,
  };
}

/** What a manager (or staff) is told instead of the charts: who sees them, how to get that. */
export function adminAdvice(who) {
  const company = who.companyId || "COMPANY";
  const demo = company === "demo" ? " The demo prints one at start: demo-admin." : "";
  return `You see your company's alerts here, live. The connection charts are for admins: sign in `
    + `as an admin of company ${company} to see them. Whoever runs the hub creates one with `
    + `"chit-hub user add --role admin --company ${company} --username NAME".${demo}`;
}

// ---- the page --------------------------------------------------------------------------

/** The monitoring page (admins see everything; managers their company's alerts). */
export async function renderDashboard(main) {
  crumbs([["Monitoring", null]]);
  let stopped = false;
  let timer = null;
  const charts = [];

  const updated = h("p", { class: "muted dash-updated", id: "dash-updated" }, "Loading…");
  const note = h("p", { class: "note", id: "dash-note", hidden: true });
  const error = h("p", { class: "error", role: "alert", id: "dash-error" });

  // Open alerts: a fixed-height list, announced politely as alerts are added.
  const alertList = h("ul", { class: "alert-list", id: "alerts", "aria-live": "polite", "aria-relevant": "additions text" });
  const alertEmpty = h("p", { class: "empty", id: "alerts-empty" }, "No open alerts.");
  const alertsCard = h("section", { class: "card dash-alerts", id: "dash-alerts", "aria-labelledby": "alerts-title" },
    h("h2", { id: "alerts-title" }, "Open alerts ", h("span", { class: "count", id: "alerts-count" }, "0")),
    h("div", { class: "alert-box" }, alertEmpty, alertList));

  const nsRows = new Map();
  const nsTable = dataTable("Connections per namespace", ["Namespace", "Now", "Peak"], [], { id: "ns-table" });
  const conn = chartCard("dash-connections", "Connections per namespace",
    "Open sockets on all hub instances, every 3 s (peak: last 3 min).", nsTable.table);

  const kindTable = dataTable("Desktop agents and web clients", ["Client", "Now", "Share"],
    KINDS.map(([kind, label]) => h("tr", { dataset: { kind } }, h("th", { scope: "row" }, label), h("td", { class: "now" }, "0"), h("td", { class: "share" }, "–"))),
    { id: "kind-table" });
  const kinds = chartCard("dash-kinds", "Desktop vs web", "Connected desktop agents and web clients now.", kindTable.table);

  const durTable = dataTable("Connection durations", ["Lasted", "Connections"], [], { id: "duration-table" });
  const durDetails = h("details", { class: "dash-details" }, h("summary", {}, "Show the numbers"), durTable.table);
  const durations = chartCard("dash-durations", "Connection durations",
    "How long closed connections lasted, since the hub started.", durDetails);

  const reTable = dataTable("Reconnections", ["Client", "/ min", "Total"],
    KINDS.map(([kind, label]) => h("tr", { dataset: { kind } }, h("th", { scope: "row" }, label), h("td", { class: "rate" }, "–"), h("td", { class: "total" }, "0"))),
    { id: "reconnect-table" });
  const reconnects = chartCard("dash-reconnects", "Reconnection rate",
    "Clients that came back shortly after dropping, per minute.", reTable.table);

  const grid = h("div", { class: "dash-grid" }, conn.card, kinds.card, durations.card, reconnects.card);
  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, "Monitoring"), updated),
    note, error, alertsCard, grid);

  // ---- alerts ----
  const active = new Map(); // alertId -> {alert, li, fromApi}

  function showAlertCount() {
    document.getElementById("alerts-count").textContent = String(active.size);
    alertEmpty.hidden = active.size > 0;
  }

  function addAlert(alert, fromApi) {
    const known = active.get(alert.alertId);
    if (known) { known.fromApi ||= fromApi; return; }
    const li = alertItem(alert);
    active.set(alert.alertId, { alert, li, fromApi });
    alertList.prepend(li);
  }

  function dropAlert(alertId) {
    const known = active.get(alertId);
    if (!known) return;
    known.li.remove();
    active.delete(alertId);
  }

  async function loadAlerts() {
    try {
      const body = await api("/api/v1/alerts");
      const listed = new Set(body.active.map((a) => a.alertId));
      // Alerts the list showed before and no longer does have cleared. Hub-wide alerts heard
      // live (the admins' room) may not be listed for a company's admin: those stay until cleared.
      for (const [id, known] of active) if (known.fromApi && !listed.has(id)) dropAlert(id);
      for (const c of body.recent) if (c.state === "cleared") dropAlert(c.alertId);
      for (const a of [...body.active].reverse()) addAlert(a, true);
      showAlertCount();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
    }
  }

  function onAlert(alert) {
    if (alert.state === "raised") {
      addAlert(alert, false);
      announce(`Alert: ${alert.message}`);
    } else {
      dropAlert(alert.alertId);
      announce(`Alert cleared: ${alert.message}`);
    }
    showAlertCount();
  }

  const stops = [live.on("newAlert", onAlert), live.on("connect", loadAlerts)];
  const cleanup = () => {
    stopped = true;
    clearTimeout(timer);
    stops.forEach((stop) => stop());
    charts.forEach((chart) => chart.destroy());
  };

  // ---- who may see what ----
  let stats;
  try {
    stats = await api("/api/v1/connections");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return cleanup;
    if (err instanceof ApiError && err.status === 403) {
      grid.hidden = true;
      note.hidden = false;
      note.textContent = adminAdvice(claims());
      updated.textContent = "Alerts update live.";
      await loadAlerts();
      return cleanup;
    }
    error.textContent = err.message;
  }
  await loadAlerts();
  if (stopped) return cleanup;

  let Chart;
  try {
    Chart = await loadChartJs();
  } catch (err) {
    error.textContent = `${err.message} The tables below still update.`;
  }
  if (stopped) return cleanup;

  // ---- charts ----
  const series = { labels: [], namespaces: new Map(), reconnects: { desktop: [], web: [] } };
  const newChart = (canvas, config) => {
    if (!Chart) return null;
    const chart = new Chart(canvas, config);
    charts.push(chart);
    return chart;
  };
  const connChart = newChart(conn.canvas, {
    type: "line",
    data: { labels: series.labels, datasets: [] },
    options: baseOptions({
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } } },
      elements: { point: { radius: 0 }, line: { borderWidth: 2 } },
    }),
  });
  const kindChart = newChart(kinds.canvas, {
    type: "doughnut",
    data: { labels: KINDS.map(([, label]) => label), datasets: [{ data: [0, 0], backgroundColor: KINDS.map(([k]) => KIND_COLORS[k]) }] },
    options: baseOptions({ cutout: "55%" }),
  });
  const durChart = newChart(durations.canvas, {
    type: "bar",
    data: { labels: [], datasets: [{ label: "Connections", data: [], backgroundColor: "#1f5fbf" }] },
    options: baseOptions({
      plugins: { legend: { display: false } },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxRotation: 45, autoSkip: false, font: { size: 10 } } } },
    }),
  });
  const reChart = newChart(reconnects.canvas, {
    type: "line",
    data: {
      labels: series.labels,
      datasets: KINDS.map(([kind, label]) => ({
        label, data: series.reconnects[kind], borderColor: KIND_COLORS[kind], backgroundColor: KIND_COLORS[kind],
      })),
    },
    options: baseOptions({
      scales: { y: { beginAtZero: true, suggestedMax: 1 }, x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } } },
      elements: { point: { radius: 0 }, line: { borderWidth: 2 } },
    }),
  });

  function nsSeries(ns) {
    if (!series.namespaces.has(ns)) {
      const data = new Array(series.labels.length).fill(null);
      series.namespaces.set(ns, data);
      const color = COLORS[(series.namespaces.size - 1) % COLORS.length];
      connChart?.data.datasets.push({ label: ns, data, borderColor: color, backgroundColor: color });
      const row = h("tr", { dataset: { namespace: ns } }, h("th", { scope: "row" }, h("code", {}, ns)),
        h("td", { class: "now" }, "0"), h("td", { class: "peak" }, "0"));
      nsRows.set(ns, row);
      nsTable.body.append(row);
    }
    return series.namespaces.get(ns);
  }
  NAMESPACES.forEach(nsSeries);

  let previous = null; // {at, totals by kind} of the last /metrics read

  function drawConnections(body, label) {
    series.labels.push(label);
    const byNs = body.byNamespace || {};
    for (const ns of Object.keys(byNs)) nsSeries(ns);
    for (const [ns, data] of series.namespaces) data.push(byNs[ns] || 0);
    const summary = [];
    for (const [ns, data] of series.namespaces) {
      const row = nsRows.get(ns);
      row.querySelector(".now").textContent = String(byNs[ns] || 0);
      row.querySelector(".peak").textContent = String(Math.max(0, ...data.filter((v) => v !== null)));
      summary.push(`${ns} ${byNs[ns] || 0}`);
    }
    conn.canvas.setAttribute("aria-label", `Connections per namespace now: ${summary.join(", ")}. Total ${body.total}.`);

    const byKind = KINDS.map(([kind]) => (body.byKind || {})[kind] || 0);
    const total = byKind.reduce((a, b) => a + b, 0);
    KINDS.forEach(([kind], i) => {
      const row = kindTable.body.querySelector(`tr[data-kind="${kind}"]`);
      row.querySelector(".now").textContent = String(byKind[i]);
      row.querySelector(".share").textContent = total ? `${Math.round((byKind[i] / total) * 100)}%` : "–";
    });
    if (kindChart) kindChart.data.datasets[0].data = byKind;
    kinds.canvas.setAttribute("aria-label", `Desktop agents ${byKind[0]}, web clients ${byKind[1]}.`);
  }

  function drawMetrics(text, at) {
    const samples = parsePrometheus(text);
    const buckets = bucketCounts(samples, "chit_connection_duration_seconds");
    const labels = buckets.map((_, i) => bucketLabel(buckets, i));
    const counts = buckets.map((b) => b.count);
    if (durChart) {
      durChart.data.labels = labels;
      durChart.data.datasets[0].data = counts;
    }
    fill(durTable.body, buckets.map((b, i) => h("tr", {}, h("th", { scope: "row" }, labels[i]), h("td", {}, String(b.count)))));
    const closed = counts.reduce((a, b) => a + b, 0);
    const busiest = closed ? labels[counts.indexOf(Math.max(...counts))] : null;
    durations.canvas.setAttribute("aria-label", closed
      ? `Connection durations: ${closed} closed connections, most lasted ${busiest}.`
      : "Connection durations: no connection has closed yet.");

    const totals = sumBy(samples, "chit_reconnects_total", "kind");
    const rates = {};
    for (const [kind] of KINDS) {
      const now = totals[kind] || 0;
      rates[kind] = previous ? Math.max(0, now - (previous.totals[kind] || 0)) / ((at - previous.at) / 60000) : null;
      series.reconnects[kind].push(rates[kind] === null ? null : Number(rates[kind].toFixed(2)));
      const row = reTable.body.querySelector(`tr[data-kind="${kind}"]`);
      row.querySelector(".rate").textContent = rates[kind] === null ? "–" : rates[kind].toFixed(1);
      row.querySelector(".total").textContent = String(now);
    }
    previous = { at, totals };
    reconnects.canvas.setAttribute("aria-label", rates.web === null
      ? "Reconnection rate: measuring…"
      : `Reconnections per minute now: desktop ${rates.desktop.toFixed(1)}, web ${rates.web.toFixed(1)}.`);
  }

  function trim() {
    while (series.labels.length > WINDOW) {
      series.labels.shift();
      for (const data of series.namespaces.values()) data.shift();
      for (const data of Object.values(series.reconnects)) data.shift();
    }
  }

  async function poll() {
    if (stopped) return;
    const at = Date.now();
    try {
      const [body, metrics] = await Promise.all([
        stats ? Promise.resolve(stats) : api("/api/v1/connections"),
        fetch("/metrics", { signal: AbortSignal.timeout(10000) }).then((r) => {
          if (!r.ok) throw new ApiError(r.status, "http_error", `The hub answered ${r.status} for /metrics.`);
          return r.text();
        }),
      ]);
      stats = null;
      if (stopped) return;
      drawConnections(body, clockSeconds(new Date(at).toISOString()));
      drawMetrics(metrics, at);
      trim();
      charts.forEach((chart) => chart.update("none"));
      updated.textContent = `Updated ${clockSeconds(new Date(at).toISOString())} · every ${POLL_MS / 1000} s`;
      error.textContent = "";
      main.dataset.polls = String(Number(main.dataset.polls || 0) + 1);
    } catch (err) {
      stats = null;
      if (err instanceof ApiError && err.status === 401) return;
      error.textContent = err instanceof ApiError ? err.message : "Cannot reach the hub; retrying.";
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }
  await poll();
  return cleanup;
}
