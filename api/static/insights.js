// The managers' urge insights (/insights): one call to GET /v1/insights/summary draws the page; the
// charts are Chart.js (vendored: /static/vendor/chart.umd.js). Plain JS, no build step; every text
// from the server is set as textContent (common.js's h()).
"use strict";

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  charts: {},
};
const api = makeApi(() => state.key, "The server did not answer. Is replydesk running?");

// The page's own query string may pin the range (?since=…&until=…): links and tests share a view.
function rangeParams() {
  const page = new URLSearchParams(location.search);
  const q = new URLSearchParams();
  if (page.get("until")) q.set("until", page.get("until"));
  if (page.get("since")) q.set("since", page.get("since"));
  else {
    const until = page.get("until") ? new Date(page.get("until")) : new Date();
    q.set("since", new Date(until.getTime() - Number($("#range").value) * 3600e3).toISOString());
    if (!page.get("until")) q.set("until", until.toISOString());
  }
  return q;
}

function cell(v, cls) {
  return h("td", { class: cls }, v === null || v === undefined ? "—" : String(v));
}

function fillTable(sel, rows) {
  $(`${sel} tbody`).replaceChildren(...rows);
}

function shortTime(iso) {
  return iso.slice(5, 16).replace("T", " ");
}

function drawCurve(summary) {
  const groups = summary.curve.groups;
  const labels = groups.map((g) => shortTime(g.key));
  const counts = groups.map((g) => g.count);
  // A surge is marked at the hour its window ends in (the point the alert looked back from).
  const marks = groups.map(() => null);
  for (const a of summary.alerts) {
    const end = new Date(a.window_end).getTime();
    const i = groups.findIndex((g) => {
      const t = new Date(g.key).getTime();
      return end > t && end <= t + (summary.curve.by === "hour" ? 3600e3 : 86400e3);
    });
    if (i >= 0) marks[i] = counts[i];
  }
  state.charts.curve?.destroy();
  state.charts.curve = new Chart($("#curve"), {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "Urges", data: counts, borderColor: "#2563eb", backgroundColor: "rgba(37,99,235,0.12)",
          fill: true, pointRadius: 0, tension: 0.25, borderWidth: 1.5 },
        { label: "Surge (alert)", data: marks, type: "line", showLine: false, pointRadius: 6, pointHoverRadius: 8,
          backgroundColor: "#dc2626", borderColor: "#7f1d1d", pointBackgroundColor: "#dc2626",
          pointBorderColor: "#7f1d1d" },
      ],
    },
    options: {
      animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      scales: { x: { ticks: { maxTicksLimit: 14, autoSkip: true } }, y: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
}

function drawAlerts(alerts) {
  $("#alerts-count").textContent = String(alerts.length);
  $("#alerts-empty").hidden = alerts.length > 0;
  $("#alerts").replaceChildren(...alerts.map((a) => {
    const day = a.window_end.slice(0, 10).replaceAll("-", "");
    const kb = new URLSearchParams({ new: "notice", id: `n-${a.value}-${day}`.toLowerCase().replace(/[^a-z0-9_-]/g, "-"),
      title: `${a.dimension === "total" ? "发货" : a.value} 延迟说明`, text: a.notice_text || "" });
    const hook = a.webhook.status === "off" ? "" : `webhook: ${a.webhook.status}` +
      (a.webhook.attempts ? ` after ${a.webhook.attempts} attempt(s)` : "") + (a.webhook.error ? ` (${a.webhook.error})` : "");
    return h("li", { class: "alert", "data-dimension": a.dimension, "data-value": a.value },
      h("div", { class: "when" }, `${shortTime(a.window_start)} – ${shortTime(a.window_end)} · ${a.dimension} ${a.value} · `
        + `${a.count} vs ~${a.expected.toFixed(1)} expected (p=${a.p_value.toExponential(1)})`),
      h("p", { class: "cause" }, a.cause_text),
      h("p", { class: "action" }, `Suggested: ${a.action_text}`),
      h("div", { class: "row" },
        h("a", { class: "btn primary small", href: `/kb?${kb}` }, "Write a notice"),
        hook ? h("span", { class: "hook" }, hook) : null));
  }));
}

function drawTables(s) {
  fillTable("#causes", s.causes.map((c) => h("tr", { class: c.ratio !== null && c.ratio >= 2 ? "up" : "" },
    cell(c.cause), cell(c.count, "num"), cell(c.usual, "num"),
    cell(c.ratio === null ? (c.usual === null ? "—" : "new") : `×${c.ratio}`, "num"))));
  $("#repeats-count").textContent = String(s.repeats.orders);
  fillTable("#repeats", s.repeats.top.map((r) => h("tr", {},
    cell(r.order_id), cell(r.urges, "num"), cell(r.cause), cell(shortTime(r.last)))));
  for (const by of ["sku", "warehouse", "carrier", "state"]) {
    fillTable(`#by-${by}`, s.breakdown[by].slice(0, 10).map((g) => h("tr", {},
      cell(g.key === null ? "(not given)" : g.key), cell(g.count, "num"))));
  }
  const stages = { draft: "draft", decided: "approved / rejected", inserted: "inserted", sent: "sent" };
  fillTable("#rt-stages", Object.entries(stages).map(([k, label]) => {
    const p = s.response_times.stages[k];
    return h("tr", {}, cell(label), cell(p.n, "num"), cell(p.p50, "num"), cell(p.p90, "num"), cell(p.p95, "num"));
  }));
  fillTable("#rt-agents", s.response_times.per_agent.map((p) => h("tr", {},
    cell(p.key), cell(p.n, "num"), cell(p.p50, "num"), cell(p.p90, "num"), cell(p.p95, "num"))));
  fillTable("#approvals", s.approvals.map((a) => h("tr", {},
    cell(a.state), cell(a.decided, "num"), cell(`${Math.round(a.approved_unedited_share * 100)}%`, "num"),
    cell(a.edited, "num"), cell(a.rejected, "num"))));
  const hours = s.response_times.per_hour;
  state.charts.rt?.destroy();
  state.charts.rt = new Chart($("#rt-hours"), {
    type: "bar",
    data: { labels: hours.map((x) => `${x.hour}:00`), datasets: [
      { label: "p50 s", data: hours.map((x) => x.p50), backgroundColor: "#60a5fa" },
      { label: "p90 s", data: hours.map((x) => x.p90), backgroundColor: "#1d4ed8" }] },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } } },
  });
}

