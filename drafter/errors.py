"""Errors of the drafter.

Hierarchy::

    core.errors.ReplydeskError
    ├── NotFound
    │   └── DraftNotFound          no such draft in this shop
    ├── InvalidInput
    │   └── BadDraftRequest        the message or context is unusable
    └── Conflict
        ├── IllegalTransition      a review decision that the draft's status does not allow
        └── ClaimCheckFailed       approving text the claim check flags, without an override (or the shop
                                   refuses overrides); ``code`` and ``details`` (the violations) go in the body
"""

from __future__ import annotations

from typing import Any

from core.errors import Conflict, InvalidInput, NotFound

__all__ = ["BadDraftRequest", "ClaimCheckFailed", "DraftNotFound", "IllegalTransition"]


class DraftNotFound(NotFound):
    pass


class BadDraftRequest(InvalidInput):
    pass


class IllegalTransition(Conflict):
    pass


class ClaimCheckFailed(Conflict):
    def __init__(self, message: str, *, code: str, violations: list[dict[str, Any]]) -> None:
        super().__init__(message, field="override_reason")
        self.code = code
        self.details = violations
