// replydesk knowledge base: list, edit and preview the shop's policies, notices and style guides.
// Plain JS, no build step and no network but our own API (the machines have no internet).
// Item texts are written by people: they are only ever set as textContent, never as markup.
"use strict";

const DAY = 86_400_000;
const TIMELINE_BEFORE = 7;                 // days shown before today …
const TIMELINE_AFTER = 21;                 // … and after it

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  items: [],            // summaries from GET /v1/knowledge (deleted ones too, when shown)
  now: null,            // the server's clock (ms) when the list was loaded, and when that was here
  loadedAt: 0,
  tz: "Asia/Shanghai",
  selected: null,       // the item being edited (full, from GET /v1/knowledge/{id}); null for a new one
  mode: "none",         // none | new | edit
  lastSearch: null,
  settingsRevision: null,
  settings: null,       // the settings last loaded (the form's PUT keeps every field it does not show)
  role: null,           // the key's role (GET /v1/shop/desk): agents learn before typing that they cannot edit
};

const canEdit = () => state.role === "manager" || state.role === "admin";


// ---------- API ----------

const api = makeApi(() => state.key, "Cannot reach the replydesk server.");

const itemPath = (id, rest = "") => `/v1/knowledge/${encodeURIComponent(id)}${rest}`;

// A failed call: ask for a key again (401), explain a missing role (403), otherwise say what the API said.
function failed(what, err) {
  if (err.status === 401) return onUnauthorized(err);
  if (err.status === 403) {
    return notify("error", `${what}: this key may not do that`, ["Editing needs a manager or admin key.", err.message]);
  }
  return notify("error", what, [err.message]);
}

// ---------- the key ----------

function onUnauthorized(err) {
  forgetKey(state, err.message);
}

// ---------- time, in the shop's timezone ----------

function nowMs() {
  return state.now === null ? Date.now() : state.now + (performance.now() - state.loadedAt);
}

