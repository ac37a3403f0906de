// What printer states, job states and test errors mean to a manager: label, tone, what to do.

const PRINTER_STATES = {
  online: { label: "Ready", tone: "ok", hint: "" },
  paper_near_end: { label: "Paper low", tone: "warn", hint: "Replace the paper roll soon." },
  offline: { label: "Offline", tone: "bad", hint: "Check the printer's power and cable." },
  cover_open: { label: "Cover open", tone: "bad", hint: "Close the printer cover." },
  paper_out: { label: "Paper out", tone: "bad", hint: "Load paper." },
  error: { label: "Error", tone: "bad", hint: "Switch the printer off and on again." },
  unknown: { label: "No reply", tone: "muted", hint: "Check that the printer is on and connected." },
  queue_ready: {
    label: "Ready (print queue)", tone: "ok",
    hint: "Status from the computer's print queue: the printer itself does not report paper or cover.",
  },
  no_status: {
    label: "Prints; no status", tone: "info",
    hint: "Prints; the printer does not report status. Check its paper yourself: jobs show as sent, not printed.",
  },
};

/** Badge label, tone and advice for a printer, given whether its agent is online. */
export function printerBadge(status, agentOnline) {
  if (!agentOnline) {
    return { label: "Unreachable", tone: "muted", hint: "Its agent is offline: check the till's PC." };
  }
  return PRINTER_STATES[status?.state] || PRINTER_STATES.unknown;
}

const JOB_STATES = {
  queued: "muted", sent: "info", printing: "info", printed: "ok", failed: "bad", expired: "warn",
  unconfirmed: "warn", sent_to_printer: "info",
};

const JOB_LABELS = { sent_to_printer: "sent (no status)" };

/** The words shown for a print job state ("sent (no status)" for a printer that reports none). */
export function jobLabel(state) {
  return JOB_LABELS[state] || state;
}

/** The tone of a print job state's badge. */
export function jobTone(state) {
  return JOB_STATES[state] || "muted";
}

const ERROR_HINTS = {
  agent_offline: "Check that the till's PC is on and the Chit agent is running.",
  timeout: "The agent did not answer in time. Try again; if it persists, restart the agent.",
  unknown_printer: "This printer is no longer known; reload the page.",
  not_found: "This printer is no longer known; reload the page.",
  network: "Check this device's network connection, then try again.",
};

/** Advice to add to a failed test's message (empty when the message already says what to do). */
export function errorHint(error) {
  return ERROR_HINTS[error?.code] || "";
}

// What happened, in words, for failures whose own message may be an agent's technical detail.
// Codes not listed keep their message: it already says what to do (USB permissions, paper out).
const FAILURES = {
  printer_not_found: ["The printer did not answer at its address.",
    "Check that it is switched on and connected to the network, then try again."],
  printer_not_responding: ["The printer did not answer.", "Check that it is switched on and connected."],
  printer_offline: ["The printer is offline.", "Check its power, its cable and its error light."],
  connection_closed: ["The printer dropped the connection.", "Check that it is still switched on, then try again."],
  connect_timeout: ["The printer did not answer in time.", "Check that it is switched on and on the same network."],
  write_timeout: ["The printer stopped taking data.", "Check it for paper, an open cover or an error light."],
  io_error: ["The agent could not reach the printer.", "Check the printer's network connection."],
  transport_error: ["The agent could not talk to the printer.", "Switch the printer off and on, then try again."],
};

/** A failed test for people: ``{headline, advice, detail}``; detail is the raw message, if any. */
export function testFailure(error) {
  const known = FAILURES[error?.code];
  const message = error?.message || "The test failed.";
  if (!known) return { headline: message, advice: errorHint(error), detail: "" };
  return { headline: known[0], advice: known[1], detail: message === known[0] ? "" : message };
}
