// The REST API as the console calls it: the session cookie goes by itself, the CSRF token
// of the login goes with every state change, a lost session sends the browser to the login.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function setCsrfToken(token) { csrfToken = token || null; }

export function toLogin() {
  location.replace(`/login?next=${encodeURIComponent(location.pathname + location.hash)}`);
}

export function headersFor(method, body) {
  const headers = body === undefined ? {} : { "Content-Type": "application/json" };
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  return headers;
}

/** The JSON answer of `method path`, or an ApiError with the server's own message. */
export async function api(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headersFor(method, body),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, error.message);
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "not logged in");
  }
  const text = response.status === 204 ? "" : await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) throw new ApiError(response.status, (data && data.error) || `HTTP ${response.status}`);
  return data;
}

/** A DELETE that still leaves when the page is being closed. */
export function leave(path) {
  fetch(path, { method: "DELETE", keepalive: true, headers: headersFor("DELETE") }).catch(() => {});
}
