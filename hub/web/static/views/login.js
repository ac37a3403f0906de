// Sign in with a username and password, or with a token issued by the platform.

import { api, ApiError, claimsOf } from "../api.js";
import { h } from "../dom.js";
import { signIn } from "../session.js";

function field(id, label, attrs) {
  return h("div", { class: "field" }, h("label", { for: id }, label), h("input", { id, name: id, ...attrs }));
}

async function submitPassword(event, error) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button");
  button.disabled = true;
  error.textContent = "";
  try {
    const answer = await api("/api/v1/auth/login", {
      method: "POST",
      body: { username: form.username.value, password: form.password.value },
    });
    signIn(answer.token);
  } catch (err) {
    error.textContent = err instanceof ApiError ? err.message : String(err);
    button.disabled = false;
    form.password.select();
  }
}

function submitToken(event, error) {
  event.preventDefault();
  const token = event.currentTarget.token.value.trim();
  if (!claimsOf(token)) {
    error.textContent = "That does not look like a token (three parts separated by dots).";
    return;
  }
  signIn(token);
}

/** The login page. */
export function renderLogin(main, _params, notice) {
  const error = h("p", { class: "error", role: "alert", id: "login-error" }, notice || "");
  const passwordForm = h("form", { class: "stack", id: "login-form", onsubmit: (e) => submitPassword(e, error) },
    field("username", "Username", { autocomplete: "username", required: true, autofocus: true }),
    field("password", "Password", { type: "password", autocomplete: "current-password", required: true }),
    h("button", { class: "button primary", type: "submit" }, "Sign in"));
  const tokenForm = h("form", { class: "stack", id: "token-form", onsubmit: (e) => submitToken(e, error) },
    h("div", { class: "field" },
      h("label", { for: "token" }, "Token from your platform"),
      h("textarea", { id: "token", name: "token", rows: 3, required: true, spellcheck: "false" })),
    h("button", { class: "button", type: "submit" }, "Use token"));
  main.replaceChildren(h("section", { class: "card login" },
    h("h1", {}, "Sign in to Chit"),
    h("p", { class: "muted" }, "Watch and test your restaurants' printers."),
    error,
    passwordForm,
    h("details", { class: "alt" }, h("summary", {}, "Sign in with a platform token"), tokenForm)));
}
