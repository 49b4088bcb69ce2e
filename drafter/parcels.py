"""What a parcel's own last tracking event says: collected, in transit, out for delivery, at a pickup
point or locker, delivery failed, signed, returned (or unknown).

Couriers word events freely, and some words flip with a negation: "未签收，明日再次派送" is a failed
delivery, not a signature; "快件已到达菜鸟驿站，请凭取件码取件" waits for the buyer, it is not stuck.
The order of the checks below is the order of precedence.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["Phase", "classify_event"]

Phase = Literal["collected", "in_transit", "out_for_delivery", "pickup_point", "delivery_failed", "signed",
                "returned", "unknown"]

_RETURNED = re.compile(r"退回|退件|返回寄件|原路返回|退还寄件人|返还寄件|已退货|returned to (?:the )?sender|"
                       r"return(?:ed|ing) to (?:the )?(?:sender|shipper)|being returned", re.I)
_FAILED = re.compile(r"派送不成功|派送失败|投递失败|投递不成功|配送失败|未妥投|无人接听|无人签收|无人在家|联系不上|"
                     r"(?:未|没有|尚未|待)签收|拒收|拒签|滞留|再次派送|二次派送|改约|地址(?:错误|不详|有误)|"
                     r"delivery (?:failed|attempt(?:ed)?|unsuccessful)|unable to deliver|missed delivery|"
                     r"failed delivery|not delivered|undeliverable|refused", re.I)
_SIGNED = re.compile(r"(?<![未待拒没无不])签收(?!失败)|妥投|已取件(?!.{0,4}(?:快递员|揽|收件员))|"
                     r"取件成功|已(?:从.{0,10})?取出|已被取走|(?<!out for )(?<!not )(?<!un)\bdelivered\b|\bsigned\b|picked up by (?:the )?"
                     r"(?:recipient|customer|buyer)|collected by (?:the )?(?:recipient|customer)", re.I)
_PICKUP = re.compile(r"驿站|代收点|代收|快递柜|智能柜|丰巢|自提|待取|取件码|请凭|暂存|快递超市|服务站|"
                     r"locker|pick-?up (?:point|station|location)|parcel (?:station|shop)|collection point|"
                     r"ready for (?:pick-?up|collection)", re.I)
_OUT = re.compile(r"派送中|派件中|正在派送|正在派件|正在为您派件|为您派送|开始派送|安排派送|派送员|配送员|送货员|"
                  r"快递员.{0,8}(?:派|送)|out for delivery|on (?:its|the) way to you|with (?:the )?courier for delivery",
                  re.I)
_COURIER_PICKED = re.compile(r"(?:快递员|揽件员|收件员|小哥|上门).{0,6}(?:取件|揽|收件)|已取件.{0,4}(?:快递员|揽)", re.I)
_TRANSIT = re.compile(r"运输|转运|中转|分拨|分拣|到达|发往|已发出|离开|途中|航班|装车|卸车|在途|"
                      r"in transit|arrived at|departed|sorting|sort(?:ing)? (?:center|facility)|hub|on the way", re.I)
_COLLECTED = re.compile(r"揽收|揽件|收件|已取件|picked up|collected|accepted|shipment received", re.I)


def classify_event(desc: str | None) -> Phase:
    """The phase a parcel is in, read from its last tracking event's text."""
    t = (desc or "").strip()
    if not t:
        return "unknown"
    if _RETURNED.search(t):
        return "returned"
    if _FAILED.search(t):
        return "delivery_failed"
    if _COURIER_PICKED.search(t):
        return "collected"
    if _SIGNED.search(t):
        return "signed"
    if _PICKUP.search(t):
        return "pickup_point"
    if _OUT.search(t):
        return "out_for_delivery"
    if _TRANSIT.search(t):
        return "in_transit"
    if _COLLECTED.search(t):
        return "collected"
    return "unknown"
