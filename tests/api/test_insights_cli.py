"""`replydesk insights report` and `insights export`: the same use case as GET /v1/insights/summary."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from tests.api.test_cli import env, run, seeded_env  # noqa: F401  (fixtures)


def test_report_and_export_from_the_cli(seeded_env: Path, tmp_path: Path) -> None:  # noqa: F811
    run("draft", "--order", "T1004", "--store", "怎么还不发货？我电话13812345678")
    run("draft", "--order", "T1007", "--store", "物流三天没动了")
    run("draft", "--order", "T1004", "--store", "到底什么时候发")
    text = run("insights", "report", "--shop", "demo")
    assert "Urges " in text and ": 3" in text.splitlines()[0]
    assert "Repeat urgers: 1 orders urged 2+ times" in text and "T1004" in text
    assert "MUG-01" in text and "中通快递" in text

    report = json.loads(run("insights", "report", "--shop", "demo", "--json"))
    from api.container import Container
    from core.settings import Settings

    c = Container.build(Settings(), with_index=False)
    try:
        same = c.insights.summary("demo", c.insights.range("demo", report["range"]["since"], report["range"]["until"]))
    finally:
        c.close()
    assert json.loads(json.dumps(same, ensure_ascii=False)) == report
    assert report["total"] == 3 and {g["key"] for g in report["breakdown"]["state"]} == {"out_of_stock", "stuck"}

    out = tmp_path / "events.csv"
    assert "3 urge events written" in run("insights", "export", "--shop", "demo", "--out", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["order_id"] for r in rows] == ["T1004", "T1007", "T1004"] and rows[0]["sku"] == "MUG-01"
    assert "13812345678" not in out.read_text(encoding="utf-8")
    jl = tmp_path / "events.jsonl"
    run("insights", "export", "--shop", "demo", "--out", str(jl))
    causes = [json.loads(x)["cause"] for x in jl.read_text(encoding="utf-8").splitlines()]
    # The CLI runs on the real clock and the demo orders were seeded at the tests' fixed time: once the
    # demo's restock date has passed, the out-of-stock order reads as a stock error.
    assert causes[1] == "courier_stall" and {causes[0], causes[2]} <= {"out_of_stock", "stock_error"}
    bad = CliRunner().invoke(app, ["insights", "export", "--out", str(tmp_path / "x.txt")])
    assert bad.exit_code == 2
    bad = CliRunner().invoke(app, ["insights", "report", "--since", "soon"])
    assert bad.exit_code == 1 and "since must be an ISO date" in bad.output
