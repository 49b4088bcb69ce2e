"""What the buyer is asking: a rule/lexicon classifier for shipping messages (zh and en).

Rules, not a model: the drafter must classify in well under a millisecond, offline, and an agent
must be able to see *why* a message got its kind. Every lexicon below is one precompiled regex.

The kind is decided by precedence, most specific first:
change_request (a special request only the warehouse can grant) > urge (when does it ship) >
logistics (where is the parcel / when does it arrive) > complaint (anger or a threat with no
shipping question) > other. Threat and injection are independent flags: an urge with a refund
threat stays an urge, with ``threat=True``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Literal

import opencc
from pydantic import BaseModel

Kind = Literal["urge", "logistics", "change_request", "complaint", "other"]


class Intent(BaseModel):
    # This JSON shape is part of the public draft result: keep field names and defaults.
    kind: Kind
    repeat: int = 0
    language: Literal["zh", "en"] = "zh"
    threat: bool = False
    injection: bool = False


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


_CARRIERS = r"顺丰|中通|圆通|申通|韵达|邮政|ems|京东快递|京东物流|极兔|德邦|百世|天天快递|宅急送"
_WHEN = r"什么时候|什么时间|啥时候?|几时|何时|哪天|多久|多长时间|几天|大概|预计|最早|最迟|最晚"
_DAY = r"今天|今日|今晚|今儿|明天|明日|明早|明晚|后天|当天|周[一二三四五六日天末]|星期.|礼拜."

# JD corpus anonymisation placeholders ([数字x], [订单x], [ORDERID_10005095], #E-s[数字x]) carry no
# meaning for intent; left in, their latin letters would also skew the language guess.
_PLACEHOLDER = re.compile(r"#e-s\[[^\]]*\]|\[(?:[\u4e00-\u9fff]{1,6}x|orderid_\d+)\]|#e-s")
# Compounds with 发 that are not dispatch (invoice, hair, sofa, "send me a photo"), and shipping *costs*:
# masked first, so the short dispatch patterns below cannot fire on them.
_NOT_DISPATCH = re.compile(
    r"发票|头发|沙发|开发|(?<!先)发现|发生|发送|发布|发烧|发热|发霉|发黄|发错|发短信|发信息|发消息|发图|发照片|发视频|"
    r"发链接|发个链接|出发|发给我看|发红包|发工资|free shipping"
)

_CHANGE = _rx(
    rf"(?:改|换|更换|改成|换成)(?:发|用|走|成)?(?:{_CARRIERS}|别的快递|其他快递|其它快递|快递公司)",
    rf"(?:能不能|能否|可不可以|可以|可否|能|麻烦|请)(?:给我|帮我|帮忙)?(?:发|走|用)(?:{_CARRIERS})",
    rf"(?:发|走|用)个?(?:{_CARRIERS})(?:快递)?(?:吗|么|嘛|吧|呗|可以|行|呢|的话)",
    r"(?:改|换|修改|更改|更换)(?:一下|个)?(?:收货|送货|配送|收件)?地址|地址(?:写|填|弄)错",
    r"(?:改|修改|更改|改成|改到|换到|推迟|延迟|延后|晚点|晚些|暂缓|先别)(?:一下|成|到)?.{0,8}(?:送到|送达|送货|配送|派送|发货|发)",
    r"指定(?:快递|物流|日期|时间|.{0,4}(?:发|送))|加急|加钱|补差价|拆单|拆开发|分开发|合并发|一起发|就近发",
    # A partial shipment ("能不能先把有货的发了", "先发一部分"): only the warehouse can split an order.
    r"先(?:把|将|给我|帮我)?(?:有货|现货|有的|到货|其中|一部分|部分|能发的|已经有的|这个|那个|一个|一件|剩下)[^，,。？?！!]{0,6}"
    r"(?:发|寄)|先(?:发|寄)(?:一部分|部分|有货|现货|有的|其中|一个|一件)|(?:有货|现货|到货|有的)的?(?:先|就)(?:发|寄)|"
    r"分批(?:发|寄)|部分(?:先)?(?:发|寄)",
    r"(?:ship|send) (?:out )?(?:what you have|the available (?:items?|ones?|parts?)|(?:the )?in[- ]stock (?:items?|ones?)|"
    r"(?:it |them |the items )?separately|(?:a )?part of (?:it|the order))|partial (?:shipment|delivery)",
    r"change (?:the |my )?(?:shipping |delivery )?(?:address|carrier|courier)|update (?:my |the )?address",
    r"(?:ship|send) (?:it |them )?(?:with|via|by) (?:sf|dhl|fedex|ups|ems|express)|switch (?:to|the carrier)",
    # A given day or time demanded, or a split asked for: only the warehouse or courier can grant it.
    r"(?:务必|一定要?|必须|需要你们一定|请你们?一定)[^，。!?？]{0,6}(?:今天|明天|后天|今晚|上午|下午|晚上|周[一二三四五六日天末])"
    r"[^，。!?？]{0,6}(?:送到|送达|配送|送货|到货|发货|发出)",
    r"(?:能否|能不能|可不可以|可否)在(?:今天|明天|后天|周.)[^，。]{0,4}(?:给我)?(?:送达|送到|配送)",
    r"(?:今天|明天)就?(?:想|要|需要)(?:收到|拿到)|想要?(?:今天|明天)(?:就)?(?:收到|拿到)|有货(?:的)?先发|先发有货",
    r"expedite|express shipping|rush (?:the |my )?order|different address|specific date|"
    r"hold (?:the|my) (?:order|parcel)",
)

_URGE = _rx(
    r"发货|发出|寄出|出库|出仓|出货|发走|寄走|发件|备货|配货|打包",
    r"催",
    # Short colloquial urges: "发了没", "咋还不发", "快点发啦", "东西呢", "啥时候发".
    r"(?:咋|怎么|为啥|为什么|还)(?:还)?(?:不|没)(?:给我)?(?:发|寄)|发(?:了)?没(?:有)?|快(?:点|些|一点)?(?:发|寄)",
    r"(?:我的|我)?(?:东西|货|宝贝|订单|快递|包裹)(?:呢|咧|勒|嘞)|(?:东西|货)(?:到底)?(?:啥|什么)时候",
    r"(?<![a-z])(?:ship(?:ped|ping)?|dispatch(?:ed)?)(?![a-z])|(?<![a-z])(?:go|goes|went) out\b|when (?:will|do|can) (?:u|you) send",
    r"\bany (?:update|news)\b|\bwhat'?s (?:taking|the holdup)|\bstill waiting\b|\bstill (?:not|hasn'?t) (?:come|arrived|shipped)",
    rf"(?:{_WHEN})(?:能|才能|可以|会|才|再|给我|给|帮我|安排)?(?:发|寄)",
    r"(?:快|早|尽快|赶紧|马上|抓紧|赶快)(?:点|些|一点)?(?:给我|帮我|帮忙)?(?:发|寄|安排)|发(?:快|早)(?:点|些)",
    r"(?:还|怎么|咋|为啥|为什么|都|是不是|是否)(?:没|不|没有|还没|还不|未)(?:给我)?(?:发|寄)",
    r"(?:能|可以|会|要|准备|已经)(?:发|寄)(?:了)?(?:吗|么|嘛|不|没|呢|啊|吧)",
    r"发(?:了)?(?:吗|么|嘛|没)|没发|不发|未发",
    rf"(?:{_DAY})(?:能|可以|会|就|还能|可不可以|能不能|能否|一定要|要)?(?:发|寄)",
    rf"(?:{_WHEN}).{{0,6}}有货|缺货|补货|没货|断货|调货|调到",
    r"预售|定金|尾款",
    r"\bship|\bdispatch|\bsent out|\bsend (?:it |them |my order )?out|\bmail(?:ed)? out|\bbeen sent",
    r"\bhurry|\basap\b|\bspeed (?:it )?up",
)

_LOGISTICS = _rx(
    r"只到了?|另一[件个样](?:呢|还没|没)|还有一[个件样](?:呢|没|还没|怎么)|到了没|到哪(?:儿|里)?了?|"
    r"物流|快递|(?<!订)单号|运单|包裹|派送|配送|送货|送到|送达|送过来|送来|送过去|到货|签收|收到(?:货|了?[吗么嘛没])|(?:没有?|只|才)收到|未收到|收货|揽收|揽件|"
    r"站点|驿站|快递员|配送员|送货员|自提|在途|运输|中转|分拣|催件",
    _CARRIERS,
    r"到哪|到了哪|在哪(?:里|儿)?了|(?:货|东西|件|包裹|订单)(?:现在)?在哪|什么地方了|哪儿了|到(?:了)?没",
    rf"(?:{_WHEN}|几点)(?:能|才能|可以|会)?(?:到|送|拿到|收)",
    rf"(?:{_DAY}|上午|下午|晚上|中午)[^，。!?！？]{{0,6}}(?:到|送|拿到|收)",
    r"没到|还没到|没送|拿不到|收不到|收不了|没动|不动|没更新|不更新|没有更新|没信息|没有信息|没消息|没动静|没有动静",
    r"\btrack|where is my|where's my|\barriv|\bdeliver|\breceiv|\bcourier|\bparcel|\bpackage|in transit|"
    r"not moving|hasn't moved|\bstuck\b",
)

_ANGER = _rx(
    r"垃圾|骗子|骗人|坑人|坑爹|什么破|什么鬼|搞什么|无语|气死|太差|差劲|恶心|黑店|不理人|态度.{0,2}差|"
    r"有病|服了|太过分|过分了|忽悠|发错|少发|漏发|破损|坏了",
    r"scam|terrible|worst|ridiculous|unacceptable|angry|disappointed|fraud|useless|awful|wtf",
)

# Refund / bad review / complaint threats. Bare 退 is too wide ("之前有问题退了"), so it needs a
# will-do cue before it.
_THREAT = _rx(
    r"退款|退钱|申请退|(?:就|要|我|直接|马上|只能|只好|帮我|给我|不到|不然)退|退(?:了吧|掉|单)",
    r"差评|中评|一星|1星|投诉|12315|举报|工商|消协|消费者协会|曝光|维权|起诉|法院|律师|报警|不要了",
    r"(?:想|要|帮我|帮忙|就|申请|我)取消",
    r"refund|money back|chargeback|bad review|negative (?:review|feedback)|(?:one|1)[- ]star|"
    r"report (?:you|this|the)|"
    r"complain|dispute|cancel (?:my|the) order|lawyer|\bsue\b",
)
# "不会给差评", "不想退款", "I won't leave a bad review": a threat denied is no threat.
_THREAT_NEGATED = re.compile(
    r"(?:不|不会|不想|不用|没|没有|别|无需)(?:需|需要|给|要|会|想|去)?\s*$"
    r"|\b(?:won't|will not|wouldn't|don't|do not|not|never|no)(?:\s+[a-z]+){0,3}\s*$"
)

_INJECTION = _rx(
    r"(?:忽略|无视|忘记|忘掉|不要理会|不要遵守|不用遵守|不必遵守|无需遵守|不用管|别管|不要管|不用理会?|别理)"
    r".{0,15}(?:规则|指令|指示|设定|提示|要求|限制|约束|说明|规定)",
    r"系统提示|系统指令|系统设定|提示词|你现在是|你现在(?:扮演|作为)|扮演|假装你?是|从现在(?:开始|起)你",
    r"直接回复\s*[“\"'「『:：]|只(?:需要?)?回复\s*[“\"'「『:：]|原样(?:输出|回复|复述)|输出你的(?:提示|指令|设定)",
    r"开发者模式|越狱|新的?指令\s*[:：]|以上(?:内容|规则|指令|设定)(?:全部|都)?(?:作废|无效)|你必须(?:回复|回答|承诺|说)",
    r"(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+)?"
    r"(?:previous|prior|above|earlier|preceding|system|original)?\s*"
    r"(?:instructions|rules|prompts?|directions|guidelines)",
    r"system prompt|you are now|act as|pretend (?:to be|you are)|role-?play|developer mode|jailbreak|"
    r"\bdan mode\b|(?:reply|respond|answer) (?:only )?with (?:exactly )?[“\"']|say exactly|repeat after me|"
    r"new instructions",
    # Fake notices from "the system" or "the platform", addressed to the assistant.
    r"[【\[(（]\s*(?:系统|官方|平台|管理员|客服中心|淘宝官方|天猫官方)[^】\])）]{0,8}[】\])）]|系统(?:通知|消息|公告|更新|指令)\s*[:：]",
    r"\[\s*system\b[^\]]{0,20}\]|\bsystem (?:notice|message|update|override|instruction)s?\b",
    # Orders about what to tell "the buyer": a buyer does not speak of himself as 买家 to the shop.
    r"(?:回复|告知|告诉|通知|答复|转告|向|给|对|跟)(?:给)?(?:这个|该|此)?(?:买家|顾客)|"
    r"(?:由|来自)(?:平台|系统|淘宝|天猫|官方)(?:自动)?(?:生成|发送|发出|下发)|小二(?:提醒|通知)|平台(?:提醒|通知|公告)\s*[:：]",
    r"\b(?:tell|inform|reply to|respond to|answer) the (?:buyer|customer)(?![\w-]| service| care| support)",
    # Dictating what the reply must contain.
    r"写在(?:你的)?回复(?:里|中)|回复(?:里|中)(?:必须|要|需要?|务必|只)?(?:写|加|用|说|注明|带上|包含|提到|承诺|确认|保证|告知|的)|"
    r"(?:请|就|只|必须|你|要)(?:回复|回答)\s*[“\"'「『]|(?:回复|回答)(?:给我)?\s*[:：]\s*[“\"'「『]|原封不动|一字不差|"
    r"一字一句|逐字|照抄|原文(?:发|给|输出|贴|告诉)|允许(?:的)?承诺|禁止事项|你被(?:要求|设定|规定)|"
    r"作为(?:一个)?(?:ai|机器人|人工智能|语言模型|助手)|(?:内部|系统|后台)备注",
    # New rules, scripts or modes handed to the assistant.
    r"(?:规则|规定|话术|指令)(?:已经?)?(?:变更|更新|修改|作废|无效|失效)|(?:新的?|以下|下面)的?(?:客服)?(?:规则|话术|指令)|"
    r"请(?:严格)?(?:执行|照做|照办|遵照执行)|照我说的(?:做|办|回复)|按我说的(?:做|办|回复)|"
    r"(?:切换|进入|开启|打开)(?:成|到|为)?.{0,8}模式|"
    r"(?:假如|如果|假设)你是(?:老板|店主|店长|经理|主管|ai|机器人|助手)|"
    r"(?:按|以|用).{0,6}(?:身份|角色|口吻|语气).{0,4}(?:回复|回答|说话|说|运行|执行)|你的任务(?:变了|改了|是|改为|变成)|"
    r"(?:客服)?机器人请|(?:ai|智能)客服(?:请|你|注意)|测试指令|(?:内部|隐藏|后台|初始|原始)(?:说明|指令|规则|设定|提示|资料)|"
    r"(?:全部|所有)(?:贴|复制|粘贴)出来",
    r"\b(?:debug|god|admin|test) mode\b|\b(?:answer|speak|respond|reply|act) (?:only )?as (?:my|a|an|the)\b|"
    r"\b(?:ignore|disregard|forget) (?:everything|all)(?: of)?(?: the)?(?: above| before| previous| prior)?\b|"
    r"\b(?:ignore|disregard|forget) (?:the |everything )?above\b|"
    r"\b(?:echo|print|dump|show|reveal) (?:your|the) (?:config(?:uration)?|settings|instructions|prompt|context)\b|"
    r"\b(?:attention|hey|hi|dear),? (?:ai|assistant|bot|chatbot|model|gpt)\b|\boverride\s*[:：]|"
    r"\bnew (?:rules?|instructions?|polic(?:y|ies)|task)\s*[:：]|\byour (?:only |new )?(?:job|task|role) (?:now )?is\b|"
    r"\b(?:translate|summari[sz]e|repeat|paraphrase|list) (?:me )?(?:all )?(?:of )?your (?:instructions|rules|prompt|guidelines)\b|"
    r"\b(?:begin|end|start) (?:of )?(?:the )?(?:admin|system|developer|official) (?:message|instructions?|prompt)\b|"
    r"\badmin(?:istrator)? (?:message|notice|command|instruction)s?\b|\bsudo\b|\bas an? (?:ai|language model|assistant)\b|"
    r"\bfrom the (?:shop |store |platform |taobao )?(?:admin(?:istrator)?|owner|manager|system|developer)s?\b|"
    r"\brole\s*[:：]\s*(?:system|assistant|developer)\b",
    r"[-=#*_]{2,}\s*(?:system|系统)\b|(?:system|系统)\s*[-=#*_]{2,}",
    # Asking for output that slips past the platform's filters.
    r"(?:识别|检测|拦截|屏蔽|审核)不(?:出来|到|了)|不会被?(?:识别|检测|拦截|屏蔽|发现)|(?:躲|绕)(?:过|开)(?:平台|系统|检测|审核|过滤)|"
    r"零宽|全角(?:字母|数字|字符)?",
    r"\b(?:bypass|evade|get past|avoid) (?:the )?(?:filter|filters|moderation|detection|platform checks?)\b",
    # "I am the owner / your manager" and grants of authority.
    r"我是(?:这家店|本店|你们店|你们家|你家|你们|店铺|贵店|你的|你们的|淘宝|天猫|平台|官方)*的?(?:客服|店铺|平台|淘宝|天猫)?"
    r"(?:老板|店主|店长|掌柜|主管|经理|管理员|负责人|开发者|工程师|程序员|运营|技术人员|工作人员|小二|审核员?)|管理员指令|"
    r"(?:命令|授权|测试一下)你|你(?:已经)?(?:被|获得)授权",
    r"\b(?:i am|i'm|this is)\s+(?:the |your )?(?:\w+ ){0,3}?(?:store owner|shop owner|manager|supervisor|"
    r"admin(?:istrator)?|developer|boss)\b|\byou are (?:now )?authori[sz]ed\b|"
    r"\boverride (?:the |your |all |any )?(?:rules|instructions|limits?|polic(?:y|ies)|compensation)",
    # Role play and "no rules" modes.
    r"无限制模式|(?:没有|不受)(?:任何)?(?:规则|限制)的?(?:模式|助手|客服|机器人|ai)|进入.{0,6}模式|角色扮演|玩个游戏",
    r"\bno (?:rules|restrictions|limits)\b|\bwithout (?:any )?(?:rules|restrictions)\b|\bunrestricted\b|"
    r"\bin character\b|let'?s play a game|\bfrom now on,? you\b",
    # Forced output formats.
    r"(?:只|仅)(?:需要?)?(?:输出|回复|回答)\s*json|回复格式|输出格式|用\s*json|一个字都不(?:要|许|准|能)?改",
    r"\b(?:reply|respond|answer|output)\s+only\b|\b(?:reply|respond|answer)\s+(?:only\s+)?with\s*[:：]|"
    r"\band nothing (?:else|more)\b",
    # Requests for the prompt, the rules or the text around the message.
    r"你(?:的|被设定的|收到的)(?:规则|指令|设定|提示词?|约束)(?:有哪些|是什么|是啥|都有什么)|"
    r"(?:说|讲|告诉我|列出|翻译|念|背)(?:一下|出)?你(?:的|被设定的|收到的)(?:规则|指令|设定|提示词?)|"
    r"(?:重复|复述|输出|打印|翻译)(?:一下)?你?(?:上面|之前|前面|以上)(?:收到|看到|给你)?的?(?:所有|全部)?(?:内容|文字|指令|规则)",
    r"\b(?:hidden|secret|internal|original|initial) (?:instructions|rules|prompt)|"
    r"\bwhat (?:instructions|rules) (?:were you|have you been|did you get)|"
    r"\b(?:print|repeat|reveal|show|output) (?:me )?(?:everything|all (?:of )?(?:the )?(?:text|instructions))\b",
    # Breaking out of the delimiters the message is wrapped in.
    r"</?\s*(?:buyer_message|conversation|system|user|assistant|instructions?)\s*>|<\|?im_(?:start|end)\|?>|"
    r"\[/?inst\]|<</?sys>>|<(?:start|end)_of_turn>|\bend of (?:user )?input\b|"
    r"\b(?:system|assistant)\s*[:：]|#{2,}\s*(?:new )?(?:system )?instructions?",
)

# Invoices and the like are "other" even when the sentence also says 发/寄 ("发票什么时候寄").
_OTHER_TOPIC = re.compile(r"发票|invoice|receipt|fapiao")
_GOODS_NOUN = re.compile(r"货|快递|物流|包裹|单号|宝贝|东西|order|package|parcel")

_LATIN = re.compile(r"[a-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


# Zero-width and direction characters hide words from the lexicons ("忽\u200b略"); a reader never sees them.
_INVISIBLE = re.compile(r"[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                        r"\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0]")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    # Built on first use, not at import: the converter loads its dictionaries then.
    return opencc.OpenCC("t2s")


def normalize(text: str) -> str:
    """Traditional Chinese to Simplified (OpenCC), full-width to half-width (NFKC), invisible characters
    and JD placeholders dropped, lower case, whitespace collapsed."""
    t = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text or ""))
    t = _t2s().convert(t).lower()
    t = _PLACEHOLDER.sub(" ", t)
    return re.sub(r"\s+", " ", t).strip()


def _language(t: str) -> Literal["zh", "en"]:
    # A Chinese character carries about as much as two or three latin letters; "mostly latin" is
    # therefore judged with that weight (so "米9se 什么时候到货" stays zh, "ok" is en).
    latin, cjk = len(_LATIN.findall(t)), len(_CJK.findall(t))
    return "en" if latin > 2 * cjk else "zh"


# "退款我撤销了", "已经取消退款了", "不退了": a refund withdrawn is the opposite of a threat.
_WITHDRAWN = re.compile(r"(?:撤销|撤回|取消|关闭|不)(?:了)?(?:申请)?的?退(?:款)?|退款(?:申请)?(?:我)?(?:已经?)?(?:撤销|撤回|取消|关了|关闭)|"
                        r"\b(?:cancel(?:l?ed)?|withdr[ae]wn?) (?:the |my )?refund", re.I)


def _threat(t: str) -> bool:
    return any(not _THREAT_NEGATED.search(t[max(0, m.start() - 24) : m.start()])
               and not _WITHDRAWN.search(t[max(0, m.start() - 6) : m.end() + 8]) for m in _THREAT.finditer(t))


def _kind(t: str, threat: bool) -> Kind:
    masked = _NOT_DISPATCH.sub("#", t)
    if _OTHER_TOPIC.search(t) and not _GOODS_NOUN.search(_OTHER_TOPIC.sub("#", t)):
        return "other"
    if _CHANGE.search(masked):
        return "change_request"
    if _URGE.search(masked):
        return "urge"
    if _LOGISTICS.search(masked):
        return "logistics"
    if threat or _ANGER.search(t):
        return "complaint"
    return "other"


def _turns(context: Iterable[Any] | None) -> Iterable[tuple[str | None, str]]:
    for item in context or ():
        if isinstance(item, dict):
            yield item.get("role"), str(item.get("text") or "")
        elif isinstance(item, str):  # role unknown (e.g. the JDDC 2018 pairs): never counted
            yield None, item


def classify(message: str, context: list[dict] | None = None) -> Intent:
    """Classify one buyer message; ``repeat`` counts the earlier buyer turns that were urges."""
    t = normalize(message)
    threat = _threat(t)
    repeat = 0
    # Earlier buyer turns reach the model too, so instructions planted there count as injection.
    injection = bool(_INJECTION.search(t))
    for role, text in _turns(context):
        if role == "buyer":
            ct = normalize(text)
            repeat += _kind(ct, _threat(ct)) == "urge"
            injection = injection or bool(_INJECTION.search(ct))
    return Intent(
        kind=_kind(t, threat),
        repeat=repeat,
        language=_language(t),
        threat=threat,
        injection=injection,
    )
