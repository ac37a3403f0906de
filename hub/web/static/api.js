// REST calls to the hub with a timeout, the session token, and one place that handles 401.

const TOKEN_KEY = "chit.token";
const TIMEOUT_MS = 30000;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

/** Register what happens when the hub says the token is no good (back to the login page). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Call the hub; resolves to the parsed JSON body, rejects with an ApiError. */
export async function api(path, { method = "GET", body, timeoutMs = TIMEOUT_MS } = {}) {
  const headers = { Accept: "application/json" };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const timedOut = err && err.name === "TimeoutError";
    throw new ApiError(0, timedOut ? "timeout" : "network",
      timedOut ? "The hub did not answer in time." : "Cannot reach the hub; check the connection.");
  }
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  const error = new ApiError(response.status, data?.code || "http_error",
    data?.message || `The hub answered ${response.status}.`);
  if (response.status === 401 && token) onUnauthorized(error);
  throw error;
}

/** The claims inside a JWT (unverified: only to label the page; the hub verifies). */
export function claimsOf(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch {
    return null;
  }
}
