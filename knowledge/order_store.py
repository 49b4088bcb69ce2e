"""The order store behind ``PUT/PATCH /v1/orders``: order facts kept in SQL, read as a live source.

It is the order source of a shop with no platform connection (and of the demo): an update shows
in the next draft at once.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.errors import InvalidInput
from core.tables import orders
from knowledge.errors import OrderNotFound
from knowledge.orders import OrderFacts

__all__ = ["SqlOrderStore", "fold_order_id", "merge_patch"]


def fold_order_id(order_id: str) -> str:
    """What every source agrees on: full-width characters folded (buyers type "Ｔ１００３"), spaces and
    invisible characters dropped (a pasted "3961 2345 6789")."""
    folded = unicodedata.normalize("NFKC", order_id)
    return "".join(ch for ch in folded if not ch.isspace() and unicodedata.category(ch) != "Cf")


class SqlOrderStore:
    """Order facts kept in SQL, per shop; ``get`` is the ``OrderSource`` protocol."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def canonical_id(self, shop_id: str, order_id: str) -> str:
        """The id as this store keeps it: full-width folded and trimmed ("ｔ１００３ " -> "t1003"), then the
        stored spelling when it differs only in case ("t1003" -> "T1003"). Unknown ids come back folded."""
        folded = fold_order_id(order_id)
        with self.engine.connect() as conn:
            exact = conn.execute(sa.select(orders.c.order_id).where(
                orders.c.shop_id == shop_id, orders.c.order_id == folded)).first()
            if exact is not None:
                return folded
            other = conn.execute(sa.select(orders.c.order_id).where(
                orders.c.shop_id == shop_id, sa.func.upper(orders.c.order_id) == folded.upper())
                .order_by(orders.c.order_id).limit(1)).first()
        return other.order_id if other is not None else folded

    def get(self, shop_id: str, order_id: str) -> OrderFacts:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(orders.c.facts_json).where(
                orders.c.shop_id == shop_id, orders.c.order_id == order_id)).first()
        if row is None:
            raise OrderNotFound(f"order {order_id!r} not found")
        return OrderFacts.model_validate_json(row.facts_json)

    def put(self, shop_id: str, facts: OrderFacts) -> OrderFacts:
        # Store only what can be read back: extra fields nested too deep, or strings with lone
        # surrogates, would be written and then break every later read of this shop's orders.
        try:
            payload = facts.model_dump_json(exclude_none=False)
            OrderFacts.model_validate_json(payload)
        except (ValidationError, ValueError) as exc:
            raise InvalidInput(f"order facts cannot be stored: {str(exc).splitlines()[0][:200]}",
                               field="order") from exc
        now = self.clock.now()
        with self.engine.begin() as conn:
            cur = conn.execute(sa.select(orders.c.version).where(
                orders.c.shop_id == shop_id, orders.c.order_id == facts.order_id)).first()
            if cur is None:
                conn.execute(orders.insert().values(shop_id=shop_id, order_id=facts.order_id,
                                                    facts_json=payload, version=1, updated_at=now))
            else:
                conn.execute(orders.update().where(
                    orders.c.shop_id == shop_id, orders.c.order_id == facts.order_id).values(
                    facts_json=payload, version=cur.version + 1, updated_at=now))
        return facts

    def update(self, shop_id: str, order_id: str, patch: dict[str, Any]) -> OrderFacts:
        """Apply a JSON merge patch (RFC 7386) to an order; the result must still be valid facts."""
        current = self.get(shop_id, order_id).model_dump(mode="json")
        merged = merge_patch(current, patch)
        if merged.get("order_id") != order_id:
            raise InvalidInput("order_id cannot be changed", field="order_id")
        try:
            facts = OrderFacts.model_validate(merged)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InvalidInput(f"invalid order facts: {err['msg']}",
                               field=".".join(str(x) for x in err["loc"])) from exc
        return self.put(shop_id, facts)

    def list(self, shop_id: str) -> list[OrderFacts]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(orders.c.facts_json).where(orders.c.shop_id == shop_id)
                                .order_by(orders.c.order_id))
            return [OrderFacts.model_validate_json(r.facts_json) for r in rows]


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out
