// The printers of a branch, grouped by agent, updated in place as live events arrive.
// Rows are keyed by printer id and only their text changes, so focus and layout stay put.

import { api } from "../api.js";
import { ago, clock, h } from "../dom.js";
import { printerBadge } from "../status.js";

function describe(printer) {
  const where = printer.host ? `${printer.host}${printer.port ? ":" + printer.port : ""}` : printer.usbPath;
  const model = [printer.manufacturer, printer.model].filter(Boolean).join(" ");
  const kind = { usb: "USB", network: "Network", queue: "Print queue" }[printer.connection] || "Network";
  return [kind, where, model, viaQueue(printer)].filter(Boolean).join(" · ");
}

/** What the printer said it is (serial, firmware) and what the agent builds bytes with. */
function identity(printer) {
  return [
    printer.serial ? `serial ${printer.serial}` : "",
    printer.firmware ? `firmware ${printer.firmware}` : "",
    printer.profile ? `profile ${printer.profile}` : "",
    printer.paperWidthMm ? `${printer.paperWidthMm} mm` : "",
    printer.textMode ? `text ${printer.textMode}` : "",
  ].filter(Boolean).join(" · ");
}

// The settings a manager can change: [field, label, choices] ("" means "as discovered").
const CHOICES = [
  ["paperWidthMm", "Paper", [["", "as discovered"], ["58", "58 mm"], ["80", "80 mm"]]],
  ["statusChannel", "Status", [["", "as detected"], ["escpos", "ESC/POS (DLE EOT)"], ["star", "Star (ASB)"],
    ["queue", "print queue"], ["none", "none"]]],
  ["textMode", "Text", [["", "as discovered"], ["auto", "auto"], ["text", "text"], ["image", "image"]]],
  ["commandSet", "Commands", [["", "as detected"], ["escpos", "ESC/POS"], ["star-line", "Star Line Mode"],
    ["star-graphic", "Star Graphic (raster, TSP100)"]]],
];

/** The settings form of one printer row: rename, profile, paper, status channel, text mode,
 * command set. */
function settingsForm(row) {
  const field = (label, control) => h("label", { class: "setting" }, h("span", {}, label), control);
  const select = (name, choices) =>
    h("select", { name }, ...choices.map(([value, text]) => h("option", { value }, text)));
  const error = h("p", { class: "error settings-error", role: "alert" });
  const form = h("form", { class: "printer-settings", hidden: true },
    field("Name", h("input", { name: "name", maxlength: "200", required: true })),
    field("Profile", h("input", { name: "profile", maxlength: "200", placeholder: "as discovered" })),
    ...CHOICES.map(([name, label, choices]) => field(label, select(name, choices))),
    h("div", { class: "settings-actions" },
      h("button", { class: "button save-settings", type: "submit" }, "Save"),
      h("button", { class: "button cancel-settings", type: "button",
        onclick: () => { form.hidden = true; } }, "Cancel")),
    error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await api(`/api/v1/printers/${encodeURIComponent(row.printer.printerId)}`,
        { method: "PATCH", body: formChanges(form) });
      form.hidden = true;
      row.querySelector(".printer-hint").textContent = "Settings saved; the agent applies them.";
    } catch (err) {
      error.textContent = err.message;
    }
  });
  return form;
}

/** The PATCH body: every field, empty ones as null (back to what was discovered). */
function formChanges(form) {
  const value = (name) => form.elements[name].value.trim();
  return {
    name: value("name"),
    profile: value("profile") || null,
    paperWidthMm: value("paperWidthMm") ? Number(value("paperWidthMm")) : null,
    statusChannel: value("statusChannel") || null,
    textMode: value("textMode") || null,
    commandSet: value("commandSet") || null,
  };
}

/** Fill the form from what the printer uses now. */
function openSettings(row) {
  const form = row.querySelector(".printer-settings");
  const p = row.printer;
  form.elements.name.value = p.name || "";
  form.elements.profile.value = p.profile || "";
  form.elements.paperWidthMm.value = p.paperWidthMm ? String(p.paperWidthMm) : "";
  form.elements.statusChannel.value = p.statusChannel || "";
  form.elements.textMode.value = p.textMode || "";
  form.elements.commandSet.value = p.commandSet || "";
  form.hidden = false;
  form.elements.name.focus();
}

/** Which way the agent prints, when the printer has an OS print queue (the other way is offered). */
function viaQueue(printer) {
  if (!printer.queue) return "";
  const name = `print queue "${printer.queue.name}"`;
  return printer.path && printer.path !== "direct" ? `via ${name}` : `direct (also ${name})`;
}

export class PrinterBoard {
  /** A board drawing into ``container``; ``onTest(printer, row)`` runs a test; managers
   * (``canEdit``) get each printer's settings form. */
  constructor(container, branchId, onTest, canEdit = false) {
    this.container = container;
    this.branchId = branchId;
    this.onTest = onTest;
    this.canEdit = canEdit;
    this.agents = new Map();
    this.groups = new Map();
    this.rows = new Map();
  }

  /** Whether an agent belongs to this board's branch (as last fetched). */
  knows(agentId) {
    return this.agents.has(agentId);
  }

  /** The printer's row element (for test results), if shown. */
  row(printerId) {
    return this.rows.get(printerId);
  }

