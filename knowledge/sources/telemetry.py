"""What the order sources did: upstream calls (with their outcome code and latency) and cache results.

The knowledge layer does not know Prometheus; ``api/metrics.py`` subscribes and turns these events
into counters. Totals are also kept here so a test or a benchmark can read them without a registry.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

log = logging.getLogger("replydesk.sources")

Listener = Callable[[str, dict[str, Any]], None]


class SourceTelemetry:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def subscribe(self, fn: Listener) -> None:
        with self._lock:
            self._listeners.append(fn)

    def unsubscribe(self, fn: Listener) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _emit(self, event: str, data: dict[str, Any]) -> None:
        for fn in list(self._listeners):
            try:
                fn(event, data)
            except Exception:  # a metrics bug must never fail a draft
                log.exception("order-source telemetry listener failed")

    def upstream(self, kind: str, api: str, code: str, seconds: float) -> None:
        """One HTTP call to a platform. ``code`` is "ok" or the error's stable code (e.g. "top:7")."""
        with self._lock:
            self.counts[f"upstream:{kind}"] += 1
            if code != "ok":
                self.counts[f"error:{code}"] += 1
        self._emit("upstream", {"kind": kind, "api": api, "code": code, "seconds": seconds})

    def cache(self, kind: str, result: str) -> None:
        """hit | miss | coalesced (another thread or worker fetched it) | stale | push."""
        with self._lock:
            self.counts[f"cache:{result}"] += 1
        self._emit("cache", {"kind": kind, "result": result})
