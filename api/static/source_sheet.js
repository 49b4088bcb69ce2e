// A cited policy or notice, opened in a side sheet at the revision the draft cited (and saying so when the
// source has changed since). Read with the agent's own key: GET /v1/knowledge/{id}?revision=N.

const { t } = rdI18n;

export async function openSource(api, cite) {
  const dlg = document.getElementById("source-dialog");
  const body = document.getElementById("source-body");
  document.getElementById("source-title").textContent = `${t(cite.kind)} · ${cite.id}`;
  body.replaceChildren(h("p", { class: "muted", text: t("Loading…") }));
  if (!dlg.open) dlg.showModal();
  try {
    const q = cite.revision ? `?revision=${encodeURIComponent(cite.revision)}` : "";
    const doc = await api(`/v1/knowledge/${encodeURIComponent(cite.id)}${q}`);
    const newer = doc.current_revision && doc.revision && doc.current_revision > doc.revision;
    body.replaceChildren(
      h("h3", { class: "src-title", lang: "zh", text: doc.title || cite.id }),
      h("p", { class: "muted small" },
        `${t("rev")} ${doc.revision}`,
        doc.created_at ? ` · ${rdI18n.fmt(doc.created_at)}` : "",
        doc.author ? ` · ${doc.author}` : ""),
      newer ? h("p", { class: "callout callout-warn", text: t("The draft cited revision {r}; the source is now at revision {c}.", { r: doc.revision, c: doc.current_revision }) }) : null,
      h("div", { class: "src-text", lang: "zh", text: doc.text || "" }));
  } catch (err) {
    body.replaceChildren(h("p", { class: "callout callout-warn", text: `${t("Could not open the source")}: ${err.message}` }));
  }
}
