// One branch: its printers grouped by agent with live status and Test buttons, and its jobs.

import { api, ApiError, claimsOf, getToken } from "../api.js";
import { h } from "../dom.js";
import * as live from "../live.js";
import { crumbs } from "../session.js";
import { JobTable } from "./jobs.js";
import { PrinterBoard } from "./printers.js";
import { TestList } from "./tests.js";
import { runTest, showResult } from "./testing.js";

const JOB_LIMIT = 20;

/** Tabs shared by the branch's pages. */
export function branchTabs(branchId, current) {
  const base = `#/branches/${encodeURIComponent(branchId)}`;
  const tab = (label, href, key) =>
    h("a", { class: "tab", href, "aria-current": current === key ? "page" : null }, label);
  return h("nav", { class: "tabs", "aria-label": "Branch" },
    tab("Printers & jobs", base, "printers"), tab("Agents", `${base}/agents`, "agents"),
    tab("Stations", `${base}/stations`, "stations"));
}

/** Run ``work`` at most once per ``ms``, however often it is asked for. */
export function debounce(work, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(work, ms);
  };
}

function layout(branchId) {
  const printers = h("div", { class: "agent-groups", id: "printers" });
  const jobs = h("div", { id: "jobs" });
  const tests = h("div", { id: "tests" });
  const error = h("p", { class: "error", role: "alert" });
  return {
    printers, jobs, tests, error,
    page: [
      h("div", { class: "page-head" }, h("h1", {}, `Branch ${branchId}`), branchTabs(branchId, "printers")),
      error,
      h("section", { "aria-labelledby": "printers-title" }, h("h2", { id: "printers-title" }, "Printers"), printers),
      h("section", { "aria-labelledby": "jobs-title" }, h("h2", { id: "jobs-title" }, "Recent print jobs"),
        h("p", { class: "muted section-note" }, "Orders and other jobs. Test pages are listed under Test prints below."),
        jobs),
      h("section", { "aria-labelledby": "tests-title" }, h("h2", { id: "tests-title" }, "Test prints"), tests),
    ],
  };
}

function wire(branchId, board, table, refreshAgents, refreshJobs, refreshTests) {
  const stops = [
    // Missed jobs, statuses and test results are replayed on reconnect; presence (agents
    // online, printers found) is not streamed, so the agents are fetched again each time.
    live.on("recovered", () => { refreshAgents(); refreshTests(); }),
    live.on("reload", () => { refreshAgents(); refreshJobs(); refreshTests(); }),
    live.on("agent:status", (e) => {
      if (board.knows(e.agentId)) board.presence(e);
      else if (e.branchId === branchId) refreshAgents();
    }),
    live.on("printer:discovered", (e) => (board.knows(e.agentId) ? board.discovered(e) : refreshAgents())),
    live.on("printer:removed", (e) => board.removed(e.agentId, e.printerId)),
    live.on("printerStatusUpdate", (e) => board.status(e) || (board.knows(e.agentId) && refreshAgents())),
    live.on("printJobUpdate", (e) => board.row(e.printerId) && (table.update(e) || refreshJobs())),
    live.on("printer:test:result", (e) => {
      const row = board.row(e.printerId);
      if (row) refreshTests();
      // Results of tests started elsewhere show too; our own pending test draws its own answer.
      if (row && row.dataset.pendingTest !== e.correlationId && row.dataset.lastTest !== e.correlationId) {
        showResult(row, e);
      }
    }),
  ];
  return () => stops.forEach((stop) => stop());
}

/** The branch page. */
export async function renderBranch(main, [branchId]) {
  crumbs([["Branches", "#/branches"], [branchId, null]]);
  const view = layout(branchId);
  main.replaceChildren(...view.page);
  const role = claimsOf(getToken() || "")?.role;
  const board = new PrinterBoard(view.printers, branchId, runTest, ["manager", "admin"].includes(role));
  const printerName = (id) => board.row(id)?.printer?.name || id;
  const table = new JobTable(view.jobs, printerName);
  const tests = new TestList(view.tests, printerName);
  const guard = (work) => async () => {
    try {
      await work();
      view.error.textContent = "";
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) view.error.textContent = err.message;
    }
  };
  const query = `branchId=${encodeURIComponent(branchId)}`;
  const loadAgents = guard(async () => board.load((await api(`/api/v1/agents?${query}`)).agents));
  const loadJobs = guard(async () => table.load((await api(`/api/v1/jobs?${query}&limit=${JOB_LIMIT}`)).jobs));
  const loadTests = guard(async () => tests.load((await api(`/api/v1/tests?${query}&limit=${JOB_LIMIT}`)).tests));
  const stop = wire(branchId, board, table, debounce(loadAgents, 300), debounce(loadJobs, 300),
    debounce(loadTests, 300));
  await loadAgents();
  await Promise.all([loadJobs(), loadTests()]);
  // Keep "offline since … (3 min ago)" honest without any event.
  const ticker = setInterval(() => board.agents.forEach((_, id) => board.drawAgent(id)), 30000);
  return () => { stop(); clearInterval(ticker); };
}
