// A branch's kitchen stations: where each station's tickets print (primary and backup printer,
// layout), the routing rules, a live preview of a sample order through the stations and rules
// as they are on screen (before anything is saved), and order-to-ticket times per station.

import { api, ApiError } from "../api.js";
import { announce, fill, h } from "../dom.js";
import * as live from "../live.js";
import { crumbs } from "../session.js";
import { branchTabs, debounce } from "./branch.js";
import { loadChartJs } from "./dashboard.js";
import { orderTickets } from "./order_tickets.js";

const FIELDS = [
  ["orderType", "Order type"], ["table", "Table"], ["guests", "Guests"], ["placedAt", "Time"],
  ["orderNotes", "Order notes"], ["modifiers", "Modifiers"], ["lineNotes", "Line notes"],
  ["altName", "Second name"],
];
const MATCHES = [["category", "Category is"], ["tag", "Tag is"], ["all", "Every line"]];
const SAMPLE = {
  table: "12",
  guestCount: 2,
  orderType: "dine-in",
  lines: [
    { lineId: "1", name: "Cheeseburger", quantity: 2, category: "burgers", modifiers: ["no onion"] },
    { lineId: "2", name: "Caesar salad", quantity: 1, category: "salads", tags: ["cold"] },
    { lineId: "3", name: "Lemonade", quantity: 2, category: "drinks" },
  ],
};
const LATENCY_MS = 10000;

function select(cls, options, value, attrs = {}) {
  return h("select", { class: cls, ...attrs },
    options.map(([v, label]) => h("option", { value: v, selected: v === value }, label)));
}

function printerOptions(printers, none) {
  const options = printers.map((p) => [p.printerId, `${p.name} (${p.printerId})`]);
  return none ? [["", none], ...options] : options;
}

function labelled(text, control) {
  return h("label", { class: "st-field" }, h("span", {}, text), control);
}

/** One station's card: every setting editable; Save, Delete, Reprint last. */
function stationCard(station, printers, handlers) {
  const layout = station.layout || {};
  const fields = new Set(layout.fields || FIELDS.map(([f]) => f));
  const card = h("li", { class: "card station", dataset: { stationId: station.stationId } },
    h("div", { class: "station-head" },
      h("h3", {}, h("code", {}, station.stationId)),
      station.isDefault ? h("span", { class: "badge", dataset: { tone: "info" } }, "default") : null,
      h("span", { class: "st-status muted", role: "status" })),
    h("div", { class: "station-grid" },
      labelled("Name", h("input", { class: "st-name", value: station.name, maxlength: "60" })),
      labelled("Primary printer", select("st-primary", printerOptions(printers), station.primaryPrinterId)),
      labelled("Backup printer", select("st-backup", printerOptions(printers, "None"), station.backupPrinterId || "")),
      labelled("Font", select("st-font", [["normal", "Normal"], ["large", "Large"]], layout.fontSize || "normal")),
      labelled("Copies", h("input", { class: "st-copies", type: "number", min: "1", max: "5", value: String(layout.copies || 1) })),
      h("label", { class: "st-check" }, h("input", { class: "st-prices", type: "checkbox", checked: Boolean(layout.prices) }), "Prices")),
    h("fieldset", { class: "st-fields" }, h("legend", {}, "Shows"),
      FIELDS.map(([f, label]) => h("label", { class: "st-check" },
        h("input", { type: "checkbox", class: "st-field-box", dataset: { field: f }, checked: fields.has(f) }), label))),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "button st-reprint" }, "Reprint last ticket"),
      h("button", { type: "button", class: "button danger st-delete" }, "Delete"),
      h("button", { type: "button", class: "button primary st-save" }, "Save")));
  card.addEventListener("input", handlers.changed);
  card.querySelector(".st-save").addEventListener("click", () => handlers.save(card));
  card.querySelector(".st-delete").addEventListener("click", () => handlers.remove(card));
  card.querySelector(".st-reprint").addEventListener("click", () => handlers.reprint(card));
  return card;
}

/** The station a card describes, as the API takes it. */
function stationOf(card) {
  const q = (sel) => card.querySelector(sel);
  const backup = q(".st-backup").value;
  return {
    stationId: card.dataset.stationId,
    name: q(".st-name").value,
    primaryPrinterId: q(".st-primary").value,
    ...(backup ? { backupPrinterId: backup } : {}),
    layout: {
      fields: [...card.querySelectorAll(".st-field-box:checked")].map((b) => b.dataset.field),
      fontSize: q(".st-font").value,
      prices: q(".st-prices").checked,
      copies: Number(q(".st-copies").value) || 1,
    },
  };
}

