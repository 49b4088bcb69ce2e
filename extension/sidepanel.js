// The side panel: read the buyer's message, stream a draft, and let the agent approve, edit or reject it.
//
// It never holds the API key: API calls go to the service worker by name (chrome.runtime messaging),
// and the chat page is only touched through content.js (read / insert). Buyer text is untrusted, so
// everything is rendered with textContent, never as HTML.
import { guardBlock, fillActions, fillCitations, fillFacts, h } from "./render.js";

const $ = (sel) => document.querySelector(sel);
const { t } = globalThis.rdI18n;
rdI18n.translateTree(document);
const ORDER_ID = /T\d{4,}|\d{12,20}/; // demo ids (T1003) and Taobao's long numeric order ids

const state = {
  tabId: null,     // the chat tab this panel reads from
  draftTab: null,  // the tab the current draft answers: approval inserts there, even if the agent moved on
  context: [],     // earlier turns of the conversation, sent along as context
  receivedAt: null, // when the buyer's message arrived (as the chat page tells), sent as received_at
  draft: null,     // the stored draft (the stream's `final`), the only thing that can be approved
  approvedText: null,
  phase: "idle",   // idle | streaming | ready | approved | inserted | sending | sent | rejected | failed
  port: null,
  report: null,    // the claim check of the reply box's current text (null while checking)
  checkSeq: 0,
  checkTimer: null,
  humanConfirmed: false,
  reads: 0,        // counts reads of the chat / selection: a slower, older read must not overwrite a newer one
};

// ---------- the service worker and the chat tab ----------

async function api(op, extra = {}) {
  const res = await chrome.runtime.sendMessage({ type: "rd:api", op, ...extra });
  if (!res?.ok) {
    const err = new Error(res?.error?.message || t("the extension's service worker did not answer"));
    Object.assign(err, { code: res?.error?.code, details: res?.error?.details });
    throw err;
  }
  return res.data;
}

// In the side panel the chat is the active tab of this window. Opened as a tab of its own (as the tests
// do), the panel is itself the active tab, so it falls back to the chat tab that announced itself last.
async function resolveTab() {
  const forced = Number(new URLSearchParams(location.search).get("tab"));
  if (forced) return forced;
  const self = await chrome.tabs.getCurrent();
  const [active] = await chrome.tabs.query({ active: true, currentWindow: true });
  if (active && (!self || active.id !== self.id)) return active.id;
  const { chatTab } = await chrome.storage.session.get("chatTab");
  return chatTab?.tabId ?? null;
}

async function readChat() {
  const read = ++state.reads;
  const tabId = await resolveTab();
  const chat = tabId === null ? null : await chrome.tabs.sendMessage(tabId, { type: "rd:read" }).catch(() => null);
  if (read !== state.reads) return;
  state.tabId = tabId;
  if (!chat) {
    state.context = [];
    state.receivedAt = null;
    $("#context-note").hidden = true;
    $("#source").textContent = t("No chat adapter on this page: select the buyer's text, right-click “Draft a reply”.");
    return;
  }
  $("#source").textContent = t("from {adapter}", { adapter: chat.adapter });
  if (chat.message) $("#message").value = chat.message;
  state.readMessage = (chat.message || "").trim();
  if (chat.orderId) $("#order-id").value = chat.orderId;
  state.context = chat.context || [];
  state.receivedAt = chat.receivedAt || null;
  const note = $("#context-note");
  note.hidden = !state.context.length;
  note.textContent = t(state.context.length === 1 ? "+ {n} earlier message as context" : "+ {n} earlier messages as context",
    { n: state.context.length });
}

// Text selected on any page and sent here with the "Draft a reply" context menu.
async function useSelection() {
  const { selection } = await chrome.storage.session.get("selection");
  if (!selection?.text) return false;
  state.reads++;
  await chrome.storage.session.remove("selection");
  state.tabId = selection.tabId;
  state.context = [];
  state.receivedAt = null;
  $("#context-note").hidden = true;
  $("#message").value = selection.text;
  const id = selection.text.match(ORDER_ID);
  $("#order-id").value = id ? id[0] : "";
  let host = "";
  try { host = new URL(selection.url).host; } catch { /* about:blank and the like */ }
  $("#source").textContent = host ? t("selected on {host}", { host }) : t("selected text");
  if (!id) $("#order-id").focus();
  return true;
}

