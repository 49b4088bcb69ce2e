"""What a caller asks the drafter for."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

MAX_MESSAGE = 2000
MAX_TURNS = 20


def _no_nul(v: str) -> str:
    # No chat text contains U+0000, and PostgreSQL text columns cannot store it: refuse it with a 422.
    if "\x00" in v:
        raise ValueError("must not contain NUL (U+0000) characters")
    return v


class ContextTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["buyer", "agent"]
    text: str = Field(max_length=MAX_MESSAGE)
    at: datetime | None = None

    _text_has_no_nul = field_validator("text")(_no_nul)


class DraftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: str = Field(min_length=1, max_length=64)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    context: list[ContextTurn] = Field(default_factory=list, max_length=MAX_TURNS)
    composer: Literal["template", "llm"] | None = Field(
        default=None, description="Default: the server's REPLYDESK_COMPOSER setting")
    prompt: str | None = Field(default=None, pattern=r"^[a-z0-9_]+@v\d+$", description="NAME@VERSION for the LLM")
    # Agents are scored on response time from the buyer's message, not from the draft request: a client
    # that knows when the message arrived (the extension reads the chat) says so.
    received_at: AwareDatetime | None = Field(
        default=None, description="When the buyer's message arrived, with a UTC offset (default: when the draft "
                                  "was requested)")

    _ids_have_no_nul = field_validator("order_id", "message")(_no_nul)

    @field_validator("order_id", "message")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        # "   " passes min_length but says nothing: there is no message to answer or order to read.
        if not v.strip():
            raise ValueError("must not be empty or only whitespace")
        return v