function parts(ms) {
  const p = new Intl.DateTimeFormat("en-US", {
    timeZone: state.tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (t) => Number(p.find((x) => x.type === t).value);
  return { y: get("year"), mo: get("month"), d: get("day"), h: get("hour"), mi: get("minute"), s: get("second") };
}

const pad = (n) => String(n).padStart(2, "0");

// "2026-11-12T11:00" (a datetime-local value) for an instant, in the shop's timezone.
function toLocalInput(ms) {
  const p = parts(ms);
  return `${p.y}-${pad(p.mo)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}`;
}

function offsetMinutes(ms) {
  const p = parts(ms);
  return Math.round((Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi, p.s) - Math.floor(ms / 1000) * 1000) / 60000);
}

// A datetime-local value read in the shop's timezone, as ISO 8601 with its UTC offset (the API wants one).
function localInputToIso(value) {
  if (!value) return null;
  const naive = Date.parse(`${value}:00Z`);
  if (Number.isNaN(naive)) return value;
  let off = offsetMinutes(naive);
  off = offsetMinutes(naive - off * 60000);
  const sign = off < 0 ? "-" : "+";
  const a = Math.abs(off);
  return `${value}:00${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

// Server times already carry the shop's offset: show them as written ("2026-11-12 11:00").
function fmt(iso) {
  return typeof iso === "string" ? iso.slice(0, 16).replace("T", " ") : "—";
}

function shortDay(iso) {
  return typeof iso === "string" ? `${Number(iso.slice(5, 7))}/${Number(iso.slice(8, 10))}` : "";
}

function windowState(item, at = nowMs()) {
  if (item.deleted) return "deleted";
  if (item.valid_from && Date.parse(item.valid_from) > at) return "upcoming";
  if (item.valid_to && Date.parse(item.valid_to) < at) return "expired";
  return "active";
}

const STATE_LABELS = { active: "in force", upcoming: "upcoming", expired: "expired", deleted: "deleted" };

function validityText(item) {
  if (!item.valid_from && !item.valid_to) return "always";
  return `${item.valid_from ? fmt(item.valid_from) : "…"} → ${item.valid_to ? fmt(item.valid_to) : "…"}`;
}

// ---------- the list ----------

async function loadItems() {
  const q = new URLSearchParams();
  if ($("#show-deleted").checked) q.set("include_deleted", "true");
  const data = await api(`/v1/knowledge?${q}`);
  state.items = data.items || [];
  state.now = Date.parse(data.now);
  state.loadedAt = performance.now();
  state.tz = data.timezone || state.tz;
  $("#tz-hint").textContent = `(${state.tz}, ${data.now.slice(-6)})`;
  setConn("live", t("Connected · {n} items", { n: state.items.filter((i) => !i.deleted).length }));
  renderList();
  renderTimeline();
}

function renderList() {
  const kind = $("#kind-filter").value;
  const shown = state.items.filter((i) => !kind || i.kind === kind);
  $("#items-count").textContent = String(shown.length);
  $("#items-empty").hidden = shown.length > 0;
  $("#items").replaceChildren(...shown.map(listItem));
}

function listItem(it) {
  const selected = state.selected && state.selected.id === it.id;
  const st = it.kind === "notice" ? windowState(it) : (it.deleted ? "deleted" : null);
  const li = h("li", { class: `item${it.deleted ? " is-deleted" : ""}`, "aria-selected": String(Boolean(selected)),
    "data-id": it.id, tabindex: "0" },
    h("div", { class: "item-top" },
      h("span", { class: `chip chip-${it.kind}`, text: it.kind }),
      h("span", { class: "item-title", lang: "zh", text: it.title }),
      st && st !== "active" ? h("span", { class: `chip chip-state-${st}`, text: STATE_LABELS[st] }) : null,
      st === "active" && it.kind === "notice" ? h("span", { class: "chip chip-state-active", text: t("in force") }) : null),
    h("div", { class: "item-meta" },
      h("code", { text: it.id }), ` · rev ${it.revision}`,
      it.kind === "notice" ? h("span", { class: "item-validity", text: ` · ${validityText(it)}` }) : null));
  li.addEventListener("click", () => selectItem(it.id));
  li.addEventListener("keydown", (ev) => { if (ev.key === "Enter") selectItem(it.id); });
  return li;
}

// ---------- the timeline ----------

function renderTimeline() {
  const box = $("#timeline");
  const notices = state.items.filter((i) => i.kind === "notice" && !i.deleted)
    .sort((a, b) => (Date.parse(a.valid_from || 0) - Date.parse(b.valid_from || 0)) || a.id.localeCompare(b.id));
  $("#timeline-empty").hidden = notices.length > 0;
  box.hidden = notices.length === 0;
  const now = nowMs();
  // Midnight of today in the shop's timezone: today's date at 00:00 with today's offset.
  const p = parts(now);
  const today = Date.UTC(p.y, p.mo - 1, p.d) - offsetMinutes(now) * 60000;
  const start = today - TIMELINE_BEFORE * DAY;
  const end = today + (TIMELINE_AFTER + 1) * DAY;
  const pct = (ms) => Math.min(100, Math.max(0, ((ms - start) / (end - start)) * 100));
  $("#timeline-range").textContent = `${TIMELINE_BEFORE} days back, ${TIMELINE_AFTER} ahead · times in ${state.tz}`;

  const axis = h("div", { class: "tl-row tl-axis" }, h("div", { class: "tl-label" }));
  const ticks = h("div", { class: "tl-track" });
  for (let d = 0; d <= TIMELINE_BEFORE + TIMELINE_AFTER; d += 7) {
    if (d === TIMELINE_BEFORE) continue;   // today has its own mark
    const ms = start + d * DAY;
    const tick = h("span", { class: "tl-tick", text: shortDay(toLocalInput(ms)) });
    tick.style.left = `${pct(ms)}%`;
    ticks.append(tick);
  }
  const todayMark = h("span", { class: "tl-tick tl-tick-today", text: "today" });
  todayMark.style.left = `${pct(now)}%`;
  ticks.append(todayMark);
  axis.append(ticks);

  const rows = notices.map((n) => {
    const st = windowState(n, now);
    const from = n.valid_from ? Date.parse(n.valid_from) : start;
    const to = n.valid_to ? Date.parse(n.valid_to) : end;
    const track = h("div", { class: "tl-track tl-days" });
    const line = h("span", { class: "tl-now", "aria-hidden": "true" });
    line.style.left = `${pct(now)}%`;
    const left = pct(from);
    const right = pct(to);
    const outside = to < start || from > end;
    const bar = h("button", {
      type: "button", class: `tl-bar tl-${st}${n.valid_from ? "" : " open-start"}${n.valid_to ? "" : " open-end"}`,
      title: `${n.title} · ${validityText(n)} (${STATE_LABELS[st]})`, "data-id": n.id,
    });
    bar.style.left = `${left}%`;
    bar.style.width = `${Math.max(right - left, 0.8)}%`;
    bar.addEventListener("click", () => selectItem(n.id));
    // The dates go beside the bar (a three-day bar is too narrow to hold them): after it, or before it near the end.
    const dates = h("span", { class: "tl-dates", text: `${n.valid_from ? shortDay(n.valid_from) : "…"} – ${n.valid_to ? shortDay(n.valid_to) : "…"}` });
    if (right < 82) dates.style.left = `calc(${right}% + 6px)`;
    else dates.style.right = `calc(${100 - left}% + 6px)`;
    track.append(line, bar, dates);
    if (outside) {   // the whole window is off this axis: say where it is instead of drawing it
      bar.classList.add("tl-outside");
      const later = from > end;
      track.append(h("span", { class: `tl-offaxis ${later ? "tl-offaxis-later" : "tl-offaxis-earlier"}`,
        text: later ? `from ${fmt(n.valid_from)} →` : `← ended ${fmt(n.valid_to)}` }));
    }
    return h("div", { class: "tl-row", "data-id": n.id },
      h("div", { class: "tl-label" },
        h("span", { class: "tl-title", lang: "zh", text: n.title, title: n.title }),
        h("span", { class: `chip chip-state-${st}`, text: outside && st === "expired" ? "expired (earlier)" : STATE_LABELS[st] })),
      track);
  });
  box.replaceChildren(axis, ...rows);
}

// ---------- the editor ----------

function fieldErrors(errors = {}) {
  for (const el of document.querySelectorAll("#item-form [data-error]")) {
    const msg = errors[el.dataset.error];
    el.hidden = !msg;
    el.textContent = msg || "";
  }
}

function showApiFieldErrors(err) {
  const errors = {};
  const details = err.details.length ? err.details : [{ field: err.field, message: err.message }];
  for (const d of details) {
    const name = String(d.field || "form").split(".")[0];
    const known = document.querySelector(`#item-form [data-error="${name}"]`) ? name : "form";
    errors[known] = errors[known] ? `${errors[known]}; ${d.message}` : `${d.field}: ${d.message}`;
  }
  fieldErrors(errors);
}

