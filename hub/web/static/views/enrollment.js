// Enrolment codes for a roll-out: one code, many tills of a branch, up to N times until expiry.

import { api, ApiError } from "../api.js";
import { announce, clock, fill, h } from "../dom.js";

const EXPIRIES = [["1 day", 86400], ["7 days", 7 * 86400], ["30 days", 30 * 86400], ["90 days", 90 * 86400]];
const STATES = { active: ["Active", "ok"], used_up: ["Used up", "warn"], expired: ["Expired", "bad"], revoked: ["Revoked", "bad"] };

function codeRow(code, reload, error) {
  const [label, tone] = STATES[code.state] || [code.state, "info"];
  const revoke = code.state === "active"
    ? h("button", { class: "button danger enrol-revoke", type: "button", "aria-label": `Revoke enrolment code created ${clock(code.createdAt)}`,
      onclick: async () => {
        try {
          await api(`/api/v1/enrollment-codes/${encodeURIComponent(code.codeId)}/revoke`, { method: "POST" });
          announce("Enrolment code revoked");
          reload();
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
        }
      } }, "Revoke")
    : null;
  return h("li", { class: "enrol-row", dataset: { codeId: code.codeId, state: code.state } },
    h("span", { class: "badge", dataset: { tone } }, label),
    h("span", { class: "enrol-uses" }, `${code.uses} of ${code.maxUses} used`),
    h("span", { class: "muted" }, `expires ${new Date(code.expiresAt).toLocaleString()} · by ${code.createdBy}`),
    revoke);
}

function commands(code) {
  const hub = location.origin;
  return h("div", { class: "stack" },
    h("p", { class: "code enrol-code", id: "enrol-code" }, code),
    h("p", {}, "Silent install (Debian/Ubuntu): ", h("code", {}, `chit-agent enroll --hub ${hub} --code ${code}`)),
    h("p", {}, "Windows: ", h("code", {}, `chit-agent-setup.exe /S /HUB=${hub} /ENROLL=${code}`)),
    h("p", {}, "Or a preseed file (/etc/chit-agent/enroll.toml, %ProgramData%\\Chit\\enroll.toml):"),
    h("pre", { class: "preseed", id: "enrol-preseed" }, `hub = "${hub}"\ncode = "${code}"\n`),
    h("p", { class: "muted" }, "The code is shown only now. Each till that uses it gets its own credential, which you can revoke on its own."));
}

/** The enrolment card of a branch's agents page. */
export function enrollmentPanel(branchId) {
  const out = h("div", { class: "pairing-out", "aria-live": "polite", id: "enrolment" });
  const error = h("p", { class: "error", role: "alert", id: "enrol-error" });
  const list = h("ul", { class: "enrol-list", id: "enrol-codes" });
  const uses = h("input", { id: "enrol-max-uses", type: "number", min: "1", max: "10000", value: "50", required: true });
  const expiry = h("select", { id: "enrol-expires-in" }, EXPIRIES.map(([label, seconds]) => h("option", { value: String(seconds) }, label)));
  expiry.value = String(7 * 86400);
  const button = h("button", { class: "button primary", type: "submit", id: "create-enrol-code" }, "Create enrolment code");
  const reload = async () => {
    try {
      const { enrollmentCodes } = await api(`/api/v1/enrollment-codes?branchId=${encodeURIComponent(branchId)}`);
      fill(list, enrollmentCodes.length ? enrollmentCodes.map((c) => codeRow(c, reload, error)) : h("li", { class: "empty" }, "No enrolment codes yet."));
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
    }
  };
  const form = h("form", { class: "enrol-form", id: "enrol-form" },
    h("div", { class: "field" }, h("label", { for: "enrol-max-uses" }, "Tills (uses)"), uses),
    h("div", { class: "field" }, h("label", { for: "enrol-expires-in" }, "Valid for"), expiry),
    button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    error.textContent = "";
    try {
      const body = { branchId, maxUses: Number(uses.value), expiresIn: Number(expiry.value) };
      const answer = await api("/api/v1/enrollment-codes", { method: "POST", body });
      fill(out, commands(answer.code));
      announce(`Enrolment code created for ${answer.maxUses} tills`);
      await reload();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) error.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  const card = h("section", { class: "card", "aria-labelledby": "enrol-title" },
    h("h2", { id: "enrol-title" }, "Roll out to many tills"),
    h("p", { class: "muted" }, "Create one enrolment code for this branch and put it in the installer's command line or a preseed file. It works for as many tills as you allow, until it expires."),
    form, error, out, h("h3", {}, "Enrolment codes"), list);
  return { card, reload };
}
