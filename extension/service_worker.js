// The extension's service worker: the only context that holds the API key and talks to the API.
//
// Extension pages (side panel, options) ask it to call the API over chrome.runtime messaging; content
// scripts may only say "this tab is a chat" and "the reply was sent". Requests go out from this
// extension's origin, which the API's REPLYDESK_CORS_ORIGINS must list (the id is pinned by "key" in
// manifest.json, so that origin is the same on every machine).
import { call, streamDraft } from "./api.js";

const MENU_ID = "rd-draft-selection";
const EXTENSION_PAGE = chrome.runtime.getURL("");

// Content scripts run inside web pages' renderer processes: keep chrome.storage.local (the key) out of
// their reach. Chrome versions without per-area access levels reject this; they expose nothing we need.
chrome.storage.local.setAccessLevel?.({ accessLevel: "TRUSTED_CONTEXTS" }).catch(() => {});

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: MENU_ID, title: "Draft a reply", contexts: ["selection"] }, () => {
    void chrome.runtime.lastError; // "duplicate id" after an update: the menu already exists
  });
});

// The toolbar button opens the side panel beside the current tab.
chrome.sidePanel?.setPanelBehavior({ openPanelOnActionClick: true }).catch(() => {});

// "Draft a reply" on selected text, on any page: the panel picks the text up from session storage.
chrome.contextMenus.onClicked.addListener((info, tab) => {
  if (info.menuItemId !== MENU_ID || !tab) return;
  // sidePanel.open must run inside the click's user gesture, i.e. before anything is awaited.
  chrome.sidePanel.open({ windowId: tab.windowId }).catch(() => {});
  chrome.storage.session.set({
    selection: { text: (info.selectionText || "").slice(0, 2000), tabId: tab.id, url: tab.url || "", at: Date.now() },
  });
});

const fromExtensionPage = (sender) => sender.id === chrome.runtime.id && (sender.url || "").startsWith(EXTENSION_PAGE);
const enc = encodeURIComponent;

// The API calls extension pages may ask for, by name: no page can make the worker call an arbitrary URL.
const OPS = {
  check: () => ["GET", "/v1/drafts?limit=1"],
  orders: () => ["GET", "/v1/orders"],
  desk: () => ["GET", "/v1/shop/desk"],
  approve: (m) => ["POST", `/v1/drafts/${enc(m.id)}/approve`, m.body || {}],
  checkText: (m) => ["POST", `/v1/drafts/${enc(m.id)}/check`, { text: String(m.text ?? "") }],
  reject: (m) => ["POST", `/v1/drafts/${enc(m.id)}/reject`, m.body],
  inserted: (m) => ["POST", `/v1/drafts/${enc(m.id)}/inserted`],
  sent: (m) => ["POST", `/v1/drafts/${enc(m.id)}/sent`],
};

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  if (msg?.type === "rd:hello" && sender.tab && sender.id === chrome.runtime.id) {
    // Remember the chat tab the agent looked at last: the panel opened as a tab falls back to it.
    chrome.storage.session.set({ chatTab: { tabId: sender.tab.id, adapter: String(msg.adapter || ""), at: Date.now() } });
    return false;
  }
  if (msg?.type !== "rd:api" || !fromExtensionPage(sender) || !OPS[msg.op]) return false;
  const [method, path, body] = OPS[msg.op](msg);
  call(method, path, body).then(
    (data) => reply({ ok: true, data }),
    (err) => reply({ ok: false, error: { message: err.message, code: err.code, status: err.status, details: err.details } }),
  );
  return true; // reply comes later
});

// A draft streams over a port: {start: {order_id, message, context}} in, {event, data} out.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== "rd:draft" || !fromExtensionPage(port.sender)) {
    port.disconnect();
    return;
  }
  const abort = new AbortController();
  let open = true;
  port.onDisconnect.addListener(() => { open = false; abort.abort(); });
  const post = (event, data) => { if (open) port.postMessage({ event, data }); };
  port.onMessage.addListener((msg) => {
    if (!msg?.start) return;
    streamDraft(msg.start, post, abort.signal)
      .catch((err) => {
        if (err.name !== "AbortError") post("error", { code: err.code || "network_error", message: err.message });
      })
      .finally(() => post("end", null));
  });
});
