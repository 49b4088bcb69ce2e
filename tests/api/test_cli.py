"""The CLI as a user runs it: demo seed, keys, orders, kb, draft."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from knowledge.embeddings import Embedder
from tests.api.conftest import Seeded


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("REPLYDESK_DATA_DIR", str(data))
    # The CLI builds its containers from the settings: hand them the session's model (the real one,
    # remembering passage vectors), so the demo knowledge base is not embedded again by every command.
    monkeypatch.setattr("knowledge.wiring.E5Embedder", lambda: embedder)
    return data


@pytest.fixture
def seeded_env(env: Path, seeded: Seeded) -> Path:
    """The session's seeded data directory, for the tests that are not about seeding."""
    shutil.copytree(seeded.data_dir, env)
    return env


def run(*args: str) -> str:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.stdout  # progress bars go to stderr; what a script reads is stdout


def test_seed_prints_the_same_two_keys_every_time(env: Path) -> None:
    first = run("demo", "seed")
    keys = [line for line in first.splitlines() if line.startswith(("agent key: ", "manager key: "))]
    assert len(keys) == 2
    again = run("demo", "seed")
    assert [line for line in again.splitlines() if " key: " in line] == keys
    mode = stat.S_IMODE(os.stat(env / "demo-keys.txt").st_mode)
    assert mode == 0o600
    ids = [line.split("\t")[0] for line in run("demo", "orders").splitlines()]
    assert len(ids) >= 12 and ids[0] == "T1001"
    assert "ship-time" in run("kb", "list")


def test_keys_create_prints_the_key_last(seeded_env: Path) -> None:
    run("demo", "seed")
    out = CliRunner().invoke(app, ["keys", "create", "--shop", "demo", "--role", "manager"])
    assert out.exit_code == 0
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("rdk_") and len(key) > 30
    listed = run("keys", "list", "--shop", "demo")
    assert listed.count("\tmanager\t") == 2
    bad = CliRunner().invoke(app, ["keys", "create", "--shop", "demo", "--role", "boss"])
    assert bad.exit_code == 1 and "role must be one of" in bad.output
    nope = CliRunner().invoke(app, ["keys", "create", "--shop", "ghost", "--role", "agent"])
    assert nope.exit_code == 1 and "does not exist" in nope.output


def test_draft_and_order_update_from_the_cli(seeded_env: Path, tmp_path: Path) -> None:
    run("demo", "seed")
    res = json.loads(run("draft", "--order", "T1006", "发货了吗？单号多少"))
    assert "78812345678901" in res["text"] and res["guard"]["ok"]
    assert res["id"] is None  # printed, not stored
    stored = json.loads(run("draft", "--order", "T1006", "--store", "发货了吗？单号多少"))
    assert stored["id"].startswith("d_") and stored["status"] == "pending" and stored["order_id"] == "T1006"
    assert stored["text"] == res["text"]  # the same use case as POST /v1/drafts
    from api.container import Container
    from core.settings import Settings

    c = Container.build(Settings(), with_index=False)
    try:
        assert [d.id for d in c.drafts.list("demo")[0]] == [stored["id"]]
    finally:
        c.close()
    run("orders", "update", "T1010", '{"status": "TRADE_CLOSED"}')
    ctx = tmp_path / "ctx.json"
    ctx.write_text(json.dumps([{"role": "buyer", "text": "什么时候发货"}, {"role": "agent", "text": "亲，马上"}]),
                   encoding="utf-8")
    res = json.loads(run("draft", "--order", "T1010", "--context", str(ctx), "还没发？"))
    assert res["needs_human"] and res["intent"]["repeat"] == 1
    bad = CliRunner().invoke(app, ["orders", "update", "T1010", "{not json"])
    assert bad.exit_code == 2


def test_kb_import_export_check_reindex(seeded_env: Path, tmp_path: Path) -> None:
    run("demo", "seed")
    out_dir = tmp_path / "export"
    run("kb", "export", str(out_dir))
    assert (out_dir / "ship-time.md").is_file()
    assert json.loads(run("kb", "import", str(out_dir))) == {"created": 0, "updated": 0, "unchanged": len(
        list(out_dir.glob("*.md")))}
    assert "indexed" in run("kb", "reindex", "--shop", "demo")
    assert json.loads(run("kb", "check", "--shop", "demo"))["ok"] is True


def test_prompts_compare_and_eval_with_the_llm_composer(env: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.drafter.llm_server import serve_script

    sc = tmp_path / "sc.jsonl"
    sc.write_text("\n".join(json.dumps({
        "id": f"s{i}", "now": "2026-11-12T11:00:00+08:00", "message": msg,
        "order": {"order_id": "T9", "status": "WAIT_SELLER_SEND_GOODS", "paid_at": "2026-11-12T09:00:00+08:00",
                  "promised_ship_by": "2026-11-14T09:00:00+08:00", "items": [{"title": "杯", "stock": "in_stock"}]},
        "shop": {"settings": {}}, "expect": {"must": [], "must_not": ["claims_shipped", "promise_delivery_date"]}},
        ensure_ascii=False) for i, msg in enumerate(["今天能发吗", "怎么还不发货"])) + "\n", encoding="utf-8")
    with serve_script() as (url, script):
        monkeypatch.setenv("REPLYDESK_LLM_BASE_URL", url)
        monkeypatch.setenv("REPLYDESK_LLM_MODEL", "test-model")
        script.default = ("text", "亲，您的订单今天就会发出，我这边也帮您催一下仓库。祝您生活愉快！")
        out = run("prompts", "compare", "urge_reply@v1", "urge_reply@v2", str(sc), "--no-retrieval", "--json")
        rows = json.loads(out.strip().splitlines()[-1])
        assert [r["prompt"] for r in rows] == ["urge_reply@v1", "urge_reply@v2"]
        assert all(r["drafts"] == 2 and r["fallbacks"] == 0 and r["must_not_violations"] == 0 for r in rows)
        systems = [r["body"]["messages"][0]["content"] for r in script.requests]
        assert len(systems) == 4 and sum(s.startswith("You are a polite") for s in systems) == 2
        assert sum(s.startswith("You write customer-service replies") for s in systems) == 2
        # A dishonest model: every draft falls back, nothing dishonest is written, eval --strict stays 0.
        script.default = ("text", "亲，已经发货了，明天就到！")
        res = tmp_path / "res.jsonl"
        r = CliRunner().invoke(app, ["eval", str(sc), "--out", str(res), "--composer", "llm", "--no-retrieval",
                                     "--strict"])
        assert r.exit_code == 0, r.output
        lines = [json.loads(x) for x in res.read_text(encoding="utf-8").splitlines()]
        assert all(x["guard"]["fell_back"] and "明天就到" not in x["text"] for x in lines)
    bad = CliRunner().invoke(app, ["prompts", "compare", "urge_reply@v1", "urge_reply@v9", str(sc)])
    assert bad.exit_code == 2 and "no such prompt" in bad.output
