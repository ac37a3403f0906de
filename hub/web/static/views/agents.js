// A branch's agents: pair a new one with a one-time code, enrol many with an enrolment code,
// collect an agent's diagnostics, revoke one that should not print.

import { api, ApiError } from "../api.js";
import { ago, announce, clock, fill, h } from "../dom.js";
import * as live from "../live.js";
import { crumbs } from "../session.js";
import { branchTabs, debounce } from "./branch.js";
import { diagnosticsControls } from "./diagnostics.js";
import { enrollmentPanel } from "./enrollment.js";
import { agentUpdates } from "./updates.js";

/** Ask for confirmation in the page's modal dialog; resolves true when confirmed. */
function confirmAction(title, text, action) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = action;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

function countdown(expiresAt) {
  const seconds = Math.max(0, Math.round((new Date(expiresAt).getTime() - Date.now()) / 1000));
  if (!seconds) return "expired: create a new code";
  return `expires at ${clock(expiresAt)}, in ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function pairingPanel(branchId, ticker) {
  const out = h("div", { class: "pairing-out", "aria-live": "polite", id: "pairing" });
  const button = h("button", { class: "button primary", type: "button", id: "create-code" }, "Create pairing code");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const answer = await api("/api/v1/pairing-codes", { method: "POST", body: { branchId } });
      const expiry = h("p", { class: "muted expiry" }, countdown(answer.expiresAt));
      fill(out, h("p", { class: "code", id: "pairing-code" }, answer.code), expiry,
        h("p", {}, "On the till, run: ", h("code", {}, `chit-agent pair ${answer.code} --hub ${location.origin}`)));
      ticker.set(() => { expiry.textContent = countdown(answer.expiresAt); });
      announce(`Pairing code ${answer.code} created`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) fill(out, h("p", { class: "error", role: "alert" }, err.message));
    } finally {
      button.disabled = false;
    }
  });
  return h("section", { class: "card", "aria-labelledby": "pair-title" },
    h("h2", { id: "pair-title" }, "Add an agent"),
    h("p", { class: "muted" }, "Create a one-time code and enter it in the Chit agent on the restaurant's PC. It works once, for ten minutes."),
    button, out);
}

async function revoke(agent, refresh, error) {
  const name = agent.hostname || agent.agentId;
  const ok = await confirmAction(`Revoke ${name}?`,
    `The agent ${agent.agentId} is disconnected now and can no longer connect or print until it is paired again.`,
    "Revoke agent");
  if (!ok) return;
  try {
    await api(`/api/v1/agents/${encodeURIComponent(agent.agentId)}/revoke`, { method: "POST" });
    announce(`${name} revoked`);
    error.textContent = "";
    refresh();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
  }
}

function agentRow(agent, refresh, error, diagnostics) {
  const seen = agent.online ? "connected now" : `last seen ${clock(agent.lastSeen)} (${ago(agent.lastSeen)})`;
  return h("li", { class: "agent-row", dataset: { agentId: agent.agentId } },
    h("div", { class: "printer-id" },
      h("span", { class: "printer-name" }, agent.hostname || agent.agentId),
      h("span", { class: "muted" }, [agent.agentId, agent.os, agent.version && `v${agent.version}`].filter(Boolean).join(" · "))),
    h("span", { class: "badge", dataset: { tone: agent.online ? "ok" : "bad" } }, agent.online ? "Online" : "Offline"),
    h("span", { class: "muted" }, `${seen} · ${agent.printers.length} printer${agent.printers.length === 1 ? "" : "s"}`),
    diagnostics(agent),
    h("button", { class: "button danger revoke-button", type: "button", "aria-label": `Revoke ${agent.hostname || agent.agentId}`,
      onclick: () => revoke(agent, refresh, error) }, "Revoke"),
    agentUpdates(agent.agentId));
}

/** The agents page of a branch. */
export async function renderAgents(main, [branchId]) {
  const base = `#/branches/${encodeURIComponent(branchId)}`;
  crumbs([["Branches", "#/branches"], [branchId, base], ["Agents", null]]);
  let tick = () => {};
  const timer = setInterval(() => tick(), 1000);
  const list = h("ul", { class: "agent-list", id: "agents" });
  const diagnostics = diagnosticsControls();
  const error = h("p", { class: "error", role: "alert" });
  const load = async () => {
    try {
      const { agents } = await api(`/api/v1/agents?branchId=${encodeURIComponent(branchId)}`);
      fill(list, agents.length ? agents.map((a) => agentRow(a, load, error, diagnostics)) : h("li", { class: "empty" }, "No agents paired yet."));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
    }
  };
  const enrolment = enrollmentPanel(branchId);
  main.replaceChildren(
    h("div", { class: "page-head" }, h("h1", {}, `Agents of ${branchId}`), branchTabs(branchId, "agents")),
    error,
    pairingPanel(branchId, { set: (fn) => { tick = fn; } }),
    enrolment.card,
    h("section", { class: "card", "aria-labelledby": "agents-title" }, h("h2", { id: "agents-title" }, "Agents"), list));
  const refresh = debounce(load, 300);
  const stops = [live.on("connect", refresh), live.on("agent:status", (e) => e.branchId === branchId && refresh())];
  await Promise.all([load(), enrolment.reload()]);
  return () => { clearInterval(timer); stops.forEach((stop) => stop()); };
}