// Into the chat's input box: through the page's adapter, else (any page) into the focused text field,
// which Chrome allows after the agent used our context menu or toolbar button on that tab (activeTab).
async function insertIntoChat(text) {
  if (state.draftTab === null) return { ok: false, error: "no chat tab to insert into: copy the text instead" };
  const viaAdapter = await chrome.tabs.sendMessage(state.draftTab, { type: "rd:insert", text }).catch(() => null);
  if (viaAdapter?.ok) return viaAdapter;
  try {
    const [res] = await chrome.scripting.executeScript({ target: { tabId: state.draftTab }, func: insertIntoFocused, args: [text] });
    return res?.result || { ok: false, error: "the page did not answer" };
  } catch {
    return viaAdapter || { ok: false, error: "this page cannot be written to: copy the text instead" };
  }
}

// Runs in the chat page (isolated world) through chrome.scripting: self-contained on purpose.
function insertIntoFocused(text) {
  let el = document.activeElement;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
  const field = el instanceof HTMLTextAreaElement || (el instanceof HTMLInputElement && ["text", "search"].includes(el.type));
  if (!el || !(field || el.isContentEditable)) {
    return { ok: false, error: "click into the chat's input box first, then choose Insert again" };
  }
  el.focus();
  if (field) {
    el.setRangeText(text, el.selectionStart ?? el.value.length, el.selectionEnd ?? el.value.length, "end");
    el.dispatchEvent(new Event("input", { bubbles: true }));
  } else if (!document.execCommand("insertText", false, text)) {
    el.textContent = text;
  }
  return { ok: true };
}

// ---------- drafting ----------

function startDraft(ev) {
  ev.preventDefault();
  const orderId = $("#order-id").value.trim();
  const message = $("#message").value.trim();
  if (!orderId || !message) return;
  state.port?.disconnect();
  resetDraft(orderId);
  setPhase("streaming", "Drafting…");

  const port = chrome.runtime.connect({ name: "rd:draft" });
  state.port = port;
  let tokens = false;
  let finished = false;
  port.onMessage.addListener(({ event, data }) => {
    if (port !== state.port) return; // a newer draft replaced this one
    if (event === "template") {
      $("#reply").value = data.text;
      renderDetails(data);
      setPhase("streaming", "Template draft · checking…");
    } else if (event === "token") {
      if (!tokens) { tokens = true; $("#reply").value = ""; setPhase("streaming", "Writing…"); }
      $("#reply").value += data.text;
    } else if (event === "final") {
      finished = true;
      onFinal(data);
    } else if (event === "error") {
      finished = true;
      fail(data.message || "drafting failed");
    } else if (event === "end") {
      port.disconnect();
      if (!finished) fail("the stream ended before the final draft");
    }
    updateCount();
  });
  const start = { order_id: orderId, message, context: state.context };
  // Only when the message is still the one read from the chat: a typed or selected text has no known time.
  if (state.receivedAt && message === state.readMessage) start.received_at = state.receivedAt;
  port.postMessage({ start });
}

function onFinal(item) {
  state.draft = item;
  $("#reply").value = item.text;
  $("#reply").readOnly = false;
  renderDetails(item);
  state.report = item.guard || null;
  const ready = item.needs_human ? "Checked · needs a human look" : "Checked · ready to approve";
  setPhase("ready", ready);
  $("#approve-btn").disabled = false;
  $("#reject-btn").disabled = false;
  $("#approve-btn").focus();
}

function fail(message) {
  setPhase("failed", "Failed");
  notify("error", message);
}

function resetDraft(orderId) {
  Object.assign(state, { draft: null, approvedText: null, draftTab: state.tabId, report: null, humanConfirmed: false });
  $("#confirm-human").hidden = true;
  $("#override").hidden = true;
  $("#draft").hidden = false;
  $("#draft-order").textContent = orderId;
  $("#reply").value = "";
  $("#reply").readOnly = true;
  $("#approve-btn").disabled = true;
  $("#reject-btn").disabled = true;
  $("#decide").hidden = false;
  $("#reject-form").hidden = true;
  $("#after").hidden = true;
  $("#human").hidden = true;
  for (const id of ["#guard", "#actions", "#facts", "#citations"]) $(id).replaceChildren();
  notify(null);
  updateCount();
}

function renderDetails(d) {
  $("#human").hidden = !d.needs_human;
  $("#human-reason").textContent = d.human_reason || "";
  $("#guard").replaceChildren(guardBlock(d.guard || {}));
  fillActions($("#actions"), d.actions || []);
  fillFacts($("#facts"), d);
  fillCitations($("#citations"), d.citations || []);
}

function updateCount() {
  const text = $("#reply").value;
  const edited = !!state.draft && state.phase === "ready" && text !== state.draft.text;
  $("#edited").hidden = !edited;
  $("#count").textContent = text ? t("{n} chars", { n: Array.from(text).length }) : "";
  $("#approve-btn").textContent = edited ? t("Approve edited & insert") : t("Approve & insert");
}

// ---------- the claim check as the agent types ----------

