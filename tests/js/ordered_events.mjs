// Connects with the official socket.io-client over the given transports, prints
// "connected <sid> <transport>", then prints the orderIds of the first COUNT newOrder events
// as one JSON line (with the length of each payload's notes), and exits.
// Usage: node ordered_events.mjs URL NAMESPACE TOKEN COUNT TRANSPORTS(comma-separated)
import { io } from "socket.io-client";

const [url, namespace, token, count, transports] = process.argv.slice(2);
const socket = io(url + namespace, {
  auth: { token }, transports: transports.split(","), reconnection: false,
});
const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 20000);
const got = [];
const notes = [];

socket.on("connect", () => {
  const say = () => console.log(`connected ${socket.id} ${socket.io.engine.transport.name}`);
  // With polling first, wait for the upgrade when one was asked for.
  if (transports.includes("websocket") && socket.io.engine.transport.name !== "websocket") {
    socket.io.engine.once("upgrade", say);
  } else {
    say();
  }
});
socket.on("connect_error", (err) => {
  console.log(JSON.stringify({ connectError: err.message }));
  process.exit(1);
});
socket.on("newOrder", (payload) => {
  got.push(payload.orderId);
  notes.push((payload.notes || "").length);
  if (got.length === Number(count)) {
    console.log(JSON.stringify({ orders: got, notes, transport: socket.io.engine.transport.name }));
    clearTimeout(timer);
    socket.close();
    process.exit(0);
  }
});
