// Connects with the official socket.io-client to one namespace with a token, prints
// "connected" and then the first event of the given name as JSON, and exits.
// Usage: node receive_event.mjs URL NAMESPACE TOKEN EVENT
import { io } from "socket.io-client";

const [url, namespace, token, eventName] = process.argv.slice(2);
const socket = io(url + namespace, { auth: { token }, transports: ["websocket"], reconnection: false });
const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 15000);

socket.on("connect", () => console.log("connected"));
socket.on("connect_error", (err) => {
  console.log(JSON.stringify({ connectError: err.message, data: err.data }));
  clearTimeout(timer);
  process.exit(1);
});
socket.on(eventName, (payload) => {
  console.log(JSON.stringify({ event: eventName, payload }));
  clearTimeout(timer);
  socket.close();
  process.exit(0);
});
