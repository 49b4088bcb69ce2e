// Site adapters: how to read a shop's web chat and where to put an approved reply.
//
// One entry per chat page. content.js picks the first adapter whose `url` matches the page and uses
// only these selectors, so pointing the extension at another web chat is a config change here (plus
// its URL under "content_scripts" → "matches" in manifest.json, which is what lets Chrome run
// content.js there at all). Selectors are plain CSS; test them in DevTools with
// document.querySelectorAll(...) on the chat page first.
//
//   url           RegExp source matched against location.href
//   turns         every message in the open conversation, oldest first (the last buyer turn is answered)
//   buyerTurn     a turn that matches this selector is the buyer's; any other turn is the shop's
//   turnText      the element inside a turn that holds its text (omit: the whole turn)
//   orderId       elements that show the conversation's order id (data-order-id or text); the last counts
//   orderIdPattern  RegExp source that extracts the id from that element's text
//   input         the chat input box (textarea, input or contenteditable)
//   send          the send button: a click on it with our inserted text reports the reply as sent
//   turnTime      (optional) an element inside a turn whose `datetime` (or data-at) attribute is when it was
//                 sent, with a UTC offset; without it a turn's time is when the extension first saw it
//
// This file runs in the content script's isolated world: the page's own scripts cannot see it.

globalThis.REPLYDESK_ADAPTERS = [
  {
    id: "replydesk-demo",
    name: "replydesk demo chat",
    url: "^https?://(127\\.0\\.0\\.1|localhost)(:\\d+)?/demo/chat([?#].*)?$",
    turns: "#chat-log .msg",
    buyerTurn: ".msg-buyer",
    turnText: ".msg-text",
    orderId: "#chat-log .order-card [data-order-id]",
    orderIdPattern: "T\\d{4,}|\\d{12,20}",
    input: "#chat-input",
    send: "#chat-send",
  },
  // A shop's own web chat, for example (selectors are placeholders: copy yours from DevTools):
  // {
  //   id: "my-shop",
  //   name: "My shop's web chat",
  //   url: "^https://chat\\.example\\.com/",
  //   turns: ".message-list .message",
  //   buyerTurn: ".message--customer",
  //   turnText: ".message__text",
  //   orderId: ".order-panel .order-no",
  //   orderIdPattern: "\\d{12,20}",          // Taobao order numbers are long digit strings
  //   input: "textarea.editor",
  //   send: "button.send",
  // },
];
