// Languages for the pages and the extension: Simplified Chinese by default, English as an option.
// A plain message catalogue: the English text is the key, ZH holds its translation; a string without a
// translation shows in English (never blank). {name} placeholders are filled from `vars`.
// Dates: one format everywhere, "YYYY-MM-DD HH:mm", in the shop's timezone (setZone), whatever the language.
// This file is the extension's own (it must be self-contained); the server serves it as /static/i18n.js.
// A classic script (no module) so that every page script, module or not, can use globalThis.rdI18n.
"use strict";

(function () {
  const ZH = {
    // the frame and the key
    "Review queue": "待审回复",
    "Knowledge base": "知识库",
    "Not connected": "未连接",
    "API key": "API 密钥",
    "Connect to replydesk": "连接 replydesk",
    "Save key": "保存密钥",
    "Paste your API key": "请粘贴您的 API 密钥",
    "It stays in this browser tab only (session storage) and is sent with each request as": "密钥只保存在本浏览器标签页（会话存储），每次请求以此方式发送：",
    "Language": "语言",
    "Live": "实时",
    "Offline": "离线",
    "Dismiss": "关闭",
    "Cannot reach the replydesk server. Retrying…": "无法连接 replydesk 服务器，正在重试…",
    "This key may not review drafts": "此密钥无权审核回复",
    "Could not load the queue": "无法加载待审列表",
    // the queue
    "Pending": "待审核",
    "longest waiting first ·": "等待最久的在前 ·",
    "No drafts waiting. New ones appear here by themselves.": "暂无待审回复，新消息会自动出现在这里。",
    "Select a draft to review it.": "选择一条回复进行审核。",
    "Nothing to review. Nice work.": "全部审完了，辛苦了！",
    "Connect with your API key to see the queue.": "请先输入 API 密钥以查看待审列表。",
    "The draft for order {id} is no longer pending": "订单 {id} 的回复已不在待审状态",
    "Someone else decided it, or a newer draft replaced it.": "可能已被其他客服处理，或已被更新的回复取代。",
    "Waiting since": "等待开始于",
    "target": "目标",
    "Waiting": "已等待",
    "received": "收到于",
    "prompt": "提示词",
    "drafted in {ms} ms": "生成用时 {ms} 毫秒",
    "needs human": "需人工",
    "{n} warning(s)": "{n} 条警告",
    "edited": "已修改",
    "urge": "催发货", "logistics": "物流", "change_request": "改单请求", "complaint": "投诉", "other": "其他",
    "unknown": "未知",
    "intent": "意图", "language": "语言", "threat": "威胁", "prompt injection": "提示注入",
    "asked {n}×": "第 {n} 次催问",
    "buyer": "买家", "agent": "客服",
    // one draft
    "Order": "订单",
    "Needs a human": "需要人工处理",
    "The drafter asks for a person to handle this one.": "系统建议由人工处理这条消息。",
    "Conversation": "对话",
    "Reply draft": "回复草稿",
    "Approve": "通过",
    "Approve edited": "通过修改后的回复",
    "Edit": "编辑",
    "Reject": "拒绝",
    "Undo edits": "撤销修改",
    "Reason": "原因",
    "Wrong facts": "事实错误", "Wrong tone": "语气不当", "Not needed": "无需回复",
    "Policy violation": "违反规定", "Other": "其他",
    "wrong facts": "事实错误", "wrong tone": "语气不当", "not needed": "无需回复", "policy violation": "违反规定",
    "Note (optional)": "备注（可选）",
    "Reject draft": "拒绝此回复",
    "Cancel": "取消",
    "Close": "关闭",
    "Proposed actions": "建议的操作",
    "The reply never grants these; a person does.": "回复不会自行承诺这些操作，须由人工决定。",
    "Order facts used": "使用的订单信息",
    "Claims in the draft": "草稿中的说法",
    "Sources": "依据来源",
    "None.": "无。",
    "{n} chars": "{n} 字",
    "needs approval": "需审批", "no approval needed": "无需审批",
    "coupon": "优惠券", "gift": "小礼品", "priority": "优先处理", "forward warehouse": "转仓库",
    "contact courier": "联系快递", "escalate": "升级处理",
    "No factual claims in the draft.": "草稿中没有事实性说法。",
    "backed by": "依据", "not backed by any fact": "没有任何事实依据", "commits": "承诺",
    "policy": "政策", "notice": "公告", "order": "订单", "rev": "版本",
    "Open this source": "打开此来源",
    // the live claim check
    "Checking the claims…": "正在核对说法…",
    "The claim check could not run": "无法核对说法",
    "Claim check: {n} claim(s) not backed by the facts": "说法核对：{n} 处没有事实依据",
    "This text cannot be checked.": "无法核对此文本。",
    "✓ Every claim in this text is backed by the facts ({n} checked).": "✓ 文本中的每个说法都有事实依据（已核对 {n} 处）。",
    "The composed draft failed the claim check; this is the safe fallback draft.": "生成的草稿未通过核对，这是安全的备用回复。",
    "The composed draft failed the claim check once and was repaired.": "生成的草稿一次未通过核对，已修正。",
    // decisions
    "approve": "通过", "reject": "拒绝",
    "Could not {action} the draft for order {id}": "无法{action}订单 {id} 的回复",
    "The reply is empty": "回复为空",
    "Write a reply, or reject the draft instead.": "请填写回复，或拒绝此草稿。",
    "Approved with your edits": "已通过（含您的修改）",
    "Approved": "已通过",
    "Rejected": "已拒绝",
    "Approved over the claim check, reason logged": "已越过说法核对通过，原因已记录",
    "This draft needs a human": "此回复需要人工处理",
    "Read the reason and check the reply before it goes to the buyer.": "请先阅读原因，确认回复无误后再发给买家。",
    "I have checked it: approve": "我已确认：通过",
    "The claim check flags this reply": "说法核对发现问题",
    "This shop does not approve replies the claim check flags. Fix the text or reject the draft.": "本店不允许通过未通过核对的回复。请修改文本或拒绝此草稿。",
    "Why approve it anyway? (logged with the approval)": "为什么仍要通过？（原因会随审核记录保存）",
    "Approve anyway": "仍然通过",
    // history and sources
    "History": "历史",
    "Approved and sent": "已通过与已发送",
    "Nothing approved yet.": "还没有通过的回复。",
    "Copy": "复制", "Copied": "已复制", "Press Ctrl+C": "请按 Ctrl+C",
    "Undo approve": "撤销通过",
    "Back in the queue: order {id}": "已退回待审：订单 {id}",
    "Could not undo the approval": "无法撤销通过",
    "Could not load the history": "无法加载历史",
    "Approved over the claim check": "越过说法核对通过",
    "approved": "已通过", "sent": "已发送", "pending": "待审核", "rejected": "已拒绝", "superseded": "已被取代",
    "Loading…": "加载中…",
    "Could not open the source": "无法打开来源",
    "The draft cited revision {r}; the source is now at revision {c}.": "草稿引用的是第 {r} 版，该来源现已更新到第 {c} 版。",
    // shortcuts
    "Shortcuts": "快捷键",
    "Keyboard shortcuts": "键盘快捷键",
    "Shortcuts are off while you type in the reply or a form field; Esc leaves it.": "在回复框或表单中输入时快捷键不生效；按 Esc 退出输入。",
    "Next / previous draft": "下一条 / 上一条",
    "Approve (your edits, if any, are sent as the final text)": "通过（如有修改，以修改后的文本为准）",
    "Edit the reply": "编辑回复",
    "Reject, with a reason": "拒绝并说明原因",
    "Approved and sent replies (copy, undo approve)": "已通过和已发送的回复（复制、撤销通过）",
    "This help": "本帮助",
    "Stop typing / close": "退出输入 / 关闭",
    // order facts
    "Status": "状态", "Paid": "付款时间", "Ship by": "承诺发货", "Presale": "预售", "Item": "商品",
    "Shipment": "包裹", "none yet": "暂无", "Carrier": "快递公司", "Tracking": "运单号", "Last event": "最新物流",
    "Refund": "退款", "Fetched": "获取于", "Buyer": "买家", "Amount": "实付金额",
    "The order's status is unknown.": "订单状态未知。",
    "The draft makes no status claims.": "草稿不会对订单状态作任何说明。",
    "The order system did not answer in time.": "订单系统未及时响应。",
    "No such order in this shop.": "本店没有这个订单。",
    "The order system is unavailable.": "订单系统不可用。",
    // the knowledge base page (/kb)
    "+ New item": "+ 新建条目", "Address the buyer as": "对买家的称呼", "Advanced: the settings as JSON": "高级：JSON 格式的设置",
    "All kinds": "全部类型", "Buyer message": "买家消息", "Buyer message or question": "买家消息或问题", "Calendar": "日历",
    "Carriers and compensation": "快递与补偿", "Coupon limit (yuan)": "优惠券上限（元）", "Daily cutoff": "每日截单时间",
    "Default carriers (comma-separated)": "默认快递（逗号分隔）", "Dispatch": "发货", "Effects on dispatch": "对发货的影响",
    "Extra workdays (one date a line)": "调休上班日（每行一个日期）", "Gift (optional)": "赠品（可选）",
    "Holidays (one date a line, YYYY-MM-DD)": "休息日（每行一个日期，YYYY-MM-DD）", "ID": "编号", "Items": "条目",
    "Kind": "类型", "Last pickup (optional)": "快递最晚揽收（可选）", "No items yet.": "还没有条目。",
    "Notices": "公告", "Notices timeline": "公告时间线", "Now + 1 day": "现在 + 1 天", "Now + 3 days": "现在 + 3 天",
    "Now + 7 days": "现在 + 7 天", "Policies": "政策", "Preview a reply": "预览回复", "Preview reply": "预览回复",
    "Quick": "快捷", "Reload": "重新加载", "Response target (seconds)": "响应目标（秒）", "Revisions": "修订历史",
    "Save JSON": "保存 JSON", "Save settings": "保存设置", "Search": "搜索", "Settings (JSON)": "设置（JSON）",
    "Ship within (hours)": "发货时限（小时）", "Shop settings": "店铺设置", "Show kind": "显示类型",
    "Sign-off (optional)": "结束语（可选）", "Style guides": "话术规范", "Suggest from text": "从文本推断",
    "Tags": "标签", "Text": "正文", "Timezone": "时区", "Title": "标题", "Tone and review": "语气与审核",
    "Valid from": "生效时间", "Valid to": "失效时间", "Validity": "有效期", "Would it be found?": "能被检索到吗？",
    "style": "话术", "Ships on weekends": "周末发货", "Compensation needs approval": "补偿需要审批",
    "Refuse approving replies the claim check flags (no override)": "未通过说法核对的回复一律不得通过（不可越过）",
    "Show deleted": "显示已删除",
    "The same settings, whole; unknown fields are refused.": "同一份设置的完整内容；未知字段会被拒绝。",
    "a manager or admin key can edit; any key can read": "店长或管理员密钥可编辑；任何密钥可查看",
    "Connected · {n} items": "已连接 · {n} 个条目", "in force": "生效中", "New item": "新建条目", "Create": "创建",
    "Save changes": "保存修改", "No changes: {id} stays at revision {r}": "没有改动：{id} 仍为第 {r} 版",
    "Created {id} (revision 1)": "已创建 {id}（第 1 版）", "Saved {id} as revision {r}": "已保存 {id} 为第 {r} 版",
    "Please fix the highlighted field": "请修正标出的字段", "Delete": "删除", "Click again to delete": "再次点击以删除",
    "Drawn again from the saved knowledge.": "已按保存后的知识重新生成。", "Cites:": "引用：",
    "Shop settings saved as revision {r}": "店铺设置已保存为第 {r} 版", "Shop settings unchanged": "店铺设置没有变化",
    "Could not load the knowledge base": "无法加载知识库", "Not saved. Please fix:": "未保存，请修正：",
    // the extension's options
    "replydesk · options": "replydesk · 设置",
    "Connect to your replydesk API": "连接您的 replydesk API",
    "API URL": "API 地址",
    "Save and test": "保存并测试",
    "Allow this extension on the API": "在 API 上允许此扩展",
    "The API answers the browser only for origins it lists. Start it with:": "API 只响应它所列出的来源。请这样启动：",
    "Saved. Testing the connection…": "已保存，正在测试连接…",
    "Saved. Connected to {url}: the key works.": "已保存。已连接 {url}：密钥可用。",
    "Saved, but the test failed": "已保存，但测试失败",
    "no answer from the service worker": "扩展后台服务没有响应",
    // the claim check's reasons (drafter/guard.py), the common ones
    "no fact supports this": "没有事实依据",
    "no fact allows promising dispatch on this day": "没有事实支持承诺这一天发货",
    "no fact allows promising dispatch at once": "没有事实支持承诺马上发货",
    "no one can promise when the courier delivers": "没有人能承诺快递何时送达",
    "the order has no shipment": "订单还没有发货记录",
    "nothing is arranged: stock, payment or dispatch is not confirmed": "尚无任何安排：库存、付款或发货都未确认",
    "a date that no fact in the order or notices gives": "订单和公告中都没有这个日期",
    "not a tracking number of this order": "不是本订单的运单号",
    "asking for a (good) review is not allowed": "不允许索要（好）评",
    "moving the buyer off the platform is not allowed": "不允许把买家引到平台之外",
    "compensation needs approval; propose it as an action": "补偿需要审批，请作为建议操作提出",
    "a gift needs approval; propose it as an action": "赠品需要审批，请作为建议操作提出",
    "only the warehouse can grant a carrier change": "只有仓库能决定更换快递",
    "not one of the shop's carriers": "不是本店合作的快递",
    // the extension's side panel
    "Checked · needs a human look": "已核对 · 需要人工查看",
    "Checked · ready to approve": "已核对 · 可以通过",
    "Approve edited & insert": "通过修改并插入",
    "Approve & insert": "通过并插入",
    "Claim check": "说法核对",
    "Drafting…": "正在起草…",
    "Template draft · checking…": "模板草稿 · 核对中…",
    "Writing…": "正在生成…",
    "Failed": "失败",
    "Inserted · press Send in the chat": "已插入 · 请在聊天窗口点击发送",
    "Inserted into the chat box (order {id}). Check it and press Send.": "已插入聊天输入框（订单 {id}），请检查后点击发送。",
    "Sent ✓": "已发送 ✓",
    "Reply sent for order {id}.": "订单 {id} 的回复已发送。",
    "Connected": "已连接",
    "Not inserted": "未插入",
    "the extension's service worker did not answer": "扩展的后台服务没有响应",
    "The buyer wrote": "买家消息",
    "Order id": "订单号",
    "Read chat": "读取聊天",
    "Draft reply": "生成回复",
    "Needs a human:": "需要人工处理：",
    "Insert again": "再次插入",
    "Copy text": "复制文本",
    "Mark as sent": "标记为已发送",
    "Facts used": "使用的信息",
    "Reply for order": "订单回复",
    "Options": "设置",
    "from {adapter}": "来自 {adapter}",
    "+ {n} earlier message as context": "+ {n} 条之前的消息作为上下文",
    "+ {n} earlier messages as context": "+ {n} 条之前的消息作为上下文",
    "selected on {host}": "选自 {host}",
    "selected text": "选中的文本",
    "No chat adapter on this page: select the buyer's text, right-click “Draft a reply”.": "此页面没有聊天适配器：请选中买家的文字，右键“Draft a reply”。",
    "in stock": "有货", "low stock": "库存紧张", "out of stock": "缺货", "stock unknown": "库存未知",
  };

  const KEY = "replydesk.lang";
  const read = () => {
    try {
      return localStorage.getItem(KEY);
    } catch {
      return null;
    }
  };
  let lang = read() === "en" ? "en" : "zh";
  let zone = undefined;   // the shop's IANA timezone; undefined = the browser's until a page sets it

  function t(text, vars) {
    let out = (lang === "zh" && Object.prototype.hasOwnProperty.call(ZH, text)) ? ZH[text] : text;
    if (vars) out = out.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return out;
  }

  // Elements marked data-i18n: their first text node is the English source (kept in data-i18n-src).
  // data-i18n-aria-label / data-i18n-placeholder / data-i18n-title translate those attributes.
  function translateTree(root = document) {
    for (const el of root.querySelectorAll("[data-i18n]")) {
      const node = [...el.childNodes].find((n) => n.nodeType === 3 && n.textContent.trim());
      if (!node) continue;
      if (!el.dataset.i18nSrc) el.dataset.i18nSrc = node.textContent.trim();
      const lead = node.textContent.match(/^\s*/)[0];
      const trail = node.textContent.match(/\s*$/)[0];
      node.textContent = lead + t(el.dataset.i18nSrc) + trail;
    }
    for (const attr of ["aria-label", "placeholder", "title"]) {
      for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
        const src = el.getAttribute(`data-i18n-${attr}`) || el.getAttribute(attr) || "";
        el.setAttribute(`data-i18n-${attr}`, src);
        el.setAttribute(attr, t(src));
      }
    }
  }

  function setLang(next) {
    lang = next === "en" ? "en" : "zh";
    try {
      localStorage.setItem(KEY, lang);
    } catch { /* storage may be off: the choice then lasts for this page */ }
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    translateTree(document);
    dispatchEvent(new CustomEvent("rd:lang", { detail: lang }));
  }

  function setZone(tz) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: tz });
      zone = tz;
    } catch { /* an unknown zone: keep the browser's */ }
  }

  // "YYYY-MM-DD HH:mm" (":ss" with seconds) in the shop's timezone; a bare date stays a date.
  function fmt(value, { seconds = false } = {}) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
    const d = value instanceof Date ? value : new Date(value);
    if (Number.isNaN(d.getTime())) return String(value);
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23",
    }).formatToParts(d).map((p) => [p.type, p.value]));
    const base = `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
    return seconds ? `${base}:${parts.second}` : base;
  }

  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  globalThis.rdI18n = { t, translateTree, setLang, setZone, fmt, get lang() { return lang; }, get zone() { return zone; } };
})();
