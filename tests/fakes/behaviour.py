"""Misbehaviour on demand, shared by the fakes: a queue of one-shot answers and a standing delay."""

from __future__ import annotations

import asyncio
import threading
from collections import deque


class Behaviour:
    def __init__(self) -> None:
        self._next: deque[str] = deque()
        self._always: str | None = None
        self.delay_s = 0.0
        self._lock = threading.Lock()

    def then(self, *modes: str) -> None:
        """The next calls answer with these modes, one each (e.g. "isp", "rate_limit:71", "malformed")."""
        with self._lock:
            self._next.extend(modes)

    def always(self, mode: str | None) -> None:
        with self._lock:
            self._always = mode

    def take(self) -> str | None:
        with self._lock:
            if self._next:
                return self._next.popleft()
            return self._always

    async def next_mode(self) -> str | None:
        """Take the next mode, after the standing delay or a one-shot "slow:<seconds>"."""
        mode = self.take()
        delay = float(mode.split(":")[1]) if mode and mode.startswith("slow:") else self.delay_s
        if delay:
            await asyncio.sleep(delay)
        return mode
