// Printer tests from the browser: POST with our own correlation id, result shown in the row.

import { api, ApiError } from "../api.js";
import { announce, clockSeconds, fill, h } from "../dom.js";
import { printerBadge, testFailure } from "../status.js";

/** A random UUID (crypto.randomUUID needs a secure context; a LAN hub may be plain http). */
export function newCorrelationId() {
  if (window.crypto.randomUUID) return window.crypto.randomUUID();
  const b = window.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function correlation(id) {
  return h("span", { class: "correlation" }, "id ", h("code", {}, id));
}

/** Draw a finished test's result into a printer row. */
export function showResult(row, result) {
  row.dataset.lastTest = result.correlationId;
  const box = row.querySelector(".test-result");
  const state = result.status ? printerBadge(result.status, true).label : null;
  const duration = result.durationMs != null ? `${result.durationMs} ms` : null;
  const facts = [state, duration, clockSeconds(result.completedAt)].filter(Boolean).join(" · ");
  if (result.success) {
    // A printer that reports no status took the page; nobody can say it printed.
    const done = result.status?.state === "no_status" ? "sent" : "printed";
    box.dataset.outcome = "success";
    fill(box, h("strong", { class: "ok-text" }, `✓ Test page ${done}`), h("span", {}, facts),
      correlation(result.correlationId));
    announce(`${row.printer?.name || "Printer"}: test page ${done}`);
    return;
  }
  const error = result.error || { code: "failed", message: "The test failed." };
  const failure = testFailure(error);
  box.dataset.outcome = "failure";
  fill(box, h("strong", { class: "bad-text" }, `✗ ${failure.headline}`),
    failure.advice ? h("span", { class: "advice" }, failure.advice) : null,
    h("span", {}, [facts, error.code].filter(Boolean).join(" · ")), correlation(result.correlationId),
    failure.detail ? h("details", { class: "test-detail" }, h("summary", {}, "Details"), failure.detail) : null);
  announce(`${row.printer?.name || "Printer"}: test failed, ${failure.headline}`);
}

function showPending(row, correlationId) {
  const box = row.querySelector(".test-result");
  box.dataset.outcome = "pending";
  fill(box, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", {}, "Printing a test page…"),
    correlation(correlationId));
}

/** Run a test on a printer and show how it went (the hub bounds the wait). */
export async function runTest(printer, row) {
  const button = row.querySelector(".test-button");
  const correlationId = newCorrelationId();
  button.disabled = true;
  button.textContent = "Testing…";
  row.dataset.pendingTest = correlationId;
  showPending(row, correlationId);
  try {
    const path = `/api/v1/printers/${encodeURIComponent(printer.printerId)}/test?correlationId=${correlationId}`;
    const answer = await api(path, { method: "POST" });
    showResult(row, answer.result);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return;
    const code = err instanceof ApiError ? err.code : "failed";
    showResult(row, { correlationId, success: false, durationMs: null, error: { code, message: err.message } });
  } finally {
    delete row.dataset.pendingTest;
    button.disabled = false;
    button.textContent = "Test";
  }
}
