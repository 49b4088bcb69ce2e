"""Errors of the knowledge layer.

Hierarchy::

    core.errors.ReplydeskError
    ├── EventRejected              a pushed order event's shop, timestamp or signature is not valid (401)
    ├── NotFound
    │   ├── ShopNotFound
    │   ├── KnowledgeNotFound
    │   ├── JobNotFound            no such knowledge base job (or another shop's)
    │   └── OrderNotFound          the order source answered: no such order
    ├── InvalidInput
    │   └── ImportFileError        a knowledge file is malformed (``path`` and ``line`` say where)
    └── Unavailable
        ├── OrderUnavailable       the order source did not answer in time, or failed
        │   ├── SourceConfigError  the platform refused our credentials (invalid session, signature,
        │   │                      token, IP not allowed): the admin must fix the connection
        │   ├── SourceRateLimited  the platform banned calls for ``retry_after`` seconds; calls fail
        │   │                      fast until then
        │   ├── SourceRemoteError  the platform failed (isp.*, HTTP 5xx, timeout) after retries
        │   └── SourceMalformed    the answer is not valid order facts: never guessed from
        ├── SecretKeyMissing       REPLYDESK_SECRET_KEY is unset (or not the key the secrets were
        │                          stored with), so source credentials cannot be stored or read
        └── IndexUnavailable       the Chroma index cannot be reached

Every order-source error carries ``code`` (a short, stable label for metrics and /readyz, e.g.
``top:27`` or ``http:502``) and a message that never contains a credential.
"""

from __future__ import annotations

from core.errors import InvalidInput, NotFound, ReplydeskError, Unavailable

__all__ = [
    "EventRejected",
    "ImportFileError",
    "IndexUnavailable",
    "JobNotFound",
    "KnowledgeNotFound",
    "OrderNotFound",
    "OrderUnavailable",
    "SecretKeyMissing",
    "ShopNotFound",
    "SourceConfigError",
    "SourceMalformed",
    "SourceRateLimited",
    "SourceRemoteError",
]


class EventRejected(ReplydeskError):
    pass


class ShopNotFound(NotFound):
    pass


class KnowledgeNotFound(NotFound):
    pass


class JobNotFound(NotFound):
    pass


class OrderNotFound(NotFound):
    pass


class OrderUnavailable(Unavailable):
    def __init__(self, message: str, *, code: str = "unavailable", field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.code = code


class SourceConfigError(OrderUnavailable):
    pass


class SourceRateLimited(OrderUnavailable):
    def __init__(self, message: str, *, retry_after: float, code: str = "rate_limited") -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class SourceRemoteError(OrderUnavailable):
    def __init__(self, message: str, *, code: str = "remote", retryable: bool = False) -> None:
        super().__init__(message, code=code)
        self.retryable = retryable


class SourceMalformed(OrderUnavailable):
    pass


class SecretKeyMissing(Unavailable):
    pass


class IndexUnavailable(Unavailable):
    pass


class ImportFileError(InvalidInput):
    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}", field=path)
        self.path = path
        self.line = line
