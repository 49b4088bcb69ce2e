"""The exported JSON Schema is the one the code produces, and it matches DESIGN.md's draft result."""

from __future__ import annotations

import json

from drafter.result import DraftResult
from drafter.schema import SCHEMA_PATH, schema_json

DESIGN_EXAMPLE = {
    "id": "d_01J", "status": "pending", "text": "亲，…", "composer": "template", "model": None,
    "intent": {"kind": "urge", "repeat": 0, "language": "zh", "threat": False, "injection": False},
    "needs_human": False, "human_reason": None,
    "citations": [{"kind": "policy", "id": "ship-time", "revision": 3}, {"kind": "order", "field": "items[0].restock_eta"}],
    "commitments": [{"kind": "dispatch_on", "value": "2026-11-16", "support": "order:items[0].restock_eta"}],
    "actions": [{"kind": "coupon", "amount_yuan": 3, "needs_approval": True, "reason": "overdue 2 days"}],
    "guard": {"ok": True, "claims": [{"kind": "dispatch_date", "text": "11月16日", "supported_by": "order:items[0].restock_eta"}],
              "violations": [], "repaired": False, "fell_back": False},
    "prompt": {"name": "urge_reply", "version": "v1", "hash": "sha256:x"},
    "facts": {"order_id": "T1"}, "order_error": None,
    "timings_ms": {"intent": 0.3, "facts": 1.2, "situation": 0.2, "retrieve": 17.0, "compose": 0.8, "guard": 0.4,
                   "total": 20.1},
}


def test_exported_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_json(), "run: python -m drafter.schema"


def test_design_example_parses_and_keeps_its_fields() -> None:
    r = DraftResult.model_validate(DESIGN_EXAMPLE)
    dumped = json.loads(r.model_dump_json())
    assert set(DESIGN_EXAMPLE) <= set(dumped)
    assert dumped["commitments"] == DESIGN_EXAMPLE["commitments"]
    assert dumped["intent"] == DESIGN_EXAMPLE["intent"]