function setKindUi() {
  $("#validity").hidden = $("#f-kind").value !== "notice";
}

function fillForm(item) {
  $("#f-id").value = item?.id || "";
  $("#f-kind").value = item?.kind || "policy";
  $("#f-title").value = item?.title || "";
  $("#f-text").value = item?.text || "";
  $("#f-tags").value = (item?.tags || []).join(", ");
  $("#f-from").value = item?.valid_from ? item.valid_from.slice(0, 16) : "";
  $("#f-to").value = item?.valid_to ? item.valid_to.slice(0, 16) : "";
  $("#f-effects").value = item?.effects?.length ? JSON.stringify(item.effects) : "";
  showSuggestions(item?.suggested_effects || []);
  updateCount();
  setKindUi();
  fieldErrors();
}

function updateCount() {
  $("#text-count").textContent = `${$("#f-text").value.length} / 20000`;
}

function formItem() {
  const kind = $("#f-kind").value;
  const item = {
    kind,
    title: $("#f-title").value.trim(),
    text: $("#f-text").value,
    tags: $("#f-tags").value.split(/[,，、]/).map((t) => t.trim()).filter(Boolean),
  };
  if (kind === "notice") {
    item.valid_from = localInputToIso($("#f-from").value);
    item.valid_to = localInputToIso($("#f-to").value);
    item.effects = readEffects();
  }
  return item;
}

// ---------- notice effects: suggested by the server, applied only when the manager says so ----------

function readEffects() {
  const raw = $("#f-effects").value.trim();
  if (!raw) return [];
  try {
    const v = JSON.parse(raw);
    return Array.isArray(v) ? v : [v];
  } catch {
    return raw;  // sent as is: the server answers 422 naming the field
  }
}

function showSuggestions(list) {
  const out = $("#suggest-out");
  out.replaceChildren();
  const current = JSON.stringify(readEffects());
  for (const s of list) {
    if (current.includes(JSON.stringify(s.effect))) continue;
    const use = h("button", { type: "button", class: "btn small", text: "Use" });
    use.addEventListener("click", () => {
      const now = readEffects();
      const list2 = Array.isArray(now) ? now : [];
      list2.push(s.effect);
      $("#f-effects").value = JSON.stringify(list2);
      row.remove();
    });
    const row = h("div", { class: "suggestion" }, [
      h("code", { text: JSON.stringify(s.effect) }),
      h("span", { class: "muted small", text: ` from “${s.evidence}” ` }),
      use,
    ]);
    out.append(row);
  }
  if (out.children.length) out.prepend(h("p", { class: "muted small", text: "Suggested (not applied until you use one and save):" }));
}

async function onSuggest() {
  const text = $("#f-text").value;
  if (!text.trim()) return;
  try {
    const body = { text };
    const from = localInputToIso($("#f-from").value);
    if (from) body.valid_from = from;
    const r = await api("/v1/knowledge/suggest-effects", { method: "POST", body });
    showSuggestions(r.suggested);
    if (!r.suggested.length) {
      $("#suggest-out").replaceChildren(h("p", { class: "muted small", text: r.concerns_dispatch
        ? "No effect could be read from the text. Without effects, drafts promise no dispatch day while it is in force."
        : "The text does not seem to concern dispatch: information only." }));
    }
  } catch (err) {
    failed("Could not suggest effects", err);
  }
}

