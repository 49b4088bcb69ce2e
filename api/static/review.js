// replydesk review queue: list pending drafts, let an agent approve / edit / reject them.
// Plain JS, no build step and no network but our own API (the machines have no internet).
// Buyer text is untrusted (it may even be a prompt injection): it is only ever set as textContent.
// A module, so that it can import the order-facts renderer it shares with the browser extension;
// $, h, notify and the API client are common.js's (a classic script that runs first).
import { fillFacts } from "/static/order_facts.js";
import { drawMarks, makeChecker } from "/static/claimcheck.js";
import { initHistory, openHistory, refreshHistory } from "/static/review_history.js";
import { openSource } from "/static/source_sheet.js";

const { t } = rdI18n;
const POLL_MS = 2500;      // new drafts appear without a reload
const PAGE_LIMIT = 20;
const MAX_PAGES = 10;      // a queue longer than 200 drafts is shown in part; the count says so

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  items: new Map(),    // id -> draft item (pending only)
  order: [],           // ids, the buyer waiting longest first
  selected: null,      // id
  edits: new Map(),    // id -> unsaved text; survives polls and switching drafts
  decided: new Set(),  // ids decided here: a poll that started before the decision must not bring them back
  busy: false,
  polling: false,
  truncated: false,
  desk: null,          // GET /v1/shop/desk: the key's role, the shop's timezone and response target
  checker: null,       // the claim check of the shown draft's reply box
  report: null,        // the latest check of the reply box's current text (null while checking)
};


// ---------- API ----------

const api = makeApi(() => state.key, t("Cannot reach the replydesk server. Retrying…"));

function draftPath(id, action) {
  return `/v1/drafts/${encodeURIComponent(id)}/${action}`;
}

// ---------- the key ----------

function onUnauthorized(err) {
  forgetKey(state, err.status === 403 ? `${t("This key may not review drafts")}: ${err.message}` : err.message);
}

// ---------- the queue ----------

async function fetchPending() {
  const items = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const q = new URLSearchParams({ status: "pending", sort: "waiting", limit: String(PAGE_LIMIT) });
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
    if (!state.desk) {
      state.desk = await api("/v1/shop/desk");
      rdI18n.setZone(state.desk.timezone);
    }
    const { items, truncated } = await fetchPending();
    merge(items, truncated);
    clearNotice("poll");
    setConn("live", `${t("Live")} · ${rdI18n.fmt(new Date().toISOString(), { seconds: true })}`);
    refreshHistory();
  } catch (err) {
    if (err.status === 401 || err.status === 403) onUnauthorized(err);
    else {
      setConn("error", t("Offline"));
      notify("error", t("Could not load the queue"), [err.message], { key: "poll" });
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
    notify("warn", t("The draft for order {id} is no longer pending", { id: gone.order_id }),
      [t("Someone else decided it, or a newer draft replaced it.")]);
  }
  for (const id of state.edits.keys()) if (!fresh.has(id)) state.edits.delete(id);
  state.items = fresh;
  state.truncated = truncated;
  state.order = pending.map((d) => d.id);   // the API lists the longest-waiting first; keep its order
  if (!state.selected || !fresh.has(state.selected)) state.selected = state.order[0] || null;
  renderQueue();
  if (state.selected !== wasSelected || !$("#detail .draft")) renderDetail();
}

// How long the buyer has waited, from when the message arrived (agents are scored on it).
function waited(d) {
  const t0 = Date.parse(d.received_at || d.created_at);
  return Number.isNaN(t0) ? null : Math.max(0, (Date.now() - t0) / 1000);
}

function fmtWait(s) {
  if (s === null) return "—";
  if (s < 3600) return `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d`;
}

// amber past the shop's target, red past twice the target
function waitLevel(s) {
  const target = state.desk?.response_target_s || 60;
  if (s === null || s < target) return "ok";
  return s < 2 * target ? "late" : "overdue";
}

function paintTimer(el, d) {
  const s = waited(d);
  el.textContent = fmtWait(s);
  el.dataset.level = waitLevel(s);
  el.title = `${t("Waiting since")} ${rdI18n.fmt(d.received_at || d.created_at, { seconds: true })}`
    + ` · ${t("target")} ${state.desk?.response_target_s || 60} s`;
}

