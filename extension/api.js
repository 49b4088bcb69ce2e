// The replydesk HTTP API, as the service worker calls it. Only the service worker calls these functions
// (options.js takes just the default URL): it is the one context that reads the API key and sends it,
// so the key never travels to a web page or a content script.

export const DEFAULT_API_URL = "http://127.0.0.1:8000";

export async function getSettings() {
  const { apiUrl, apiKey } = await chrome.storage.local.get(["apiUrl", "apiKey"]);
  return { apiUrl: (apiUrl || DEFAULT_API_URL).replace(/\/+$/, ""), apiKey: apiKey || "" };
}

export class ApiError extends Error {
  constructor(message, { status = 0, code = "network_error", details } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;   // e.g. the claim check's violations on an override_required
  }
}

async function request(path, { method = "GET", body, signal } = {}) {
  const { apiUrl, apiKey } = await getSettings();
  if (!apiKey) throw new ApiError("No API key yet: set it in the extension's options.", { code: "no_key" });
  const headers = { Authorization: `Bearer ${apiKey}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(apiUrl + path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", cache: "no-store",
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    // A fetch that fails outright is the server being down or CORS refusing our origin.
    const origin = chrome.runtime.getURL("").replace(/\/$/, "");
    throw new ApiError(`Could not reach ${apiUrl}. Is the server running, and does REPLYDESK_CORS_ORIGINS `
      + `list ${origin}?`);
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`;
  let code = "http_error";
  let details;
  try {
    const err = (await res.json()).error;
    if (err?.message) message = err.message;
    if (err?.code) code = err.code;
    details = err?.details;
  } catch { /* not JSON: keep the status line */ }
  return new ApiError(message, { status: res.status, code, details });
}

export async function call(method, path, body) {
  const res = await request(path, { method, body });
  return res.status === 204 ? null : res.json();
}

// POST /v1/drafts/stream: calls onEvent(name, data) for each SSE event (template, token, final, error).
export async function streamDraft(body, onEvent, signal) {
  const res = await request("/v1/drafts/stream", { method: "POST", body, signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const ev = parseEvent(block);
      if (ev) onEvent(ev.name, ev.data);
    }
  }
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (!data.length) return null;
  try {
    return { name, data: JSON.parse(data.join("\n")) };
  } catch {
    return { name: "error", data: { code: "bad_event", message: "the server sent an unreadable event" } };
  }
}
