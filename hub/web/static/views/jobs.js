// Recent print jobs of a branch, newest first; rows change state live from printJobUpdate.
// A finished job has a Reprint button: it prints a new job marked COPY. An "unconfirmed" job
// (the printer may or may not have printed it) is never printed again by itself, so its row
// says so and its Reprint button is the prominent one.

import { api, ApiError } from "../api.js";
import { announce, clockSeconds, fill, h } from "../dom.js";
import { jobLabel, jobTone } from "../status.js";

const COLUMNS = ["Time", "Printer", "State", "Tries", "Details", ""];
const CELLS = [null, null, null, null, "job-details", "job-action"];
const FINAL = new Set(["printed", "failed", "expired", "unconfirmed", "sent_to_printer"]);
const UNCONFIRMED_HINT = "It may or may not have printed: check the printer, and reprint it if it is missing.";

export class JobTable {
  /** A table drawing into ``container``; ``printerName(id)`` labels printers. */
  constructor(container, printerName) {
    this.container = container;
    this.printerName = printerName;
    this.rows = new Map();
    this.body = h("tbody", {});
    this.empty = h("p", { class: "empty" }, "No print jobs yet.");
    fill(container, this.empty, h("div", { class: "table-wrap" },
      h("table", { class: "jobs", id: "jobs-table" },
        h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))), this.body)));
  }

  /** Replace the rows with a fresh fetch (newest first). */
  load(jobs) {
    this.rows.clear();
    fill(this.body, jobs.map((job) => this.draw(job)));
    this.empty.hidden = jobs.length > 0;
  }

  /** Apply a printJobUpdate; false when the job is not shown (the caller refetches). */
  update(event) {
    const row = this.rows.get(event.jobId);
    if (!row) return false;
    this.draw({ ...row.job, state: event.state, error: event.error || null, updatedAt: event.at || row.job.updatedAt });
    return true;
  }

  draw(job) {
    let row = this.rows.get(job.jobId);
    if (!row) {
      row = h("tr", { dataset: { jobId: job.jobId } }, COLUMNS.map((_, i) => h("td", { class: CELLS[i] })));
      this.rows.set(job.jobId, row);
    }
    row.job = job;
    row.dataset.state = job.state;
    const [time, printer, state, tries, details, action] = row.children;
    time.textContent = clockSeconds(job.createdAt);
    printer.textContent = this.printerName(job.printerId);
    fill(state, h("span", { class: "badge job-badge", dataset: { tone: jobTone(job.state) } }, jobLabel(job.state)));
    tries.textContent = String(job.attempts ?? "");
    fill(details, ...describe(job));
    fill(action, FINAL.has(job.state) ? this.reprintButton(job, details) : null);
    return row;
  }

  /** The Reprint button of a finished job. */
  reprintButton(job, details) {
    const tone = job.state === "unconfirmed" ? "button primary" : "button";
    const button = h("button", { type: "button", class: `${tone} reprint-button` }, "Reprint");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const copy = await api(`/api/v1/jobs/${encodeURIComponent(job.jobId)}/reprint`, { method: "POST" });
        announce(`Reprint queued (job ${copy.jobId.slice(0, 8)}).`);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 401)) {
          details.append(h("span", { class: "reprint-error" }, ` Reprint failed: ${err.message}`));
        }
      } finally {
        button.disabled = false;
      }
    });
    return button;
  }
}

/** What the Details cell says: the error, or what kind of job it is (and what it copies). */
function describe(job) {
  const parts = [];
  if (job.copyOf) parts.push(h("span", { class: "copy-mark" }, `Copy of ${job.copyOf.slice(0, 8)}. `));
  if (job.error) parts.push(job.error.message);
  else parts.push(`${job.kind}${job.copies > 1 ? ` × ${job.copies}` : ""}`);
  if (job.state === "unconfirmed" && !job.error) parts.push(h("span", { class: "unconfirmed-hint" }, UNCONFIRMED_HINT));
  return parts;
}
