// The order facts a draft used, as a <dl>: one renderer for the extension's side panel and the review page.
// This file is the extension's own (an unpacked MV3 extension must be self-contained); the replydesk server
// serves the same file to the review page as /static/order_facts.js. Order data is untrusted: text only.

const STATUS = {   // Taobao trade statuses, as an agent knows them
  WAIT_BUYER_PAY: "等待买家付款 · not paid yet",
  WAIT_SELLER_SEND_GOODS: "待发货 · paid, not shipped",
  SELLER_CONSIGNED_PART: "部分发货 · partly shipped",
  WAIT_BUYER_CONFIRM_GOODS: "已发货 · shipped",
  TRADE_BUYER_SIGNED: "已签收 · signed for",
  TRADE_FINISHED: "交易成功 · finished",
  TRADE_CLOSED: "交易关闭 · closed",
  TRADE_CLOSED_BY_TAOBAO: "淘宝关闭 · closed by Taobao",
  PAID_FORBID_CONSIGN: "禁止发货 · shipping forbidden",
};
const STOCK = { in_stock: "in stock", low: "low stock", out_of_stock: "out of stock", unknown: "stock unknown" };
const ORDER_ERRORS = {
  timeout: "The order system did not answer in time.",
  not_found: "No such order in this shop.",
  unavailable: "The order system is unavailable.",
};

// i18n.js (when the page loaded it) translates labels and shows times in the shop's timezone, one format.
const i18n = () => globalThis.rdI18n;
const t = (s, vars) => (i18n() ? i18n().t(s, vars) : s);
// Without i18n.js: the shop's own clock time as the order system wrote it (the ISO string carries its offset).
const fmtTime = (iso) => (i18n() ? i18n().fmt(iso) : typeof iso === "string" ? iso.slice(0, 16).replace("T", " ") : "—");

function el(tag, text, cls = "", attrs = {}) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.textContent = text;
  return e;
}

function fact(dl, label, ...value) {
  const dd = document.createElement("dd");
  dd.append(...value.filter((v) => v !== null));
  dl.append(el("dt", t(label)), dd);
}

// Fill `dl` with the facts of draft result `d` (or why there are none: then the draft claims nothing).
export function fillFacts(dl, d) {
  dl.replaceChildren();
  const f = d.facts;
  if (!f) {
    const why = t(ORDER_ERRORS[d.order_error] || "The order's status is unknown.");
    dl.append(el("div", `${why} ${t("The draft makes no status claims.")}`, "callout callout-warn"));
    return;
  }
  if (f.buyer_nick) fact(dl, "Buyer", el("span", f.buyer_nick, "", { lang: "zh" }));
  if (typeof f.amount === "number") fact(dl, "Amount", `¥${f.amount.toFixed(2)}`);
  fact(dl, "Status", el("span", STATUS[f.status] || f.status || "unknown", "status", f.status ? { title: f.status } : {}));
  if (f.paid_at) fact(dl, "Paid", fmtTime(f.paid_at));
  if (f.promised_ship_by) fact(dl, "Ship by", fmtTime(f.promised_ship_by));
  if (f.presale) fact(dl, "Presale", `ships ${f.presale.ship_from || "?"} – ${f.presale.ship_by || "?"}`);
  for (const it of f.items || []) {
    const stock = t(STOCK[it.stock] || it.stock || "");
    const eta = it.restock_eta ? ` until ${it.restock_eta}` : "";
    fact(dl, "Item", el("span", `${it.title || it.sku} ×${it.quantity ?? 1}`, "", { lang: "zh" }),
      stock ? el("span", ` · ${stock}${eta}`, "muted") : null);
  }
  const ships = f.shipments || [];
  if (!ships.length) fact(dl, "Shipment", el("span", t("none yet"), "muted"));
  for (const s of ships) {
    const last = (s.events || []).at(-1);
    fact(dl, "Carrier", el("span", s.carrier || "—", "", { lang: "zh" }));
    fact(dl, "Tracking", el("code", s.tracking_no || "—"));
    if (last) fact(dl, "Last event", el("span", `${fmtTime(last.at)} ${last.desc || ""}`, "", { lang: "zh" }));
  }
  if (f.refund) fact(dl, "Refund", f.refund.status || "yes");
  if (d.facts_age_s != null) {
    const age = d.facts_age_s < 90 ? `${Math.round(d.facts_age_s)} s` : `${Math.round(d.facts_age_s / 60)} min`;
    fact(dl, "Fetched", el("span", `${age} before the draft` + (d.order_error ? " (too old: no status claims)" : ""),
      d.order_error ? "muted" : ""));
  }
}
