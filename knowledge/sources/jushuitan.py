"""Jushuitan (聚水潭) ERP open API: ``/open/orders/single/query`` by the platform order id (``so_ids``).

Every call is a form POST of ``app_key, access_token, timestamp, charset, version=2, biz`` (the
business parameters as JSON) and ``sign`` = lower-case MD5 of the app secret followed by every other
non-empty parameter as name+value, sorted by name.

One platform order may be several ERP orders (a split shipment: the parent turns ``Split`` and each
child ships on its own waybill), so pages are read while ``has_next`` is true and each ERP order's
lines carry that ERP order's own status and parcel. ERP statuses are mapped explicitly; a status not
in the table is unknown, never a guess.

Errors (``code`` in the answer): 100 (token invalid or expired) → refresh the token once (or pick up
one another worker already refreshed) and retry; 10, 110, 140, 150, 190 (signature, IP whitelist,
clock, refresh forbidden, no permission) → configuration errors for the admin; 199/200 (call
frequency) → rate limited, failing fast for a second / a minute; HTTP 5xx and timeouts → retried
with backoff.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
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
from knowledge.sources.upstream import Fetched, Provenance, Retry, as_float, as_int, parse_local

__all__ = ["ERP_STATUS", "JstClient", "JushuitanSource", "Tokens", "jst_sign"]

# ERP order status → the platform trade status a line in that ERP order is in.
ERP_STATUS: dict[str, str | None] = {
    "WaitPay": "WAIT_BUYER_PAY",
    "WaitConfirm": "WAIT_SELLER_SEND_GOODS",      # 已付款待审核
    "WaitFConfirm": "WAIT_SELLER_SEND_GOODS",     # 已客审待财审
    "Delivering": "WAIT_SELLER_SEND_GOODS",       # 发货中 (picked in the warehouse, not yet handed over)
    "WaitOuterSent": "WAIT_SELLER_SEND_GOODS",    # 等供销商|外仓发货
    "Sent": "WAIT_BUYER_CONFIRM_GOODS",           # 已发货
    "Question": None,                             # 异常: held for a problem; whether/when it ships is unknown
    "Cancelled": None,                            # 取消: the ERP order, not necessarily the platform trade
}
# ERP orders that no longer carry lines of their own.
_REPLACED = {"Split", "Merged"}
# The platform status Jushuitan copies from the shop (``shop_status``).
SHOP_STATUS = {s: s for s in ("WAIT_BUYER_PAY", "WAIT_SELLER_SEND_GOODS", "SELLER_CONSIGNED_PART",
                              "WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED", "TRADE_CLOSED",
                              "TRADE_CLOSED_BY_TAOBAO", "PAID_FORBID_CONSIGN")}
REFUND_STATUS: dict[str, str | None] = {"none": None, "waiting": "WAITING", "success": "SUCCESS", "closed": "CLOSED"}
_CONFIG = {10: "the signature was refused: check the app secret", 110: "this server's IP is not in the app's "
           "whitelist", 140: "the timestamp was refused: check this server's clock", 150: "the token can no longer "
           "be refreshed: authorise the app again", 190: "the app has no permission for orders/single/query"}
_PAGE = 50
REMARK_MAX = 500  # the ERP keeps at most 500 characters of seller remark
_MAX_PAGES = 20


def jst_sign(params: dict[str, Any], secret: str) -> str:
    base = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] not in (None, ""))
    return hashlib.md5((secret + base).encode()).hexdigest()


class Tokens:
    """Where the shop's access/refresh tokens live; a refresh is stored so every worker uses it."""

    def __init__(self, access: str, refresh: str | None, *, load: Callable[[], dict[str, str]] | None = None,
                 save: Callable[[dict[str, str]], None] | None = None) -> None:
        self.access, self.refresh = access, refresh
        self._load, self._save = load, save

    def reload(self) -> None:
        if self._load is not None:
            s = self._load()
            self.access, self.refresh = s.get("access_token", self.access), s.get("refresh_token", self.refresh)

    def store(self, access: str, refresh: str | None) -> None:
        self.access, self.refresh = access, refresh or self.refresh
        if self._save is not None:
            self._save({"access_token": self.access, **({"refresh_token": self.refresh} if self.refresh else {})})


