// Rendering a draft result's parts in the panel. Text is only ever set with textContent: buyer messages
// and order data are untrusted (a message may even be a prompt injection aimed at the drafter).
// The order facts are rendered by order_facts.js, which the review page uses too.

export { fillFacts } from "./order_facts.js";

const t = (s, vars) => (globalThis.rdI18n ? globalThis.rdI18n.t(s, vars) : s);

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

export function guardBlock(g, title = "Claim check") {
  const box = h("div", { class: "guard" });
  const v = g.violations || [];
  if (v.length) {
    box.append(h("div", { class: "callout callout-danger", role: "note" },
      h("strong", { text: `${t(title)}: ${t("{n} warning(s)", { n: v.length })}` }),
      h("ul", {}, v.map((x) => h("li", {}, h("code", { text: x.kind }), " “", h("span", { lang: "zh", text: x.text }),
        "” ", x.reason ? `— ${t(x.reason)}` : "")))));
  }
  if (g.fell_back) box.append(h("p", { class: "callout callout-info", text: t("The composed draft failed the claim check; this is the safe fallback draft.") }));
  else if (g.repaired) box.append(h("p", { class: "callout callout-info", text: t("The composed draft failed the claim check once and was repaired.") }));
  if (!v.length && g.ok !== false && g.claims) {
    box.append(h("p", { class: "guard-ok", text: t("✓ Every claim in this text is backed by the facts ({n} checked).", { n: g.claims.length }) }));
  }
  return box;
}

export function fillActions(ul, actions) {
  ul.replaceChildren();
  if (!actions.length) ul.append(h("li", { class: "muted small", text: t("None.") }));
  for (const a of actions) {
    const amount = a.amount_yuan !== null && a.amount_yuan !== undefined ? ` ¥${a.amount_yuan}` : "";
    ul.append(h("li", { class: "action" },
      h("span", { class: "action-kind", text: `${t(a.kind.replace(/_/g, " "))}${amount}` }),
      a.needs_approval ? h("span", { class: "badge badge-approval", text: t("needs approval") }) : null,
      a.reason ? h("div", { class: "muted small", text: a.reason }) : null));
  }
}

export function fillCitations(ul, citations) {
  ul.replaceChildren();
  if (!citations.length) ul.append(h("li", { class: "muted small", text: t("None.") }));
  for (const c of citations) {
    const label = [t(c.kind), c.id, c.field, c.revision ? `${t("rev")} ${c.revision}` : null].filter(Boolean).join(" · ");
    ul.append(h("li", { class: `chip chip-${c.kind}`, text: label }));
  }
}