// Once a second: only the timers' text changes, nothing is re-rendered under the agent.
function tick() {
  for (const el of document.querySelectorAll("[data-wait-for]")) {
    const d = state.items.get(el.dataset.waitFor);
    if (d) paintTimer(el, d);
  }
}

function buyerLine(d) {
  const f = d.facts || {};
  const parts = [];
  if (f.buyer_nick) parts.push(f.buyer_nick);
  const item = (f.items || [])[0];
  if (item) parts.push(`${item.title || item.sku}${(f.items || []).length > 1 ? ` +${f.items.length - 1}` : ""}`);
  if (typeof f.amount === "number") parts.push(`¥${f.amount.toFixed(2)}`);
  return parts.join(" · ");
}

function renderQueue() {
  const list = $("#queue");
  const n = state.order.length;
  $("#pending-count").textContent = state.truncated ? `${n}+` : String(n);
  document.title = n ? `(${n}) ${t("Review queue")} · replydesk` : `${t("Review queue")} · replydesk`;
  $("#queue-empty").hidden = n > 0;
  list.replaceChildren(...state.order.map((id) => queueItem(state.items.get(id))));
  if (state.selected) list.setAttribute("aria-activedescendant", `q-${state.selected}`);
  else list.removeAttribute("aria-activedescendant");
}