  /** Replace the whole picture with a fresh fetch, keeping rows (and test results) that remain. */
  load(agents) {
    const keepAgents = new Set(agents.map((a) => a.agentId));
    for (const id of [...this.agents.keys()]) if (!keepAgents.has(id)) this.dropAgent(id);
    for (const agent of agents) {
      const printers = new Map(agent.printers.map((p) => [p.printerId, p]));
      const known = this.agents.get(agent.agentId);
      for (const id of known ? [...known.printers.keys()] : []) if (!printers.has(id)) this.removed(agent.agentId, id);
      this.agents.set(agent.agentId, { ...agent, printers });
      this.drawAgent(agent.agentId);
      for (const printer of printers.values()) this.drawPrinter(agent.agentId, printer);
    }
    this.drawEmpty();
  }

  /** agent:status */
  presence(event) {
    const agent = this.agents.get(event.agentId);
    if (!agent) return;
    agent.online = event.online;
    agent.lastSeen = event.lastSeen || agent.lastSeen;
    agent.offlineSince = event.online ? null : event.lastSeen || new Date().toISOString();
    if (event.hostname) agent.hostname = event.hostname;
    this.drawAgent(event.agentId);
    for (const printer of agent.printers.values()) this.drawPrinter(event.agentId, printer);
  }

  /** printer:discovered */
  discovered(event) {
    const agent = this.agents.get(event.agentId);
    if (!agent) return;
    agent.printers.set(event.printer.printerId, event.printer);
    this.drawPrinter(event.agentId, event.printer);
    this.drawEmpty();
  }

  /** printer:removed */
  removed(agentId, printerId) {
    this.agents.get(agentId)?.printers.delete(printerId);
    this.rows.get(printerId)?.remove();
    this.rows.delete(printerId);
    this.drawEmpty();
  }

  /** printerStatusUpdate */
  status(event) {
    const printer = this.agents.get(event.agentId)?.printers.get(event.printerId);
    if (!printer) return false;
    printer.status = event.status;
    this.drawPrinter(event.agentId, printer);
    return true;
  }

  dropAgent(agentId) {
    for (const id of this.agents.get(agentId)?.printers.keys() || []) this.removed(agentId, id);
    this.groups.get(agentId)?.remove();
    this.groups.delete(agentId);
    this.agents.delete(agentId);
  }

  drawEmpty() {
    let empty = this.container.querySelector(":scope > .empty");
    const none = this.rows.size === 0;
    if (none && !empty) {
      empty = h("p", { class: "empty" },
        this.agents.size ? "The agents here have found no printers yet." : "No agent in this branch yet. ",
        this.agents.size ? null : h("a", { href: `#/branches/${encodeURIComponent(this.branchId)}/agents` }, "Pair an agent"));
      this.container.prepend(empty);
    }
    if (!none && empty) empty.remove();
  }

  group(agentId) {
    let group = this.groups.get(agentId);
    if (!group) {
      group = h("section", { class: "card agent-group", dataset: { agentId } },
        h("header", { class: "agent-head" },
          h("h3", { class: "agent-name" }),
          h("span", { class: "badge agent-badge" }),
          h("span", { class: "muted agent-seen" })),
        h("ul", { class: "printer-list" }));
      this.groups.set(agentId, group);
      this.container.append(group);
    }
    return group;
  }

  drawAgent(agentId) {
    const agent = this.agents.get(agentId);
    const group = this.group(agentId);
    group.querySelector(".agent-name").textContent = agent.hostname ? `${agent.hostname}` : agentId;
    group.querySelector(".agent-name").title = `agent ${agentId}`;
    const badge = group.querySelector(".agent-badge");
    badge.textContent = agent.online ? "Agent online" : "Agent offline";
    badge.dataset.tone = agent.online ? "ok" : "bad";
    group.querySelector(".agent-seen").textContent = agent.online
      ? agentId
      : `offline since ${clock(agent.offlineSince || agent.lastSeen)} (${ago(agent.offlineSince || agent.lastSeen)})`;
  }

  drawPrinter(agentId, printer) {
    const agent = this.agents.get(agentId);
    let row = this.rows.get(printer.printerId);
    if (!row) {
      row = this.newRow(printer);
      this.rows.set(printer.printerId, row);
      this.group(agentId).querySelector(".printer-list").append(row);
    }
    row.printer = printer;
    row.querySelector(".printer-name").textContent = printer.name;
    row.querySelector(".printer-meta").textContent = describe(printer);
    row.querySelector(".printer-identity").textContent = identity(printer);
    const badge = printerBadge(printer.status, agent.online);
    const el = row.querySelector(".printer-badge");
    el.textContent = badge.label;
    el.dataset.tone = badge.tone;
    el.dataset.state = agent.online ? printer.status?.state || "unknown" : "unreachable";
    row.querySelector(".printer-hint").textContent = badge.hint;
  }

  newRow(printer) {
    const row = h("li", { class: "printer", dataset: { printerId: printer.printerId } },
      h("div", { class: "printer-id" },
        h("span", { class: "printer-name" }),
        h("span", { class: "muted printer-meta" }),
        h("span", { class: "muted printer-identity" })),
      h("span", { class: "badge printer-badge", role: "status", "aria-live": "polite" }),
      h("span", { class: "printer-hint" }),
      h("span", { class: "printer-buttons" },
        this.canEdit ? h("button", { class: "button settings-button", type: "button",
          onclick: () => openSettings(row) }, "Settings") : null,
        h("button", { class: "button test-button", type: "button",
          onclick: () => this.onTest(row.printer, row) }, "Test")),
      h("div", { class: "test-result", "aria-live": "polite" },
        h("span", { class: "muted" }, "Not tested yet")));
    if (this.canEdit) row.append(settingsForm(row));
    row.querySelector(".test-button").setAttribute("aria-label", `Test ${printer.name}`);
    row.querySelector(".settings-button")?.setAttribute("aria-label", `Settings of ${printer.name}`);
    return row;
  }
}
