"""Drafts: create one for a buyer message, read it back."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ContainerDep, Principal
from drafter.pipeline import draft
from drafter.request import DraftRequest
from drafter.result import DraftResult

router = APIRouter(prefix="/v1/drafts", tags=["drafts"])


@router.post("", status_code=201, response_model=DraftResult)
def create_draft(body: DraftRequest, key: Principal, c: ContainerDep) -> DraftResult:
    """Draft a reply to ``message`` for ``order_id``; stored as pending for a human to review.

    An unknown order is not an error of the request: the draft says so honestly.
    """
    result = draft(body, key.shop_id, c.draft_services())
    return c.drafts.save(key.shop_id, body, result, created_by=key.id)


@router.get("/{draft_id}", response_model=DraftResult)
def get_draft(draft_id: str, key: Principal, c: ContainerDep) -> DraftResult:
    return c.drafts.get(key.shop_id, draft_id)
