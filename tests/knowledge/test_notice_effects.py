"""Notice effects: validation with named fields, revisions, front matter and export, and the suggester
measured on 20 notices written for this test (tests/knowledge/fixtures/notices_with_effects.jsonl)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.db import make_engine, migrate
from core.errors import InvalidInput
from knowledge.errors import ImportFileError
from knowledge.importer import export_dir, import_dir
from knowledge.notice_effects import concerns_dispatch, dump_effects, parse_effects, suggest_effects
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeStore
from tests.knowledge.conftest import SHOP

FIXTURE = Path(__file__).parent / "fixtures" / "notices_with_effects.jsonl"
PAUSE = {"kind": "dispatch_pause", "from": "2026-10-01", "until": "2026-10-07"}


def test_every_kind_round_trips() -> None:
    raw = [PAUSE, {"kind": "dispatch_delay", "days_min": 1, "days_max": 2},
           {"kind": "cutoff", "daily_cutoff": "9:30"}, {"kind": "carriers", "suspended": [" 中通快递 "]}]
    out = dump_effects(parse_effects(raw))
    assert out == [PAUSE, {"kind": "dispatch_delay", "days_min": 1, "days_max": 2},
                   {"kind": "cutoff", "daily_cutoff": "09:30"}, {"kind": "carriers", "suspended": ["中通快递"]}]
    assert parse_effects(None) == [] and parse_effects([]) == []


@pytest.mark.parametrize(("raw", "needle"), [
    ([{"kind": "dispatch_pause", "from": "2026-10-07", "until": "2026-10-01"}], "until is before from"),
    ([{"kind": "dispatch_delay", "days_min": 3, "days_max": 1}], "days_max"),
    ([{"kind": "dispatch_delay", "days_min": 0, "days_max": 0}], "days_max"),
    ([{"kind": "cutoff"}], "daily_cutoff, last_pickup"),
    ([{"kind": "cutoff", "last_pickup": "25:00"}], "last_pickup"),
    ([{"kind": "carriers", "suspended": []}], "suspended"),
    ([{"kind": "holiday"}], "effects[0]"),
    ([{"kind": "dispatch_pause", "from": "2026-10-01", "until": "2026-10-02", "extra": 1}], "extra"),
    ({"kind": "dispatch_pause"}, "list"),
])
def test_bad_effects_name_what_is_wrong(raw: object, needle: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_effects(raw)
    assert e.value.field == "effects" and needle in e.value.message


def test_only_notices_have_effects(store: KnowledgeStore) -> None:
    with pytest.raises(InvalidInput) as e:
        store.upsert(SHOP, "p", kind="policy", title="t", text="x", effects=[PAUSE])
    assert e.value.field == "effects"


def test_effects_are_revisioned(store: KnowledgeStore) -> None:
    d1, _ = store.upsert(SHOP, "gq", kind="notice", title="国庆", text="国庆放假")
    assert d1.effects == []
    d2, changed = store.upsert(SHOP, "gq", kind="notice", title="国庆", text="国庆放假", effects=[PAUSE])
    assert changed and d2.revision == 2 and d2.effects == [PAUSE]
    same, changed = store.upsert(SHOP, "gq", kind="notice", title="国庆", text="国庆放假", effects=[PAUSE])
    assert not changed and same.revision == 2
    assert [r.effects for r in store.revisions(SHOP, "gq")] == [[], [PAUSE]]
    store.delete(SHOP, "gq")
    back = store.restore(SHOP, "gq", 2)
    assert back.effects == [PAUSE] and back.revision == 4


def test_migration_adds_the_column(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path}/m.db")
    migrate(eng)
    cols = {c["name"] for c in sa.inspect(eng).get_columns("knowledge_revisions")}
    assert "effects_json" in cols
    eng.dispose()


def test_front_matter_and_export_carry_effects(tmp_path: Path, service: KnowledgeService,
                                               store: KnowledgeStore) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "gq.md").write_text("---\nid: gq\ntitle: 国庆\nkind: notice\neffects:\n"
                               "  - {kind: dispatch_pause, from: 2026-10-01, until: 2026-10-07}\n---\n国庆放假\n",
                               encoding="utf-8")
    import_dir(service, SHOP, src)
    assert store.get(SHOP, "gq").effects == [PAUSE]
    out = tmp_path / "out"
    export_dir(service, SHOP, out)
    assert "dispatch_pause" in (out / "gq.md").read_text(encoding="utf-8")
    assert import_dir(service, SHOP, out).counts["unchanged"] == 1
    (src / "gq.md").write_text("---\nid: gq\ntitle: 国庆\nkind: notice\neffects:\n  - {kind: dispatch_delay}\n---\n国庆\n",
                               encoding="utf-8")
    with pytest.raises(ImportFileError) as e:
        import_dir(service, SHOP, src)
    assert e.value.line == 5 and "effects[0]" in e.value.message


def test_what_concerns_dispatch() -> None:
    assert concerns_dispatch("仓库积压，发货延迟") and concerns_dispatch("Orders may ship later this week")
    assert not concerns_dispatch("新品上市，关注店铺领5元券") and not concerns_dispatch("支持七天无理由退换")


def test_the_suggester_on_20_notices() -> None:
    notices = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(notices) == 20
    right = 0
    for n in notices:
        starts = date.fromisoformat(n["valid_from"]) if n.get("valid_from") else None
        got = [s.as_dict()["effect"] for s in suggest_effects(n["text"], today=date.fromisoformat(n["today"]),
                                                               starts=starts)]
        right += sorted(map(json.dumps, got)) == sorted(map(json.dumps, n["effects"]))
        for s in suggest_effects(n["text"], today=date.fromisoformat(n["today"]), starts=starts):
            assert s.evidence  # every suggestion shows the words it came from
    print(f"\nnotice effect suggester: {right}/20 exactly right")
    assert right >= 17


def test_the_suggester_never_reads_a_window_as_a_delay() -> None:
    assert suggest_effects("现货付款后48小时内发货", today=date(2026, 11, 1)) == []
    assert suggest_effects("618期间订单付款后5天内发出", today=date(2026, 6, 1)) == []
