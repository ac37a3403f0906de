// Recent print jobs of a branch, newest first; rows change state live from printJobUpdate.

import { clockSeconds, fill, h } from "../dom.js";
import { jobTone } from "../status.js";

const COLUMNS = ["Time", "Printer", "State", "Tries", "Details"];

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
      row = h("tr", { dataset: { jobId: job.jobId } }, COLUMNS.map(() => h("td", {})));
      this.rows.set(job.jobId, row);
    }
    row.job = job;
    const [time, printer, state, tries, details] = row.children;
    time.textContent = clockSeconds(job.createdAt);
    printer.textContent = this.printerName(job.printerId);
    fill(state, h("span", { class: "badge job-badge", dataset: { tone: jobTone(job.state) } }, job.state));
    tries.textContent = String(job.attempts ?? "");
    details.textContent = job.error ? job.error.message : `${job.kind}${job.copies > 1 ? ` × ${job.copies}` : ""}`;
    return row;
  }
}
