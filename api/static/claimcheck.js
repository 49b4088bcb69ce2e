// The claim check as the agent types: the reply box's text is sent (debounced) to
// POST /v1/drafts/{id}/check, and the guard's report comes back with each claim's place in the text.
// The claims are marked in a layer behind the (transparent) textarea, and the verdict is redrawn.
// Offsets are Unicode code points (the API's unit); JS strings count UTF-16 units, so text is split
// with Array.from before slicing.

const DEBOUNCE_MS = 250;

// One checker per shown draft. `check(text)` schedules a check; `now(text)` checks at once (approve
// waits for it). Only the answer to the latest text is ever reported: a slow older answer is dropped.
export function makeChecker(api, draftId, onReport) {
  let timer = null;
  let seq = 0;
  const cache = new Map();   // text -> report (an agent often undoes back to a text already checked)

  async function run(text) {
    const mine = ++seq;
    if (cache.has(text)) {
      onReport(text, cache.get(text), null);
      return cache.get(text);
    }
    onReport(text, null, null);  // checking…
    try {
      const report = await api(`/v1/drafts/${encodeURIComponent(draftId)}/check`, { method: "POST", body: { text } });
      cache.set(text, report);
      if (mine === seq) onReport(text, report, null);
      return report;
    } catch (err) {
      if (mine === seq) onReport(text, null, err);
      throw err;
    }
  }

  return {
    check(text) {
      clearTimeout(timer);
      seq++;   // an answer in flight is now stale
      if (cache.has(text)) {
        onReport(text, cache.get(text), null);
        return;
      }
      onReport(text, null, null);
      timer = setTimeout(() => run(text).catch(() => {}), DEBOUNCE_MS);
    },
    now(text) {
      clearTimeout(timer);
      return run(text);
    },
    known(text) {
      return cache.get(text) || null;
    },
    stop() {
      clearTimeout(timer);
      seq++;
    },
  };
}

// Fill `layer` with the text, claims wrapped in <mark>: red for unsupported, green for backed.
export function drawMarks(layer, text, report) {
  const chars = Array.from(text);
  const spans = [];
  const bad = new Set((report?.violations || []).map((v) => `${v.start}:${v.end}`));
  for (const c of report?.claims || []) {
    if (c.start === null || c.start === undefined || c.end === null || c.end === undefined) continue;
    spans.push({ start: c.start, end: c.end, bad: bad.has(`${c.start}:${c.end}`) || !c.supported_by, kind: c.kind });
  }
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const out = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at || s.end > chars.length) continue;   // overlapping claims: the first one is marked
    if (s.start > at) out.push(chars.slice(at, s.start).join(""));
    const m = document.createElement("mark");
    m.className = s.bad ? "claim-bad" : "claim-ok";
    m.dataset.kind = s.kind;
    m.textContent = chars.slice(s.start, s.end).join("");
    out.push(m);
    at = s.end;
  }
  out.push(chars.slice(at).join(""));
  // A trailing newline needs a character after it to take up its line, as it does in the textarea.
  out.push("\u200b");
  layer.replaceChildren(...out);
}
