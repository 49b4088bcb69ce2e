// Runs on chat pages named in manifest.json (isolated world, after adapters.js).
//
// It only reads the conversation and writes into the chat input box, using the page's adapter. It
// never sees the API key and makes no network calls: the side panel asks it for the buyer's message,
// sends that to the service worker (which holds the key), and asks it to insert the approved text.
(() => {
  "use strict";

  const adapter = (globalThis.REPLYDESK_ADAPTERS || []).find((a) => new RegExp(a.url).test(location.href));
  if (!adapter) return;

  const MAX_TEXT = 2000;  // the API's limit for one message or context turn
  const MAX_CONTEXT = 19; // the API takes 20 turns; keep the most recent ones
  let lastInserted = null; // the approved text we put in the box, until it is sent

  const clean = (s) => (s || "").replace(/\s+\n/g, "\n").trim().slice(0, MAX_TEXT);
  const same = (a, b) => (a || "").replace(/\s+/g, " ").trim() === (b || "").replace(/\s+/g, " ").trim();

  // When each turn arrived: the adapter's `turnTime` (an element with a machine-readable datetime) when the
  // chat shows one, else when this script first saw the turn. The latter is never earlier than the truth, so
  // the waiting time it gives is a lower bound: agents are scored from the buyer's message, not our request.
  const firstSeen = new WeakMap();
  const stamp = () => {
    const now = new Date().toISOString();
    for (const el of document.querySelectorAll(adapter.turns)) if (!firstSeen.has(el)) firstSeen.set(el, now);
  };
  stamp();
  new MutationObserver(stamp).observe(document.documentElement, { childList: true, subtree: true });

  function turnAt(el) {
    const t = adapter.turnTime ? el.querySelector(adapter.turnTime) : null;
    const raw = t?.getAttribute("datetime") || t?.dataset?.at;
    if (raw && !Number.isNaN(Date.parse(raw)) && /[zZ]|[+-]\d\d:?\d\d$/.test(raw)) return new Date(raw).toISOString();
    return firstSeen.get(el) || new Date().toISOString();
  }

  function readTurns() {
    return [...document.querySelectorAll(adapter.turns)].map((el) => {
      const textEl = adapter.turnText ? el.querySelector(adapter.turnText) : el;
      return { role: el.matches(adapter.buyerTurn) ? "buyer" : "agent", text: clean(textEl?.innerText), at: turnAt(el) };
    }).filter((t) => t.text);
  }

  function readOrderId() {
    const els = [...document.querySelectorAll(adapter.orderId)];
    const el = els.at(-1);
    if (!el) return "";
    const raw = el.dataset.orderId || el.textContent || "";
    const m = adapter.orderIdPattern ? raw.match(new RegExp(adapter.orderIdPattern)) : null;
    return (m ? m[0] : raw).trim();
  }

  // The buyer's unanswered run of messages is what we reply to; what came before is context.
  function readChat() {
    const turns = readTurns();
    let end = turns.length - 1;
    while (end >= 0 && turns[end].role !== "buyer") end--;
    let start = end;
    while (start > 0 && turns[start - 1].role === "buyer") start--;
    const message = end < 0 ? "" : clean(turns.slice(start, end + 1).map((t) => t.text).join("\n"));
    const context = end < 0 ? turns : turns.slice(Math.max(0, start - MAX_CONTEXT), start);
    // The first message of the buyer's unanswered run is when the buyer started waiting.
    const receivedAt = end < 0 ? null : turns[start].at;
    return { adapter: adapter.name, message, orderId: readOrderId(), context, receivedAt };
  }

  function inputBox() {
    return document.querySelector(adapter.input);
  }

  // Set the box the way a person typing would, so the page's own framework (React, Vue…) sees it.
  function insert(text) {
    const box = inputBox();
    if (!box) return { ok: false, error: `no chat input box (${adapter.input}) on this page` };
    box.focus();
    if (box.isContentEditable) {
      document.getSelection().selectAllChildren(box);
      if (!document.execCommand("insertText", false, text)) box.textContent = text;
    } else {
      const proto = box instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
      Object.getOwnPropertyDescriptor(proto, "value").set.call(box, text);
      box.dispatchEvent(new Event("input", { bubbles: true }));
      box.dispatchEvent(new Event("change", { bubbles: true }));
      box.setSelectionRange(text.length, text.length);
    }
    lastInserted = text;
    return { ok: true };
  }

  // The agent pressing the page's own Send with our text in the box is the confirmation that the reply
  // went out; the panel then reports it as sent. Captured before the page clears the box.
  function noticeSend() {
    if (lastInserted === null) return;
    const box = inputBox();
    const value = box ? (box.isContentEditable ? box.innerText : box.value) : "";
    if (!same(value, lastInserted)) return; // edited in the box after insertion: let the agent confirm
    lastInserted = null;
    chrome.runtime.sendMessage({ type: "rd:sent-in-page" }).catch(() => {});
  }

  if (adapter.send) {
    document.addEventListener("click", (ev) => {
      if (ev.target instanceof Element && ev.target.closest(adapter.send)) noticeSend();
    }, true);
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.target === inputBox()) noticeSend();
  }, true);

  chrome.runtime.onMessage.addListener((msg, sender, reply) => {
    if (sender.id !== chrome.runtime.id) return false;
    if (msg?.type === "rd:read") reply(readChat());
    else if (msg?.type === "rd:insert") reply(insert(String(msg.text || "")));
    else return false;
    return false; // answered synchronously
  });

  // Tell the extension this tab is a chat it can work with (the panel falls back to the latest one).
  const hello = () => chrome.runtime.sendMessage({ type: "rd:hello", adapter: adapter.name }).catch(() => {});
  hello();
  document.addEventListener("visibilitychange", () => { if (!document.hidden) hello(); });
})();