const flagged = (r) => !!r && ((r.violations || []).length > 0 || r.ok === false);

function showVerdict() {
  const r = state.report;
  const box = $("#guard");
  box.dataset.verdict = r ? (flagged(r) ? "bad" : "ok") : "checking";
  $("#approve-btn").dataset.verdict = box.dataset.verdict;
  if (!r) {
    box.replaceChildren(h("p", { class: "muted small", text: t("Checking the claims…") }));
    return;
  }
  box.replaceChildren(guardBlock({ ...(state.draft?.guard || {}), ...r }, t("Claim check")));
}

function onReplyInput() {
  updateCount();
  if (!state.draft || state.phase !== "ready") return;
  $("#override").hidden = true;
  state.report = null;
  showVerdict();
  clearTimeout(state.checkTimer);
  state.checkTimer = setTimeout(() => checkNow().catch(() => {}), 250);
}

async function checkNow() {
  const d = state.draft;
  const text = $("#reply").value;
  const mine = ++state.checkSeq;
  const report = await api("checkText", { id: d.id, text });
  if (mine === state.checkSeq && state.draft === d && $("#reply").value === text) {
    state.report = report;
    showVerdict();
  }
  return report;
}

// ---------- decisions ----------

async function approve(override = null) {
  const d = state.draft;
  if (!d || state.phase !== "ready") return; // only the stored, guarded draft can be approved
  const text = $("#reply").value;
  // A draft flagged for a person: the first press shows the reason; approving needs its own button.
  if (d.needs_human && !state.humanConfirmed) {
    $("#confirm-human-reason").textContent = d.human_reason || "";
    $("#confirm-human").hidden = false;
    $("#confirm-human-cancel").focus();
    return;
  }
  await busy(async () => {
    clearTimeout(state.checkTimer);
    const report = state.report || await checkNow();
    if (flagged(report) && !override) {
      showOverride(report.violations || []);
      return;
    }
    const body = text !== d.text ? { final_text: text } : {};
    if (override) body.override_reason = override;
    if (d.needs_human) body.confirmed_needs_human = state.humanConfirmed;
    let res;
    try {
      res = await api("approve", { id: d.id, body });
    } catch (err) {
      if (err.code === "override_required") {
        showOverride(err.details || []);
        return;
      }
      throw err;
    }
    state.approvedText = res.draft.final_text || text;
    $("#reply").readOnly = true;
    $("#decide").hidden = true;
    $("#override").hidden = true;
    $("#confirm-human").hidden = true;
    setPhase("approved", override ? "Approved over the claim check" : "Approved");
    await insert();
  });
}

function showOverride(violations) {
  $("#override-list").replaceChildren(...violations.map((x) =>
    h("li", {}, h("code", { text: x.kind }), " “", h("span", { lang: "zh", text: x.text }), "” — ", t(x.reason || ""))));
  $("#override-reason").value = "";
  $("#override-go").disabled = true;
  $("#override").hidden = false;
  $("#override-reason").focus();
}

async function insert() {
  const d = state.draft;
  const res = await insertIntoChat(state.approvedText);
  $("#after").hidden = false;
  if (!res.ok) {
    notify("warn", `${t("Not inserted")}: ${res.error}`);
    $("#insert-btn").hidden = false;
    $("#copy-btn").hidden = false;
    $("#sent-btn").hidden = false;
    return;
  }
  await api("inserted", { id: d.id });
  setPhase("inserted", "Inserted · press Send in the chat");
  notify("ok", t("Inserted into the chat box (order {id}). Check it and press Send.", { id: $("#draft-order").textContent }));
  $("#insert-btn").hidden = true;
  $("#copy-btn").hidden = true;
  $("#sent-btn").hidden = false;
}

async function markSent() {
  const d = state.draft;
  if (!d || !["approved", "inserted"].includes(state.phase)) return;
  state.phase = "sending"; // the page's Send and our button may both fire: report once
  await busy(async () => {
    try {
      await api("sent", { id: d.id });
    } catch (err) {
      state.phase = "inserted";
      throw err;
    }
    setPhase("sent", "Sent ✓");
    $("#after").hidden = true;
    notify("ok", t("Reply sent for order {id}.", { id: $("#draft-order").textContent }));
  });
}

async function reject(ev) {
  ev.preventDefault();
  const d = state.draft;
  if (!d) return;
  const reason = $("#reject-reason").value;
  const note = $("#reject-note").value.trim();
  await busy(async () => {
    await api("reject", { id: d.id, body: note ? { reason, note } : { reason } });
    $("#reject-form").hidden = true;
    $("#decide").hidden = true;
    $("#reply").readOnly = true;
    const label = $("#reject-reason").selectedOptions[0].textContent.toLowerCase();
    setPhase("rejected", `Rejected (${label})`);
    notify("ok", `Rejected (${label}): order ${$("#draft-order").textContent}. Nothing was inserted.`);
  });
}

