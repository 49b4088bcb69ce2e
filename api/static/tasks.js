// 仓库的交接清单 (/tasks): open handoffs, oldest first, with the order facts; "已完成" marks one done
// (the agent's review page announces it). Text only through textContent (h() from common.js).
"use strict";

(function () {
  const POLL_MS = 5000;
  const state = { key: sessionStorage.getItem(KEY_STORAGE) || "", timer: null };
  const api = makeApi(() => state.key, "连接不上 replydesk 服务器，正在重试…");
  const STATUS = { open: "待处理", sent: "发送中", done: "已完成", failed: "发送失败" };
  const ORDER_STATUS = { WAIT_SELLER_SEND_GOODS: "待发货", SELLER_CONSIGNED_PART: "部分发货",
    WAIT_BUYER_CONFIRM_GOODS: "已发货", WAIT_BUYER_PAY: "待付款" };

  // The reasons are written for the log in English; the warehouse reads them in Chinese.
  const REASONS = [
    [/^overdue (\d+) day\(s\)$/, (m) => `已超过承诺发货时间 ${m[1]} 天`],
    [/^delay notice$/, () => "店铺延迟发货通知期间"],
    [/^coupon ¥([\d.]+) approved: give it to the buyer$/, (m) => `主管已批准：给买家发放 ${m[1]} 元优惠券`],
    [/^gift approved: give it to the buyer$/, () => "主管已批准：给买家寄送赠品"],
    [/^buyer asks for express handling or a specific courier$/, () => "买家要求加急或指定快递，需仓库确认"],
    [/^parcel (\d+): no tracking update for (\d+) h$/, (m) => `包裹${m[1]}物流 ${m[2]} 小时未更新，请联系快递`],
    [/^parcel (\d+): delivery failed$/, (m) => `包裹${m[1]}派送失败，请联系快递`],
    [/the order is being flagged to the warehouse/, () => "回复中已告诉买家：会通知仓库加急"],
    [/the warehouse is being asked to (hurry|prioritise)/, () => "回复中已告诉买家：会催仓库"],
    [/dispatch day is being checked with the warehouse/, () => "回复中已告诉买家：会跟仓库确认发货日期"],
    [/restock date is being asked for|new restock date is being asked for/, () => "请确认补货日期"],
    [/missing line is being checked/, () => "请核实未发出的商品"],
  ];

  function reasonText(r) {
    for (const [rx, fn] of REASONS) {
      const m = rx.exec(r || "");
      if (m) return fn(m);
    }
    return r || "";
  }

  function age(iso, now) {
    const mins = Math.max(0, Math.round((now - new Date(iso)) / 60000));
    if (mins < 60) return `${mins} 分钟`;
    const hrs = Math.floor(mins / 60);
    return hrs < 48 ? `${hrs} 小时` : `${Math.floor(hrs / 24)} 天`;
  }

  function day(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return `${d.getMonth() + 1}月${d.getDate()}日 ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  }

  function facts(f) {
    if (!f) return h("span", { class: "muted", text: "（无订单信息）" });
    const lines = [];
    if (f.status) lines.push(`状态：${ORDER_STATUS[f.status] || f.status}`);
    if (f.paid_at) lines.push(`付款：${day(f.paid_at)}`);
    if (f.promised_ship_by) lines.push(`承诺发货：${day(f.promised_ship_by)}前`);
    for (const it of f.items || []) lines.push(`${it.title || it.sku || "商品"} ×${it.quantity ?? 1}${it.stock === "out_of_stock" ? "（缺货）" : ""}`);
    for (const s of f.shipments || []) lines.push(`${s.carrier || ""} ${s.tracking_no || ""}`.trim());
    if (f.warehouse) lines.push(`仓库：${f.warehouse}`);
    return h("ul", { class: "task-facts" }, lines.map((l) => h("li", { text: l })));
  }

  function row(t, now) {
    const old = now - new Date(t.created_at) > 24 * 3600 * 1000;
    const done = h("button", { type: "button", class: "btn small primary", "data-done": t.id }, "已完成");
    done.hidden = t.status === "done";
    done.addEventListener("click", async () => {
      done.disabled = true;
      try {
        await api(`/v1/tasks/${encodeURIComponent(t.id)}/done`, { method: "POST", body: { note: "仓库已处理" } });
        notify("ok", `已完成：订单 ${t.order_id} · ${t.label}`);
        load();
      } catch (err) {
        if (err.status === 401 || err.status === 403) forgetKey(state, err.message);
        else notify("error", `操作失败：订单 ${t.order_id}`, [err.message]);
        done.disabled = false;
      }
    });
    return h("tr", { "data-task": t.id, "data-status": t.status },
      h("td", { class: old ? "age old" : "age", text: age(t.created_at, now) }),
      h("td", { text: t.order_id }),
      h("td", { text: t.label }),
      h("td", { class: "small", text: reasonText(t.reason) + (t.last_error ? `（${t.last_error}）` : "") }),
      h("td", {}, facts(t.facts)),
      h("td", {}, h("span", { class: `badge badge-${t.status}`, text: STATUS[t.status] || t.status })),
      h("td", {}, done));
  }

  async function load() {
    if (!state.key) return;
    const status = $("#status-filter").value;
    try {
      const page = await api(`/v1/tasks?status=${encodeURIComponent(status)}&limit=500`);
      const now = new Date(page.now);
      $("#task-rows").replaceChildren(...page.items.map((t) => row(t, now)));
      $("#task-count").textContent = String(page.items.length);
      $("#tasks-empty").hidden = page.items.length > 0;
      setConn("live", `已连接 · ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      if (err.status === 401 || err.status === 403) forgetKey(state, err.message);
      else setConn("error", err.message);
    }
  }

  function start() {
    load();
    clearInterval(state.timer);
    state.timer = setInterval(load, POLL_MS);
  }

  $("#status-filter").addEventListener("change", load);
  $("#refresh-btn").addEventListener("click", load);
  wireKey(state, start);
  if (state.key) start();
  else askForKey("");
})();
