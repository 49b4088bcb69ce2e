"""Draft a reply and store it for review: the one use case behind ``POST /v1/drafts``, its SSE stream
and ``replydesk draft`` (which by default prints the draft without storing it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drafter.drafts import DraftItem
from drafter.pipeline import DraftServices, run
from drafter.request import DraftRequest
from drafter.result import DraftResult
from drafter.review import Review

__all__ = ["Created", "create_draft"]


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
    # Every stored draft is an urge event (insights read them), written with the draft; the time is when the
    # buyer wrote, if known. A failure of the event is logged, never turned into a failed draft.
    item = review.create(shop_id, request, result, situation, author, urge_event=True)
    if services.insights is not None:  # surge detection (throttled) and alert delivery; never raises
        services.insights.after_event(shop_id)
    return Created(result, item)
