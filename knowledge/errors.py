"""Errors of the knowledge layer.

Hierarchy::

    core.errors.ReplydeskError
    ├── NotFound
    │   ├── ShopNotFound
    │   ├── KnowledgeNotFound
    │   └── OrderNotFound          the order source answered: no such order
    ├── InvalidInput
    │   └── ImportFileError        a knowledge file is malformed (``path`` and ``line`` say where)
    └── Unavailable
        ├── OrderUnavailable       the order source did not answer in time, or failed
        └── IndexUnavailable       the Chroma index cannot be reached
"""

from __future__ import annotations

from core.errors import InvalidInput, NotFound, Unavailable

__all__ = [
    "ImportFileError",
    "IndexUnavailable",
    "KnowledgeNotFound",
    "OrderNotFound",
    "OrderUnavailable",
    "ShopNotFound",
]


class ShopNotFound(NotFound):
    pass


class KnowledgeNotFound(NotFound):
    pass


class OrderNotFound(NotFound):
    pass


class OrderUnavailable(Unavailable):
    pass


class IndexUnavailable(Unavailable):
    pass


class ImportFileError(InvalidInput):
    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", field=path)
        self.path = path
        self.line = line
