"""Tense follows truth (issue 18): a reply may say an action was done only when it was.

``sets/done_claims.jsonl`` holds phrasings that say a handoff or compensation happened, with the
done actions of the order (tasks and approvals) and the violation expected (null: honest). The
phrasebooks are checked too: no variant of any phrase says an action is done.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from drafter.guard import check
from prompts.loader import load_phrasebook
from tests.drafter.factories import order, shipped, situation

SET = Path(__file__).resolve().parent / "sets" / "done_claims.jsonl"
CASES = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line.strip()]

STATES = {
    "overdue": lambda: situation(order(paid="11-01 10:00"), "11-05 10:00"),
    "today": lambda: situation(order(paid="11-04 09:20"), "11-04 11:00"),
    "stuck": lambda: situation(shipped(events=[("11-05 19:02", "【杭州市】中通快递 已揽收")]), "11-09 14:00"),
}
DONE_KINDS = {"handoff_warehouse", "handoff_courier", "handoff_colleague", "compensation_applied",
              "compensation_granted"}


def test_the_set_has_both_sides() -> None:
    assert sum(c["violation"] is None for c in CASES) >= 15
    assert sum(c["violation"] is not None for c in CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_done_claims(case: dict) -> None:
    s = STATES[case["state"]]()
    s.done_actions = dict(case["done"])
    report = check(case["text"], s)
    kinds = {v.kind for v in report.violations}
    if case["violation"] is None:
        assert not (kinds & DONE_KINDS), (case["text"], report.violations)
    else:
        assert case["violation"] in kinds, (case["text"], report.violations)
        # the claim names what it needs
        assert any(c.kind == case["violation"] and c.supported_by is None for c in report.claims)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_phrase_says_an_action_is_done(lang: str) -> None:
    """Every variant of every phrase, with its placeholders filled, passes with no done action."""
    book = load_phrasebook(lang)
    s = STATES["overdue"]()
    for key, variants in book.phrases.items():
        for v in variants:
            text = re.sub(r"\{[a-z_]+\}", "X", v)
            report = check(text, s)
            bad = [x for x in report.violations if x.kind in DONE_KINDS]
            assert bad == [], (key, text, bad)


def test_the_scorer_reads_the_done_claims_too() -> None:
    """The eval scorer's ``claims_action_done`` (written apart from the guard) on the same phrasings,
    where nothing is done: it must flag most of what the guard flags, and none of the honest ones."""
    from drafter.scoring import check as scorer

    bad = [c for c in CASES if c["violation"] and not c["done"]]
    honest = [c for c in CASES if c["violation"] is None and not c["done"]]
    caught = [c["id"] for c in bad if scorer("claims_action_done", {"text": c["text"]}, {})]
    assert len(caught) >= 0.8 * len(bad), [c["text"] for c in bad if c["id"] not in caught]
    assert [c["text"] for c in honest if scorer("claims_action_done", {"text": c["text"]}, {})] == []
