// replydesk review queue: list pending drafts, let an agent approve / edit / reject them.
// Plain JS, no build step and no network but our own API (the machines have no internet).
// Buyer text is untrusted (it may even be a prompt injection): it is only ever set as textContent.
"use strict";

const POLL_MS = 2500;      // new drafts appear without a reload
const PAGE_LIMIT = 20;
const MAX_PAGES = 10;      // a queue longer than 200 drafts is shown in part; the count says so

const STATUS_LABELS = {   // Taobao trade statuses, as an agent knows them
  WAIT_BUYER_PAY: "等待买家付款 · awaiting payment",
  WAIT_SELLER_SEND_GOODS: "待发货 · not shipped yet",
  SELLER_CONSIGNED_PART: "部分发货 · partly shipped",
  WAIT_BUYER_CONFIRM_GOODS: "已发货 · shipped",
  TRADE_BUYER_SIGNED: "已签收 · signed for",
  TRADE_FINISHED: "交易成功 · finished",
  TRADE_CLOSED: "交易关闭 · closed",
  TRADE_CLOSED_BY_TAOBAO: "淘宝关闭 · closed by Taobao",
  PAID_FORBID_CONSIGN: "禁止发货 · shipping forbidden",
};
const STOCK_LABELS = { in_stock: "in stock", low: "low stock", out_of_stock: "out of stock", unknown: "stock unknown" };
const ORDER_ERRORS = {
  timeout: "The order system did not answer in time.",
  not_found: "No such order in this shop.",
  unavailable: "The order system is unavailable.",
};

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  items: new Map(),    // id -> draft item (pending only)
  order: [],           // ids, newest first
  selected: null,      // id
  edits: new Map(),    // id -> unsaved text; survives polls and switching drafts
  decided: new Set(),  // ids decided here: a poll that started before the decision must not bring them back
  busy: false,
  polling: false,
  truncated: false,
};


// ---------- API ----------

const api = makeApi(() => state.key, "Cannot reach the replydesk server. Retrying…");

function draftPath(id, action) {
  return `/v1/drafts/${encodeURIComponent(id)}/${action}`;
}

// ---------- notices ----------

// kind: ok | warn | error. Successes fade; warnings and errors stay until dismissed.
function notify(kind, title, lines = [], { sticky = kind !== "ok", key } = {}) {
  const box = $("#notices");
  if (key) box.querySelector(`[data-key="${key}"]`)?.remove();
  const note = h("div", { class: `notice notice-${kind}`, role: kind === "ok" ? "status" : "alert", "data-key": key },
    h("div", { class: "notice-body" },
      h("strong", { text: title }),
      lines.length ? h("ul", {}, lines.map((l) => h("li", {}, l))) : null),
    h("button", { type: "button", class: "btn ghost small", "aria-label": "Dismiss" }, "Dismiss"));
  note.querySelector("button").addEventListener("click", () => note.remove());
  box.prepend(note);
  if (!sticky) setTimeout(() => note.remove(), 4000);
  return note;
}

function clearNotice(key) {
  $(`#notices [data-key="${key}"]`)?.remove();
}

function setConn(stateName, text) {
  const el = $("#conn");
  el.dataset.state = stateName;
  el.textContent = text;
}

// ---------- the key ----------

const onKeySubmit = keySubmit(state, () => poll());

function onUnauthorized(err) {
  forgetKey(state, err.status === 403 ? `This key may not review drafts: ${err.message}` : err.message);
}

// ---------- the queue ----------

async function fetchPending() {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const q = new URLSearchParams({ status: "pending", limit: String(PAGE_LIMIT) });
    if (cursor) q.set("cursor", cursor);
    const data = await api(`/v1/drafts?${q}`);
    items.push(...(data.items || []));
    cursor = data.next_cursor;
    if (!cursor) return { items, truncated: false };
  }
  return { items, truncated: true };
}