async function load() {
  try {
    const s = await api(`/v1/insights/summary?${rangeParams()}`);
    setConn("live", "Connected");
    $("#total").textContent = String(s.total);
    $("#range-label").textContent = `${shortTime(s.range.since)} – ${shortTime(s.range.until)} (${s.range.timezone})`;
    drawCurve(s);
    drawAlerts(s.alerts);
    drawTables(s);
    document.body.dataset.loaded = "true";
  } catch (err) {
    if (err.status === 401) return forgetKey(state, err.message);
    if (err.status === 403) return forgetKey(state, "This page needs a manager or admin key.");
    setConn("error", "Offline");
    notify("error", "Could not load the insights", [err.message], { key: "load" });
  }
}

// Exports need the key in a header, so they are fetched here and handed to the browser as a file.
async function download(format) {
  const res = await fetch(`/v1/insights/export?format=${format}&${rangeParams()}`,
    { headers: { Authorization: `Bearer ${state.key}` } });
  if (!res.ok) return notify("error", "Export failed", [`${res.status} ${res.statusText}`]);
  const url = URL.createObjectURL(await res.blob());
  const a = h("a", { href: url, download: `urge-events.${format}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function start() {
  if (!state.key) return askForKey("");
  load();
}

wireKey(state, start);
$("#refresh").addEventListener("click", load);
$("#range").addEventListener("change", load);
$("#export-csv").addEventListener("click", () => download("csv"));
$("#export-jsonl").addEventListener("click", () => download("jsonl"));
start();
