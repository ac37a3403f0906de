// The Node socket.io 4.8 server that bench/fanout.py and bench/idle_memory.py measure the hub
// against: namespace /orders, HS256 token in auth.token (verified with node:crypto), clients
// joined to "company:<companyId>", and POST /broadcast {room, event, payload, count} emitting
// `count` events to the room, as the hub's batch publish route does. Defaults as shipped
// (perMessageDeflate off). Loopback only. Usage: node server.mjs PORT SECRET
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { Server } from "socket.io";

const [port, secret] = [Number(process.argv[2]), process.argv[3]];

function verify(token) {
  const [head, body, sig] = String(token || "").split(".");
  if (!sig) return null;
  const want = createHmac("sha256", secret).update(`${head}.${body}`).digest();
  const got = Buffer.from(sig, "base64url");
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  const claims = JSON.parse(Buffer.from(body, "base64url").toString());
  return claims.exp && claims.exp * 1000 < Date.now() ? null : claims;
}

const http = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/broadcast") {
    let raw = "";
    req.on("data", (chunk) => (raw += chunk));
    req.on("end", () => {
      const { room, event, payload, count } = JSON.parse(raw);
      const target = io.of("/orders").to(room);
      for (let i = 0; i < count; i++) target.emit(event, { ...payload, seq: i });
      res.writeHead(202, { "content-type": "application/json" }).end('{"ok":true}');
    });
    return;
  }
  if (req.url === "/healthz") return res.writeHead(200).end("ok");
  if (req.url === "/memory") {
    return res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({ ...process.memoryUsage(), clients: io.engine.clientsCount }));
  }
});
const io = new Server(http);
io.of("/orders").use((socket, next) => {
  const claims = verify(socket.handshake.auth && socket.handshake.auth.token);
  if (!claims) return next(new Error("unauthorized"));
  socket.data.company = claims.companyId;
  next();
});
io.of("/orders").on("connection", (socket) => socket.join(`company:${socket.data.company}`));
http.listen(port, "127.0.0.1", () => console.log("listening"));
