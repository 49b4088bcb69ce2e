"""Errors shared by every component.

Hierarchy::

    ReplydeskError
    ├── NotFound            a resource does not exist (or belongs to another shop)
    ├── InvalidInput        input failed validation; ``field`` names what was wrong
    ├── Conflict            the request clashes with the current state (e.g. illegal transition)
    └── Unavailable         a dependency (order source, index, model) cannot answer now

The API maps them to 404 / 422 / 409 / 503 bodies; the CLI prints their message.
"""

from __future__ import annotations

__all__ = ["Conflict", "InvalidInput", "NotFound", "ReplydeskError", "Unavailable"]


class ReplydeskError(Exception):
    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(ReplydeskError):
    pass


class InvalidInput(ReplydeskError):
    pass


class Conflict(ReplydeskError):
    pass


class Unavailable(ReplydeskError):
    pass
