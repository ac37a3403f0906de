// The printers of a branch, grouped by agent, updated in place as live events arrive.
// Rows are keyed by printer id and only their text changes, so focus and layout stay put.

import { ago, clock, h } from "../dom.js";
import { printerBadge } from "../status.js";

function describe(printer) {
  const where = printer.host ? `${printer.host}${printer.port ? ":" + printer.port : ""}` : printer.usbPath;
  const model = [printer.manufacturer, printer.model].filter(Boolean).join(" ");
  const kind = { usb: "USB", network: "Network", queue: "Print queue" }[printer.connection] || "Network";
  return [kind, where, model, viaQueue(printer)].filter(Boolean).join(" · ");
}

/** Which way the agent prints, when the printer has an OS print queue (the other way is offered). */
function viaQueue(printer) {
  if (!printer.queue) return "";
  const name = `print queue "${printer.queue.name}"`;
  return printer.path && printer.path !== "direct" ? `via ${name}` : `direct (also ${name})`;
}

export class PrinterBoard {
  /** A board drawing into ``container``; ``onTest(printer, row)`` runs a test. */
  constructor(container, branchId, onTest) {
    this.container = container;
    this.branchId = branchId;
    this.onTest = onTest;
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
        h("span", { class: "muted printer-meta" })),
      h("span", { class: "badge printer-badge", role: "status", "aria-live": "polite" }),
      h("span", { class: "printer-hint" }),
      h("button", { class: "button test-button", type: "button",
        onclick: () => this.onTest(row.printer, row) }, "Test"),
      h("div", { class: "test-result", "aria-live": "polite" },
        h("span", { class: "muted" }, "Not tested yet")));
    row.querySelector(".test-button").setAttribute("aria-label", `Test ${printer.name}`);
    return row;
  }
}
