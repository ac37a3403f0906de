// The signed-in session: token in sessionStorage, sign-in/out, the header's labels.

import { claimsOf, getToken, setToken } from "./api.js";
import { fill, h } from "./dom.js";
import * as live from "./live.js";

let notice = "";

/** Forget the session and show the login page with a reason. */
export function signOut(reason = "") {
  setToken(null);
  live.disconnect();
  notice = reason;
  if (location.hash === "#/login") window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = "#/login";
}

/** Start a session with a token (from the login form or pasted). */
export function signIn(token) {
  setToken(token);
  location.hash = "#/branches";
}

/** The message to show once on the next page (why the user was signed out). */
export function takeNotice() {
  const message = notice;
  notice = "";
  return message;
}

/** The caller's claims, for labels and defaults (the hub checks them on every call). */
export function claims() {
  return claimsOf(getToken() || "") || {};
}

/** Set the breadcrumb trail: [[label, href], ...]; the last one is the current page. */
export function crumbs(items) {
  fill(document.getElementById("crumbs"), items.map(([label, href], i) =>
    href && i < items.length - 1 ? h("a", { href }, label) : h("span", { "aria-current": "page" }, label)));
}

/** Show who is signed in, and the sign-out button. */
export function showWho() {
  const token = getToken();
  const c = claims();
  document.getElementById("signout").hidden = !token;
  const fleet = document.getElementById("nav-fleet");
  fleet.hidden = !token;
  if (location.hash.startsWith("#/fleet")) fleet.setAttribute("aria-current", "page");
  else fleet.removeAttribute("aria-current");
  const dashboard = document.getElementById("nav-dashboard");
  dashboard.hidden = !token || !["admin", "manager", "operator"].includes(c.role);
  const updates = document.getElementById("nav-updates");
  updates.hidden = !token || !["admin", "manager", "operator"].includes(c.role);
  if (location.hash === "#/updates") updates.setAttribute("aria-current", "page");
  else updates.removeAttribute("aria-current");
  if (location.hash === "#/dashboard") dashboard.setAttribute("aria-current", "page");
  else dashboard.removeAttribute("aria-current");
  const where = [c.companyId, c.branchId].filter(Boolean).join(" / ");
  document.getElementById("who").textContent = token ? [c.role, where].filter(Boolean).join(" · ") : "";
}
