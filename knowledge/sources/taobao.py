"""Taobao Open Platform (TOP): ``taobao.trade.fullinfo.get`` and ``taobao.logistics.trace.search``.

The request is signed as the TOP SDKs do: every parameter except ``sign`` with a non-empty value,
sorted by name, concatenated as name+value; ``md5`` wraps that in the app secret on both sides and
takes MD5, ``hmac`` takes HMAC-MD5 keyed by the secret (``hmac-sha256`` HMAC-SHA256); the digest is
upper-case hex.

How ``error_response`` {code, msg, sub_code, sub_msg} is handled:

- invalid signature (25), missing/invalid session (26, 27), app key or permission errors → a
  configuration error the admin sees (/readyz, ``orders check``); never retried;
- ``isp.*`` (the platform's own failures), HTTP 5xx and timeouts → retried with backoff;
- "App Call Limited" (7) → the ban seconds in ``sub_msg`` ("This ban will last for 71 more
  seconds") are honoured: every call fails fast until they have passed;
- ``isv.trade-not-exist`` → the order is not found.

Per-line truth: each ``orders.order[]`` line keeps its own status and refund status; lines are grouped
into parcels by (``logistics_company``, ``invoice_no``), and each parcel's trace is read with
``is_split``/``sub_tid`` when the trade was split. A waybill shipped offline has no live trace (TOP
answers ``对方已签收`` for it at once); that status is never turned into a delivery event.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import httpx

from core.clock import Clock
from knowledge.errors import (
    OrderNotFound,
    SourceConfigError,
    SourceMalformed,
    SourceRateLimited,
    SourceRemoteError,
)
from knowledge.orders import OrderFacts
from knowledge.sources.telemetry import SourceTelemetry
from knowledge.sources.upstream import CST, Fetched, Provenance, Retry, as_float, as_int, parse_local

__all__ = ["TRADE_FIELDS", "TaobaoSource", "TopClient", "top_sign"]

TRADE_FIELDS = ("tid,status,type,pay_time,created,modified,consign_time,buyer_nick,payment,shipping_type,"
                "step_trade_status,orders.oid,orders.status,orders.title,orders.num,orders.outer_sku_id,"
                "orders.outer_iid,orders.sku_id,orders.refund_status,orders.consign_time,orders.logistics_company,"
                "orders.invoice_no,orders.shipping_type,orders.est_con_time")

# TOP's trade statuses, mapped explicitly: a value not listed is unknown, never a guess.
TRADE_STATUS = {
    "WAIT_BUYER_PAY": "WAIT_BUYER_PAY", "TRADE_NO_CREATE_PAY": "WAIT_BUYER_PAY",
    "WAIT_SELLER_SEND_GOODS": "WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART": "SELLER_CONSIGNED_PART",
    "WAIT_BUYER_CONFIRM_GOODS": "WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED": "TRADE_BUYER_SIGNED",
    "TRADE_FINISHED": "TRADE_FINISHED", "TRADE_CLOSED": "TRADE_CLOSED",
    "TRADE_CLOSED_BY_TAOBAO": "TRADE_CLOSED_BY_TAOBAO", "PAID_FORBID_CONSIGN": "PAID_FORBID_CONSIGN",
}
_NO_REFUND = {"", "NO_REFUND", None}
_INACTIVE_REFUND = _NO_REFUND | {"CLOSED"}
_BAN = re.compile(r"(\d+)\s*more\s*seconds", re.I)
_CONFIG_CODES = {11, 12, 22, 25, 26, 27, 28, 29}
_SESSION_SUBCODES = ("invalid-sessionkey", "session-expired", "session-not-exist", "invalid-session")
_OFFLINE_SIGNED = "对方已签收"


def top_sign(params: dict[str, Any], secret: str, method: str) -> str:
    base = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] not in (None, ""))
    if method == "md5":
        digest = hashlib.md5((secret + base + secret).encode()).hexdigest()
    elif method == "hmac":
        digest = hmac.new(secret.encode(), base.encode(), hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(secret.encode(), base.encode(), hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown TOP sign method {method!r}")
    return digest.upper()


class TopClient:
    """One shop's TOP credentials, a shared HTTP client, and the shop's App-Call-Limited ban."""

    def __init__(self, *, gateway_url: str, app_key: str, app_secret: str, session: str, sign_method: str,
                 clock: Clock, http: httpx.Client, retry: Retry, telemetry: SourceTelemetry | None = None) -> None:
        self.gateway_url, self.app_key, self.sign_method = gateway_url, app_key, sign_method
        self._secret, self._session = app_secret, session
        self.clock, self.http, self.retry = clock, http, retry
        self.telemetry = telemetry or SourceTelemetry()
        self._banned_until: datetime | None = None
        self._lock = threading.Lock()

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            until = self._banned_until
        if until is not None:
            left = (until - self.clock.now()).total_seconds()
            if left > 0:
                raise SourceRateLimited(f"Taobao banned this app's calls (App Call Limited) for {left:.0f} more "
                                        "seconds; failing fast until then", retry_after=left, code="top:7")
        return self.retry.run(lambda: self._once(method, params),
                              lambda e: isinstance(e, SourceRemoteError) and e.retryable)

    def _once(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        form = {"method": method, "app_key": self.app_key, "session": self._session, "format": "json", "v": "2.0",
                "sign_method": self.sign_method,
                "timestamp": self.clock.now().astimezone(CST).strftime("%Y-%m-%d %H:%M:%S"),
                **{k: str(v) for k, v in params.items()}}
        form["sign"] = top_sign(form, self._secret, self.sign_method)
        t0 = time.perf_counter()
        code = "ok"
        try:
            try:
                resp = self.http.post(self.gateway_url, data=form)
            except httpx.TimeoutException as exc:
                raise SourceRemoteError("Taobao did not answer in time", code="top:timeout", retryable=True) from exc
            except httpx.HTTPError as exc:
                raise SourceRemoteError(f"cannot reach the Taobao gateway ({type(exc).__name__})",
                                        code="top:transport", retryable=True) from exc
            if resp.status_code >= 500:
                raise SourceRemoteError(f"the Taobao gateway answered HTTP {resp.status_code}",
                                        code=f"top:http{resp.status_code}", retryable=True)
            try:
                body = resp.json()
            except ValueError as exc:
                raise SourceMalformed("the Taobao gateway's answer is not JSON", code="top:malformed") from exc
            if not isinstance(body, dict):
                raise SourceMalformed("the Taobao gateway's answer is not a JSON object", code="top:malformed")
            if "error_response" in body:
                raise self._error(body["error_response"])
            key = method.removeprefix("taobao.").replace(".", "_") + "_response"
            out = body.get(key)
            if not isinstance(out, dict):
                raise SourceMalformed(f"the Taobao answer has no {key}", code="top:malformed")
            return out
        except Exception as exc:
            code = getattr(exc, "code", "error")
            raise
        finally:
            self.telemetry.upstream("taobao", method, code, time.perf_counter() - t0)

    def _error(self, err: Any) -> Exception:
        if not isinstance(err, dict):
            return SourceMalformed("the Taobao error_response is not an object", code="top:malformed")
        try:
            code = int(err.get("code"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            code = -1
        sub = str(err.get("sub_code") or "")
        label = f"top:{code}" + (f":{sub}" if sub else "")
        what = _scrub(f"{err.get('msg') or ''}{' / ' + sub if sub else ''}", self._secret, self._session)[:200]
        if code == 7:
            m = _BAN.search(str(err.get("sub_msg") or ""))
            seconds = float(m.group(1)) if m else 1.0
            with self._lock:
                self._banned_until = self.clock.now() + timedelta(seconds=seconds)
            return SourceRateLimited(f"Taobao limits this app's calls (App Call Limited) for {seconds:.0f} seconds",
                                     retry_after=seconds, code="top:7")
        if code in _CONFIG_CODES or sub.endswith(_SESSION_SUBCODES):
            hint = {25: "check the app secret and sign method", 26: "set the shop's session key",
                    27: "re-authorise the shop and set a new session key"}.get(code, "check the app's key, "
                                                                                 "permissions and session")
            return SourceConfigError(f"Taobao refused the shop's credentials ({what}): {hint}", code=label)
        if "not-exist" in sub or "not-found" in sub:
            return OrderNotFound("Taobao has no such trade")
        if sub.startswith("isp.") or code in (15, 520) and not sub.startswith("isv."):
            return SourceRemoteError(f"Taobao failed ({what})", code=label, retryable=True)
        return SourceRemoteError(f"Taobao refused the call ({what})", code=label)


def _scrub(text: str, *secrets: str) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def _listify(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


class TaobaoSource:
    kind = "taobao"

    def __init__(self, client: TopClient, clock: Clock, *, trace: bool = True) -> None:
        self.client, self.clock, self.trace = client, clock, trace

    def close(self) -> None:  # the HTTP client belongs to the router
        pass

    def fetch(self, order_id: str) -> Fetched:
        if not order_id.isdigit():
            raise OrderNotFound("Taobao trade ids are numbers")
        resp = self.client.call("taobao.trade.fullinfo.get", {"tid": order_id, "fields": TRADE_FIELDS})
        raw: dict[str, Any] = {"trade_fullinfo_get_response": resp}
        trade = resp.get("trade")
        if not isinstance(trade, dict) or not trade:
            raise SourceMalformed("the Taobao answer has no trade", code="top:malformed")
        if str(trade.get("tid", order_id)) != order_id:
            raise SourceMalformed("Taobao answered with another trade", code="top:malformed")
        prov = Provenance()
        lines = [x for x in _listify((trade.get("orders") or {}).get("order")) if isinstance(x, dict)]
        items: list[dict[str, Any]] = []
        for i, ln in enumerate(lines):
            base = f"trade.orders.order[{i}]"
            sku_src = next((k for k in ("outer_sku_id", "outer_iid", "sku_id") if ln.get(k) not in (None, "")), None)
            item: dict[str, Any] = {
                "sku": prov(f"items[{i}].sku", f"{base}.{sku_src}", str(ln[sku_src])) if sku_src else None,
                "title": prov(f"items[{i}].title", f"{base}.title", ln.get("title")),
                "quantity": prov(f"items[{i}].quantity", f"{base}.num", as_int(ln.get("num"))),
                "status": prov(f"items[{i}].status", f"{base}.status", TRADE_STATUS.get(str(ln.get("status")))),
                "refund_status": prov(f"items[{i}].refund_status", f"{base}.refund_status",
                                      None if ln.get("refund_status") in _NO_REFUND else str(ln["refund_status"])),
            }
            if ln.get("oid") is not None:
                item["oid"] = str(ln["oid"])
            if ln.get("est_con_time"):
                item["est_con_time"] = str(ln["est_con_time"])  # shown to agents, never a claim
            items.append(item)

        shipments = self._parcels(order_id, trade, lines, items, prov, raw)
        refunds = {it["refund_status"] for it in items}
        refund = None
        if items and len(refunds) == 1 and next(iter(refunds)) not in _INACTIVE_REFUND:
            refund = {"status": next(iter(refunds))}
            prov("refund.status", "trade.orders.order[*].refund_status", refund["status"])
        facts = {
            "order_id": order_id,
            "status": prov("status", "trade.status", TRADE_STATUS.get(str(trade.get("status")))),
            "paid_at": prov("paid_at", "trade.pay_time", parse_local(trade.get("pay_time"))),
            "items": items, "shipments": shipments, "refund": refund,
            "buyer_nick": prov("buyer_nick", "trade.buyer_nick", trade.get("buyer_nick")),
            "amount": prov("amount", "trade.payment", as_float(trade.get("payment"))),
            "fetched_at": self.clock.now(),
        }
        try:
            parsed = OrderFacts.model_validate(facts)
        except ValueError as exc:
            raise SourceMalformed("the Taobao trade cannot be read as order facts", code="top:malformed") from exc
        return Fetched(parsed, raw, prov.rows)

    def _parcels(self, tid: str, trade: dict[str, Any], lines: list[dict[str, Any]], items: list[dict[str, Any]],
                 prov: Provenance, raw: dict[str, Any]) -> list[dict[str, Any]]:
        groups: dict[tuple[str, str], list[int]] = {}
        for i, ln in enumerate(lines):
            no = str(ln.get("invoice_no") or "").strip()
            if no:
                groups.setdefault((str(ln.get("logistics_company") or "").strip(), no), []).append(i)
        parcels: list[dict[str, Any]] = []
        split = len(groups) > 1 or (bool(groups) and sum(len(v) for v in groups.values()) < len(lines))
        for p, ((carrier, no), idx) in enumerate(groups.items()):
            times = [t for t in (parse_local(lines[i].get("consign_time")) for i in idx) if t]
            parcel: dict[str, Any] = {
                "carrier": prov(f"shipments[{p}].carrier", f"trade.orders.order[{idx[0]}].logistics_company",
                                carrier or None),
                "tracking_no": prov(f"shipments[{p}].tracking_no", f"trade.orders.order[{idx[0]}].invoice_no", no),
                "shipped_at": prov(f"shipments[{p}].shipped_at", f"trade.orders.order[{idx[0]}].consign_time",
                                   min(times) if times else None),
                "item_skus": [items[i]["sku"] for i in idx if items[i].get("sku")] or None,
                "events": [], "trace": "not_read",
            }
            if self.trace:
                sub_tids = ",".join(str(lines[i].get("oid")) for i in idx if lines[i].get("oid") is not None)
                self._trace(tid, parcel, split, sub_tids, p, prov, raw)
            parcels.append(parcel)
        if not parcels and trade.get("consign_time") and TRADE_STATUS.get(str(trade.get("status"))) in (
                "WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED", "SELLER_CONSIGNED_PART"):
            # Shipped without a waybill on any line (e.g. no logistics needed): a parcel we know nothing about.
            parcels.append({"shipped_at": prov("shipments[0].shipped_at", "trade.consign_time",
                                               parse_local(trade.get("consign_time"))), "events": [], "trace": "none"})
        return parcels

    def _trace(self, tid: str, parcel: dict[str, Any], split: bool, sub_tids: str, p: int, prov: Provenance,
               raw: dict[str, Any]) -> None:
        params: dict[str, Any] = {"tid": tid}
        if split and sub_tids:
            params.update(is_split=1, sub_tid=sub_tids)
        try:
            resp = self.client.call("taobao.logistics.trace.search", params)
        except SourceRemoteError as exc:
            if exc.code.startswith("top:") and ":isv." in exc.code:
                parcel["trace"] = "none"  # no trace kept for this waybill: no events, and no guess
                return
            raise
        raw.setdefault("logistics_trace_search_response", []).append(resp)
        out_sid = str(resp.get("out_sid") or "").strip()
        if out_sid and out_sid != parcel["tracking_no"]:
            parcel["trace"] = "mismatch"  # another parcel's trace is never attached to this one
            return
        steps = [s for s in _listify((resp.get("trace_list") or {}).get("transit_step_info")) if isinstance(s, dict)]
        if not steps:
            # Offline-shipped waybills answer "对方已签收" at once with no steps: not evidence of delivery.
            parcel["trace"] = "offline" if str(resp.get("status") or "") == _OFFLINE_SIGNED else "none"
            return
        parcel["trace"] = "live"
        for s in steps:
            ev: dict[str, Any] = {"at": parse_local(s.get("status_time")), "desc": str(s.get("status_desc") or "")}
            if s.get("action"):
                ev["action"] = str(s["action"])
            parcel["events"].append(ev)
        prov(f"shipments[{p}].events", "logistics_trace_search_response.trace_list.transit_step_info[*]",
             len(parcel["events"]))


    def write_memo(self, order_id: str, marker: str, line: str, flag: int) -> str:
        """Add ``line`` to the trade's seller memo and set its flag (``taobao.trade.memo.update``).

        The memo call replaces the whole memo, so the current one is read first and kept; ``marker``
        (the task id) is written with the line, and a memo that already carries it is not written
        again: a retried task writes once. Returns "written" or "already".
        """
        if not order_id.isdigit():
            raise OrderNotFound("Taobao trade ids are numbers")
        got = self.client.call("taobao.trade.fullinfo.get", {"tid": order_id, "fields": "tid,seller_memo,seller_flag"})
        trade = got.get("trade")
        if not isinstance(trade, dict):
            raise SourceMalformed("the Taobao answer has no trade", code="top:malformed")
        current = str(trade.get("seller_memo") or "")
        if marker in current:
            return "already"
        memo = f"{current}\n{line}" if current else line
        while len(memo.encode()) > MEMO_MAX_BYTES:  # TOP keeps at most 1000 bytes: drop the oldest lines
            head, _, rest = memo.partition("\n")
            if not rest:
                memo = memo.encode()[:MEMO_MAX_BYTES].decode(errors="ignore")
                break
            memo = rest
        resp = self.client.call("taobao.trade.memo.update", {"tid": order_id, "memo": memo, "flag": flag})
        if str((resp.get("trade") or {}).get("tid", order_id)) != order_id:
            raise SourceMalformed("Taobao updated another trade's memo", code="top:malformed")
        return "written"


MEMO_MAX_BYTES = 1000
# Seller flags: 0 grey, 1 red, 2 yellow, 3 green, 4 blue, 5 purple. Red marks "priority" in most shops.
FLAG_PRIORITY = 1
FLAG_FORWARD = 2
