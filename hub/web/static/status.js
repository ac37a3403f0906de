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
  unconfirmed: "warn",
};

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
