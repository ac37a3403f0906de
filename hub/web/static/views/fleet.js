// The fleet: every agent of the company with its branch, OS, version, update ring, state, last
// seen and printers; filtered by branch, version and state (the hub filters, the URL keeps them).

import { api, ApiError } from "../api.js";
import { ago, clock, fill, h } from "../dom.js";
import * as live from "../live.js";
import { crumbs } from "../session.js";
import { debounce } from "./branch.js";
import { diagnosticsControls } from "./diagnostics.js";

const PRINTER_TONES = { online: "ok", paper_near_end: "warn", queue_ready: "ok" };

function select(id, label, options, value) {
  const el = h("select", { id, name: id }, h("option", { value: "" }, `All ${label}`),
    options.map(([v, text]) => h("option", { value: v }, text)));
  el.value = options.some(([v]) => v === value) ? value : "";
  return h("div", { class: "field" }, h("label", { for: id }, label[0].toUpperCase() + label.slice(1)), el);
}

function printers(agent) {
  if (!agent.printers.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "fleet-printers" }, agent.printers.map((p) => {
    const state = p.status?.state || "unknown";
    return h("li", { dataset: { printerId: p.printerId, state } },
      h("span", { class: "badge", dataset: { tone: PRINTER_TONES[state] || "bad" } }, state.replace(/_/g, " ")), " ", p.name);
  }));
}

function row(agent, diagnostics) {
  const seen = agent.online ? "now" : agent.lastSeen ? `${clock(agent.lastSeen)} (${ago(agent.lastSeen)})` : "never";
  return h("tr", { class: "fleet-row", dataset: { agentId: agent.agentId, state: agent.state } },
    h("td", {}, h("strong", {}, agent.hostname || agent.agentId), h("div", { class: "muted" }, agent.agentId)),
    h("td", {}, h("a", { href: `#/branches/${encodeURIComponent(agent.branchId)}/agents` }, agent.branchId)),
    h("td", {}, agent.os || "—"),
    h("td", { class: "fleet-version" }, agent.version || "—"),
    h("td", { class: "fleet-ring" }, agent.ring || "stable"),
    h("td", {}, h("span", { class: "badge", dataset: { tone: agent.online ? "ok" : "bad" } }, agent.online ? "Online" : "Offline")),
    h("td", {}, seen),
    h("td", {}, printers(agent)),
    h("td", {}, diagnostics(agent)));
}

function filtersFromHash() {
  const query = location.hash.split("?")[1] || "";
  return Object.fromEntries(new URLSearchParams(query));
}

/** The fleet page. */
export async function renderFleet(main) {
  crumbs([["Branches", "#/branches"], ["Fleet", null]]);
  const wanted = filtersFromHash();
  const error = h("p", { class: "error", role: "alert" });
  const body = h("tbody", { id: "fleet" });
  const count = h("p", { class: "muted", id: "fleet-count", "aria-live": "polite" });
  const diagnostics = diagnosticsControls();
  let everyone = [];
  let branches = [];
  try {
    [{ agents: everyone }, { branches }] = await Promise.all([api("/api/v1/agents"), api("/api/v1/branches")]);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
  }
  const versions = [...new Set(everyone.map((a) => a.version).filter(Boolean))].sort();
  const filters = h("form", { class: "fleet-filters", id: "fleet-filters" },
    select("branch", "branches", branches.map((b) => [b.branchId, b.name || b.branchId]), wanted.branchId),
    select("version", "versions", versions.map((v) => [v, v]), wanted.version),
    select("state", "states", [["online", "Online"], ["offline", "Offline"]], wanted.state));
  const query = () => {
    const form = new FormData(filters);
    const params = new URLSearchParams();
    for (const [field, param] of [["branch", "branchId"], ["version", "version"], ["state", "state"]]) {
      if (form.get(field)) params.set(param, form.get(field));
    }
    return params.toString();
  };
  const load = async () => {
    const q = query();
    try {
      const { agents } = await api(`/api/v1/agents${q ? `?${q}` : ""}`);
      fill(body, agents.map((a) => row(a, diagnostics)));
      count.textContent = `${agents.length} agent${agents.length === 1 ? "" : "s"}` + (q ? " match the filters" : " in the company");
      error.textContent = "";
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
    }
  };
  filters.addEventListener("change", () => {
    const q = query();
    history.replaceState(null, "", `#/fleet${q ? `?${q}` : ""}`);
    load();
  });
  const table = h("div", { class: "table-wrap" }, h("table", { class: "jobs fleet-table" },
    h("thead", {}, h("tr", {}, ["Agent", "Branch", "OS", "Version", "Ring", "State", "Last seen", "Printers", "Support"].map((t) => h("th", { scope: "col" }, t)))),
    body));
  main.replaceChildren(h("div", { class: "page-head" }, h("h1", {}, "Fleet")), error,
    h("section", { class: "card", "aria-label": "Filters" }, filters), count, table);
  const refresh = debounce(load, 300);
  const stops = [live.on("connect", refresh), live.on("agent:status", refresh), live.on("printerStatusUpdate", refresh)];
  await load();
  return () => stops.forEach((stop) => stop());
}