function newItem() {
  state.selected = null;
  state.mode = "new";
  $("#editor-title").textContent = t("New item");
  $("#editor-meta").textContent = "";
  fillForm(null);
  $("#f-id").readOnly = false;
  $("#item-form").hidden = false;
  $("#deleted-box").hidden = true;
  $("#delete-btn").hidden = true;
  $("#save-btn").textContent = t("Create");
  $("#revisions-box").hidden = true;
  $("#preview-box").hidden = false;
  $("#preview-out").replaceChildren();
  renderList();
  $("#f-id").focus();
}

async function selectItem(id, { quiet = false } = {}) {
  let item;
  try {
    item = await api(itemPath(id));
  } catch (err) {
    failed(`Could not open ${id}`, err);
    return;
  }
  state.selected = item;
  state.mode = "edit";
  $("#editor-title").textContent = `Edit · ${item.title}`;
  $("#editor-meta").textContent = `${item.kind} · rev ${item.revision} · saved ${fmt(item.created_at)}` +
    (item.author ? ` by key ${item.author}` : "");
  fillForm(item);
  $("#f-id").readOnly = true;
  $("#item-form").hidden = item.deleted;
  $("#deleted-box").hidden = !item.deleted;
  $("#delete-btn").hidden = item.deleted;
  resetDelete();
  $("#save-btn").textContent = t("Save changes");
  $("#preview-box").hidden = item.deleted;
  if (!quiet) $("#preview-out").replaceChildren();
  $("#diff-out").replaceChildren();
  renderList();
  highlightSearch();
  await loadRevisions(item.id);
  if (!quiet) $("#editor").scrollIntoView({ block: "start", behavior: "smooth" });
}

async function onSave(ev) {
  ev.preventDefault();
  fieldErrors();
  const body = formItem();
  const creating = state.mode === "new";
  const id = creating ? $("#f-id").value.trim() : state.selected.id;
  if (creating) body.id = id;
  else body.base_revision = state.selected.revision;
  try {
    const saved = creating
      ? await api("/v1/knowledge", { method: "POST", body })
      : await api(itemPath(id), { method: "PUT", body });
    $('#notices [data-key="save"]')?.remove();
    if (!saved.changed) notify("ok", t("No changes: {id} stays at revision {r}", { id, r: saved.revision }));
    else notify("ok", creating ? t("Created {id} (revision 1)", { id }) : t("Saved {id} as revision {r}", { id, r: saved.revision }));
    await loadItems();
    await selectItem(id, { quiet: true });
    showSuggestions(saved.suggested_effects || []);
    // A preview made before saving showed the unsaved text: draw it again from what is now saved.
    if (saved.changed && $("#p-message").value.trim() && $("#preview-out").childElementCount) {
      await onPreview(null, { saved: true });
    }
  } catch (err) {
    if (err.status === 422) {
      showApiFieldErrors(err);
      notify("error", t("Please fix the highlighted field"), [err.message], { key: "save" });
    } else if (err.status === 409) {
      fieldErrors({ form: err.message });
      notify("error", `Not saved: ${id}`, [err.message], { key: "save" });
    } else failed(`Could not save ${id}`, err);
  }
}

let deleteTimer = null;

function resetDelete() {
  clearTimeout(deleteTimer);
  const btn = $("#delete-btn");
  btn.dataset.armed = "";
  btn.textContent = t("Delete");
  btn.className = "btn danger-outline";
}

// Two clicks: the first arms the button for a few seconds, the second deletes (no blocking confirm()).
async function onDelete() {
  const btn = $("#delete-btn");
  if (!state.selected) return;
  if (!btn.dataset.armed) {
    btn.dataset.armed = "1";
    btn.textContent = t("Click again to delete");
    btn.className = "btn danger";
    deleteTimer = setTimeout(resetDelete, 4000);
    return;
  }
  resetDelete();
  const id = state.selected.id;
  try {
    const tomb = await api(itemPath(id), { method: "DELETE" });
    notify("ok", `Deleted ${id} (revision ${tomb.revision}); it can be restored`);
    await loadItems();
    await selectItem(id, { quiet: true });
  } catch (err) {
    failed(`Could not delete ${id}`, err);
  }
}

// ---------- revisions and diffs ----------

async function loadRevisions(id) {
  const list = $("#revisions");
  try {
    const data = await api(itemPath(id, "/revisions"));
    const revs = [...data.revisions].reverse();
    list.replaceChildren(...revs.map((r) => revisionItem(id, r, data.current_revision)));
    $("#revisions-box").hidden = false;
  } catch (err) {
    failed(`Could not load the revisions of ${id}`, err);
  }
}

