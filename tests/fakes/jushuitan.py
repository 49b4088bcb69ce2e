"""A fake Jushuitan open API: ``POST /open/orders/single/query``, ``POST /open/jushuitan/order/remark/upload``
(the seller remark of one ERP order by ``o_id``: replaced, or appended with ``is_append``; at most 500
characters) and ``POST /openWeb/auth/refreshToken``.

It verifies the signature (lower-case MD5 of the app secret + sorted name+value pairs), the access
token (code 100 when wrong or expired), pages answers with ``has_next``, and answers in the shapes of
the platform's documentation (``code``, ``msg``, ``data.orders[]`` with ``items[]``).

Modes: ``rate_limit`` (code 199), ``token_expired`` (100 once), ``malformed``, ``http500``, ``slow:S``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.behaviour import Behaviour

CST = timezone(timedelta(hours=8))
# Line status → the ERP order status a warehouse would show for it.
ERP_OF = {"WAIT_BUYER_PAY": "WaitPay", "WAIT_SELLER_SEND_GOODS": "WaitConfirm",
          "WAIT_BUYER_CONFIRM_GOODS": "Sent", "TRADE_FINISHED": "Sent", "TRADE_BUYER_SIGNED": "Sent"}


def sign(params: dict[str, str], secret: str) -> str:
    text = secret + "".join(k + params[k] for k in sorted(params) if k != "sign" and params[k] != "")
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class FakeJushuitan:
    def __init__(self, *, app_key: str = "b0b7d1db226d4216a3d58df9ffa2dde5",
                 app_secret: str = "jst-app-secret-99aa88bb77cc", access_token: str = "jst-access-token-1111",
                 refresh_token: str = "jst-refresh-token-2222", page_size: int | None = None) -> None:
        self.app_key, self.app_secret = app_key, app_secret
        self.access_token, self.refresh_token = access_token, refresh_token
        self.orders: dict[str, list[dict[str, Any]]] = {}  # so_id -> ERP orders
        self.page_size = page_size
        self.behaviour = Behaviour()
        self.calls: list[dict[str, Any]] = []
        self.remark_writes: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._n = 0
        self.app = Starlette(routes=[Route("/open/orders/single/query", self.query, methods=["POST"]),
                                     Route("/open/jushuitan/order/remark/upload", self.remark, methods=["POST"]),
                                     Route("/openWeb/auth/refreshToken", self.refresh, methods=["POST"])])

    def count(self, path: str = "/open/orders/single/query") -> int:
        with self._lock:
            return sum(1 for c in self.calls if c["path"] == path)

    async def _form(self, request: Request) -> tuple[dict[str, str], bool]:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        ok = form.get("sign") == sign(form, self.app_secret)
        with self._lock:
            self.calls.append({"path": request.url.path, "params": form, "signature_ok": ok})
        return form, ok

    async def refresh(self, request: Request) -> Response:
        form, ok = await self._form(request)
        if form.get("app_key") != self.app_key or not ok:
            return JSONResponse({"code": 10, "msg": "验证失败！无效签名", "data": None})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return JSONResponse({"code": 100, "msg": "refresh_token无效", "data": None})
        with self._lock:
            self._n += 1
            self.access_token = f"jst-access-token-r{self._n}"
            self.refresh_token = f"jst-refresh-token-r{self._n}"
        return JSONResponse({"code": 0, "msg": "执行成功", "data": {
            "access_token": self.access_token, "expires_in": 2592000, "refresh_token": self.refresh_token,
            "scope": "all"}})

    async def query(self, request: Request) -> Response:
        form, ok = await self._form(request)
        mode = await self.behaviour.next_mode()
        if form.get("app_key") != self.app_key or not ok:
            return JSONResponse({"code": 10, "msg": "验证失败！无效签名", "data": None})
        if mode == "token_expired":
            with self._lock:
                self.access_token = "jst-access-token-expired-by-fake"
        if form.get("access_token") != self.access_token:
            return JSONResponse({"code": 100, "msg": "验证失败！无效的access_token或access_token已过期", "data": None})
        if mode == "rate_limit":
            return JSONResponse({"code": 199, "msg": "调用频次超过限制!请稍后再试", "data": None})
        if mode == "malformed":
            return PlainTextResponse('{"code":0,"msg":"执行成功","data":{"orders":[', media_type="application/json")
        if mode == "http500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if form.get("version") != "2" or form.get("charset") != "utf-8":
            return JSONResponse({"code": 120, "msg": "参数错误", "data": None})
        try:
            biz = json.loads(form.get("biz", "{}"))
        except json.JSONDecodeError:
            return JSONResponse({"code": 120, "msg": "biz参数错误", "data": None})
        found = [o for so in biz.get("so_ids", []) for o in self.orders.get(str(so), [])]
        size = self.page_size or int(biz.get("page_size", 50))
        page = int(biz.get("page_index", 1))
        chunk = found[(page - 1) * size: page * size]
        return JSONResponse({"code": 0, "msg": "执行成功", "data": {
            "page_size": size, "page_index": page, "data_count": len(found),
            "page_count": max(1, -(-len(found) // size)), "has_next": page * size < len(found), "orders": chunk}})

    async def remark(self, request: Request) -> Response:
        form, ok = await self._form(request)
        if form.get("app_key") != self.app_key or not ok:
            return JSONResponse({"code": 10, "msg": "验证失败！无效签名", "data": None})
        if form.get("access_token") != self.access_token:
            return JSONResponse({"code": 100, "msg": "验证失败！无效的access_token或access_token已过期", "data": None})
        mode = self.behaviour.take()
        if mode == "http500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if mode == "rate_limit":
            return JSONResponse({"code": 199, "msg": "调用频次超过限制!请稍后再试", "data": None})
        try:
            biz = json.loads(form.get("biz", "{}"))
        except json.JSONDecodeError:
            return JSONResponse({"code": 120, "msg": "biz参数错误", "data": None})
        remark = biz.get("remark")
        if not isinstance(biz.get("o_id"), int) or not isinstance(remark, str):
            return JSONResponse({"code": 120, "msg": "参数错误：o_id、remark必填", "data": None})
        if len(remark) > 500:
            return JSONResponse({"code": 120, "msg": "备注最大长度500", "data": None})
        target = next((o for orders in self.orders.values() for o in orders if o["o_id"] == biz["o_id"]), None)
        if target is None:
            return JSONResponse({"code": 120, "msg": "订单不存在", "data": None})
        with self._lock:
            old = target.get("remark") or ""
            target["remark"] = f"{old}{remark}" if biz.get("is_append") and old else remark
            self.remark_writes.append({"o_id": biz["o_id"], "remark": remark, "is_append": biz.get("is_append")})
        return JSONResponse({"code": 0, "msg": "执行成功", "data": None})

    # -- loading facts ----------------------------------------------------------------------

    def load_facts(self, facts: dict[str, Any]) -> None:
        """Express canonical facts as ERP orders: one per parcel, one for the lines not shipped yet; a
        split platform order also keeps its parent ERP order (status Split)."""
        so = facts["order_id"]
        items = facts.get("items") or []
        by_sku = {it.get("sku"): it for it in items}
        groups: list[tuple[dict[str, Any] | None, list[dict[str, Any]]]] = []
        shipped: set[str] = set()
        for sh in facts.get("shipments") or []:
            its = [by_sku[s] for s in sh.get("item_skus") or [] if s in by_sku]
            shipped |= {s for s in sh.get("item_skus") or []}
            groups.append((sh, its))
        rest = [it for it in items if it.get("sku") not in shipped]
        if rest:
            groups.append((None, rest))
        base = 8800000 + len(self.orders) * 10
        orders: list[dict[str, Any]] = []
        if len(groups) > 1:
            orders.append(self._order(so, base, facts, "Split", None, items, 0.0))
        for n, (sh, its) in enumerate(groups):
            status = "Sent" if sh else ERP_OF.get(its[0].get("status") or facts.get("status") or "", "WaitConfirm")
            amount = facts.get("amount") if n == 0 else 0.0
            orders.append(self._order(so, base + n + 1, facts, status, sh, its, amount))
        self.orders[so] = orders

    def _order(self, so: str, o_id: int, facts: dict[str, Any], status: str, sh: dict[str, Any] | None,
               items: list[dict[str, Any]], amount: float | None) -> dict[str, Any]:
        refund = {None: "none", "SUCCESS": "success", "CLOSED": "closed"}
        return {
            "o_id": o_id, "so_id": so, "shop_id": 10012345, "shop_name": "演示旗舰店", "status": status,
            "shop_status": facts.get("status"), "order_date": _local(facts.get("paid_at")),
            "pay_date": _local(facts.get("paid_at")), "pay_amount": amount, "paid_amount": amount,
            "shop_buyer_id": facts.get("buyer_nick"), "wms_co_id": 10086, "wms_co_name": facts.get("warehouse"),
            "l_id": sh.get("tracking_no") if sh else None, "logistics_company": sh.get("carrier") if sh else None,
            "lc_id": "ZTO" if sh else None, "send_date": _local(sh.get("shipped_at")) if sh else None,
            "receiver_state": "浙江省", "receiver_city": "杭州市", "question_type": None, "labels": "", "remark": "",
            "created": _local(facts.get("paid_at")), "modified": _local(facts.get("paid_at")),
            "items": [{"oi_id": o_id * 10 + k, "sku_id": it.get("sku"), "i_id": (it.get("sku") or "").split("-")[0],
                       "name": it.get("title"), "qty": it.get("quantity", 1), "price": 39.0, "amount": 39.0,
                       "raw_so_id": so, "outer_oi_id": f"{so}{k}", "properties_value": "白色",
                       "refund_status": refund.get(it.get("refund_status"), "waiting"), "is_gift": False,
                       "item_status": status} for k, it in enumerate(items)],
        }


def _local(v: Any) -> str | None:
    if not v:
        return None
    dt = datetime.fromisoformat(v) if isinstance(v, str) else v
    return dt.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
