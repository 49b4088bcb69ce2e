"""The draft result: what ``POST /v1/drafts`` returns and ``replydesk eval`` writes.

Other people and programs read this shape (the review page, the extension, the eval scorer), so
it is defined once here and its JSON Schema is exported to ``docs/draft_result.schema.json``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from drafter.guard import GuardReport
from drafter.intent import Intent
from drafter.situation import Commitment
from prompts.loader import PromptRef

Status = Literal["pending", "approved", "rejected", "sent", "superseded"]
ActionKind = Literal["coupon", "gift", "priority", "forward_warehouse", "contact_courier", "escalate"]


class Citation(BaseModel):
    kind: Literal["policy", "notice", "style", "order", "settings"]
    id: str | None = None
    revision: int | None = None
    field: str | None = None


class Action(BaseModel):
    """A remedy or step the draft proposes; a human approves it, the text never grants it."""

    kind: ActionKind
    amount_yuan: float | None = None
    needs_approval: bool = True
    reason: str


class DraftResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"title": "DraftResult"})

    id: str | None = None
    status: Status = "pending"
    text: str
    composer: Literal["template", "llm"] = "template"
    model: str | None = None
    intent: Intent
    needs_human: bool = False
    human_reason: str | None = None
    citations: list[Citation] = Field(default_factory=list)
    commitments: list[Commitment] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)
    guard: GuardReport
    prompt: PromptRef
    facts: dict[str, Any] | None = None
    order_error: Literal["timeout", "not_found", "unavailable"] | None = None
    facts_age_s: float | None = Field(default=None, description="How old the facts were when drafted (from their "
                                      "fetched_at); facts older than the limit are shown but never claimed")
    timings_ms: dict[str, float] = Field(default_factory=dict)
    usage: dict[str, Any] | None = Field(default=None, description="LLM token usage of this draft, if a model was called")