function revisionItem(id, r, current) {
  const li = h("li", { class: `revision${r.revision === current ? " is-current" : ""}`, "data-rev": r.revision },
    h("span", { class: "rev-no", text: `rev ${r.revision}` }),
    r.revision === current ? h("span", { class: "chip chip-state-active", text: "current" }) : null,
    r.deleted ? h("span", { class: "chip chip-state-deleted", text: "deleted" }) : null,
    h("span", { class: "rev-title", lang: "zh", text: r.title }),
    h("span", { class: "rev-meta muted small", text: `${fmt(r.created_at)}${r.author ? ` · key ${r.author}` : ""}` }),
    h("span", { class: "rev-buttons" },
      r.revision > 1 ? h("button", { type: "button", class: "btn small", "data-act": "diff" }, `Diff ${r.revision - 1} → ${r.revision}`) : null,
      r.revision !== current ? h("button", { type: "button", class: "btn small", "data-act": "restore" }, "Restore") : null));
  li.querySelector('[data-act="diff"]')?.addEventListener("click", () => showDiff(id, r.revision - 1, r.revision));
  li.querySelector('[data-act="restore"]')?.addEventListener("click", () => restore(id, r.revision));
  return li;
}

async function showDiff(id, from, to) {
  const out = $("#diff-out");
  try {
    const d = await api(itemPath(id, `/diff?from=${from}&to=${to}`));
    const fields = Object.entries(d.fields).map(([name, v]) =>
      h("li", {}, h("code", { text: name }), ": ", h("del", { text: show(v.from) }), " → ", h("ins", { text: show(v.to) })));
    const lines = d.diff ? d.diff.split("\n").map((line) => {
      const cls = line.startsWith("+++") || line.startsWith("---") ? "d-file"
        : line.startsWith("@@") ? "d-hunk" : line.startsWith("+") ? "d-add" : line.startsWith("-") ? "d-del" : "d-ctx";
      return h("span", { class: `d-line ${cls}`, lang: "zh", text: line || " " });
    }) : [h("span", { class: "d-line d-ctx", text: "(title and text unchanged)" })];
    out.replaceChildren(h("div", { class: "diff" },
      h("div", { class: "diff-head" },
        h("strong", { text: `Diff of ${id}: revision ${d.from_revision} → ${d.to_revision}` }),
        h("span", { class: "muted small", text: d.changed.length ? ` changed: ${d.changed.join(", ")}` : " no changes" })),
      fields.length ? h("ul", { class: "diff-fields" }, fields) : null,
      h("pre", { class: "diff-text" }, lines)));
  } catch (err) {
    failed(`Could not diff ${id}`, err);
  }
}

function show(v) {
  if (v === null || v === undefined) return "none";
  if (Array.isArray(v)) return v.length ? v.join(", ") : "none";
  if (typeof v === "string" && /^\d{4}-\d\d-\d\dT/.test(v)) return fmt(v);
  return String(v);
}

async function restore(id, revision) {
  try {
    const doc = await api(itemPath(id, "/restore"), { method: "POST", body: { revision } });
    notify("ok", doc.changed ? `Restored revision ${revision} of ${id} as revision ${doc.revision}`
      : `Revision ${revision} of ${id} is already the current content`);
    await loadItems();
    await selectItem(id, { quiet: true });
  } catch (err) {
    failed(`Could not restore ${id}`, err);
  }
}

// ---------- draft preview ----------

async function loadOrders() {
  try {
    const orders = await api("/v1/orders");
    const sel = $("#p-order");
    sel.replaceChildren(...orders.map((o) => h("option", { value: o.order_id, text: `${o.order_id} · ${o.status}` })));
  } catch {
    // No orders to list (another order source): let the user type one instead.
    const input = h("input", { id: "p-order", name: "order_id", type: "text", maxlength: "64", value: "T1001" });
    $("#p-order").replaceWith(input);
  }
}

// `saved`: draw the preview from the saved knowledge only (after Create/Save), not the form's text.
async function onPreview(ev, { saved = false } = {}) {
  ev?.preventDefault();
  const out = $("#preview-out");
  const body = { order_id: $("#p-order").value, message: $("#p-message").value.trim() };
  if (!body.message) return;
  const item = formItem();
  const id = state.mode === "new" ? $("#f-id").value.trim() : state.selected?.id;
  const complete = id && item.title && item.text.trim();
  if (complete && !saved) body.item = { id, ...item };
  out.replaceChildren(h("p", { class: "muted small", text: t("Drafting…") }));
  try {
    const p = await api("/v1/knowledge/preview", { method: "POST", body });
    const d = p.draft;
    const cites = d.citations.filter((c) => c.kind !== "order").map((c) => {
      const mine = body.item && c.id === body.item.id;
      const label = [c.kind, c.id, c.revision === 0 ? "unsaved" : c.revision ? `rev ${c.revision}` : null].filter(Boolean).join(" · ");
      return h("li", { class: `chip chip-cite${mine ? " chip-mine" : ""}`, text: label });
    });
    out.replaceChildren(
      h("div", { class: "preview" },
        h("p", { class: "bubble reply-bubble", lang: d.intent?.language || "zh", text: d.text }),
        d.needs_human ? h("p", { class: "callout callout-warn small", text: `Needs a human: ${d.human_reason || ""}` }) : null,
        p.item ? h("p", { class: `callout ${p.item.cited || p.item.retrieved ? "callout-ok" : "callout-info"} small`, text: p.item.note }) : null,
        !complete ? h("p", { class: "muted small", text: "The form is incomplete, so this is the draft with the saved knowledge only." })
          : saved ? h("p", { class: "muted small", "data-preview": "saved", text: t("Drawn again from the saved knowledge.") }) : null,
        h("div", { class: "preview-meta" },
          h("span", { class: "muted small", text: t("Cites:") }),
          h("ul", { class: "chips" }, cites.length ? cites : [h("li", { class: "muted small", text: "nothing" })])),
        p.passages.length ? h("details", { class: "small" },
          h("summary", { text: `Retrieved for “${p.query || ""}”: ${p.passages.length} passages` }),
          scoreTable(p.passages, body.item?.id)) : null));
  } catch (err) {
    if (err.status === 422 && String(err.field || "").startsWith("item")) {
      out.replaceChildren(h("p", { class: "field-error", text: `The form has an error: ${err.message}` }));
    } else {
      out.replaceChildren();
      failed("Could not preview a reply", err);
    }
  }
}

