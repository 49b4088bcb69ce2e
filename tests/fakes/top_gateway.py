"""A fake Taobao Open Platform gateway (``POST /router/rest``, form-encoded, ``format=json``).

It checks what TOP checks, in TOP's order: the app key, the signature (md5 / hmac / hmac-sha256 over
the sorted parameters), the session; then answers ``taobao.trade.fullinfo.get`` and
``taobao.logistics.trace.search`` from the trades it holds, writes ``taobao.trade.memo.update`` (the
seller memo and flag, replacing the memo as TOP does; memo at most 1000 bytes, flag 0-5), in TOP's JSON shapes (payload fields as in
the platform's documentation and SDK samples), or with an ``error_response`` when told to.

Modes (``fake.behaviour.then(...)`` / ``.always(...)``): ``rate_limit:N`` (code 7, ban N seconds),
``isp`` (code 15, isp.top-remote-connection-timeout), ``invalid_session`` (27), ``malformed`` (not
JSON), ``http500``, ``slow:S``.
"""

from __future__ import annotations

import hashlib
import hmac
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


def sign(params: dict[str, str], secret: str, method: str) -> str:
    # Written from the TOP documentation independently of knowledge/sources/taobao.py.
    pieces = [k + params[k] for k in sorted(params) if k != "sign" and params[k] != ""]
    text = "".join(pieces)
    if method == "md5":
        return hashlib.md5(f"{secret}{text}{secret}".encode()).hexdigest().upper()
    algo = hashlib.md5 if method == "hmac" else hashlib.sha256
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), algo).hexdigest().upper()


def _err(code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "msg": msg, "request_id": "9ak2ub5e1yzx"}
    if sub_code:
        body["sub_code"] = sub_code
    if sub_msg:
        body["sub_msg"] = sub_msg
    return JSONResponse({"error_response": body})


