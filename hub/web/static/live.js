// The live connection: socket.io on /printing-ws, reconnecting on its own, fanning events out
// to whichever page is showing. On every reconnect it sends the last stream offset it saw
// (streams.js), so the hub replays the jobs, statuses and test results missed meanwhile; pages
// reload over REST only on "reload" (the hub could not replay: history lost or too old).

import { StreamTracker } from "./streams.js";

const EVENTS = [
  "printerStatusUpdate",
  "printer:discovered",
  "printer:removed",
  "agent:status",
  "printer:test:result",
  "printJobUpdate",
  "newAlert",
];
const TOKEN_REFUSALS = new Set([
  "token_missing", "token_malformed", "token_expired", "token_signature",
  "token_algorithm", "token_claims", "token_unknown_key", "token_not_yet_valid",
  "token_invalid", "role_not_allowed",
]);

let socket = null;
let tracker = null;
const listeners = new Map();

function dispatch(event, payload) {
  for (const fn of listeners.get(event) || []) fn(payload);
}

function showState(text, tone) {
  const el = document.getElementById("live");
  el.hidden = false;
  el.textContent = text;
  el.dataset.tone = tone;
}

/** Open the connection (once per sign-in); onRefused runs when the hub rejects the token. */
export function connect(token, onRefused) {
  if (socket) return;
  tracker = new StreamTracker({
    token,
    onReload: (status) => dispatch("reload", status),
    onRecovered: (status) => dispatch("recovered", status),
  });
  socket = window.io("/printing-ws", {
    auth: tracker.auth,
    timeout: 10000,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  showState("Connecting…", "wait");
  socket.on("connect", () => { showState("Live", "ok"); dispatch("connect"); });
  socket.on("disconnect", () => showState("Reconnecting…", "wait"));
  socket.on("connect_error", (err) => {
    if (TOKEN_REFUSALS.has(err?.data?.code)) {
      onRefused(err.data);
      return;
    }
    showState("Offline, retrying…", "bad");
    // A refusal by the server stops socket.io's own retries; a restarting hub is worth a retry.
    if (!socket.active) setTimeout(() => socket && socket.connect(), 3000);
  });
  tracker.attach(socket);
  for (const event of EVENTS) socket.on(event, (payload) => dispatch(event, payload));
}

/** Close the connection (sign-out). */
export function disconnect() {
  if (socket) socket.disconnect();
  socket = null;
  tracker = null;
  listeners.clear();
  document.getElementById("live").hidden = true;
}

/** Whether the socket is connected now. */
export function connected() {
  return Boolean(socket && socket.connected);
}

/** The last stream offset seen (null before the first), for diagnostics and tests. */
export function offset() {
  return tracker ? tracker.offset : null;
}

/** The socket.io socket (null when signed out), for diagnostics and tests. */
export function current() {
  return socket;
}

/**
 * Listen to a live event, or to "connect", "reload" (state must be refetched over REST) and
 * "recovered" (everything missed was replayed); returns a function that stops listening.
 */
export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
  return () => listeners.get(event)?.delete(fn);
}