// ---------- retrieval preview ----------

function num(v, digits) {
  return v === null || v === undefined ? "—" : Number(v).toFixed(digits);
}

function scoreCell(score, rank, digits) {
  return h("td", { class: "num" }, h("span", { class: "score", text: num(score, digits) }),
    rank ? h("span", { class: "rank", text: `#${rank}` }) : h("span", { class: "rank muted", text: "not found" }));
}

function scoreTable(passages, mark) {
  const maxFused = Math.max(...passages.map((p) => p.score), 1e-9);
  return h("table", { class: "scores" },
    h("thead", {}, h("tr", {},
      h("th", { text: "#" }), h("th", { text: "Item" }),
      h("th", { class: "num", text: "Vector (cosine)" }), h("th", { class: "num", text: "BM25" }),
      h("th", { class: "num", text: "Fused (RRF)" }))),
    h("tbody", {}, passages.map((p, i) => {
      const bar = h("span", { class: "fused-bar" });
      bar.style.width = `${Math.round((p.score / maxFused) * 100)}%`;
      return h("tr", { class: p.id === mark ? "is-mine" : "", "data-id": p.id },
        h("td", { class: "num", text: String(i + 1) }),
        h("td", {},
          h("span", { class: `chip chip-${p.kind}`, text: p.kind }), " ",
          h("span", { class: "p-title", lang: "zh", text: p.title }), " ",
          h("code", { class: "muted small", text: `${p.id} · ${p.revision === 0 ? "unsaved" : `rev ${p.revision}`}` }),
          h("div", { class: "p-text muted small", lang: "zh", text: p.text.slice(0, 90) + (p.text.length > 90 ? "…" : "") })),
        scoreCell(p.vector_score, p.vector_rank, 3),
        scoreCell(p.bm25_score, p.bm25_rank, 2),
        h("td", { class: "num" }, h("span", { class: "score", text: num(p.score, 4) }), h("span", { class: "fused-track" }, bar)));
    })));
}

async function onSearch(ev) {
  ev.preventDefault();
  const q = $("#s-query").value.trim();
  if (!q) return;
  const params = new URLSearchParams({ q, k: $("#s-k").value });
  try {
    state.lastSearch = await api(`/v1/knowledge/search?${params}`);
    renderSearch();
  } catch (err) {
    failed("Search failed", err);
  }
}

function renderSearch() {
  const r = state.lastSearch;
  if (!r) return;
  const out = $("#search-out");
  const notices = r.active_notices.map((n) => h("li", { class: "chip chip-notice active-notice", lang: "zh", text: `${n.title} · rev ${n.revision}` }));
  out.replaceChildren(
    r.passages.length ? scoreTable(r.passages, state.selected?.id) : h("p", { class: "empty", text: "Nothing found." }),
    h("p", { id: "search-verdict", class: "small" }),
    h("div", { class: "preview-meta" },
      h("span", { class: "muted small", text: "Notices in force now (every draft reads them):" }),
      h("ul", { class: "chips" }, notices.length ? notices : [h("li", { class: "muted small", text: "none" })])));
  highlightSearch();
}

// "Would this policy be found?": say so for the item open in the editor.
function highlightSearch() {
  const r = state.lastSearch;
  const verdict = $("#search-verdict");
  if (!r || !verdict) return;
  const sel = state.selected;
  for (const row of document.querySelectorAll("#search-out tr[data-id]")) {
    row.classList.toggle("is-mine", Boolean(sel) && row.dataset.id === sel.id);
  }
  if (!sel) {
    verdict.textContent = "";
    return;
  }
  const i = r.passages.findIndex((p) => p.id === sel.id);
  verdict.className = `small verdict ${i >= 0 ? "verdict-yes" : "verdict-no"}`;
  verdict.textContent = i >= 0 ? `✓ “${sel.title}” is found: #${i + 1} of ${r.passages.length} for this message.`
    : `✗ “${sel.title}” is not in the top ${r.k} for this message.`;
}

