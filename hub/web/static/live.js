// The live connection: socket.io on /printing-ws, reconnecting on its own, fanning events out
// to whichever page is showing. Pages refetch on "connect", so a hub restart loses nothing.

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
  socket = window.io("/printing-ws", {
    auth: { token },
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
  for (const event of EVENTS) socket.on(event, (payload) => dispatch(event, payload));
}

/** Close the connection (sign-out). */
export function disconnect() {
  if (socket) socket.disconnect();
  socket = null;
  listeners.clear();
  document.getElementById("live").hidden = true;
}

/** Whether the socket is connected now. */
export function connected() {
  return Boolean(socket && socket.connected);
}

/** Listen to a live event (or "connect"); returns a function that stops listening. */
export function on(event, fn) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(fn);
  return () => listeners.get(event)?.delete(fn);
}
