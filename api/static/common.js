// Shared by the review (/review) and knowledge (/kb) pages: DOM building, the API client, the page frame
// (top bar and key dialog), notices. Loaded before each page's own script; plain JS, no build step.
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

// ---------- the page frame: the same top bar and key dialog on every page ----------

// A page writes <header class="topbar" data-title="…" data-key-hint="…"> holding only its own buttons;
// the brand, the connection state, the key button and the key dialog are added here, before the page's
// script runs (both scripts are deferred: the document is parsed by then).
const t = (text, vars) => globalThis.rdI18n ? rdI18n.t(text, vars) : text;

function buildFrame() {
  const bar = $("header.topbar");
  if (!bar) return;
  const own = [...bar.childNodes];
  // The language switch: Simplified Chinese by default, English as an option (i18n.js keeps the choice).
  const langSel = h("select", { id: "lang-select", class: "lang-select", "aria-label": "Language / 语言" },
    h("option", { value: "zh", text: "简体中文" }), h("option", { value: "en", text: "English" }));
  langSel.value = globalThis.rdI18n?.lang || "zh";
  langSel.addEventListener("change", () => globalThis.rdI18n?.setLang(langSel.value));
  bar.replaceChildren(
    h("div", { class: "brand" },
      h("span", { class: "logo", "aria-hidden": "true" }, "rd"),
      h("span", { class: "brand-name" }, "replydesk"),
      h("span", { class: "brand-sep", "aria-hidden": "true" }, "/"),
      h("h1", { "data-i18n": true, text: bar.dataset.title || "" })),
    h("div", { class: "topbar-right" },
      h("span", { id: "conn", class: "conn", "data-state": "idle", "aria-live": "polite" }, t("Not connected")),
      own,
      globalThis.rdI18n ? langSel : null,
      h("button", { id: "key-btn", type: "button", class: "btn ghost", "data-i18n": true }, "API key")));
  const hint = bar.dataset.keyHint ? ` (${t(bar.dataset.keyHint)})` : "";
  const intro = h("p", { class: "muted" }, `${t("Paste your API key")}${hint}. `
    + `${t("It stays in this browser tab only (session storage) and is sent with each request as")} `,
    h("code", { text: "Authorization: Bearer …" }));
  document.body.append(h("dialog", { id: "key-dialog", "aria-labelledby": "key-title" },
    h("form", { id: "key-form", method: "dialog" },
      h("h2", { id: "key-title", "data-i18n": true, text: "Connect to replydesk" }),
      intro,
      h("label", { for: "key-input", "data-i18n": true, text: "API key" }),
      h("input", { id: "key-input", name: "key", type: "password", autocomplete: "off", spellcheck: "false",
        required: true }),
      h("p", { id: "key-error", class: "field-error", role: "alert", hidden: true }),
      h("div", { class: "dialog-buttons" }, h("button", { type: "submit", class: "btn primary", "data-i18n": true, text: "Save key" })))));
}

buildFrame();
globalThis.rdI18n?.translateTree(document);
document.title = document.title.replace(/^[^·]+/, (m) => `${t(m.trim())} `);

function setConn(name, text) {
  const el = $("#conn");
  el.dataset.state = name;
  el.textContent = text;
}

// ---------- notices: kind ok | warn | error; successes fade, warnings and errors stay until dismissed ----------

function notify(kind, title, lines = [], { sticky = kind !== "ok", key } = {}) {
  const box = $("#notices");
  if (key) box.querySelector(`[data-key="${key}"]`)?.remove();
  const note = h("div", { class: `notice notice-${kind}`, role: kind === "ok" ? "status" : "alert", "data-key": key },
    h("div", { class: "notice-body" },
      h("strong", { text: title }),
      lines.length ? h("ul", {}, lines.map((l) => h("li", {}, l))) : null),
    h("button", { type: "button", class: "btn ghost small", "aria-label": t("Dismiss") }, t("Dismiss")));
  note.querySelector("button").addEventListener("click", () => note.remove());
  box.prepend(note);
  if (!sticky) setTimeout(() => note.remove(), 5000);
  return note;
}

function clearNotice(key) {
  $(`#notices [data-key="${key}"]`)?.remove();
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

// Wire the key button and dialog: a typed key becomes state.key (kept for the tab), then `start` runs.
// Without a key the dialog cannot be dismissed.
function wireKey(state, start) {
  $("#key-form").addEventListener("submit", (ev) => {
    const key = $("#key-input").value.trim();
    if (!key) {
      ev.preventDefault();
      return;
    }
    state.key = key;
    sessionStorage.setItem(KEY_STORAGE, key);
    start();
  });
  $("#key-dialog").addEventListener("cancel", (ev) => { if (!state.key) ev.preventDefault(); });
  $("#key-btn").addEventListener("click", () => askForKey(""));
}

// A 401/403: forget the key and ask again, showing why.
function forgetKey(state, message) {
  state.key = "";
  sessionStorage.removeItem(KEY_STORAGE);
  setConn("error", t("Not connected"));
  askForKey(message);
}
