// Shared by the review (/review) and knowledge (/kb) pages: DOM building and the API client.
// Loaded before each page's own script; plain JS, no build step.
"use strict";

const KEY_STORAGE = "replydesk.apiKey";   // one key for every page of this tab, never beyond it

const $ = (sel, root = document) => root.querySelector(sel);

// Build an element; strings become text nodes, so data can never become markup.
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

class ApiError extends Error {
  constructor(status, code, message, field, details) {
    super(message);
    Object.assign(this, { status, code, field, details: details || [] });
  }
}

// An API client that sends the page's key (read at each call) and turns error bodies into ApiError.
function makeApi(getKey, networkMessage) {
  return async function api(path, { method = "GET", body } = {}) {
    const headers = { Authorization: `Bearer ${getKey()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network", networkMessage);
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const err = (data && data.error) || {};
      throw new ApiError(res.status, err.code || "http_error", err.message || `${res.status} ${res.statusText}`,
        err.field, err.details);
    }
    return data;
  };
}

// ---------- the key: asked once, kept in sessionStorage ----------

function askForKey(message) {
  const dlg = $("#key-dialog");
  const err = $("#key-error");
  err.hidden = !message;
  err.textContent = message || "";
  $("#key-input").value = "";
  if (!dlg.open) dlg.showModal();
  $("#key-input").focus();
}

// The submit handler of the key dialog: the typed key becomes state.key, then `start` runs.
function keySubmit(state, start) {
  return (ev) => {
    const key = $("#key-input").value.trim();
    if (!key) {
      ev.preventDefault();
      return;
    }
    state.key = key;
    sessionStorage.setItem(KEY_STORAGE, key);
    start();
  };
}

// A 401/403: forget the key and ask again, showing why (each page defines setConn).
function forgetKey(state, message) {
  state.key = "";
  sessionStorage.removeItem(KEY_STORAGE);
  setConn("error", "Not connected");
  askForKey(message);
}
