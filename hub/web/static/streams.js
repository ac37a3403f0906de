// Chit streams for the official socket.io-client (v4): keep the last stream offset a socket
// saw and send it on every (re)connect, so the hub replays exactly what was missed, or says
// that the page must reload its state over REST. No DOM, no globals: the web UI uses it, and so
// can any frontend (docs/operations.md, "Streams and replay").
//
//   import { StreamTracker } from "/static/streams.js";
//   const tracker = new StreamTracker({ token, onReload: () => reloadEverything() });
//   const socket = io("https://hub.example/orders", { auth: tracker.auth });
//   tracker.attach(socket);
//   socket.on("newOrder", (order) => show(order));   // replayed ones too, in order, once each
//
// The hub adds `_offset` ({stream, epoch, seq}) to every streamed event and sends
// `stream:status` ({recovered, offset, code, replayed}) once a socket is connected (after any
// replay). One tracker per socket (per namespace): each namespace replays its own events.

export const OFFSET_FIELD = "_offset";
export const STATUS_EVENT = "stream:status";

/** Whether offset `a` is past offset `b` (a different stream or epoch always replaces). */
export function isNewer(a, b) {
  if (!a) return false;
  if (!b || a.stream !== b.stream || a.epoch !== b.epoch) return true;
  return a.seq > b.seq;
}

export class StreamTracker {
  /**
   * token: the JWT, or a function returning the current one.
   * since: an offset to start from (for example one kept in sessionStorage), or null.
   * onReload(status): the hub could not replay (recovered: false); reload state over REST.
   * onRecovered(status): everything missed was replayed (it arrived before this call).
   */
  constructor({ token, since = null, onReload = () => {}, onRecovered = () => {} } = {}) {
    this.token = token;
    this.offset = since;
    this.onReload = onReload;
    this.onRecovered = onRecovered;
    this.auth = (cb) => {
      const current = typeof this.token === "function" ? this.token() : this.token;
      cb(this.offset ? { token: current, since: this.offset } : { token: current });
    };
  }

  /** Follow a socket's events (before they reach its other listeners). */
  attach(socket) {
    socket.onAny((event, payload) => {
      if (event === STATUS_EVENT) return;
      const offset = payload && payload[OFFSET_FIELD];
      if (isNewer(offset, this.offset)) this.offset = offset;
    });
    socket.on(STATUS_EVENT, (status) => {
      this.offset = status.offset;
      if (status.recovered) this.onRecovered(status);
      else this.onReload(status);
    });
    return socket;
  }
}
