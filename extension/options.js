// Options: the API URL and key, saved in chrome.storage.local (read only by the service worker), then
// a test call through the worker, so a wrong key or a missing CORS entry shows up here, not mid-chat.
import { DEFAULT_API_URL } from "./api.js";

const $ = (sel) => document.querySelector(sel);
const { t } = globalThis.rdI18n;
rdI18n.translateTree(document);
$("#lang-select").value = rdI18n.lang;
$("#lang-select").addEventListener("change", () => rdI18n.setLang($("#lang-select").value));
const origin = chrome.runtime.getURL("").replace(/\/$/, "");

function show(kind, text) {
  const el = $("#status");
  el.hidden = false;
  el.className = `notice notice-${kind}`;
  el.textContent = text;
}

async function load() {
  const { apiUrl, apiKey } = await chrome.storage.local.get(["apiUrl", "apiKey"]);
  $("#api-url").value = apiUrl || DEFAULT_API_URL;
  $("#api-key").value = apiKey || "";
  $("#cors-line").textContent = `REPLYDESK_CORS_ORIGINS='["${origin}"]' replydesk serve`;
}

$("#options-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const apiUrl = $("#api-url").value.trim().replace(/\/+$/, "");
  const apiKey = $("#api-key").value.trim();
  await chrome.storage.local.set({ apiUrl, apiKey });
  show("info", t("Saved. Testing the connection…"));
  const res = await chrome.runtime.sendMessage({ type: "rd:api", op: "check" });
  if (res?.ok) show("ok", t("Saved. Connected to {url}: the key works.", { url: apiUrl }));
  else show("error", `${t("Saved, but the test failed")}: ${res?.error?.message || t("no answer from the service worker")}`);
});

load();