class FakeTop:
    def __init__(self, *, app_key: str = "12345678", app_secret: str = "top-app-secret-0123456789",
                 session: str = "6100e1top-session-0123456789abcdef") -> None:
        self.app_key, self.app_secret, self.session = app_key, app_secret, session
        self.trades: dict[str, dict[str, Any]] = {}
        # Per waybill: {"company_name", "status", "steps": [{"status_time", "status_desc", "action"}]}
        self.traces: dict[str, dict[str, Any]] = {}
        self.behaviour = Behaviour()
        self.calls: list[dict[str, Any]] = []
        self.memo_writes: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/router/rest", self.rest, methods=["POST"])])

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for c in self.calls if method is None or c["method"] == method)

    async def rest(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        method = form.get("method", "")
        signed_ok = form.get("sign") == sign(form, self.app_secret, form.get("sign_method", "md5"))
        with self._lock:
            self.calls.append({"method": method, "params": form, "signature_ok": signed_ok})
        mode = await self.behaviour.next_mode()
        if form.get("app_key") != self.app_key:
            return _err(29, "Invalid app Key", "isv.appkey-not-exists")
        if not signed_ok:
            return _err(25, "Invalid signature")
        if not form.get("session"):
            return _err(26, "Missing session")
        if form.get("session") != self.session or mode == "invalid_session":
            return _err(27, "Invalid session", "invalid-sessionkey", "SessionKey非法")
        try:
            datetime.strptime(form.get("timestamp", ""), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return _err(31, "Invalid timestamp")
        if mode and mode.startswith("rate_limit"):
            secs = mode.split(":")[1] if ":" in mode else "1"
            return _err(7, "App Call Limited", "accesscontrol.limited-by-app-access-count",
                        f"This ban will last for {secs} more seconds")
        if mode == "isp":
            return _err(15, "Remote service error", "isp.top-remote-connection-timeout", "API调用远程服务超时")
        if mode == "malformed":
            return PlainTextResponse('{"trade_fullinfo_get_response": {"trade": {"tid": 1', media_type="application/json")
        if mode == "http500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if method == "taobao.trade.fullinfo.get":
            return self._fullinfo(form)
        if method == "taobao.logistics.trace.search":
            return self._trace(form)
        if method == "taobao.trade.memo.update":
            return self._memo(form)
        return _err(22, "Invalid method")

    def _fullinfo(self, form: dict[str, str]) -> Response:
        if not form.get("fields"):
            return _err(40, "Missing required arguments:fields")
        trade = self.trades.get(form.get("tid", ""))
        if trade is None:
            return _err(15, "Remote service error", "isv.trade-not-exist", "交易不存在")
        return JSONResponse({"trade_fullinfo_get_response": {"trade": trade, "request_id": "4ah8dw0frq1e"}})

    def _memo(self, form: dict[str, str]) -> Response:
        tid = form.get("tid", "")
        if not tid:
            return _err(40, "Missing required arguments:tid")
        if not tid.isdigit():
            return _err(41, "Invalid arguments:tid")
        trade = self.trades.get(tid)
        if trade is None:
            return _err(15, "Remote service error", "isv.trade-not-exist", "交易不存在")
        memo = form.get("memo", "")
        if len(memo.encode()) > 1000:
            return _err(15, "Remote service error", "isv.invalid-parameter:memo", "备注长度超过1000个字节")
        flag = form.get("flag", "")
        if flag and (not flag.isdigit() or int(flag) > 5):
            return _err(41, "Invalid arguments:flag")
        with self._lock:
            if form.get("reset") == "true":
                trade.pop("seller_memo", None)
            elif memo:
                trade["seller_memo"] = memo
            if flag:
                trade["seller_flag"] = int(flag)
            trade["modified"] = datetime.now(CST).strftime("%Y-%m-%d %H:%M:%S")
            self.memo_writes.append({"tid": tid, "memo": memo, "flag": flag})
        return JSONResponse({"trade_memo_update_response": {
            "trade": {"tid": int(tid), "modified": trade["modified"]}, "request_id": "2ag5kx1xq9tq"}})

    def _trace(self, form: dict[str, str]) -> Response:
        trade = self.trades.get(form.get("tid", ""))
        if trade is None:
            return _err(15, "Remote service error", "isv.trade-not-exist", "交易不存在")
        lines = trade.get("orders", {}).get("order", [])
        if form.get("is_split") == "1":
            wanted = set(form.get("sub_tid", "").split(","))
            lines = [ln for ln in lines if str(ln.get("oid")) in wanted]
        waybills = [ln.get("invoice_no") for ln in lines if ln.get("invoice_no")]
        if not waybills:
            return _err(15, "Remote service error", "isv.logistics-query-fail", "该订单没有物流信息")
        no = waybills[0]
        t = self.traces.get(no, {"company_name": lines[0].get("logistics_company"), "status": "运输中", "steps": []})
        body: dict[str, Any] = {"out_sid": no, "company_name": t.get("company_name"), "tid": int(trade["tid"]),
                                "status": t.get("status", "运输中"),
                                "trace_list": {"transit_step_info": t.get("steps", [])}}
        return JSONResponse({"logistics_trace_search_response": body})

    # -- loading facts ----------------------------------------------------------------------

    def load_facts(self, facts: dict[str, Any]) -> None:
        """Express canonical order facts as a TOP trade (one order line per item, waybills per line)."""
        tid = facts["order_id"]
        parcel_of: dict[str, dict[str, Any]] = {}
        for sh in facts.get("shipments") or []:
            for sku in sh.get("item_skus") or []:
                parcel_of[sku] = sh
            if sh.get("tracking_no"):
                self.traces[sh["tracking_no"]] = {
                    "company_name": sh.get("carrier"),
                    "status": "对方已签收" if sh.get("offline") else "运输中",
                    "steps": [] if sh.get("offline") else [
                        {"status_time": _local(e["at"]), "status_desc": e["desc"], "action": "OTHER"}
                        for e in sh.get("events") or []]}
        lines = []
        for i, it in enumerate(facts.get("items") or []):
            ln: dict[str, Any] = {
                "oid": int(tid) * 10 + i + 1 if tid.isdigit() else i + 1, "num_iid": 600000000000 + i,
                "title": it.get("title"), "num": it.get("quantity", 1), "outer_sku_id": it.get("sku"),
                "outer_iid": (it.get("sku") or "").split("-")[0], "sku_id": str(5000000000 + i),
                "status": it.get("status") or facts.get("status"), "price": "39.00", "payment": "39.00",
                "refund_status": it.get("refund_status") or "NO_REFUND", "pic_path": "https://img.example/x.jpg",
                "sku_properties_name": "颜色:白色", "seller_type": "B", "cid": 50012345,
            }
            sh = parcel_of.get(it.get("sku"))
            if sh is not None:
                ln.update(logistics_company=sh.get("carrier"), invoice_no=sh.get("tracking_no"),
                          consign_time=_local(sh.get("shipped_at")), shipping_type="express")
            lines.append(ln)
        self.trades[tid] = {
            "tid": int(tid), "status": facts.get("status"), "type": "fixed", "shipping_type": "express",
            "created": _local(facts.get("paid_at")), "modified": _local(facts.get("paid_at")),
            "pay_time": _local(facts.get("paid_at")), "buyer_nick": facts.get("buyer_nick"),
            "payment": f"{facts['amount']:.2f}" if facts.get("amount") is not None else None,
            "seller_nick": "演示旗舰店", "receiver_state": "浙江省", "receiver_city": "杭州市",
            "orders": {"order": lines},
        }


def _local(v: Any) -> str | None:
    if not v:
        return None
    dt = datetime.fromisoformat(v) if isinstance(v, str) else v
    return dt.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def trade_json(fake: FakeTop, tid: str) -> str:
    return json.dumps(fake.trades[tid], ensure_ascii=False)
