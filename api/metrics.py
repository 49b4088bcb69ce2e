"""Prometheus metrics (served at /metrics unless REPLYDESK_METRICS=off).

A registry per app, not the process-global one, so tests and several apps in one process do not
share counters. With several workers each worker reports its own series (scrape them per worker,
or sum in Prometheus).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.drafts = Counter("replydesk_drafts_total", "Drafts created", ["intent", "composer", "needs_human"],
                              registry=self.registry)
        self.decisions = Counter("replydesk_decisions_total", "Review decisions and events", ["event"],
                                 registry=self.registry)
        self.violations = Counter("replydesk_guard_violations_total", "Claims the guard rejected", ["kind"],
                                  registry=self.registry)
        self.fallbacks = Counter("replydesk_guard_fallbacks_total", "Drafts replaced by the safe reply",
                                 registry=self.registry)
        self.latency = Histogram("replydesk_draft_step_seconds", "Time per pipeline step", ["step"],
                                 buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.13, 0.25,
                                          0.5, 1, 2.5), registry=self.registry)

    def observe_draft(self, result: object) -> None:
        r = result  # DraftResult; typed loosely to keep api.metrics free of drafter imports at module level
        self.drafts.labels(r.intent.kind, r.composer, str(r.needs_human).lower()).inc()  # type: ignore[attr-defined]
        for v in r.guard.violations:  # type: ignore[attr-defined]
            self.violations.labels(v.kind).inc()
        for reason in r.guard.reasons:  # type: ignore[attr-defined]
            self.violations.labels(reason.split(":", 1)[0]).inc()
        if r.guard.fell_back:  # type: ignore[attr-defined]
            self.fallbacks.inc()
        for step, ms in r.timings_ms.items():  # type: ignore[attr-defined]
            self.latency.labels(step).observe(ms / 1000)
