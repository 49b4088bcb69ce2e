"""Issue 12's scenarios (tests/scenarios/dispatch_honesty.jsonl) through the whole pipeline, scored by our scorer.

Written before the code changed, as a strict CS auditor would: notices with and without effects,
holidays and weekends on every path, last pickup, split orders and parcels, refunds, baits, urges.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drafter.evaluate import read_scenarios, run_eval

FILE = Path(__file__).resolve().parents[1] / "scenarios" / "dispatch_honesty.jsonl"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict]:
    lines: list[dict] = []
    summary = run_eval([s for _, s in read_scenarios(FILE)], lines.append, data_dir=tmp_path_factory.mktemp("eval"))
    return lines, summary.as_dict()


def test_no_violation_and_the_musts_hold(run: tuple[list[dict], dict]) -> None:
    lines, summary = run
    print(f"\ndispatch scenarios: must {summary['must_ok']}/{summary['must_total']} ({summary['must_share']:.1%}),"
          f" violations {len(summary['violations'])}")
    assert summary["errors"] == [] and summary["drafted"] == summary["total"] >= 40
    assert summary["violations"] == []
    assert summary["must_share"] >= 0.95, summary["missing"]


def test_the_templates_pass_their_own_guard(run: tuple[list[dict], dict]) -> None:
    lines, _ = run
    assert [ln["id"] for ln in lines if ln["guard"]["fell_back"]] == []
