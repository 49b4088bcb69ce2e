// Rendering a draft result's parts in the panel. Text is only ever set with textContent: buyer messages
// and order data are untrusted (a message may even be a prompt injection aimed at the drafter).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") el.textContent = v;
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c);
  return el;
}

const STATUS = {
  WAIT_BUYER_PAY: "not paid yet", WAIT_SELLER_SEND_GOODS: "paid, not shipped", SELLER_CONSIGNED_PART: "partly shipped",
  WAIT_BUYER_CONFIRM_GOODS: "shipped", TRADE_BUYER_SIGNED: "signed for", TRADE_FINISHED: "finished",
  TRADE_CLOSED: "closed", TRADE_CLOSED_BY_TAOBAO: "closed by Taobao", PAID_FORBID_CONSIGN: "shipping forbidden",
};
const STOCK = { in_stock: "in stock", low: "low stock", out_of_stock: "out of stock", unknown: "stock unknown" };
const ORDER_ERRORS = { timeout: "The order system did not answer in time.", not_found: "No such order in this shop." };

const fmtTime = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString("zh-CN", { month: "numeric", day: "numeric",
    hour: "2-digit", minute: "2-digit", timeZone: "Asia/Shanghai" });
};

export function guardBlock(g, title = "Claim check") {
  const box = h("div", { class: "guard" });
  const v = g.violations || [];
  if (v.length) {
    box.append(h("div", { class: "callout callout-danger", role: "note" },
      h("strong", { text: `${title}: ${v.length} warning${v.length > 1 ? "s" : ""}` }),
      h("ul", {}, v.map((x) => h("li", {}, h("code", { text: x.kind }), " “", h("span", { lang: "zh", text: x.text }),
        "” ", x.reason ? `— ${x.reason}` : "")))));
  }
  if (g.fell_back) box.append(h("p", { class: "callout callout-info", text: "The composed draft failed the claim check; this is the safe fallback." }));
  else if (g.repaired) box.append(h("p", { class: "callout callout-info", text: "The composed draft failed the claim check once and was repaired." }));
  if (!v.length && g.ok !== false && g.claims) {
    box.append(h("p", { class: "guard-ok", text: `✓ Every claim is backed by the facts (${g.claims.length} checked).` }));
  }
  return box;
}

export function fillActions(ul, actions) {
  ul.replaceChildren();
  if (!actions.length) ul.append(h("li", { class: "muted small", text: "None." }));
  for (const a of actions) {
    const amount = a.amount_yuan !== null && a.amount_yuan !== undefined ? ` ¥${a.amount_yuan}` : "";
    ul.append(h("li", { class: "action" },
      h("span", { class: "action-kind", text: `${a.kind.replace(/_/g, " ")}${amount}` }),
      a.needs_approval ? h("span", { class: "badge badge-approval", text: "needs approval" }) : null,
      a.reason ? h("div", { class: "muted small", text: a.reason }) : null));
  }
}

function fact(dl, label, ...value) {
  dl.append(h("dt", { text: label }), h("dd", {}, ...value));
}

export function fillFacts(dl, d) {
  dl.replaceChildren();
  const f = d.facts;
  if (!f) {
    const why = ORDER_ERRORS[d.order_error] || "The order's status is unknown.";
    dl.append(h("div", { class: "callout callout-warn", text: `${why} The draft makes no status claims.` }));
    return;
  }
  fact(dl, "Status", h("span", { title: f.status, text: STATUS[f.status] || f.status || "unknown" }));
  if (f.paid_at) fact(dl, "Paid", fmtTime(f.paid_at));
  if (f.promised_ship_by) fact(dl, "Ship by", fmtTime(f.promised_ship_by));
  if (f.presale) fact(dl, "Presale", `ships ${f.presale.ship_from || "?"} – ${f.presale.ship_by || "?"}`);
  for (const it of f.items || []) {
    const eta = it.restock_eta ? ` until ${it.restock_eta}` : "";
    fact(dl, "Item", h("span", { lang: "zh", text: `${it.title || it.sku} ×${it.quantity ?? 1}` }),
      it.stock ? h("span", { class: "muted", text: ` · ${STOCK[it.stock] || it.stock}${eta}` }) : null);
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
}

export function fillCitations(ul, citations) {
  ul.replaceChildren();
  if (!citations.length) ul.append(h("li", { class: "muted small", text: "None." }));
  for (const c of citations) {
    const label = [c.kind, c.id, c.field, c.revision ? `rev ${c.revision}` : null].filter(Boolean).join(" · ");
    ul.append(h("li", { class: `chip chip-${c.kind}`, text: label }));
  }
}
