// The official socket.io-client driven through our browser helper (hub/web/static/streams.js):
// prints one JSON line per thing that happens and obeys commands read from stdin:
//   connect URL   open the namespace on URL (any hub instance), sending the tracker's since
//   disconnect    close the socket (the tracker keeps its offset)
//   exit          leave
// Usage: node replay_client.mjs NAMESPACE TOKEN
import { readFileSync } from "node:fs";
import readline from "node:readline";
import { io } from "socket.io-client";

// streams.js is a browser ES module outside any "type": "module" package: load it as one.
const source = readFileSync(new URL("../../hub/web/static/streams.js", import.meta.url), "utf8");
const { StreamTracker } = await import("data:text/javascript," + encodeURIComponent(source));

const [namespace, token] = process.argv.slice(2);
const out = (line) => console.log(JSON.stringify(line));
const tracker = new StreamTracker({
  token,
  onReload: (status) => out({ reload: status }),
  onRecovered: (status) => out({ recovered: status }),
});
let socket = null;

function open(url) {
  const since = tracker.offset;
  socket = io(url + namespace, {
    auth: tracker.auth,
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  tracker.attach(socket);
  socket.on("connect", () => out({ connected: url, since }));
  socket.on("connect_error", (err) => out({ connectError: err.message, data: err.data }));
  socket.on("disconnect", (reason) => out({ disconnected: reason }));
  socket.onAny((event, payload) => {
    if (event !== "stream:status") out({ event, payload });
  });
}

const timer = setTimeout(() => { out({ timeout: true }); process.exit(2); }, 120000);
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [command, argument] = line.trim().split(/\s+/);
  if (command === "connect") open(argument);
  else if (command === "disconnect") socket.disconnect();
  else if (command === "exit") {
    clearTimeout(timer);
    if (socket) socket.close();
    process.exit(0);
  }
});
out({ ready: true });