async function poll() {
  if (!state.key || state.polling) return;
  state.polling = true;
  try {
    const { items, truncated } = await fetchPending();
    merge(items, truncated);
    clearNotice("poll");
    setConn("live", `Live · ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    if (err.status === 401 || err.status === 403) onUnauthorized(err);
    else {
      setConn("error", "Offline");
      notify("error", "Could not load the queue", [err.message], { key: "poll" });
    }
  } finally {
    state.polling = false;
  }
}

// Merge by id. Unsaved edits live in state.edits, so they survive whatever the server says.
function merge(items, truncated) {
  const pending = items.filter((d) => d.status === "pending" && !state.decided.has(d.id));
  const fresh = new Map(pending.map((d) => [d.id, d]));
  const wasSelected = state.selected;
  if (wasSelected && !fresh.has(wasSelected) && state.items.has(wasSelected)) {
    const gone = state.items.get(wasSelected);
    notify("warn", `The draft for order ${gone.order_id} is no longer pending`,
      ["Someone else decided it, or a newer draft replaced it."]);
  }
  for (const id of state.edits.keys()) if (!fresh.has(id)) state.edits.delete(id);
  state.items = fresh;
  state.truncated = truncated;
  state.order = pending.map((d) => d.id);   // the API lists newest first; keep its order
  if (!state.selected || !fresh.has(state.selected)) state.selected = state.order[0] || null;
  renderQueue();
  if (state.selected !== wasSelected || !$("#detail .draft")) renderDetail();
}

function ago(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "";
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

function renderQueue() {
  const list = $("#queue");
  const n = state.order.length;
  $("#pending-count").textContent = state.truncated ? `${n}+` : String(n);
  document.title = n ? `(${n}) Review queue · replydesk` : "Review queue · replydesk";
  $("#queue-empty").hidden = n > 0;
  list.replaceChildren(...state.order.map((id) => queueItem(state.items.get(id))));
  if (state.selected) list.setAttribute("aria-activedescendant", `q-${state.selected}`);
  else list.removeAttribute("aria-activedescendant");
}

function queueItem(d) {
  const selected = d.id === state.selected;
  const li = h("li", { id: `q-${d.id}`, class: "queue-item", role: "option", "aria-selected": String(selected), "data-id": d.id },
    h("div", { class: "q-top" },
      h("span", { class: "q-order", text: d.order_id || "—" }),
      h("span", { class: "q-chips" },
        h("span", { class: `chip chip-${d.intent?.kind || "other"}`, text: d.intent?.kind || "?" }),
        d.needs_human ? h("span", { class: "chip chip-human", text: "needs human" }) : null,
        d.guard?.violations?.length ? h("span", { class: "chip chip-warn", text: `${d.guard.violations.length} warning` }) : null,
        state.edits.has(d.id) ? h("span", { class: "chip chip-edited", text: "edited" }) : null),
      h("time", { class: "q-age", datetime: d.created_at, title: d.created_at, text: ago(d.created_at) })),
    h("p", { class: "q-msg", lang: d.intent?.language || "zh", text: d.message || "" }));
  li.addEventListener("click", () => select(d.id));
  return li;
}

function select(id) {
  if (!id || id === state.selected) return;
  state.selected = id;
  renderQueue();
  renderDetail();
  // Only on a user's move, never on a poll: a poll must not scroll the page under the reader.
  document.getElementById(`q-${id}`)?.scrollIntoView({ block: "nearest" });
}

function move(step) {
  if (!state.order.length) return;
  const i = state.order.indexOf(state.selected);
  const next = Math.min(state.order.length - 1, Math.max(0, (i < 0 ? 0 : i + step)));
  select(state.order[next]);
}

// ---------- one draft ----------

function current() {
  return state.selected ? state.items.get(state.selected) : null;
}

function fmtTime(iso) {
  // Show the shop's own clock time as the order system wrote it (offset included in the ISO string).
  return typeof iso === "string" ? iso.slice(0, 16).replace("T", " ") : "—";
}

function renderDetail() {
  const pane = $("#detail");
  const d = current();
  if (!d) {
    pane.replaceChildren(h("p", { class: "empty", text: state.key ? "Nothing to review. Nice work." : "Connect with your API key to see the queue." }));
    return;
  }
  const view = $("#draft-template").content.firstElementChild.cloneNode(true);
  const slot = (name) => view.querySelector(`[data-slot="${name}"]`);

  slot("order_id").textContent = d.order_id || "—";
  const prompt = d.prompt ? `${d.prompt.name}@${d.prompt.version}` : "—";
  const total = d.timings_ms?.total;
  slot("meta").append(
    h("time", { datetime: d.created_at, title: d.created_at, text: ago(d.created_at) }),
    ` · ${d.composer}${d.model ? ` (${d.model})` : ""} · prompt ${prompt}`,
    total !== undefined ? ` · drafted in ${Math.round(total)} ms` : "");
  slot("intent").append(...intentChips(d.intent || {}));

  if (d.needs_human) {
    slot("human").hidden = false;
    slot("human_reason").textContent = d.human_reason || "The drafter asks for a person to handle this one.";
  }

  for (const turn of d.context || []) {
    const who = turn.role === "agent" || turn.role === "seller" ? "agent" : "buyer";
    slot("context").append(h("li", { class: `turn turn-${who}` },
      h("span", { class: "turn-who", text: turn.role || "buyer" }), h("span", { text: turn.text || "" })));
  }
  slot("message").textContent = d.message || "";
  slot("message").lang = d.intent?.language || "zh";

  const ta = slot("text");
  ta.value = state.edits.has(d.id) ? state.edits.get(d.id) : d.text;
  ta.lang = d.intent?.language || "zh";
  ta.addEventListener("input", () => onEdit(d, ta, view));
  updateEditState(d, ta, view);
  requestAnimationFrame(() => fitHeight(ta));   // after it is in the page, where scrollHeight is known

  slot("guard").append(guardBlock(d.guard || {}));
  fillActions(slot("actions"), d.actions || []);
  fillFacts(slot("facts"), d);
  fillClaims(slot("claims"), slot("commitments"), d);
  fillCitations(slot("citations"), d.citations || []);

  view.querySelector('[data-act="approve"]').addEventListener("click", approve);
  view.querySelector('[data-act="edit"]').addEventListener("click", focusEditor);
  view.querySelector('[data-act="reject"]').addEventListener("click", openReject);
  view.querySelector('[data-act="reset"]').addEventListener("click", () => {
    ta.value = d.text;
    onEdit(d, ta, view);
  });
  view.querySelector('[data-act="cancel-reject"]').addEventListener("click", closeReject);
  slot("reject").addEventListener("submit", (ev) => {
    ev.preventDefault();
    reject(new FormData(ev.target));
  });
  slot("reject").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      ev.stopPropagation();
      closeReject();
    }
  });
  pane.replaceChildren(view);
}

function intentChips(intent) {
  const chips = [h("li", { class: `chip chip-${intent.kind || "other"}`, title: "intent", text: intent.kind || "unknown" })];
  if (intent.repeat) chips.push(h("li", { class: "chip chip-warn", text: `asked ${intent.repeat + 1}×` }));
  if (intent.language) chips.push(h("li", { class: "chip", title: "language", text: intent.language }));
  if (intent.threat) chips.push(h("li", { class: "chip chip-danger", text: "threat" }));
  if (intent.injection) chips.push(h("li", { class: "chip chip-danger", text: "prompt injection" }));
  return chips;
}

function onEdit(d, ta, view) {
  if (ta.value === d.text) state.edits.delete(d.id);
  else state.edits.set(d.id, ta.value);
  updateEditState(d, ta, view);
  fitHeight(ta);
  renderQueue();
}

// Grow the reply box with its text, so the agent reads the whole reply without scrolling inside it.
function fitHeight(ta) {
  ta.style.height = "auto";
  ta.style.height = `${ta.scrollHeight + 2}px`;
}

function updateEditState(d, ta, view) {
  const edited = state.edits.has(d.id);
  view.querySelector('[data-slot="edited"]').hidden = !edited;
  view.querySelector('[data-act="reset"]').hidden = !edited;
  view.querySelector('[data-slot="count"]').textContent = `${ta.value.length} chars`;
  view.querySelector('[data-act="approve"]').firstChild.textContent = edited ? "Approve edited " : "Approve ";
}

function guardBlock(g) {
  const box = h("div", { class: "guard" });
  const v = g.violations || [];
  if (v.length) {
    box.append(h("div", { class: "callout callout-danger", role: "note" },
      h("strong", { text: `Claim check: ${v.length} warning${v.length > 1 ? "s" : ""}` }),
      h("ul", {}, v.map((x) => h("li", {}, h("code", { text: x.kind }), " “", x.text, "” — ", x.reason || "")))));
  }
  if (g.fell_back) box.append(h("p", { class: "callout callout-info", text: "The composed draft failed the claim check; this is the safe fallback draft." }));
  else if (g.repaired) box.append(h("p", { class: "callout callout-info", text: "The composed draft failed the claim check once and was repaired." }));
  if ((g.reasons || []).length) box.append(h("p", { class: "muted small", text: `Why: ${g.reasons.join("; ")}` }));
  if (!v.length && g.ok !== false) box.append(h("p", { class: "guard-ok", text: "✓ Every claim in the draft is backed by the facts." }));
  return box;
}

function fillActions(ul, actions) {
  if (!actions.length) {
    ul.append(h("li", { class: "muted", text: "None." }));
    return;
  }
  for (const a of actions) {
    const amount = a.amount_yuan !== null && a.amount_yuan !== undefined ? ` ¥${a.amount_yuan}` : "";
    ul.append(h("li", { class: "action" },
      h("div", { class: "action-top" },
        h("span", { class: "action-kind", text: `${a.kind.replace(/_/g, " ")}${amount}` }),
        a.needs_approval ? h("span", { class: "badge badge-approval", text: "needs approval" })
          : h("span", { class: "badge badge-auto", text: "no approval needed" })),
      h("span", { class: "muted small", text: a.reason || "" })));
  }
}

function fact(dl, label, ...value) {
  dl.append(h("dt", { text: label }), h("dd", {}, ...value));
}

function fillFacts(dl, d) {
  const f = d.facts;
  if (!f) {
    const why = ORDER_ERRORS[d.order_error] || "The order's status is unknown.";
    dl.append(h("div", { class: "callout callout-warn" }, `${why} The draft makes no status claims.`));
    return;
  }
  fact(dl, "Status", h("span", { class: "status", title: f.status, text: STATUS_LABELS[f.status] || f.status || "unknown" }));
  if (f.paid_at) fact(dl, "Paid", fmtTime(f.paid_at));
  if (f.promised_ship_by) fact(dl, "Ship by", fmtTime(f.promised_ship_by));
  if (f.presale) fact(dl, "Presale", `ships ${f.presale.ship_from || "?"} – ${f.presale.ship_by || "?"}`);
  for (const it of f.items || []) {
    const stock = STOCK_LABELS[it.stock] || it.stock || "";
    const eta = it.restock_eta ? ` until ${it.restock_eta}` : "";
    fact(dl, "Item", h("span", { lang: "zh", text: `${it.title || it.sku} ×${it.quantity ?? 1}` }),
      stock ? h("span", { class: "muted", text: ` · ${stock}${eta}` }) : null);
  }
  const ships = f.shipments || [];
  if (!ships.length) fact(dl, "Shipment", h("span", { class: "muted", text: "none yet" }));
  for (const s of ships) {
    const last = (s.events || []).at(-1);
    fact(dl, "Carrier", h("span", { lang: "zh", text: s.carrier || "—" }));
    fact(dl, "Tracking", h("code", { text: s.tracking_no || "—" }));
    if (last) fact(dl, "Last event", h("span", { lang: "zh", text: `${fmtTime(last.at)} ${last.desc || ""}` }));
  }
  if (f.refund) fact(dl, "Refund", f.refund.status || "yes");
  if (d.facts_age_s != null) {
    const age = d.facts_age_s < 90 ? `${Math.round(d.facts_age_s)} s` : `${Math.round(d.facts_age_s / 60)} min`;
    fact(dl, "Fetched", h("span", { class: d.order_error ? "muted" : "", text: `${age} before the draft` +
      (d.order_error ? " (too old: no status claims)" : "") }));
  }
}

function fillClaims(claimsUl, commitUl, d) {
  const claims = d.guard?.claims || [];
  if (!claims.length) claimsUl.append(h("li", { class: "muted", text: "No factual claims in the draft." }));
  for (const c of claims) {
    claimsUl.append(h("li", { class: "claim" },
      h("span", { class: "chip", text: c.kind }), " ", h("span", { lang: "zh", text: c.text }),
      h("span", { class: c.supported_by ? "claim-support" : "claim-support unsupported",
        text: c.supported_by ? `backed by ${c.supported_by}` : "not backed by any fact" })));
  }
  for (const c of d.commitments || []) {
    commitUl.append(h("li", { class: "claim" }, h("span", { class: "chip chip-commit", text: `commits: ${c.kind}` }), ` ${c.value}`,
      h("span", { class: "claim-support", text: `backed by ${c.support}` })));
  }
}

function fillCitations(ul, citations) {
  if (!citations.length) ul.append(h("li", { class: "muted", text: "None." }));
  for (const c of citations) {
    const label = [c.kind, c.id, c.field, c.revision ? `rev ${c.revision}` : null].filter(Boolean).join(" · ");
    ul.append(h("li", { class: `chip chip-cite chip-cite-${c.kind}`, text: label }));
  }
}

// ---------- decisions ----------

function focusEditor() {
  const ta = $("#reply-text");
  if (!ta) return;
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
}

function openReject() {
  const form = $("#detail .reject-form");
  if (!form) return;
  form.hidden = false;
  form.querySelector("select").focus();
}

function closeReject() {
  const form = $("#detail .reject-form");
  if (form) form.hidden = true;
  $("#queue").focus();
}

async function decide(action, body, onDone) {
  const d = current();
  if (!d || state.busy) return;
  state.busy = true;
  $("#detail").setAttribute("aria-busy", "true");
  try {
    const res = await api(draftPath(d.id, action), { method: "POST", body });
    state.decided.add(d.id);
    state.edits.delete(d.id);
    const i = state.order.indexOf(d.id);
    state.items.delete(d.id);
    state.order.splice(i, 1);
    state.selected = state.order[Math.min(i, state.order.length - 1)] || null;
    renderQueue();
    renderDetail();
    $("#queue").focus();
    onDone(d, res);
  } catch (err) {
    if (err.status === 401) onUnauthorized(err);
    else {
      notify("error", `Could not ${action} the draft for order ${d.order_id}`, [err.message]);
      if (err.status === 409 || err.status === 404) poll();   // decided elsewhere: refresh the queue
    }
  } finally {
    state.busy = false;
    $("#detail").removeAttribute("aria-busy");
  }
}

function approve() {
  const d = current();
  if (!d) return;
  const edited = state.edits.has(d.id);
  const text = edited ? state.edits.get(d.id) : d.text;
  if (!text.trim()) {
    notify("error", "The reply is empty", ["Write a reply, or reject the draft instead."]);
    return;
  }
  // Only an edited text is sent: "as is" stays distinguishable from "edited" in the feedback log.
  decide("approve", edited ? { final_text: text } : {}, (draft, res) => {
    const warnings = res.warnings || [];
    const what = res.event === "edited" ? "Approved with your edits" : "Approved";
    if (warnings.length) {
      notify("warn", `${what} (order ${draft.order_id}) — the claim check flags your text`,
        warnings.map((w) => `${w.kind}: “${w.text}” — ${w.reason || ""}`));
    } else notify("ok", `${what}: order ${draft.order_id}`);
  });
}

function reject(form) {
  const reason = form.get("reason");
  const note = (form.get("note") || "").trim();
  decide("reject", note ? { reason, note } : { reason }, (draft) => {
    notify("ok", `Rejected (${reason.replace(/_/g, " ")}): order ${draft.order_id}`);
  });
}

// ---------- keyboard ----------

function isTyping(el) {
  return el instanceof HTMLElement && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
  if (isTyping(ev.target)) {
    if (ev.key === "Escape") ev.target.blur();
    return;
  }
  if (document.querySelector("dialog[open]")) return;   // dialogs keep their own keys
  const actions = { j: () => move(1), k: () => move(-1), a: approve, e: focusEditor, r: openReject,
    "?": () => $("#help-dialog").showModal() };
  const fn = actions[ev.key];
  if (fn) {
    ev.preventDefault();   // so "e" does not also type an "e" into the reply it focuses
    fn();
  }
}

// ---------- start ----------

function start() {
  $("#key-form").addEventListener("submit", onKeySubmit);
  $("#key-dialog").addEventListener("cancel", (ev) => { if (!state.key) ev.preventDefault(); });
  $("#key-btn").addEventListener("click", () => askForKey(""));
  $("#help-btn").addEventListener("click", () => $("#help-dialog").showModal());
  document.addEventListener("keydown", onKey);
  if (state.key) poll();
  else askForKey("");
  setInterval(poll, POLL_MS);
}

start();
