// "Collect diagnostics" on an agent: ask the hub, wait for the agent's bundle, offer the download.

import { api, ApiError } from "../api.js";
import { announce, fill, h } from "../dom.js";
import { claims } from "../session.js";

const POLL_MS = 1000;
const GIVE_UP_MS = 150000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function untilDone(id) {
  const started = Date.now();
  for (;;) {
    const found = await api(`/api/v1/diagnostics/${encodeURIComponent(id)}`);
    if (found.state !== "requested" || Date.now() - started > GIVE_UP_MS) return found;
    await sleep(POLL_MS);
  }
}

async function downloadLink(found, name) {
  const body = await api(`/api/v1/diagnostics/${encodeURIComponent(found.diagnosticsId)}/bundle`);
  const blob = new Blob([JSON.stringify(body, null, 2)], { type: "application/json" });
  const stamp = found.requestedAt.replace(/[-:]/g, "").slice(0, 15);
  return h("a", { class: "button diagnostics-download", href: URL.createObjectURL(blob),
    download: `chit-diagnostics-${found.agentId}-${stamp}.json`, "aria-label": `Download diagnostics of ${name}` }, "Download");
}

/** The button and its outcome for one agent: {el, update(agent)} (kept across list renders). */
export function diagnosticsControl(agent) {
  const name = agent.hostname || agent.agentId;
  let busy = false;
  const out = h("span", { class: "diagnostics-out", "aria-live": "polite" });
  const button = h("button", { class: "button diagnostics-button", type: "button", disabled: !agent.online,
    title: agent.online ? "Ask the agent for its logs, settings, USB devices and printer status" : "The agent is offline",
    "aria-label": `Collect diagnostics of ${name}` }, "Collect diagnostics");
  button.addEventListener("click", async () => {
    button.disabled = busy = true;
    fill(out, h("span", { class: "spinner", "aria-hidden": "true" }), " Collecting…");
    try {
      const asked = await api(`/api/v1/agents/${encodeURIComponent(agent.agentId)}/diagnostics`, { method: "POST" });
      const found = await untilDone(asked.diagnosticsId);
      if (found.state === "ready") {
        fill(out, await downloadLink(found, name));
        announce(`Diagnostics of ${name} are ready to download`);
      } else {
        fill(out, h("span", { class: "error", role: "alert" }, found.error || "The agent did not send its diagnostics."));
      }
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) fill(out, h("span", { class: "error", role: "alert" }, err.message));
    } finally {
      busy = false;
      button.disabled = !agent.online;
    }
  });
  const el = h("div", { class: "diagnostics" }, button, out);
  const update = (latest) => {
    agent = latest;
    button.disabled = busy || !agent.online;
    button.title = agent.online ? "Ask the agent for its logs, settings, USB devices and printer status" : "The agent is offline";
  };
  return { el, update };
}

/** One control per agent id, reused by every render of a list (a download link survives). */
export function diagnosticsControls() {
  const kept = new Map();
  // Bundles hold logs and settings: managers and admins only (the hub checks it too).
  if (!["manager", "admin"].includes(claims().role)) return () => null;
  return (agent) => {
    let control = kept.get(agent.agentId);
    if (!control) kept.set(agent.agentId, (control = diagnosticsControl(agent)));
    control.update(agent);
    return control.el;
  };
}
