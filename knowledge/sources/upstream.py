"""What every order-source adapter shares: the fetched result with its raw mapping, retries with an
injected sleep, and reading the platforms' local timestamps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from knowledge.orders import OrderFacts

__all__ = ["CST", "Adapter", "Fetched", "Provenance", "Retry", "as_float", "as_int", "parse_local"]

# Taobao and Jushuitan write "yyyy-MM-dd HH:mm:ss" in Beijing time, without an offset.
CST = timezone(timedelta(hours=8))
T = TypeVar("T")


@dataclass
class Fetched:
    """Facts read from a source, the raw payloads they came from, and which raw field gave which fact."""

    facts: OrderFacts
    raw: dict[str, Any] = field(default_factory=dict)
    mapping: list[dict[str, Any]] = field(default_factory=list)


class Adapter(Protocol):
    kind: str

    def fetch(self, order_id: str) -> Fetched: ...

    def close(self) -> None: ...


class Provenance:
    """Records "fact ← raw field" while a mapper builds the facts (printed by ``orders check``)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __call__(self, fact: str, source: str, value: Any) -> Any:
        if value is not None and value != "":
            self.rows.append({"fact": fact, "from": source, "value": value})
        return value


class Retry:
    """Retries a call with exponential backoff; the sleep is injected so tests never wait."""

    def __init__(self, attempts: int, base_s: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.attempts, self.base_s, self.sleep = max(1, attempts), base_s, sleep

    def run(self, fn: Callable[[], T], retryable: Callable[[Exception], bool]) -> T:
        for i in range(self.attempts):
            try:
                return fn()
            except Exception as exc:
                if i == self.attempts - 1 or not retryable(exc):
                    raise
                self.sleep(self.base_s * (2 ** i))
        raise AssertionError("unreachable")


def parse_local(value: Any, tz: timezone = CST) -> datetime | None:
    """'2026-11-11 00:12:00' (or with '/') in the platform's zone; anything else is unknown."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("/", "-")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            continue
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=tz)


def as_int(v: Any) -> int | None:
    """A platform's number, sent as a number or a string ("" and junk: unknown, not an error)."""
    try:
        return int(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


def as_float(v: Any) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None
