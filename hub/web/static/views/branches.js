// The branches of the manager's company, each with a summary of its agents and printers.

import { api, ApiError } from "../api.js";
import { fill, h } from "../dom.js";
import { claims, crumbs } from "../session.js";
import { printerBadge } from "../status.js";

function summary(agents) {
  const printers = agents.flatMap((a) => a.printers.map((p) => printerBadge(p.status, a.online)));
  const attention = printers.filter((b) => b.tone !== "ok").length;
  const online = agents.filter((a) => a.online).length;
  return [
    `${online} of ${agents.length} agent${agents.length === 1 ? "" : "s"} online`,
    `${printers.length} printer${printers.length === 1 ? "" : "s"}`,
    attention ? `${attention} need${attention === 1 ? "s" : ""} attention` : "all ready",
  ];
}

/** Branch ids: those the store knows, the token's own, and any an agent reports from. */
function branchIds(branches, agents) {
  const ids = new Map(branches.map((b) => [b.branchId, b.name]));
  const own = claims().branchId;
  if (own && !ids.has(own)) ids.set(own, own);
  if (!own) for (const a of agents) if (a.branchId && !ids.has(a.branchId)) ids.set(a.branchId, a.branchId);
  return [...ids.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

function branchCard([id, name], agents) {
  const mine = agents.filter((a) => a.branchId === id);
  const [agentsLine, printersLine, attention] = summary(mine);
  return h("li", {},
    h("a", { class: "card branch-card", href: `#/branches/${encodeURIComponent(id)}` },
      h("span", { class: "branch-name" }, name),
      name !== id ? h("span", { class: "muted mono" }, id) : null,
      h("span", { class: "muted" }, `${agentsLine} · ${printersLine}`),
      h("span", { class: attention === "all ready" ? "ok-text" : "warn-text" }, attention)));
}

/** Company-wide managers and admins may add a branch (then pair its first agent there). */
function canAddBranch() {
  const { role, branchId } = claims();
  return !branchId && (role === "manager" || role === "admin");
}

async function addBranch(event, error, main) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button");
  button.disabled = true;
  error.textContent = "";
  try {
    const body = { branchId: form.branchId.value.trim() };
    if (form.branchName.value.trim()) body.name = form.branchName.value.trim();
    await api("/api/v1/branches", { method: "POST", body });
    await renderBranches(main);
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : String(err);
    button.disabled = false;
  }
}

function addBranchForm(main) {
  const error = h("p", { class: "error", role: "alert", id: "add-branch-error" });
  return h("details", { class: "card add-branch" },
    h("summary", {}, "Add a branch"),
    h("form", { class: "stack", id: "add-branch-form", onsubmit: (e) => addBranch(e, error, main) },
      h("div", { class: "field" }, h("label", { for: "branchId" }, "Branch id"),
        h("input", { id: "branchId", name: "branchId", required: true, pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,127}",
          title: "Letters, digits, dot, dash and underscore; unique across the platform" })),
      h("div", { class: "field" }, h("label", { for: "branchName" }, "Name (optional)"),
        h("input", { id: "branchName", name: "branchName", maxlength: 200 })),
      error,
      h("button", { class: "button primary", type: "submit" }, "Add branch")));
}

/** The branches page. */
export async function renderBranches(main) {
  crumbs([["Branches", null]]);
  main.replaceChildren(h("h1", {}, "Branches"), h("p", { class: "muted" }, "Loading…"));
  try {
    const [{ branches }, { agents }] = await Promise.all([api("/api/v1/branches"), api("/api/v1/agents")]);
    const ids = branchIds(branches, agents);
    // fill, not replaceChildren: it skips the form's null for those who cannot add branches.
    fill(main, h("h1", {}, "Branches"),
      ids.length
        ? h("ul", { class: "branch-list", id: "branches" }, ids.map((entry) => branchCard(entry, agents)))
        : h("p", { class: "empty" }, "No branches yet. Add one, then pair its first agent from its Agents tab."),
      canAddBranch() ? addBranchForm(main) : null);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    main.replaceChildren(h("h1", {}, "Branches"), h("p", { class: "error", role: "alert" }, err.message));
  }
}