class JstClient:
    def __init__(self, *, base_url: str, app_key: str, app_secret: str, tokens: Tokens, clock: Clock,
                 http: httpx.Client, retry: Retry, telemetry: SourceTelemetry | None = None) -> None:
        self.base_url, self.app_key, self._secret, self.tokens = base_url.rstrip("/"), app_key, app_secret, tokens
        self.clock, self.http, self.retry = clock, http, retry
        self.telemetry = telemetry or SourceTelemetry()
        self._limited_until: datetime | None = None
        self._lock = threading.Lock()

    def call(self, path: str, biz: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            until = self._limited_until
        if until is not None and (left := (until - self.clock.now()).total_seconds()) > 0:
            raise SourceRateLimited(f"Jushuitan limits this app's call frequency; failing fast for {left:.0f} s",
                                    retry_after=left, code="jst:rate")
        used = self.tokens.access
        try:
            return self._retrying(path, biz)
        except _TokenExpired:
            with self._lock:
                self.tokens.reload()
                if self.tokens.access == used:  # nobody refreshed it yet: we do
                    self._refresh()
            try:
                return self._retrying(path, biz)
            except _TokenExpired as exc:
                raise SourceConfigError("Jushuitan still refuses the access token after a refresh: authorise the "
                                        "app again", code="jst:100") from exc

    def _retrying(self, path: str, biz: dict[str, Any]) -> dict[str, Any]:
        return self.retry.run(lambda: self._once(path, biz),
                              lambda e: isinstance(e, SourceRemoteError) and e.retryable)

    def _post(self, path: str, form: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """One signed call: (body, its code). Counted once, with the outcome the answer means."""
        form["sign"] = jst_sign(form, self._secret)
        t0 = time.perf_counter()
        outcome = "ok"
        try:
            try:
                resp = self.http.post(self.base_url + path, data=form)
            except httpx.TimeoutException as exc:
                raise SourceRemoteError("Jushuitan did not answer in time", code="jst:timeout",
                                        retryable=True) from exc
            except httpx.HTTPError as exc:
                raise SourceRemoteError(f"cannot reach Jushuitan ({type(exc).__name__})", code="jst:transport",
                                        retryable=True) from exc
            if resp.status_code >= 500:
                raise SourceRemoteError(f"Jushuitan answered HTTP {resp.status_code}",
                                        code=f"jst:http{resp.status_code}", retryable=True)
            try:
                body = resp.json()
            except ValueError as exc:
                raise SourceMalformed("Jushuitan's answer is not JSON", code="jst:malformed") from exc
            if not isinstance(body, dict) or "code" not in body:
                raise SourceMalformed("Jushuitan's answer has no code", code="jst:malformed")
            code = _code(body)
            if code != 0:
                outcome = f"jst:{code}"
            return body, code
        except Exception as exc:
            outcome = getattr(exc, "code", "error")
            raise
        finally:
            self.telemetry.upstream("jushuitan", path, outcome, time.perf_counter() - t0)

    def _once(self, path: str, biz: dict[str, Any]) -> dict[str, Any]:
        form = {"app_key": self.app_key, "access_token": self.tokens.access,
                "timestamp": int(self.clock.now().timestamp()), "charset": "utf-8", "version": "2",
                "biz": json.dumps(biz, ensure_ascii=False, separators=(",", ":"))}
        body, code = self._post(path, form)
        if code == 0:
            return body
        if code == 100:
            raise _TokenExpired()
        raise self._error(code)

    def _error(self, code: int) -> Exception:
        if code in _CONFIG:
            return SourceConfigError(f"Jushuitan refused the call ({code}): {_CONFIG[code]}", code=f"jst:{code}")
        if code in (199, 200):
            seconds = 1.0 if code == 199 else 60.0
            with self._lock:
                self._limited_until = self.clock.now() + timedelta(seconds=seconds)
            return SourceRateLimited(f"Jushuitan limits this app's call frequency ({code})", retry_after=seconds,
                                     code=f"jst:{code}")
        return SourceRemoteError(f"Jushuitan refused the call (code {code})", code=f"jst:{code}")

    def _refresh(self) -> None:
        if not self.tokens.refresh:
            raise SourceConfigError("the Jushuitan access token expired and no refresh token is set: authorise "
                                    "the app again", code="jst:100")
        form = {"app_key": self.app_key, "timestamp": int(self.clock.now().timestamp()), "charset": "utf-8",
                "grant_type": "refresh_token", "refresh_token": self.tokens.refresh, "scope": "all"}
        body, code = self._post("/openWeb/auth/refreshToken", form)
        got = body.get("data")
        data: dict[str, Any] = got if isinstance(got, dict) else {}
        if code != 0 or not data.get("access_token"):
            raise SourceConfigError(f"Jushuitan refused to refresh the access token ({code}): authorise the app "
                                    "again", code=f"jst:refresh:{code}")
        self.tokens.store(str(data["access_token"]), str(data["refresh_token"]) if data.get("refresh_token") else None)


class _TokenExpired(Exception):
    pass


def _code(body: dict[str, Any]) -> int:
    try:
        return int(body.get("code"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise SourceMalformed("Jushuitan's answer has no numeric code", code="jst:malformed") from exc


class JushuitanSource:
    kind = "jushuitan"

    def __init__(self, client: JstClient, clock: Clock) -> None:
        self.client, self.clock = client, clock

    def close(self) -> None:
        pass

    def fetch(self, order_id: str) -> Fetched:
        pages, mine = self._query(order_id)
        prov = Provenance()
        return Fetched(self._facts(order_id, mine, prov), {"pages": pages}, prov.rows)

    def write_remark(self, order_id: str, marker: str, line: str) -> str:
        """Append ``line`` to the seller remark of each ERP order of this platform order that has not
        shipped (``/open/jushuitan/order/remark/upload`` by internal order id ``o_id``, ``is_append``:
        the warehouse's own remarks are kept). An ERP order whose remark already carries ``marker`` (the
        task id) is not written again. Returns "written", "already", or raises when no ERP order can
        take it (all shipped: nothing left to flag)."""
        erp_orders = self._erp_orders(order_id)
        open_ = [o for o in erp_orders if str(o.get("status")) not in _REPLACED | {"Sent", "Cancelled"}
                 and o.get("o_id") is not None]
        if not open_:
            raise SourceRemoteError("every ERP order of this order has shipped or was cancelled: no remark to add",
                                    code="jst:nothing_open")
        wrote = False
        for o in open_:
            if marker in str(o.get("remark") or ""):
                continue
            self.client.call("/open/jushuitan/order/remark/upload",
                             {"o_id": int(o["o_id"]), "remark": line[:REMARK_MAX], "is_append": True})
            wrote = True
        return "written" if wrote else "already"

    def _erp_orders(self, order_id: str) -> list[dict[str, Any]]:
        return self._query(order_id)[1]

    def _query(self, order_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every page of ``/open/orders/single/query`` for one platform order: the raw pages and the ERP
        orders that belong to it (an ERP order id may be reused across platforms)."""
        pages: list[dict[str, Any]] = []
        erp_orders: list[dict[str, Any]] = []
        for page in range(1, _MAX_PAGES + 1):
            body = self.client.call("/open/orders/single/query",
                                    {"so_ids": [order_id], "page_index": page, "page_size": _PAGE})
            data = body.get("data")
            if not isinstance(data, dict) or not isinstance(data.get("orders", []), list):
                raise SourceMalformed("Jushuitan's answer has no data.orders", code="jst:malformed")
            pages.append(body)
            erp_orders += [o for o in data.get("orders") or [] if isinstance(o, dict)]
            if data.get("has_next") is not True:
                break
        else:
            raise SourceMalformed("Jushuitan kept answering has_next", code="jst:malformed")
        mine = [o for o in erp_orders if str(o.get("so_id", order_id)) == order_id]
        if not mine:
            raise OrderNotFound("Jushuitan has no order with this platform order id")
        return pages, mine

    def _facts(self, order_id: str, erp_orders: list[dict[str, Any]], prov: Provenance) -> OrderFacts:
        items: list[dict[str, Any]] = []
        shipments: list[dict[str, Any]] = []
        live = [(j, o) for j, o in enumerate(erp_orders) if str(o.get("status")) not in _REPLACED]
        for j, o in live:
            erp = str(o.get("status") or "")
            line_status = ERP_STATUS.get(erp)
            skus: list[str] = []
            for k, it in enumerate(o.get("items") or []):
                if not isinstance(it, dict):
                    continue
                if it.get("raw_so_id") not in (None, "", order_id):
                    continue  # another platform order's line merged into this ERP order
                i = len(items)
                src = f"orders[{j}].items[{k}]"
                sku = prov(f"items[{i}].sku", f"{src}.sku_id", str(it["sku_id"]) if it.get("sku_id") else None)
                items.append({
                    "sku": sku, "title": prov(f"items[{i}].title", f"{src}.name", it.get("name")),
                    "quantity": prov(f"items[{i}].quantity", f"{src}.qty", as_int(it.get("qty"))),
                    "status": prov(f"items[{i}].status", f"orders[{j}].status", line_status),
                    "refund_status": prov(f"items[{i}].refund_status", f"{src}.refund_status",
                                          REFUND_STATUS.get(str(it.get("refund_status") or "none").lower())),
                    "erp_status": erp,
                })
                if sku:
                    skus.append(sku)
            l_id = str(o.get("l_id") or "").strip()
            if erp == "Sent" or l_id:
                p = len(shipments)
                shipments.append({
                    "carrier": prov(f"shipments[{p}].carrier", f"orders[{j}].logistics_company",
                                    o.get("logistics_company") or None),
                    "tracking_no": prov(f"shipments[{p}].tracking_no", f"orders[{j}].l_id", l_id or None),
                    "shipped_at": prov(f"shipments[{p}].shipped_at", f"orders[{j}].send_date",
                                       parse_local(o.get("send_date"))),
                    "item_skus": skus or None, "events": [], "trace": "not_available",
                    "erp_order": str(o.get("o_id")) if o.get("o_id") is not None else None,
                })
        first = erp_orders[0]
        statuses = {str(o.get("shop_status")) for _, o in live if o.get("shop_status")}
        status = SHOP_STATUS.get(statuses.pop()) if len(statuses) == 1 else None
        if status is not None:
            prov("status", "orders[*].shop_status", status)
        else:
            status = prov("status", "orders[*].status", _trade_status({it["status"] for it in items}))
        pays = [t for t in (parse_local(o.get("pay_date")) for _, o in live) if t]
        refunds = {it["refund_status"] for it in items}
        refund = ({"status": next(iter(refunds))} if items and len(refunds) == 1
                  and next(iter(refunds)) not in (None, "CLOSED") else None)
        amounts = [as_float(o.get("pay_amount")) for _, o in live]
        facts = {
            "order_id": order_id, "status": status,
            "paid_at": prov("paid_at", "orders[*].pay_date", min(pays)) if pays else None,
            "items": items, "shipments": shipments, "refund": refund,
            "buyer_nick": prov("buyer_nick", "orders[0].shop_buyer_id", first.get("shop_buyer_id") or None),
            "amount": prov("amount", "orders[*].pay_amount", round(sum(a for a in amounts if a is not None), 2))
            if amounts and all(a is not None for a in amounts) else None,
            "warehouse": prov("warehouse", "orders[0].wms_co_name", first.get("wms_co_name") or None),
            "fetched_at": self.clock.now(),
        }
        try:
            return OrderFacts.model_validate(facts)
        except ValueError as exc:
            raise SourceMalformed("the Jushuitan order cannot be read as order facts", code="jst:malformed") from exc


def _trade_status(lines: set[str | None]) -> str | None:
    """Without the platform's own status: all lines alike say it; shipped + waiting is a part shipment."""
    if len(lines) == 1:
        return next(iter(lines))
    if lines == {"WAIT_BUYER_CONFIRM_GOODS", "WAIT_SELLER_SEND_GOODS"}:
        return "SELLER_CONSIGNED_PART"
    return None
