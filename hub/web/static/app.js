// The page shell: hash routes, the session check, the live connection.

import { getToken, whenUnauthorized } from "./api.js";
import * as live from "./live.js";
import { crumbs, showWho, signOut, takeNotice } from "./session.js";
import { renderAgents } from "./views/agents.js";
import { renderBranch } from "./views/branch.js";
import { renderBranches } from "./views/branches.js";
import { renderDashboard } from "./views/dashboard.js";
import { renderFleet } from "./views/fleet.js";
import { renderLogin } from "./views/login.js";
import { renderStations } from "./views/stations.js";
import { renderUpdates } from "./views/updates.js";

const ROUTES = [
  [/^#\/login$/, renderLogin],
  [/^#\/branches$/, renderBranches],
  [/^#\/branches\/([^/]+)$/, renderBranch],
  [/^#\/branches\/([^/]+)\/agents$/, renderAgents],
  [/^#\/branches\/([^/]+)\/stations$/, renderStations],
  [/^#\/dashboard$/, renderDashboard],
  [/^#\/fleet(?:\?.*)?$/, renderFleet],
  [/^#\/updates$/, renderUpdates],
];

let cleanup = null;
let current = 0;

async function route() {
  const token = getToken();
  const hash = location.hash || "#/branches";
  if (!token && hash !== "#/login") {
    location.hash = "#/login";
    return;
  }
  if (token) live.connect(token, (refusal) => signOut(`Signed out: ${refusal.message}`));
  showWho();
  if (cleanup) cleanup();
  cleanup = null;
  const seq = ++current;
  // Each page renders into its own container, so a slow page left behind cannot draw here.
  const main = document.getElementById("main");
  const view = document.createElement("div");
  view.className = "view";
  main.replaceChildren(view);
  const found = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!found) {
    location.hash = "#/branches";
    return;
  }
  const params = hash.match(found[0]).slice(1).map(decodeURIComponent);
  crumbs([]);
  const stop = (await found[1](view, params, takeNotice())) || null;
  if (seq !== current) {
    if (stop) stop();
    return;
  }
  cleanup = stop;
  const target = view.querySelector("[autofocus]") || view.querySelector("h1");
  if (target) {
    if (target.tagName === "H1") target.tabIndex = -1;
    target.focus({ preventScroll: true });
  }
}

whenUnauthorized(() => signOut("Your session has ended. Please sign in again."));
document.getElementById("signout").addEventListener("click", () => signOut("You are signed out."));
window.addEventListener("hashchange", route);
route();
