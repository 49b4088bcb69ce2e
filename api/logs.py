"""Every log line carries the request id (and never a key: keys are not logged anywhere)."""

from __future__ import annotations

import contextvars
import logging

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
FORMAT = "%(asctime)s %(levelname)s %(name)s [req %(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure() -> None:
    """Attach the request-id filter and format to the root handlers once (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(f, RequestIdFilter) for h in root.handlers for f in h.filters):
        return
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format=FORMAT)
    for h in root.handlers:
        h.addFilter(RequestIdFilter())
        h.setFormatter(logging.Formatter(FORMAT))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin, every start
    # httpx logs every request at INFO: with a Chroma server that is a line per draft (or more), formatted and
    # written under the GIL on the request path, saying nothing the access log does not. Failures still log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
