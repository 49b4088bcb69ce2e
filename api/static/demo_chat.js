// The demo chat page: a few buyers urging shipment, each about one of the demo shop's orders.
// Everything is local, in memory, and set with textContent. The markup the replydesk extension's adapter
// reads (extension/adapters.js): #chat-log .msg[.msg-buyer|.msg-agent] .msg-text, .order-card
// [data-order-id], #chat-input and #chat-send. Keep them stable.
"use strict";

const ITEM = { title: "陶瓷马克杯 白色 350ml", price: "39.00", qty: 1 };

// Orders as `replydesk demo seed` creates them (T1003 overdue, T1006 shipped, T1004 out of stock…).
const CONVERSATIONS = [
  {
    buyer: "tb_小鹿乱撞", orderId: "T1003", status: "买家已付款，等待卖家发货",
    turns: [
      { who: "buyer", card: true, at: "前天 20:15" },
      { who: "buyer", text: "能快点发货吗？", at: "前天 20:15" },
      { who: "agent", text: "亲，已经帮您催促仓库了，请您耐心等待哦~", at: "前天 20:16" },
      { who: "buyer", text: "亲，怎么还不发货？都三天了", at: "今天 10:02" },
    ],
  },
  {
    buyer: "tb_阿木木", orderId: "T1006", status: "卖家已发货",
    turns: [
      { who: "buyer", card: true, at: "今天 09:40" },
      { who: "buyer", text: "发货了吗？到哪了", at: "今天 09:41" },
    ],
  },
  {
    buyer: "momo酱", orderId: "T1004", status: "买家已付款，等待卖家发货",
    turns: [
      { who: "buyer", card: true, at: "今天 09:12" },
      { who: "buyer", text: "我买的杯子什么时候发货", at: "今天 09:12" },
    ],
  },
  {
    buyer: "lucy_w", orderId: "T1013", status: "卖家已发货",
    turns: [
      { who: "buyer", card: true, at: "昨天 22:30" },
      { who: "buyer", text: "Hi, when will my order arrive?", at: "昨天 22:31" },
    ],
  },
];

let current = 0;
const $ = (sel) => document.querySelector(sel);

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function lastText(conv) {
  const t = [...conv.turns].reverse().find((x) => x.text);
  return t ? t.text : "[订单]";
}

function renderList() {
  const ul = $("#conv-list");
  ul.replaceChildren();
  CONVERSATIONS.forEach((conv, i) => {
    const btn = el("button", "conv");
    btn.type = "button";
    btn.setAttribute("aria-current", i === current ? "true" : "false");
    const avatar = el("span", "avatar", [...conv.buyer.replace(/^tb_/, "")][0]);
    avatar.setAttribute("aria-hidden", "true");
    const body = el("span", "conv-body");
    const top = el("span", "conv-top");
    top.append(el("span", "conv-name", conv.buyer), el("span", "conv-time", conv.turns.at(-1).at));
    const bottom = el("span", "conv-bottom");
    bottom.append(el("span", "conv-last", lastText(conv)));
    if (conv.turns.at(-1).who === "buyer") bottom.append(el("span", "unread", "待回复"));
    body.append(top, bottom);
    btn.append(avatar, body);
    btn.addEventListener("click", () => select(i));
    const li = el("li");
    li.append(btn);
    ul.append(li);
  });
}

function orderCard(conv) {
  const card = el("div", "order-card");
  const thumb = el("span", "thumb", "杯");
  thumb.setAttribute("aria-hidden", "true");
  const info = el("div", "card-info");
  const id = el("span", "order-id", conv.orderId);
  id.dataset.orderId = conv.orderId;
  const line = el("div", "card-line", "订单号 ");
  line.append(id);
  info.append(el("div", "card-title", ITEM.title), line, el("div", "card-status", conv.status));
  card.append(thumb, info, el("div", "card-price", `¥${ITEM.price}`));
  return card;
}

function renderChat() {
  const conv = CONVERSATIONS[current];
  $("#chat-buyer").textContent = conv.buyer;
  $("#chat-sub").textContent = `咨询订单 ${conv.orderId}`;
  const log = $("#chat-log");
  log.replaceChildren();
  for (const t of conv.turns) {
    const msg = el("div", `msg msg-${t.who}${t.card ? " msg-card" : ""}`);
    msg.append(el("div", "msg-meta", `${t.who === "buyer" ? conv.buyer : "客服 小美"}  ${t.at}`));
    msg.append(t.card ? orderCard(conv) : el("div", "msg-text", t.text));
    log.append(msg);
  }
  log.scrollTop = log.scrollHeight;

  const info = $("#order-info");
  info.replaceChildren();
  for (const [k, v] of [["订单号", conv.orderId], ["商品", `${ITEM.title} ×${ITEM.qty}`], ["实付", `¥${ITEM.price}`],
    ["状态", conv.status], ["买家", conv.buyer]]) {
    info.append(el("dt", "", k), el("dd", "", v));
  }
}

function select(i) {
  current = i;
  $("#chat-input").value = "";
  renderList();
  renderChat();
  $("#chat-input").focus();
}

function send() {
  const input = $("#chat-input");
  const text = input.value.trim();
  if (!text) return;
  CONVERSATIONS[current].turns.push({ who: "agent", text, at: "刚刚" });
  input.value = "";
  renderList();
  renderChat();
  input.focus();
}

$("#chat-send").addEventListener("click", send);
$("#chat-input").addEventListener("keydown", (ev) => {
  // isComposing: Enter also confirms a Chinese IME candidate; that must not send the message.
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    send();
  }
});

renderList();
renderChat();
