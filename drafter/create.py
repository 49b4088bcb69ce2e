"""Draft a reply and store it for review: the one use case behind ``POST /v1/drafts``, its SSE stream
and ``replydesk draft`` (which by default prints the draft without storing it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from drafter.drafts import DraftItem
from drafter.insights import events as urge_events
from drafter.pipeline import DraftServices, run
from drafter.request import DraftRequest
from drafter.result import DraftResult
from drafter.review import Review

__all__ = ["Created", "create_draft"]

log = logging.getLogger("replydesk.drafts")


@dataclass(frozen=True)
class Created:
    result: DraftResult
    item: DraftItem | None  # the stored pending draft (with its id); None when not stored


def create_draft(request: DraftRequest, shop_id: str, services: DraftServices, review: Review | None, *,
                 author: str | None, default_composer: str = "template",
                 on_template: Callable[[DraftResult], None] | None = None,
                 on_token: Callable[[str], None] | None = None) -> Created:
    """Run the pipeline for ``request`` and, given a ``review``, store the draft as pending.

    The request's own ``composer`` wins over ``default_composer``. Storing supersedes older
    pending drafts of the same order, logs ``draft_created`` (``Review.create``) and appends the
    draft's urge event (``drafter/insights/events.py``).
    """
    # The id as the shop's order source spells it ("t1003" -> "T1003"), so that the draft reads the order and
    # supersedes the same conversation's older drafts. A source that defines no spelling gets the id as sent.
    canonical = getattr(services.orders, "canonical_id", None)
    if canonical is not None:
        order_id = canonical(shop_id, request.order_id)
        if order_id and order_id != request.order_id:
            request = request.model_copy(update={"order_id": order_id})
    composer = request.composer or default_composer
    result, situation = run(request, shop_id, services, composer=composer, prompt=request.prompt,
                            on_template=on_template, on_token=on_token)
    if review is None:
        return Created(result, None)
    item = review.create(shop_id, request, result, situation, author)
    # Every stored draft is an urge event (insights read them); the time is when the buyer wrote, if known.
    # The draft is stored already: a failure here is logged, never turned into a failed draft.
    try:
        urge_events.record(review.engine, shop_id=shop_id, order_id=request.order_id, draft_id=item.id,
                           received_at=request.received_at or item.created_at, drafted_at=item.created_at,
                           result=result, situation=situation, created_by=author)
    except Exception:
        log.exception("could not record the urge event of draft %s", item.id)
    if services.insights is not None:  # surge detection (throttled) and alert delivery; never raises
        services.insights.after_event(shop_id)
    return Created(result, item)
