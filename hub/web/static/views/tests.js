// Recent test prints of a branch, newest first: test pages are not print jobs, so they get
// their own list (beside "Recent print jobs"), each marked with how it went.

import { clockSeconds, fill, h } from "../dom.js";
import { testFailure } from "../status.js";

const COLUMNS = ["Time", "Printer", "Test page", "Details"];
const OUTCOME = {
  pending: { label: "Printing…", tone: "info" },
  printed: { label: "Printed", tone: "ok" },
  failed: { label: "Failed", tone: "bad" },
};

export class TestList {
  /** A table drawing into ``container``; ``printerName(id)`` labels printers. */
  constructor(container, printerName) {
    this.printerName = printerName;
    this.body = h("tbody", {});
    this.empty = h("p", { class: "empty", id: "tests-empty" }, "No test pages printed yet. Press Test on a printer.");
    fill(container, this.empty, h("div", { class: "table-wrap" },
      h("table", { class: "jobs", id: "tests-table" },
        h("thead", {}, h("tr", {}, COLUMNS.map((c) => h("th", { scope: "col" }, c)))), this.body)));
  }

  /** Replace the rows with a fresh fetch (newest first). */
  load(tests) {
    fill(this.body, tests.map((test) => this.row(test)));
    this.empty.hidden = tests.length > 0;
  }

  row(test) {
    const outcome = OUTCOME[test.state] || OUTCOME.pending;
    const details = test.state === "failed"
      ? testFailure(test.error).headline
      : [test.durationMs != null ? `${test.durationMs} ms` : "", "test page"].filter(Boolean).join(" · ");
    return h("tr", { dataset: { correlationId: test.correlationId, state: test.state } },
      h("td", {}, clockSeconds(test.completedAt || test.requestedAt)),
      h("td", {}, this.printerName(test.printerId)),
      h("td", {}, h("span", { class: "badge job-badge", dataset: { tone: outcome.tone } }, outcome.label)),
      h("td", {}, details));
  }
}
