// An order's ticket log, looked up by order id: which station got which lines, when each ticket
// printed (or why not), reroutes, reprints, and the notes that say why something did not print.
// Every finished ticket has a Reprint button (it prints a copy marked COPY); an unconfirmed one
// (it may or may not have printed) has the prominent one.

import { api, ApiError } from "../api.js";
import { announce, clockSeconds, fill, h } from "../dom.js";
import { jobLabel, jobTone } from "../status.js";

const FINAL = new Set(["printed", "failed", "expired", "unconfirmed", "sent_to_printer"]);
const CHANGE = { add: "", quantity: "qty", void: "VOID" };

function lineText(line) {
  const item = line.item;
  if (line.change === "quantity") return `${line.previousQuantity} → ${item.quantity} × ${item.name}`;
  return `${CHANGE[line.change]} ${item.quantity} × ${item.name}`.trim();
}

function ticketRow(orderId, ticket, refresh, error) {
  const action = FINAL.has(ticket.state)
    ? h("button", { type: "button", class: ticket.state === "unconfirmed" ? "button primary reprint-ticket" : "button reprint-ticket" }, "Reprint")
    : null;
  action?.addEventListener("click", async () => {
    action.disabled = true;
    try {
      const copy = await api(`/api/v1/orders/${encodeURIComponent(orderId)}/tickets/${encodeURIComponent(ticket.ticketId)}/reprint`, { method: "POST" });
      announce(`Reprint queued (job ${copy.jobId.slice(0, 8)}).`);
      refresh();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
    } finally {
      action.disabled = false;
    }
  });
  const where = ticket.reroutedFrom ? `rerouted from ${ticket.reroutedFrom} to ${ticket.printerId}` : ticket.printerId;
  const timing = ticket.secondsToPrint !== null ? `printed ${clockSeconds(ticket.printedAt)}, ${ticket.secondsToPrint.toFixed(ticket.secondsToPrint < 10 ? 2 : 1)} s after the order` : "";
  return h("tr", { dataset: { ticketId: ticket.ticketId, state: ticket.state } },
    h("td", {}, ticket.stationName),
    h("td", {}, ticket.kind === "copy" ? "copy" : `${ticket.kind} v${ticket.orderVersion ?? ""}`),
    h("td", { class: "job-details" }, ticket.lines.map(lineText).join(", ")),
    h("td", {}, h("span", { class: "badge job-badge", dataset: { tone: jobTone(ticket.state) } }, jobLabel(ticket.state))),
    h("td", { class: "job-details" }, [where, timing, ticket.error?.message].filter(Boolean).join("; ")),
    h("td", { class: "job-action" }, action));
}

/** The lookup section: an order id in, its ticket log out. */
export function orderTickets() {
  const input = h("input", { id: "order-id", placeholder: "Order id", "aria-label": "Order id", required: true });
  const error = h("p", { class: "error", role: "alert", id: "order-error" });
  const body = h("tbody", { id: "order-tickets" });
  const notes = h("ul", { id: "order-notes", class: "order-notes" });
  let current = null;

  async function show() {
    if (!current) return;
    try {
      const log = await api(`/api/v1/orders/${encodeURIComponent(current)}/tickets`);
      error.textContent = log.cancelled ? "This order was cancelled." : "";
      fill(body, log.tickets.map((t) => ticketRow(current, t, show, error)));
      fill(notes, log.notes.map((n) => h("li", {}, `v${n.orderVersion ?? "–"} · ${n.code.replace(/_/g, " ")}: ${n.message}`)));
    } catch (err) {
      fill(body);
      fill(notes);
      if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.status === 404 ? "No tickets for this order." : err.message;
    }
  }

  const form = h("form", { class: "order-lookup" }, input, h("button", { type: "submit", class: "button" }, "Show tickets"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    current = input.value.trim();
    show();
  });
  const section = h("section", { class: "card", "aria-labelledby": "order-title" },
    h("h2", { id: "order-title" }, "An order's tickets"),
    form, error,
    h("div", { class: "table-wrap" }, h("table", { class: "jobs", id: "order-table" },
      h("thead", {}, h("tr", {}, ["Station", "Ticket", "Lines", "State", "Details", ""].map((c) => h("th", { scope: "col" }, c)))), body)),
    notes);
  return { section, refresh: show };
}
