"""Scenario sets of our own through the whole pipeline, scored by our scorer.

- ``dispatch_honesty.jsonl`` (issue 12): written before the code changed, as a strict CS auditor would:
  notices with and without effects, holidays and weekends on every path, last pickup, split orders and
  parcels, refunds, baits, urges.
- ``independent_probe.jsonl``: written afterwards by someone who had not read those, with another shop,
  other wording and other timezones, to see whether the capability generalises (it found an overdue
  presale promising "today at the earliest", a completed line refund described as in progress, and
  partial-shipment requests read as "other").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drafter.evaluate import read_scenarios, run_eval
from drafter.scoring import check

pytestmark = pytest.mark.eval  # scenario corpora through the whole pipeline

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
FILES = {"dispatch_honesty.jsonl": 40, "independent_probe.jsonl": 20}  # file -> the least scenarios it holds


@pytest.fixture(scope="module", params=sorted(FILES))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict]:
    lines: list[dict] = []
    summary = run_eval([s for _, s in read_scenarios(SCENARIOS / request.param)], lines.append,
                       data_dir=tmp_path_factory.mktemp("eval"))
    return lines, {**summary.as_dict(), "least": FILES[request.param]}


def test_no_violation_and_the_musts_hold(run: tuple[list[dict], dict]) -> None:
    lines, summary = run
    print(f"\ndispatch scenarios: must {summary['must_ok']}/{summary['must_total']} ({summary['must_share']:.1%}),"
          f" violations {len(summary['violations'])}")
    assert summary["errors"] == [] and summary["drafted"] == summary["total"] >= summary["least"]
    assert summary["violations"] == []
    assert summary["must_share"] >= 0.95, summary["missing"]


def test_the_templates_pass_their_own_guard(run: tuple[list[dict], dict]) -> None:
    lines, _ = run
    assert [ln["id"] for ln in lines if ln["guard"]["fell_back"]] == []


DONE_KINDS = {"handoff_warehouse", "handoff_courier", "handoff_colleague", "compensation_applied",
              "compensation_granted", "refund_applied"}


def test_no_draft_says_an_action_was_done(run: tuple[list[dict], dict]) -> None:
    """Issue 18: nothing has been done for these orders (no task, no approval), so no draft may say a
    handoff or a compensation happened; the steps it promises are proposed as actions instead."""
    lines, _ = run
    said = [(ln["id"], c["text"]) for ln in lines for c in ln["guard"]["claims"] if c["kind"] in DONE_KINDS]
    assert said == []
    # The scorer's own reading (independent of the guard's lexicon) agrees.
    assert [ln["id"] for ln in lines if check("claims_action_done", ln, {})] == []
    for ln in lines:
        if "我这就" in ln["text"] or "I'll flag" in ln["text"] or "I'll ask the warehouse" in ln["text"]:
            kinds = {a["kind"] for a in ln["actions"]}
            assert kinds & {"priority", "forward_warehouse", "escalate"}, (ln["id"], ln["text"], kinds)
