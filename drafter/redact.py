"""Strip phone numbers, names and addresses from text and records before they are logged or exported.

Rules, not a model: they must be fast and predictable. They err on the side of removing too much
(a street-like fragment that was not an address) rather than keeping a buyer's details.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["redact", "redact_record"]

_PHONE = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?!\d)|(?<!\d)0\d{2,3}-?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_ID_CARD = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
# A name after a label ("收件人：张三", "签收人: 李四", "我叫王五", "my name is Ann Lee").
_NAME = re.compile(
    r"((?:收件人|收货人|签收人|联系人|寄件人|姓名|名字|我叫|我是)\s*[:：]?\s*)([\u4e00-\u9fff·]{2,4}|[A-Za-z]+(?: [A-Za-z]+)?)"
    r"|((?:my name is|name:|this is)\s+)([A-Z][a-z]+(?: [A-Z][a-z]+)?)",
    re.I,
)
_ADDRESS = re.compile(
    r"[\u4e00-\u9fff]{2,12}(?:省|自治区|市)[\u4e00-\u9fff\d]{0,20}(?:区|县|镇|乡|街道)[\u4e00-\u9fff\d\-号栋幢单元室楼弄巷路街道村组]{0,30}"
    r"|[\u4e00-\u9fff\d]{1,20}(?:路|街|大道|巷|弄)\d{1,5}号(?:[\u4e00-\u9fff\d\-栋幢单元室楼]{0,20})?"
    r"|[\u4e00-\u9fff\d]{1,15}(?:小区|花园|公寓|大厦)(?:[\u4e00-\u9fff\d\-栋幢单元室楼号]{0,20})?"
    r"|\d{1,5}\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+)*\s(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr)\b\.?"
)
_SENSITIVE_KEYS = re.compile(r"name|phone|mobile|tel|address|addr|receiver|buyer_nick|email|收件|收货|电话|地址", re.I)


def redact(text: str | None) -> str | None:
    if not text:
        return text
    out = _EMAIL.sub("[邮箱]", text)
    out = _ID_CARD.sub("[证件号]", out)
    out = _PHONE.sub("[电话]", out)
    out = _ADDRESS.sub("[地址]", out)
    out = _NAME.sub(lambda m: (m.group(1) or m.group(3)) + "[姓名]", out)
    return out


def redact_record(value: Any) -> Any:
    """A JSON-like value with sensitive keys dropped and every string redacted."""
    if isinstance(value, dict):
        return {k: ("[已脱敏]" if _SENSITIVE_KEYS.search(str(k)) else redact_record(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_record(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value
