// The branches of the manager's company, each with a summary of its agents and printers.

import { api, ApiError } from "../api.js";
import { h } from "../dom.js";
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

/** The branches page. */
export async function renderBranches(main) {
  crumbs([["Branches", null]]);
  main.replaceChildren(h("h1", {}, "Branches"), h("p", { class: "muted" }, "Loading…"));
  try {
    const [{ branches }, { agents }] = await Promise.all([api("/api/v1/branches"), api("/api/v1/agents")]);
    const ids = branchIds(branches, agents);
    main.replaceChildren(h("h1", {}, "Branches"),
      ids.length
        ? h("ul", { class: "branch-list", id: "branches" }, ids.map((entry) => branchCard(entry, agents)))
        : h("p", { class: "empty" }, "No branches yet. A branch appears when you pair its first agent."));
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    main.replaceChildren(h("h1", {}, "Branches"), h("p", { class: "error", role: "alert" }, err.message));
  }
}
