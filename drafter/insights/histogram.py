"""Response-time histograms: fixed log-spaced buckets, and percentiles read back from bucket counts.

Percentiles over a month cannot be added up from hourly percentiles, but bucket counts can: the rollup
(``drafter/insights/rollup.py``) keeps how many responses fell in each bucket, and a percentile is read
from the summed counts.

Buckets: bucket 0 is [0, 62.5 ms); bucket ``i`` (1..480) is [``BOUNDS_US[i-1]``, ``BOUNDS_US[i]``) with
``BOUNDS_US[k] = round(1e6 * 2 ** ((k - 64) / 16))`` microseconds, so each bucket is 2^(1/16) ≈ 1.044 times
as wide as the one before, up to 2^26 s (two years); bucket 481 holds anything longer. The bounds are whole
microseconds and a duration is compared as whole microseconds, so Python (live maintenance) and SQL (the
migration's backfill) put a response in the same bucket, exactly.

Error bound: a percentile is the numpy-style linear interpolation between two order statistics. Each order
statistic is estimated inside the bucket that holds it (spread evenly over the bucket), so it is off by
less than that bucket's width: under 2^(1/16) - 1 = 4.43 % of its value (under 62.5 ms for values below
62.5 ms). The interpolation of two such estimates is off by less than 4.43 % of the exact percentile (+62.5
ms), before the answer is rounded to 0.1 s as the exact path rounds it.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from itertools import accumulate

__all__ = ["BOUNDS_US", "PER_OCTAVE", "RELATIVE_ERROR", "bucket_of", "micros", "percentiles"]

PER_OCTAVE = 16
BOUNDS_US: tuple[int, ...] = tuple(round(1e6 * 2 ** ((k - 64) / PER_OCTAVE)) for k in range(481))
RELATIVE_ERROR = 2 ** (1 / PER_OCTAVE) - 1
ABSOLUTE_ERROR_S = BOUNDS_US[0] / 1e6
_US = timedelta(microseconds=1)


def micros(start: datetime, end: datetime) -> int:
    """Whole microseconds from ``start`` to ``end``, never negative (as the exact path's ``greatest(0, …)``)."""
    return max(0, (end - start) // _US)


def bucket_of(us: int) -> int:
    return bisect_right(BOUNDS_US, us)


def _edges(bucket: int) -> tuple[float, float]:
    lo = 0 if bucket == 0 else BOUNDS_US[bucket - 1]
    hi = BOUNDS_US[bucket] if bucket < len(BOUNDS_US) else lo  # the open last bucket: its lower bound
    return lo / 1e6, hi / 1e6


def percentiles(counts: Mapping[int, int] | Iterable[tuple[int, int]],
                qs: tuple[float, ...] = (0.5, 0.9, 0.95)) -> dict[str, float | int | None]:
    """``{"n", "p50", "p90", "p95"}`` in seconds (rounded to 0.1) from ``{bucket: count}``."""
    items = sorted(counts.items() if isinstance(counts, Mapping) else counts)
    cells = [(b, int(c)) for b, c in items if c > 0]
    n = sum(c for _, c in cells)
    if n == 0:
        return {"n": 0, **{f"p{round(q * 100)}": None for q in qs}}
    ends = list(accumulate(c for _, c in cells))  # ends[j]: order statistics below the end of cell j

    def order_stat(i: int) -> float:
        j = bisect_right(ends, i)
        b, c = cells[j]
        lo, hi = _edges(b)
        return lo + (i - (ends[j] - c) + 0.5) / c * (hi - lo)

    out: dict[str, float | int | None] = {"n": n}
    for q in qs:
        pos = q * (n - 1)
        i = math.floor(pos)
        frac = pos - i
        v = order_stat(i)
        if frac > 0 and i + 1 < n:
            v += frac * (order_stat(i + 1) - v)
        out[f"p{round(q * 100)}"] = round(v, 1)
    return out
