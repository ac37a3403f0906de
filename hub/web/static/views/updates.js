// Agent updates: an operator promotes signed versions ring by ring; a company picks its ring;
// each agent shows its ring and the update steps it reported (the agents page embeds that).

import { api, ApiError } from "../api.js";
import { announce, clock, fill, h } from "../dom.js";
import { claims, crumbs } from "../session.js";

const RINGS = ["canary", "early", "stable"];
const STEP_TEXT = {
  downloading: "Downloading",
  verified: "Verified (signed build)",
  waiting_for_jobs: "Waiting for prints to finish",
  installed: "Installed; restarting",
  confirmed: "Running and connected",
  rolled_back: "Rolled back",
  refused: "Refused",
  failed: "Failed",
};

function shown(err, out) {
  if (!(err instanceof ApiError && err.status === 401)) fill(out, h("p", { class: "error", role: "alert" }, err.message));
}

function ringSelect(id, value, withDefault) {
  const select = h("select", { id },
    withDefault ? h("option", { value: "" }, "Company's ring") : null,
    RINGS.map((r) => h("option", { value: r }, r)));
  select.value = value ?? "";
  return select;
}

/** One agent's updates: its ring (editable by managers and admins) and its latest steps. */
export function agentUpdates(agentId) {
  const body = h("div", { class: "agent-updates" });
  const details = h("details", { class: "agent-updates-box" }, h("summary", {}, "Updates"), body);
  const path = `/api/v1/agents/${encodeURIComponent(agentId)}`;
  const draw = (view) => {
    const editable = ["manager", "admin"].includes(claims().role);
    const select = ringSelect(`ring-${agentId}`, view.ringSource === "agent" ? view.ring : "", true);
    select.disabled = !editable;
    select.addEventListener("change", async () => {
      try {
        draw(await api(`${path}/update-ring`, { method: "PUT", body: { ring: select.value || null } }));
        announce(`${agentId} now on the ${select.value || "company's"} ring`);
      } catch (err) { shown(err, body); }
    });
    const target = view.targetVersion ? `should run v${view.targetVersion}` : "nothing promoted to this ring yet";
    fill(body,
      h("p", {}, h("label", { for: select.id }, "Ring "), select,
        h("span", { class: "muted" }, ` ${view.ring} (${view.ringSource}) · runs v${view.version ?? "?"} · ${target}`)),
      view.steps.length
        ? h("ol", { class: "update-steps" }, view.steps.map((s) => h("li", { dataset: { step: s.step } },
          `${clock(s.at)} · v${s.version}: ${STEP_TEXT[s.step] ?? s.step}`, s.detail ? h("span", { class: "muted" }, ` (${s.detail})`) : null)))
        : h("p", { class: "muted" }, "No update steps reported yet."));
  };
  details.addEventListener("toggle", async () => {
    if (!details.open) return;
    try { draw(await api(`${path}/updates`)); } catch (err) { shown(err, body); }
  });
  return details;
}

function releasesCard(data, out, reload) {
  const byRing = Object.fromEntries(data.rings.map((r) => [r.ring, r]));
  const versions = [...new Set(data.builds.map((b) => b.version))];
  const rows = RINGS.map((ring) => {
    const select = h("select", { id: `promote-${ring}` }, versions.map((v) => h("option", { value: v }, v)));
    if (byRing[ring]) select.value = byRing[ring].version;
    const promote = h("button", { class: "button primary", type: "button", id: `promote-${ring}-button` }, `Promote to ${ring}`);
    promote.addEventListener("click", async () => {
      try {
        await api(`/api/v1/agent-releases/rings/${ring}`, { method: "PUT", body: { version: select.value } });
        announce(`${ring} now runs ${select.value}`);
        reload();
      } catch (err) { shown(err, out); }
    });
    const now = byRing[ring] ? `runs v${byRing[ring].version} since ${clock(byRing[ring].promotedAt)} (${byRing[ring].promotedBy})` : "nothing promoted";
    return h("li", { class: "ring-row", dataset: { ring } }, h("strong", {}, ring), " ", h("span", { class: "muted" }, now), " ",
      versions.length ? [select, promote] : null);
  });
  return h("section", { class: "card", "aria-labelledby": "rings-title" }, h("h2", { id: "rings-title" }, "Rings"),
    h("p", { class: "muted" }, "Promote a version to canary first, then early, then stable. Agents install only signed, newer builds and roll back by themselves when a new version does not connect."),
    h("ul", { class: "ring-list" }, rows),
    h("h2", {}, "Signed builds"),
    data.builds.length
      ? h("ul", { class: "build-list" }, data.builds.map((b) => h("li", {}, `v${b.version} · ${b.platform} · ${b.length} bytes · sha256 ${b.sha256.slice(0, 16)}…`)))
      : h("p", { class: "muted" }, "No builds yet: chit-hub agent-release add dist/chit-agent-<version>-<platform>.tar.gz"));
}

function companyCard(ring, out) {
  const select = ringSelect("company-ring", ring, false);
  select.disabled = !["manager", "admin"].includes(claims().role);
  select.addEventListener("change", async () => {
    try {
      await api("/api/v1/update-ring", { method: "PUT", body: { ring: select.value } });
      announce(`The company's agents now follow the ${select.value} ring`);
    } catch (err) { shown(err, out); }
  });
  return h("section", { class: "card", "aria-labelledby": "company-ring-title" }, h("h2", { id: "company-ring-title" }, "Your company's ring"),
    h("p", {}, h("label", { for: "company-ring" }, "Agents without a ring of their own follow "), select));
}

/** ``#/updates``: rings and builds (operators promote), and the company's ring. */
export async function renderUpdates(main) {
  crumbs([["Updates", null]]);
  const out = h("div", { "aria-live": "polite" });
  const load = async () => {
    const parts = [h("h1", {}, "Agent updates"), out];
    try {
      if (["operator", "admin", "manager"].includes(claims().role)) parts.push(releasesCard(await api("/api/v1/agent-releases"), out, load));
      if (claims().companyId) parts.push(companyCard((await api("/api/v1/update-ring")).ring, out));
    } catch (err) { shown(err, out); }
    main.replaceChildren(...parts);
  };
  await load();
}