// ---------- shop settings ----------

async function loadSettings() {
  const ta = $("#settings-json");
  if (state.role !== null && !canEdit()) {
    // Said before anything is typed: this key can read the knowledge base but not the settings.
    ta.value = "";
    ta.disabled = true;
    SettingsForm.disable(true);
    $("#settings-role").hidden = false;
    $("#settings-role").textContent = `This ${state.role} key cannot see or change the shop settings: use a manager or admin key.`;
    $("#settings-meta").textContent = "Shop settings need a manager or admin key.";
    return;
  }
  try {
    const s = await api("/v1/shop/settings");
    showSettings(s);
    ta.disabled = false;
    SettingsForm.disable(false);
    $("#settings-role").hidden = true;
    $("#settings-errors").hidden = true;
  } catch (err) {
    if (err.status === 401) return onUnauthorized(err);
    ta.value = "";
    ta.disabled = true;
    SettingsForm.disable(true);
    $("#settings-meta").textContent = err.status === 403 ? "Shop settings need a manager or admin key." : err.message;
  }
}

function showSettings(s) {
  state.settings = s.settings;
  state.settingsRevision = s.revision;
  $("#settings-json").value = JSON.stringify(s.settings, null, 2);
  SettingsForm.fill(s.settings);
  $("#settings-meta").textContent = `${s.name} · revision ${s.revision}`;
}

async function onSaveSettingsForm(ev) {
  ev.preventDefault();
  const errors = SettingsForm.check();
  SettingsForm.mark(errors);
  if (Object.keys(errors).length) return;
  try {
    const s = await api("/v1/shop/settings", { method: "PUT", body: SettingsForm.read(state.settings || {}) });
    showSettings(s);
    notify("ok", s.changed ? t("Shop settings saved as revision {r}", { r: s.revision }) : t("Shop settings unchanged"));
  } catch (err) {
    if (err.status === 422) {
      const details = err.details.length ? err.details : [{ field: err.field, message: err.message }];
      SettingsForm.mark(Object.fromEntries(details.map((d) => [d.field || "body", d.message])));
    } else failed("Could not save the shop settings", err);
  }
}

async function onSaveSettings(ev) {
  ev.preventDefault();
  const box = $("#settings-errors");
  box.hidden = true;
  let body;
  try {
    body = JSON.parse($("#settings-json").value);
  } catch (e) {
    box.replaceChildren(h("strong", { text: "Not valid JSON: " }), e.message);
    box.hidden = false;
    return;
  }
  try {
    const s = await api("/v1/shop/settings", { method: "PUT", body });
    showSettings(s);
    notify("ok", s.changed ? t("Shop settings saved as revision {r}", { r: s.revision }) : t("Shop settings unchanged"));
  } catch (err) {
    if (err.status === 422) {
      const details = err.details.length ? err.details : [{ field: err.field, message: err.message }];
      box.replaceChildren(h("strong", { text: "Not saved. Please fix:" }),
        h("ul", {}, details.map((d) => h("li", {}, h("code", { text: d.field || "body" }), ` — ${d.message}`))));
      box.hidden = false;
    } else failed("Could not save the shop settings", err);
  }
}

// ---------- jobs: reindex and import run in the background; the bar follows GET /v1/jobs/{id} ----------

const JOB_STORAGE = "replydesk.kb.job";

function showJob(job) {
  $("#job").hidden = false;
  const bar = $("#job-progress");
  if (job.total) {
    bar.max = job.total;
    bar.value = job.done;
  } else bar.removeAttribute("value");  // indeterminate until the job knows its size
  const count = job.total ? ` ${job.done} / ${job.total}` : "";
  const attempt = job.attempts > 1 ? ` (attempt ${job.attempts})` : "";
  $("#job-status").textContent = `${job.kind}: ${job.status}${count}${attempt}`;
  $("#job-meta").textContent = job.id;
  const busy = job.status === "queued" || job.status === "running";
  $("#reindex-btn").disabled = busy;
  $("#import-files").disabled = busy;
}