// ---------- small UI helpers ----------

// `label` is the English source: shown through the catalogue, and shown again on a language switch.
function setPhase(phase, label) {
  state.phase = phase;
  state.phaseLabel = label;
  const el = $("#phase");
  el.dataset.phase = phase;
  el.textContent = t(label);
  updateCount();
}

function notify(kind, text) {
  const box = $("#notice");
  box.hidden = !kind;
  box.className = `notice notice-${kind || "none"}`;
  box.textContent = text || "";
}

async function busy(fn) {
  document.body.setAttribute("aria-busy", "true");
  try {
    await fn();
  } catch (err) {
    notify("error", err.message);
  } finally {
    document.body.removeAttribute("aria-busy");
  }
}

async function checkConnection() {
  const conn = $("#conn");
  try {
    await api("check");
    conn.dataset.state = "live";
    conn.textContent = t("Connected");
    conn.removeAttribute("data-i18n");
    // Dates in the shop's timezone, whatever this computer's is.
    const desk = await api("desk").catch(() => null);
    if (desk?.timezone) rdI18n.setZone(desk.timezone);
    const orders = await api("orders");
    // Suggestions for the order id field; a shop's full order book is not for a dropdown.
    $("#orders").replaceChildren(...orders.slice(0, 200).map((o) => h("option", { value: o.order_id, label: `${o.order_id} · ${o.status}` })));
  } catch (err) {
    conn.dataset.state = "error";
    conn.textContent = t("Not connected");
    conn.title = err.message;
    notify("error", err.message);
  }
}

// ---------- wiring ----------

$("#ask-form").addEventListener("submit", startDraft);
$("#read-btn").addEventListener("click", () => readChat());
$("#reply").addEventListener("input", onReplyInput);
$("#approve-btn").addEventListener("click", () => approve());
$("#confirm-human-go").addEventListener("click", () => {
  state.humanConfirmed = true;
  $("#confirm-human").hidden = true;
  approve();
});
$("#confirm-human-cancel").addEventListener("click", () => { $("#confirm-human").hidden = true; });
$("#override-reason").addEventListener("input", () => { $("#override-go").disabled = !$("#override-reason").value.trim(); });
$("#override-go").addEventListener("click", () => {
  const reason = $("#override-reason").value.trim();
  if (reason) approve(reason);
});
$("#override-cancel").addEventListener("click", () => { $("#override").hidden = true; });
$("#lang-select").value = rdI18n.lang;
$("#lang-select").addEventListener("change", () => rdI18n.setLang($("#lang-select").value));
addEventListener("rd:lang", () => {
  updateCount();
  if (state.phaseLabel) $("#phase").textContent = t(state.phaseLabel);
  checkConnection();
  if (!state.draft) return;
  renderDetails(state.draft);
  showVerdict();
});
$("#reject-btn").addEventListener("click", () => { $("#reject-form").hidden = false; $("#reject-reason").focus(); });
$("#reject-cancel").addEventListener("click", () => { $("#reject-form").hidden = true; });
$("#reject-form").addEventListener("submit", reject);
$("#insert-btn").addEventListener("click", () => busy(insert));
$("#copy-btn").addEventListener("click", () => busy(async () => {
  await navigator.clipboard.writeText(state.approvedText || "");
  notify("ok", "Copied: paste it into the chat, send it, then choose Mark as sent.");
}));
$("#sent-btn").addEventListener("click", markSent);
$("#options-link").addEventListener("click", (ev) => { ev.preventDefault(); chrome.runtime.openOptionsPage(); });

chrome.runtime.onMessage.addListener((msg, sender) => {
  // The agent pressed Send in the chat with our inserted text still in the box.
  if (msg?.type === "rd:sent-in-page" && sender.tab?.id === state.draftTab && state.phase === "inserted") markSent();
  return false;
});
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === "session" && changes.selection?.newValue) useSelection();
  if (area === "local" && (changes.apiKey || changes.apiUrl)) checkConnection();
});
// Follow the agent to another tab unless a draft is waiting for a decision. (Opened as a tab, the panel
// itself becoming active is no reason to re-read: the agent came back to it.)
const selfTab = chrome.tabs.getCurrent();
chrome.tabs.onActivated.addListener(async ({ tabId }) => {
  if (tabId === (await selfTab)?.id) return;
  if (["idle", "sent", "rejected", "failed"].includes(state.phase)) readChat();
});

checkConnection();
useSelection().then((used) => { if (!used) readChat(); });
