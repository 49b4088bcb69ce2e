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

        self.upstream = Counter("replydesk_order_upstream_calls_total", "Calls to order-source platforms",
                                ["kind", "api"], registry=self.registry)
        self.upstream_errors = Counter("replydesk_order_upstream_errors_total", "Failed order-source calls by code",
                                       ["kind", "code"], registry=self.registry)
        self.upstream_latency = Histogram("replydesk_order_upstream_seconds", "Latency of order-source calls",
                                          ["kind"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                                          registry=self.registry)
        self.tasks = Counter("replydesk_tasks_total", "Accepted actions carried out, by outcome (done, failed)",
                             ["kind", "executor", "outcome"], registry=self.registry)
        self.order_cache = Counter("replydesk_order_cache_total", "Order-facts cache results "
                                   "(hit, push, coalesced, miss, stale)", ["kind", "result"], registry=self.registry)

    def observe_task(self, kind: str, executor: str, outcome: str) -> None:
        """Listener for drafter.tasks: each task outcome (done, failed) by kind and executor."""
        self.tasks.labels(kind, executor, outcome).inc()

    def observe_source(self, event: str, data: dict) -> None:  # type: ignore[type-arg]
        """Listener for knowledge.sources.telemetry events."""
        if event == "upstream":
            self.upstream.labels(data["kind"], data["api"]).inc()
            self.upstream_latency.labels(data["kind"]).observe(data["seconds"])
            if data["code"] != "ok":
                self.upstream_errors.labels(data["kind"], data["code"]).inc()
        elif event == "cache":
            self.order_cache.labels(data["kind"], data["result"]).inc()

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
