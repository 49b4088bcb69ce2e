"""Orders of the demo order store: read (everyone), update (managers) so the status is live."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from api.deps import ContainerDep, ManagerKey, Principal
from core.errors import InvalidInput
from knowledge.orders import OrderFacts

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.get("", response_model=list[OrderFacts])
def list_orders(key: Principal, c: ContainerDep) -> list[OrderFacts]:
    return c.orders.list(key.shop_id)


@router.get("/{order_id}", response_model=OrderFacts)
def get_order(order_id: str, key: Principal, c: ContainerDep) -> OrderFacts:
    """The order's live facts, from the shop's configured source (through the cache) or its order store."""
    return c.sources.get(key.shop_id, order_id)


@router.put("/{order_id}", response_model=OrderFacts)
def put_order(order_id: str, facts: OrderFacts, key: ManagerKey, c: ContainerDep) -> OrderFacts:
    if facts.order_id != order_id:
        raise InvalidInput("order_id in the body differs from the URL", field="order_id")
    return c.orders.put(key.shop_id, facts)


@router.patch("/{order_id}", response_model=OrderFacts)
def patch_order(order_id: str, key: ManagerKey, c: ContainerDep,
                patch: Annotated[dict[str, Any], Body(description="JSON merge patch (RFC 7386)")]) -> OrderFacts:
    return c.orders.update(key.shop_id, order_id, patch)
