"""Errors of the drafter.

Hierarchy::

    core.errors.ReplydeskError
    ├── NotFound
    │   └── DraftNotFound          no such draft in this shop
    ├── InvalidInput
    │   └── BadDraftRequest        the message or context is unusable
    └── Conflict
        └── IllegalTransition      a review decision that the draft's status does not allow
"""

from __future__ import annotations

from core.errors import Conflict, InvalidInput, NotFound

__all__ = ["BadDraftRequest", "DraftNotFound", "IllegalTransition"]


class DraftNotFound(NotFound):
    pass


class BadDraftRequest(InvalidInput):
    pass


class IllegalTransition(Conflict):
    pass