/** One rule's row: match, value, the stations it sends lines to. */
function ruleRow(rule, stationIds, changed) {
  const row = h("tr", { class: "rule" },
    h("td", {}, select("rule-match", MATCHES, rule.match, { "aria-label": "Match" })),
    h("td", {}, h("input", { class: "rule-value", value: rule.value || "", "aria-label": "Value", disabled: rule.match === "all" })),
    h("td", { class: "rule-stations" }, stationIds.map((id) => h("label", { class: "st-check" },
      h("input", { type: "checkbox", class: "rule-station", dataset: { station: id }, checked: (rule.stationIds || []).includes(id) }), id))),
    h("td", {}, h("button", { type: "button", class: "button rule-remove" }, "Remove")));
  row.addEventListener("input", () => {
    row.querySelector(".rule-value").disabled = row.querySelector(".rule-match").value === "all";
    changed();
  });
  row.querySelector(".rule-remove").addEventListener("click", () => { row.remove(); changed(); });
  return row;
}

function ruleOf(row) {
  const match = row.querySelector(".rule-match").value;
  const value = row.querySelector(".rule-value").value.trim();
  return {
    match,
    ...(match === "all" ? {} : { value }),
    stationIds: [...row.querySelectorAll(".rule-station:checked")].map((b) => b.dataset.station),
  };
}

function layout(branchId) {
  const el = (tag, id, attrs = {}, ...kids) => h(tag, { id, ...attrs }, ...kids);
  const parts = {
    error: el("p", "stations-error", { class: "error", role: "alert" }),
    list: el("ul", "stations", { class: "station-list" }),
    add: el("form", "new-station", { class: "card new-station" }),
    defaultStation: el("select", "default-station", { "aria-label": "Default station" }),
    rules: el("tbody", "rules"),
    rulesStatus: el("span", "rules-status", { class: "muted", role: "status" }),
    sample: el("textarea", "sample", { rows: "12", spellcheck: "false", "aria-label": "Sample order (JSON)" }),
    previewError: el("p", "preview-error", { class: "error", role: "alert" }),
    previewLines: el("tbody", "preview-lines"),
    previewTickets: el("div", "preview-tickets", { class: "ticket-cards" }),
    latencyTable: el("tbody", "latency-table"),
    latencyCanvas: el("canvas", "latency-canvas", { role: "img", "aria-label": "Order to ticket time per station: no data yet" }),
    orders: orderTickets(),
  };
  parts.sample.value = JSON.stringify(SAMPLE, null, 2);
  parts.page = [
    h("div", { class: "page-head" }, h("h1", {}, `Stations of ${branchId}`), branchTabs(branchId, "stations")),
    parts.error,
    h("section", { "aria-labelledby": "stations-title" }, h("h2", { id: "stations-title" }, "Stations"), parts.list, parts.add),
    h("section", { class: "card", "aria-labelledby": "rules-title" },
      h("h2", { id: "rules-title" }, "Routing rules"),
      h("p", { class: "muted" }, "Every matching rule sends the line to its stations; a line may name its station itself. Lines nothing matches go to the default station."),
      labelled("Default station", parts.defaultStation),
      h("div", { class: "table-wrap" }, h("table", { class: "jobs rules-table" },
        h("thead", {}, h("tr", {}, ["Match", "Value", "Stations", ""].map((c) => h("th", { scope: "col" }, c)))), parts.rules)),
      h("div", { class: "actions" }, parts.rulesStatus,
        h("button", { type: "button", class: "button", id: "add-rule" }, "Add rule"),
        h("button", { type: "button", class: "button primary", id: "save-rules" }, "Save rules"))),
    h("section", { class: "card", "aria-labelledby": "preview-title" },
      h("h2", { id: "preview-title" }, "Preview"),
      h("p", { class: "muted" }, "A sample order through the stations and rules as they are on this page, saved or not."),
      h("div", { class: "preview-grid" }, parts.sample,
        h("div", {}, parts.previewError,
          h("table", { class: "jobs", id: "preview-table" },
            h("thead", {}, h("tr", {}, ["Line", "Stations", "Why"].map((c) => h("th", { scope: "col" }, c)))), parts.previewLines))),
      parts.previewTickets),
    parts.orders.section,
    h("section", { class: "card dash-card", "aria-labelledby": "latency-title" },
      h("h2", { id: "latency-title" }, "Order to ticket"),
      h("p", { class: "muted dash-desc" }, "Seconds from the order's arrival to the printed ticket, per station, over the last hour."),
      h("div", { class: "chart-box" }, parts.latencyCanvas),
      h("table", { class: "jobs dash-table", id: "latency" },
        h("thead", {}, h("tr", {}, ["Station", "Tickets", "Median", "95%", "Slowest"].map((c) => h("th", { scope: "col" }, c)))),
        parts.latencyTable)),
  ];
  return parts;
}

