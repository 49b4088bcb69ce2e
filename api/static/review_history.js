// The agent's recent decisions: approved and sent replies, newest decision first, with Copy and — while a
// reply is approved but not yet sent — Undo approve (the draft goes back to the queue, the edit kept).
// A side sheet (<dialog id="history-dialog">) on the review page; text is only ever set as textContent.

const { t } = rdI18n;
let api = null;
let onUndone = () => {};

export function initHistory(apiClient, undone) {
  api = apiClient;
  onUndone = undone;
}

export function openHistory() {
  const dlg = document.getElementById("history-dialog");
  if (!dlg.open) dlg.showModal();
  refreshHistory();
}

async function fetchDecided() {
  const [approved, sent] = await Promise.all(["approved", "sent"].map((status) =>
    api(`/v1/drafts?${new URLSearchParams({ status, sort: "decided", limit: "20" })}`)));
  const all = [...approved.items, ...sent.items];
  const at = (d) => Date.parse(d.decided_at || d.created_at) || 0;
  return all.sort((a, b) => at(b) - at(a)).slice(0, 30);
}

export async function refreshHistory() {
  const dlg = document.getElementById("history-dialog");
  if (!api || !dlg?.open) return;
  const list = document.getElementById("history-list");
  try {
    const items = await fetchDecided();
    list.replaceChildren(...items.map(row));
    document.getElementById("history-empty").hidden = items.length > 0;
  } catch (err) {
    notify("error", t("Could not load the history"), [err.message], { key: "history" });
  }
}

function row(d) {
  const text = d.final_text || d.text;
  const copy = h("button", { type: "button", class: "btn small", "data-act": "copy", text: t("Copy") });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      copy.textContent = t("Copied");
    } catch {
      // No clipboard permission (e.g. not a secure context): select the text so Ctrl+C copies it.
      const sel = getSelection();
      sel.selectAllChildren(copy.closest("li").querySelector(".h-text"));
      copy.textContent = t("Press Ctrl+C");
    }
  });
  const undo = d.status === "approved"
    ? h("button", { type: "button", class: "btn small danger-outline", "data-act": "undo", text: t("Undo approve") }) : null;
  undo?.addEventListener("click", async () => {
    try {
      await api(`/v1/drafts/${encodeURIComponent(d.id)}/unapprove`, { method: "POST" });
      notify("ok", t("Back in the queue: order {id}", { id: d.order_id }));
      onUndone(d.id);
      refreshHistory();
    } catch (err) {
      notify("error", t("Could not undo the approval"), [err.message]);
      refreshHistory();
    }
  });
  const flagged = d.override_reason
    ? h("p", { class: "h-override", text: `${t("Approved over the claim check")}: ${d.override_reason}` }) : null;
  return h("li", { class: "h-item", "data-id": d.id, "data-status": d.status },
    h("div", { class: "h-top" },
      h("span", { class: "q-order", text: d.order_id }),
      h("span", { class: `chip chip-status-${d.status}`, text: t(d.status) }),
      h("time", { class: "muted small", datetime: d.decided_at || "", text: rdI18n.fmt(d.decided_at || d.created_at) }),
      h("span", { class: "h-buttons" }, copy, undo)),
    h("p", { class: "h-text", lang: "zh", text }),
    flagged);
}
