// Issue 18 on the review page: which proposed actions to take on approval, what became of them
// (tasks done / failed, shown at once), and the managers' compensation queue (approve / decline).
// A classic script loaded after common.js; review.js calls window.replydeskActions. Text is set
// with textContent only (h() from common.js).
"use strict";

(function () {
  const POLL_MS = 4000;
  const api = makeApi(() => sessionStorage.getItem(KEY_STORAGE) || "", "Cannot reach the replydesk server.");
  const st = {
    settings: null,     // GET /v1/tasks/settings: role, defaults, limits
    ticks: new Map(),   // draft id -> Map(index -> {on, amount})
    since: null,        // server time of the last task poll
    known: new Map(),   // task id -> status last seen
    failed: new Map(),  // task id -> task
  };
  const COMP = new Set(["coupon", "gift"]);

  function choice(d) {
    if (!st.ticks.has(d.id)) {
      const defaults = new Set(st.settings?.actions_default || ["priority", "forward_warehouse", "contact_courier",
        "escalate", "coupon", "gift"]);
      const m = new Map();
      (d.actions || []).forEach((a, i) => m.set(i, { on: defaults.has(a.kind), amount: a.amount_yuan }));
      st.ticks.set(d.id, m);
    }
    return st.ticks.get(d.id);
  }

  // Checkboxes on the proposed actions (review.js has listed them); a coupon's amount may be lowered.
  function render(ul, d) {
    const m = choice(d);
    [...ul.querySelectorAll("li.action")].forEach((li, i) => {
      const a = (d.actions || [])[i];
      if (!a) return;
      const t = m.get(i);
      const box = h("input", { type: "checkbox", class: "take-action", "data-index": i, "aria-label": `Take: ${a.kind}` });
      box.checked = t.on;
      const hint = h("span", { class: "small take-hint", role: "note",
        text: "The reply says this will be done: keep it ticked, or edit the reply." });
      hint.hidden = t.on;
      box.addEventListener("change", () => { t.on = box.checked; hint.hidden = box.checked; });
      const label = h("label", { class: "take" }, box, COMP.has(a.kind) ? " Ask a manager" : " Do it on approval");
      li.prepend(label);
      li.append(hint);
      if (a.kind === "coupon") {
        const max = st.settings ? st.settings.coupon_yuan_max : a.amount_yuan;
        const amt = h("input", { type: "number", class: "coupon-amount", min: "0.5", step: "0.5", max: String(max),
          value: String(t.amount ?? max), "aria-label": "Coupon amount (yuan)" });
        amt.addEventListener("input", () => { t.amount = Number(amt.value); });
        li.append(h("label", { class: "small" }, "¥ ", amt, ` (at most ¥${max})`));
      }
    });
  }

  function chosen(d) {
    if (!(d.actions || []).length) return null;
    const out = [];
    for (const [i, t] of choice(d)) {
      if (!t.on) continue;
      const a = d.actions[i];
      out.push(a.kind === "coupon" && t.amount ? { index: i, amount_yuan: t.amount } : { index: i });
    }
    return out;
  }

  const LABELS = { priority: "Priority", forward_warehouse: "Pass to the warehouse", contact_courier: "Contact the courier",
    escalate: "Pass to a colleague", coupon: "Give the coupon", gift: "Send the gift" };

  function describe(t) {
    return `${LABELS[t.kind] || t.kind} · order ${t.order_id}`;
  }

  function approved(draft, res) {
    st.ticks.delete(draft.id);
    const tasks = res.tasks || [];
    const reqs = res.approvals || [];
    const lines = tasks.map((t) => `${describe(t)}: ${t.status}${t.executor === "manual" ? " (on the warehouse list)" : ""}`)
      .concat(reqs.map((a) => `${a.kind}${a.amount_yuan ? " ¥" + a.amount_yuan : ""}: ${a.status === "pending" ? "waiting for a manager" : a.status}`));
    if (lines.length) notify("ok", `Actions for order ${draft.order_id}`, lines, { key: `acts-${draft.id}` });
    for (const t of tasks) {
      st.known.set(t.id, t.status);
      if (t.status === "failed") showFailed(t);
    }
    if (st.settings && ["manager", "admin"].includes(st.settings.role)) loadApprovals();
  }

  // ---------- tasks: failures stay on the page; a task marked done elsewhere is announced ----------

  function showFailed(t) {
    st.failed.set(t.id, t);
    drawFailed();
  }

  function drawFailed() {
    const list = $("#failed-tasks");
    if (!list) return;
    list.replaceChildren(...[...st.failed.values()].map((t) => {
      const retry = h("button", { type: "button", class: "btn small", "data-task": t.id }, "Retry");
      retry.addEventListener("click", async () => {
        retry.disabled = true;
        try {
          const again = await api(`/v1/tasks/${encodeURIComponent(t.id)}/retry`, { method: "POST" });
          st.known.set(again.id, again.status);
          if (again.status === "failed") showFailed(again);
          else {
            st.failed.delete(again.id);
            drawFailed();
            notify("ok", `${describe(again)}: ${again.status}`);
          }
        } catch (err) {
          notify("error", `Could not retry ${describe(t)}`, [err.message]);
        } finally { retry.disabled = false; }
      });
      return h("li", { class: "action task-failed", "data-task": t.id },
        h("div", { class: "action-top" }, h("strong", { text: describe(t) }), h("span", { class: "badge badge-failed", text: "failed" })),
        h("span", { class: "small", text: t.last_error || "" }), retry);
    }));
    $("#task-alerts").hidden = st.failed.size === 0;
  }

  async function pollTasks() {
    try {
      const q = st.since ? `&updated_since=${encodeURIComponent(st.since)}` : "";
      const page = await api(`/v1/tasks?status=all&limit=200${q}`);
      for (const t of page.items) {
        const before = st.known.get(t.id);
        st.known.set(t.id, t.status);
        if (t.status === "failed") showFailed(t);
        else if (st.failed.delete(t.id)) drawFailed();
        if (before !== t.status && t.status === "done") {
          const last = t.events[t.events.length - 1] || {};
          notify("ok", `Done: ${describe(t)}`, [last.detail || ""].filter(Boolean), { key: `done-${t.id}` });
        }
      }
      st.since = page.now;
    } catch { /* review.js shows connection problems */ }
  }

  // ---------- the managers' compensation queue ----------

  async function loadApprovals() {
    const list = $("#approval-list");
    let page;
    try { page = await api("/v1/approvals?status=pending"); } catch { return; }
    $("#approvals-count").textContent = String(page.items.length);
    list.replaceChildren(...(page.items.length ? page.items.map(approvalItem)
      : [h("li", { class: "muted", text: "Nothing waiting." })]));
  }

  function approvalItem(a) {
    const what = a.kind === "coupon" ? `Coupon ¥${a.amount_yuan}` : `Gift: ${a.gift || "gift"}`;
    const ok = h("button", { type: "button", class: "btn primary small", "data-approve": a.id }, "Approve");
    const reason = h("input", { type: "text", maxlength: "500", placeholder: "Reason to decline", "aria-label": "Reason to decline" });
    const no = h("button", { type: "button", class: "btn danger-outline small", "data-decline": a.id }, "Decline");
    const li = h("li", { class: "action approval", "data-approval": a.id },
      h("div", { class: "action-top" }, h("strong", { text: `${what} · order ${a.order_id}` }),
        h("span", { class: "badge badge-approval", text: a.cause.replace(/_/g, " ") })),
      h("span", { class: "muted small", text: a.reason }),
      h("div", { class: "buttons" }, ok, reason, no));
    ok.addEventListener("click", () => decideApproval(a, "approve", undefined, li));
    no.addEventListener("click", () => {
      if (!reason.value.trim()) {
        notify("error", "Say why you decline it", ["The agent and the feedback log keep the reason."]);
        reason.focus();
        return;
      }
      decideApproval(a, "decline", { reason: reason.value.trim() }, li);
    });
    return li;
  }

  async function decideApproval(a, action, body, li) {
    li.setAttribute("aria-busy", "true");
    try {
      const res = await api(`/v1/approvals/${encodeURIComponent(a.id)}/${action}`, { method: "POST", body });
      notify("ok", `${action === "approve" ? "Approved" : "Declined"}: ${a.kind} for order ${a.order_id}`);
      li.remove();
      $("#approvals-count").textContent = String(Math.max(0, Number($("#approvals-count").textContent) - 1));
      return res;
    } catch (err) {
      notify("error", `Could not ${action} the ${a.kind} for order ${a.order_id}`, [err.message]);
      loadApprovals();
    } finally { li.removeAttribute("aria-busy"); }
  }

  async function start() {
    if (!sessionStorage.getItem(KEY_STORAGE)) { setTimeout(start, 1000); return; }
    try { st.settings = await api("/v1/tasks/settings"); } catch { setTimeout(start, 2000); return; }
    if (["manager", "admin"].includes(st.settings.role)) {
      $("#approvals").hidden = false;
      loadApprovals();
      setInterval(loadApprovals, POLL_MS * 2);
    }
    // Failures from before this page was opened are shown too.
    try {
      const failed = await api("/v1/tasks?status=failed&limit=200");
      failed.items.forEach((t) => { st.known.set(t.id, t.status); st.failed.set(t.id, t); });
      drawFailed();
      st.since = failed.now;  // from here on only what changes is fetched
    } catch { /* shown by review.js */ }
    await pollTasks();
    setInterval(pollTasks, POLL_MS);
  }

  window.replydeskActions = { render, chosen, approved };
  start();
})();