async function followJob(id) {
  sessionStorage.setItem(JOB_STORAGE, id);
  for (;;) {
    let job;
    try {
      job = await api(`/v1/jobs/${encodeURIComponent(id)}`);
    } catch (err) {
      sessionStorage.removeItem(JOB_STORAGE);
      if (err.status !== 404) failed("Could not follow the job", err);
      return;
    }
    showJob(job);
    if (job.status === "done" || job.status === "failed") {
      sessionStorage.removeItem(JOB_STORAGE);
      if (job.status === "done") {
        const r = job.result || {};
        notify("ok", job.kind === "import"
          ? `Imported: ${r.created} created, ${r.updated} updated, ${r.unchanged} unchanged`
          : `Reindexed ${r.chunks} chunks`);
        await loadItems().catch((err) => failed("Could not reload", err));
      } else notify("error", `The ${job.kind} job failed`, [job.error || ""]);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
}

async function onReindex() {
  try {
    const job = await api("/v1/knowledge/reindex", { method: "POST" });
    showJob(job);
    await followJob(job.id);
  } catch (err) {
    failed("Could not start the reindex", err);
  }
}

async function onImport(ev) {
  const files = [...ev.target.files];
  ev.target.value = "";
  if (!files.length) return;
  try {
    const body = { files: await Promise.all(files.map(async (f) => ({ name: f.name, content: await f.text() }))) };
    const job = await api("/v1/knowledge/import", { method: "POST", body });
    showJob(job);
    await followJob(job.id);
  } catch (err) {
    failed("Could not import", err);  // a bad file: nothing was imported (all or nothing)
  }
}

// ---------- start ----------

async function start() {
  if (!state.key) {
    askForKey("");
    return;
  }
  try {
    await loadItems();
  } catch (err) {
    if (err.status === 401 || err.status === 403) return onUnauthorized(err);
    setConn("error", t("Offline"));
    notify("error", t("Could not load the knowledge base"), [err.message], { key: "load" });
    return;
  }
  try {
    state.role = (await api("/v1/shop/desk")).role;
  } catch {
    state.role = null;   // unknown: the API's 403 will say so at the first write
  }
  applyRole();
  openPrefilled();
  await Promise.all([loadOrders(), loadSettings()]);
  const running = sessionStorage.getItem(JOB_STORAGE);
  if (running) followJob(running);
}

// A key that may only read learns it before filling a form: creating and editing are off, and say why.
function applyRole() {
  const note = $("#role-note");
  const readOnly = state.role !== null && !canEdit();
  $("#new-btn").disabled = readOnly;
  note.hidden = !readOnly;
  note.textContent = readOnly
    ? `This ${state.role} key can read and preview; creating or editing items needs a manager or admin key.` : "";
  for (const x of document.querySelectorAll("#item-form input, #item-form textarea, #item-form select")) {
    x.readOnly = readOnly || x.readOnly;
  }
  for (const id of ["#save-btn", "#delete-btn", "#suggest-btn"]) {
    const b = $(id);
    if (b) b.disabled = readOnly;
  }
}

// /kb?new=notice&title=…&text=… (the insights page's "write a notice"): a new notice, filled in, not saved.
// The manager edits it, sets its validity and saves; nothing is written without that click.
function openPrefilled() {
  const q = new URLSearchParams(location.search);
  const kind = q.get("new");
  if (!kind || !["notice", "policy", "style"].includes(kind)) return;
  newItem();
  $("#f-kind").value = kind;
  $("#f-id").value = q.get("id") || "";
  $("#f-title").value = q.get("title") || "";
  $("#f-text").value = q.get("text") || "";
  updateCount();
  setKindUi();
  $("#f-text").focus();
}

function wire() {
  wireKey(state, () => start());
  $("#new-btn").addEventListener("click", newItem);
  $("#kind-filter").addEventListener("change", renderList);
  $("#show-deleted").addEventListener("change", () => loadItems().catch((err) => failed("Could not load", err)));
  $("#item-form").addEventListener("submit", onSave);
  $("#f-kind").addEventListener("change", setKindUi);
  $("#suggest-btn").addEventListener("click", onSuggest);
  $("#f-text").addEventListener("input", updateCount);
  $("#cancel-btn").addEventListener("click", () => (state.selected ? selectItem(state.selected.id) : newItem()));
  $("#delete-btn").addEventListener("click", onDelete);
  for (const btn of document.querySelectorAll("#validity [data-days]")) {
    btn.addEventListener("click", () => {
      const now = nowMs();
      $("#f-from").value = toLocalInput(now);
      $("#f-to").value = toLocalInput(now + Number(btn.dataset.days) * DAY);
    });
  }
  $("#preview-form").addEventListener("submit", onPreview);
  $("#search-form").addEventListener("submit", onSearch);
  $("#settings-form").addEventListener("submit", onSaveSettings);
  $("#settings-reload").addEventListener("click", loadSettings);
  $("#settings-fields").addEventListener("submit", onSaveSettingsForm);
  $("#settings-form-reload").addEventListener("click", loadSettings);
  $("#reindex-btn").addEventListener("click", onReindex);
  $("#import-files").addEventListener("change", onImport);
}

wire();
addEventListener("rd:lang", () => {   // what this page drew itself, drawn again in the chosen language
  renderList();
  renderTimeline();
});
start();