function queueItem(d) {
  const selected = d.id === state.selected;
  const timer = h("span", { class: "q-wait", "data-wait-for": d.id, role: "timer" });
  paintTimer(timer, d);
  const who = buyerLine(d);
  const li = h("li", { id: `q-${d.id}`, class: "queue-item", role: "option", "aria-selected": String(selected), "data-id": d.id },
    h("div", { class: "q-top" },
      h("span", { class: "q-order", text: d.order_id || "—" }),
      h("span", { class: "q-chips" },
        h("span", { class: `chip chip-${d.intent?.kind || "other"}`, text: t(d.intent?.kind || "other") }),
        d.needs_human ? h("span", { class: "chip chip-human", text: t("needs human") }) : null,
        d.guard?.violations?.length ? h("span", { class: "chip chip-warn", text: t("{n} warning(s)", { n: d.guard.violations.length }) }) : null,
        state.edits.has(d.id) ? h("span", { class: "chip chip-edited", text: t("edited") }) : null),
      timer),
    who ? h("p", { class: "q-buyer", lang: "zh", text: who }) : null,
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

function renderDetail() {
  const pane = $("#detail");
  state.checker?.stop();
  state.checker = null;
  state.report = null;
  const d = current();
  if (!d) {
    pane.replaceChildren(h("p", { class: "empty", text: state.key ? t("Nothing to review. Nice work.") : t("Connect with your API key to see the queue.") }));
    return;
  }
  const view = $("#draft-template").content.firstElementChild.cloneNode(true);
  rdI18n.translateTree(view);
  const slot = (name) => view.querySelector(`[data-slot="${name}"]`);

  slot("order_id").textContent = d.order_id || "—";
  const prompt = d.prompt ? `${d.prompt.name}@${d.prompt.version}` : "—";
  const total = d.timings_ms?.total;
  const timer = h("span", { class: "q-wait", "data-wait-for": d.id, role: "timer" });
  paintTimer(timer, d);
  slot("meta").append(
    t("Waiting"), " ", timer,
    ` · ${t("received")} ${rdI18n.fmt(d.received_at || d.created_at)}`,
    ` · ${d.composer}${d.model ? ` (${d.model})` : ""} · ${t("prompt")} ${prompt}`,
    total !== undefined ? ` · ${t("drafted in {ms} ms", { ms: Math.round(total) })}` : "");
  const who = buyerLine(d);
  if (who) slot("buyer").textContent = who;
  slot("intent").append(...intentChips(d.intent || {}));

  if (d.needs_human) {
    slot("human").hidden = false;
    slot("human_reason").textContent = d.human_reason || t("The drafter asks for a person to handle this one.");
  }

  for (const turn of d.context || []) {
    const role = turn.role === "agent" || turn.role === "seller" ? "agent" : "buyer";
    slot("context").append(h("li", { class: `turn turn-${role}` },
      h("span", { class: "turn-who", text: t(role) }),
      turn.at ? h("time", { class: "turn-at", datetime: turn.at, text: rdI18n.fmt(turn.at) }) : null,
      h("span", { text: turn.text || "" })));
  }
  slot("message").textContent = d.message || "";
  slot("message").lang = d.intent?.language || "zh";

  const ta = slot("text");
  const marks = slot("marks");
  ta.value = state.edits.has(d.id) ? state.edits.get(d.id) : (d.final_text || d.text);
  if (ta.value !== d.text) state.edits.set(d.id, ta.value);
  ta.lang = d.intent?.language || "zh";
  const verdict = slot("guard");
  state.checker = makeChecker(api, d.id, (text, report, err) => {
    if (text !== ta.value) return;   // an answer about text the agent has since changed
    state.report = report;
    drawMarks(marks, text, report || state.checker?.known(text) || null);
    verdict.replaceChildren(verdictBlock(d, report, err));
    view.querySelector('[data-act="approve"]').dataset.verdict = report ? (flagged(report) ? "bad" : "ok") : "checking";
  });
  ta.addEventListener("input", () => onEdit(d, ta, view));
  ta.addEventListener("scroll", () => { marks.scrollTop = ta.scrollTop; });
  updateEditState(d, ta, view);
  requestAnimationFrame(() => fitHeight(ta, marks));   // after it is in the page, where scrollHeight is known

  fillActions(slot("actions"), d.actions || []);
  window.replydeskActions?.render(slot("actions"), d);   // approvals.js: which actions to take (issue 18)
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
  state.checker.check(ta.value);
}

function flagged(report) {
  return !!report && ((report.violations || []).length > 0 || report.ok === false);
}

function intentChips(intent) {
  const chips = [h("li", { class: `chip chip-${intent.kind || "other"}`, title: t("intent"), text: t(intent.kind || "unknown") })];
  if (intent.repeat) chips.push(h("li", { class: "chip chip-warn", text: t("asked {n}×", { n: intent.repeat + 1 }) }));
  if (intent.language) chips.push(h("li", { class: "chip", title: t("language"), text: intent.language }));
  if (intent.threat) chips.push(h("li", { class: "chip chip-danger", text: t("threat") }));
  if (intent.injection) chips.push(h("li", { class: "chip chip-danger", text: t("prompt injection") }));
  return chips;
}

function onEdit(d, ta, view) {
  if (ta.value === d.text) state.edits.delete(d.id);
  else state.edits.set(d.id, ta.value);
  updateEditState(d, ta, view);
  drawMarks(view.querySelector('[data-slot="marks"]'), ta.value, null);   // old marks would sit on moved text
  fitHeight(ta, view.querySelector('[data-slot="marks"]'));
  state.report = null;
  state.checker?.check(ta.value);
  renderQueue();
}

// Grow the reply box with its text, so the agent reads the whole reply without scrolling inside it.
function fitHeight(ta, marks) {
  ta.style.height = "auto";
  ta.style.height = `${ta.scrollHeight + 2}px`;
  if (marks) marks.style.height = ta.style.height;
}

function updateEditState(d, ta, view) {
  const edited = state.edits.has(d.id);
  view.querySelector('[data-slot="edited"]').hidden = !edited;
  view.querySelector('[data-act="reset"]').hidden = !edited;
  view.querySelector('[data-slot="count"]').textContent = t("{n} chars", { n: Array.from(ta.value).length });
  view.querySelector('[data-act="approve"]').firstChild.textContent = edited ? `${t("Approve edited")} ` : `${t("Approve")} `;
}

// The live verdict on the reply box's text: checking…, every claim backed, or what is wrong and where.
function verdictBlock(d, report, err) {
  const box = h("div", { class: "guard", "aria-live": "polite", "data-verdict": report ? (flagged(report) ? "bad" : "ok") : err ? "error" : "checking" });
  if (err) {
    box.append(h("p", { class: "callout callout-warn", text: `${t("The claim check could not run")}: ${err.message}` }));
    return box;
  }
  if (!report) {
    box.append(h("p", { class: "guard-checking", text: t("Checking the claims…") }));
    return box;
  }
  const v = report.violations || [];
  if (v.length) {
    box.append(h("div", { class: "callout callout-danger", role: "note" },
      h("strong", { text: t("Claim check: {n} claim(s) not backed by the facts", { n: v.length }) }),
      h("ul", {}, v.map((x) => h("li", {}, h("code", { text: x.kind }), " “", h("span", { lang: "zh", text: x.text }), "” — ", t(x.reason || ""))))));
  } else if (report.ok === false) {
    box.append(h("p", { class: "callout callout-danger", text: (report.reasons || []).join("; ") || t("This text cannot be checked.") }));
  }
  const g = d.guard || {};
  if (g.fell_back) box.append(h("p", { class: "callout callout-info", text: t("The composed draft failed the claim check; this is the safe fallback draft.") }));
  else if (g.repaired) box.append(h("p", { class: "callout callout-info", text: t("The composed draft failed the claim check once and was repaired.") }));
  if (!flagged(report)) {
    box.append(h("p", { class: "guard-ok", text: t("✓ Every claim in this text is backed by the facts ({n} checked).", { n: (report.claims || []).length }) }));
  }
  return box;
}

function fillActions(ul, actions) {
  if (!actions.length) {
    ul.append(h("li", { class: "muted", text: t("None.") }));
    return;
  }
  for (const a of actions) {
    const amount = a.amount_yuan !== null && a.amount_yuan !== undefined ? ` ¥${a.amount_yuan}` : "";
    ul.append(h("li", { class: "action" },
      h("div", { class: "action-top" },
        h("span", { class: "action-kind", text: `${t(a.kind.replace(/_/g, " "))}${amount}` }),
        a.needs_approval ? h("span", { class: "badge badge-approval", text: t("needs approval") })
          : h("span", { class: "badge badge-auto", text: t("no approval needed") })),
      h("span", { class: "muted small", text: a.reason || "" })));
  }
}

function fillClaims(claimsUl, commitUl, d) {
  const claims = d.guard?.claims || [];
  if (!claims.length) claimsUl.append(h("li", { class: "muted", text: t("No factual claims in the draft.") }));
  for (const c of claims) {
    claimsUl.append(h("li", { class: "claim" },
      h("span", { class: "chip", text: c.kind }), " ", h("span", { lang: "zh", text: c.text }),
      h("span", { class: c.supported_by ? "claim-support" : "claim-support unsupported",
        text: c.supported_by ? `${t("backed by")} ${c.supported_by}` : t("not backed by any fact") })));
  }
  for (const c of d.commitments || []) {
    commitUl.append(h("li", { class: "claim" }, h("span", { class: "chip chip-commit", text: `${t("commits")}: ${c.kind}` }), ` ${c.value}`,
      h("span", { class: "claim-support", text: `${t("backed by")} ${c.support}` })));
  }
}

// Policies and notices open in a side sheet at the revision the draft cited; order fields are in the facts.
function fillCitations(ul, citations) {
  if (!citations.length) ul.append(h("li", { class: "muted", text: t("None.") }));
  for (const c of citations) {
    const label = [t(c.kind), c.id, c.field, c.revision ? `${t("rev")} ${c.revision}` : null].filter(Boolean).join(" · ");
    if ((c.kind === "policy" || c.kind === "notice") && c.id) {
      const btn = h("button", { type: "button", class: `chip chip-cite chip-cite-${c.kind} chip-link`, text: label,
        title: t("Open this source") });
      btn.addEventListener("click", () => openSource(api, c));
      ul.append(h("li", {}, btn));
    } else ul.append(h("li", { class: `chip chip-cite chip-cite-${c.kind}`, text: label }));
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
    refreshHistory();
  } catch (err) {
    if (err.status === 401) onUnauthorized(err);
    else if (err.code === "override_required") openOverride(d, body, err.details);
    else {
      notify("error", t("Could not {action} the draft for order {id}", { action: t(action), id: d.order_id }), [err.message]);
      if (err.status === 409 || err.status === 404) poll();   // decided elsewhere: refresh the queue
    }
  } finally {
    state.busy = false;
    $("#detail").removeAttribute("aria-busy");
  }
}

// A modal asking for a deliberate second step; resolves true only on its confirm button (never on the
// key that opened it: focus starts on Cancel).
function confirmDialog(id) {
  const dlg = $(id);
  return new Promise((resolve) => {
    const done = (ok) => {
      dlg.removeEventListener("close", onClose);
      resolve(ok);
    };
    const onClose = () => done(dlg.returnValue === "confirm");
    dlg.returnValue = "";
    dlg.addEventListener("close", onClose);
    dlg.showModal();
    dlg.querySelector('[value="cancel"]')?.focus();
  });
}

async function approve() {
  const d = current();
  if (!d || state.busy) return;
  const ta = $("#reply-text");
  const text = ta ? ta.value : d.text;
  const edited = text !== d.text;
  if (!text.trim()) {
    notify("error", t("The reply is empty"), [t("Write a reply, or reject the draft instead.")]);
    return;
  }
  // A draft the drafter flagged for a person: its reason first, then a deliberate confirmation.
  if (d.needs_human) {
    $("#human-confirm-reason").textContent = d.human_reason || t("The drafter asks for a person to handle this one.");
    if (!(await confirmDialog("#human-dialog"))) return;
  }
  // The check of exactly this text, now if the debounced one has not answered yet.
  let report = state.checker?.known(text) || null;
  if (!report && state.checker) {
    try {
      report = await state.checker.now(text);
    } catch (err) {
      notify("error", t("The claim check could not run"), [err.message]);
      return;
    }
  }
  const body = edited ? { final_text: text } : {};
  const chosen = window.replydeskActions?.chosen(d);   // approvals.js: the actions to take (issue 18)
  if (chosen) body.actions = chosen;
  if (d.needs_human) body.confirmed_needs_human = true;   // the agent saw the reason and confirmed
  if (report && flagged(report)) {
    openOverride(d, body, report.violations || []);
    return;
  }
  // Only an edited text is sent: "as is" stays distinguishable from "edited" in the feedback log.
  decide("approve", body, approved);
}

function approved(draft, res) {
  window.replydeskActions?.approved(draft, res);
  const what = res.event === "edited" ? t("Approved with your edits") : t("Approved");
  const o = res.draft?.override_reason;
  notify(o ? "warn" : "ok", `${what}: ${t("order")} ${draft.order_id}`,
    o ? [`${t("Approved over the claim check, reason logged")}: ${o}`] : []);
}

// Approving flagged text: the agent sees what is wrong and must give a reason (it is logged), or the shop
// refuses such approvals outright.
async function openOverride(d, body, violations) {
  const dlg = $("#override-dialog");
  const blocked = state.desk?.block_violations;
  $("#override-list").replaceChildren(...(violations || []).map((x) =>
    h("li", {}, h("code", { text: x.kind }), " “", h("span", { lang: "zh", text: x.text }), "” — ", t(x.reason || ""))));
  $("#override-blocked").hidden = !blocked;
  $("#override-form").hidden = !!blocked;
  $("#override-reason").value = "";
  if (!(await confirmDialog("#override-dialog"))) return;
  const reason = $("#override-reason").value.trim();
  if (!reason) return;
  decide("approve", { ...body, override_reason: reason }, approved);
}

function reject(form) {
  const reason = form.get("reason");
  const note = (form.get("note") || "").trim();
  decide("reject", note ? { reason, note } : { reason }, (draft) => {
    notify("ok", `${t("Rejected")} (${t(reason.replace(/_/g, " "))}): ${t("order")} ${draft.order_id}`);
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
    h: openHistory, "?": () => $("#help-dialog").showModal() };
  const fn = actions[ev.key];
  if (fn) {
    ev.preventDefault();   // so "e" does not also type an "e" into the reply it focuses
    fn();
  }
}

// ---------- start ----------

function start() {
  // An undone approval brings the draft back: it is no longer "decided here".
  initHistory(api, (id) => { state.decided.delete(id); poll(); });
  wireKey(state, () => { state.desk = null; poll(); });
  $("#help-btn").addEventListener("click", () => $("#help-dialog").showModal());
  $("#history-btn").addEventListener("click", openHistory);
  $("#override-form").addEventListener("input", () => {
    $("#override-confirm").disabled = !$("#override-reason").value.trim();
  });
  document.addEventListener("keydown", onKey);
  addEventListener("rd:lang", () => {
    renderQueue();
    renderDetail();
    refreshHistory();
  });
  if (state.key) poll();
  else askForKey("");
  setInterval(poll, POLL_MS);
  setInterval(tick, 1000);
}

start();