function newStationForm(form, printers, add) {
  fill(form,
    h("h3", {}, "Add a station"),
    h("div", { class: "station-grid" },
      labelled("Id", h("input", { id: "new-station-id", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]*", placeholder: "grill" })),
      labelled("Name", h("input", { id: "new-station-name", required: true, maxlength: "60", placeholder: "Grill" })),
      labelled("Primary printer", select("", printerOptions(printers), printers[0]?.printerId, { id: "new-station-primary" })),
      labelled("Backup printer", select("", printerOptions(printers, "None"), "", { id: "new-station-backup" }))),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "button primary" }, "Add station")));
  form.onsubmit = (event) => { event.preventDefault(); add(); };
}

/** The stations page. */
export async function renderStations(main, [branchId]) {
  crumbs([["Branches", "#/branches"], [branchId, `#/branches/${encodeURIComponent(branchId)}`], ["Stations", null]]);
  const view = layout(branchId);
  main.replaceChildren(...view.page);
  const base = `/api/v1/branches/${encodeURIComponent(branchId)}`;
  let printers = [];
  let chart = null;
  let stopped = false;

  const report = (err) => {
    if (!(err instanceof ApiError && err.status === 401)) view.error.textContent = err.message;
  };
  const cards = () => [...view.list.querySelectorAll("li.station")];
  const stations = () => cards().map(stationOf);
  const rules = () => ({
    ...(view.defaultStation.value ? { defaultStationId: view.defaultStation.value } : {}),
    rules: [...view.rules.querySelectorAll("tr.rule")].map(ruleOf),
  });

  const preview = debounce(async () => {
    let sample;
    try {
      sample = JSON.parse(view.sample.value);
    } catch (err) {
      view.previewError.textContent = `The sample is not valid JSON: ${err.message}`;
      return;
    }
    try {
      const body = await api(`${base}/rules/preview`, { method: "POST", body: { order: sample, stations: stations(), rules: rules() } });
      view.previewError.textContent = "";
      const names = new Map(body.stations.map((s) => [s.stationId, s.name]));
      fill(view.previewLines, body.lines.map((line) => h("tr", { dataset: { lineId: line.lineId } },
        h("td", {}, line.name),
        h("td", { class: "preview-stations" }, line.stationIds.length ? line.stationIds.map((id) => names.get(id) || id).join(", ") : h("span", { class: "bad-text" }, "nowhere")),
        h("td", { class: "job-details" }, line.reasons.join("; ")))));
      fill(view.previewTickets, body.stations.filter((s) => s.ticket.length).map((s) =>
        h("figure", { class: "ticket-card", dataset: { stationId: s.stationId } },
          h("figcaption", {}, s.name), h("pre", { class: "ticket-text" }, s.ticket.join("\n")))));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) view.previewError.textContent = err.message;
    }
  }, 250);
  const rulesChanged = () => { view.rulesStatus.textContent = "Unsaved changes"; preview(); };

  function drawRules(current) {
    const ids = stations().map((s) => s.stationId);
    fill(view.defaultStation, h("option", { value: "" }, "None: unmatched lines print nowhere"),
      ids.map((id) => h("option", { value: id, selected: id === current.defaultStationId }, id)));
    fill(view.rules, (current.rules || []).map((rule) => ruleRow(rule, ids, rulesChanged)));
  }

  const handlers = {
    changed: () => preview(),
    async save(card) {
      const status = card.querySelector(".st-status");
      try {
        await api(`${base}/stations/${encodeURIComponent(card.dataset.stationId)}`, { method: "PUT", body: stationOf(card) });
        status.textContent = "Saved";
        announce(`Station ${card.dataset.stationId} saved.`);
        view.error.textContent = "";
      } catch (err) { report(err); }
    },
    async remove(card) {
      try {
        await api(`${base}/stations/${encodeURIComponent(card.dataset.stationId)}`, { method: "DELETE" });
        const kept = rules();
        card.remove();
        drawRules(kept);
        preview();
        announce(`Station ${card.dataset.stationId} deleted.`);
        view.error.textContent = "";
      } catch (err) { report(err); }
    },
    async reprint(card) {
      const status = card.querySelector(".st-status");
      try {
        const copy = await api(`${base}/stations/${encodeURIComponent(card.dataset.stationId)}/reprint-last`, { method: "POST" });
        status.textContent = `Reprint queued (job ${copy.jobId.slice(0, 8)})`;
        announce(status.textContent);
      } catch (err) { report(err); }
    },
  };

  async function load() {
    const [stationBody, ruleBody, printerBody] = await Promise.all([
      api(`${base}/stations`), api(`${base}/rules`), api("/api/v1/printers")]);
    printers = printerBody.printers.filter((p) => p.branchId === branchId);
    fill(view.list, stationBody.stations.map((s) => stationCard(s, printers, handlers)));
    drawRules(ruleBody);
    view.rulesStatus.textContent = "";
    newStationForm(view.add, printers, addStation);
    preview();
  }

  async function addStation() {
    const backup = document.getElementById("new-station-backup").value;
    const body = {
      stationId: document.getElementById("new-station-id").value.trim(),
      name: document.getElementById("new-station-name").value,
      primaryPrinterId: document.getElementById("new-station-primary").value,
      ...(backup ? { backupPrinterId: backup } : {}),
    };
    try {
      const created = await api(`${base}/stations`, { method: "POST", body });
      const kept = rules();
      view.list.append(stationCard(created, printers, handlers));
      drawRules(kept);
      view.add.reset();
      preview();
      announce(`Station ${created.stationId} added.`);
      view.error.textContent = "";
    } catch (err) { report(err); }
  }

  async function saveRules() {
    try {
      await api(`${base}/rules`, { method: "PUT", body: rules() });
      view.rulesStatus.textContent = "Saved";
      announce("Routing rules saved.");
      view.error.textContent = "";
    } catch (err) { report(err); }
  }

  async function loadLatency() {
    try {
      const body = await api(`${base}/stations/latency?minutes=60`);
      const fmt = (s) => `${s.toFixed(s < 10 ? 2 : 1)} s`;
      fill(view.latencyTable, body.stations.map((s) => h("tr", { dataset: { stationId: s.stationId } },
        h("th", { scope: "row" }, s.name), h("td", { class: "ticket-count" }, String(s.count)),
        h("td", {}, fmt(s.p50)), h("td", {}, fmt(s.p95)), h("td", {}, fmt(s.max)))));
      view.latencyCanvas.setAttribute("aria-label", body.stations.length
        ? `Order to ticket time: ${body.stations.map((s) => `${s.name} median ${fmt(s.p50)}`).join(", ")}.`
        : "Order to ticket time: no ticket printed in the last hour.");
      if (!chart) return;
      chart.data.labels = body.stations.map((s) => s.name);
      chart.data.datasets[0].data = body.stations.map((s) => s.p50);
      chart.data.datasets[1].data = body.stations.map((s) => s.p95);
      chart.update();
    } catch (err) { report(err); }
  }

  view.sample.addEventListener("input", preview);
  view.defaultStation.addEventListener("input", rulesChanged);
  document.getElementById("add-rule").addEventListener("click", () => {
    view.rules.append(ruleRow({ match: "category", stationIds: [] }, stations().map((s) => s.stationId), rulesChanged));
    rulesChanged();
  });
  document.getElementById("save-rules").addEventListener("click", saveRules);

  try {
    await load();
  } catch (err) { report(err); }
  await loadLatency();
  loadChartJs().then((Chart) => {
    if (stopped) return;
    chart = new Chart(view.latencyCanvas, {
      type: "bar",
      data: { labels: [], datasets: [
        { label: "Median", data: [], backgroundColor: "#1f5fbf" },
        { label: "95%", data: [], backgroundColor: "#b45309" }] },
      options: { animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: "seconds" } } } },
    });
    loadLatency();
  }).catch((err) => { view.error.textContent = `${err.message} The table still updates.`; });

  const timer = setInterval(loadLatency, LATENCY_MS);
  const stops = [
    live.on("connect", () => { loadLatency(); }),
    live.on("printJobUpdate", debounce(loadLatency, 1000)),
    live.on("printJobUpdate", debounce(view.orders.refresh, 300)),
  ];
  return () => {
    stopped = true;
    clearInterval(timer);
    stops.forEach((stop) => stop());
    if (chart) chart.destroy();
  };
}
