from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.clock import FixedClock
from core.settings import Settings


def test_settings_read_the_replydesk_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REPLYDESK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REPLYDESK_PORT", "8123")
    monkeypatch.setenv("REPLYDESK_LLM_MAX_TOKENS_PARAM", "max_completion_tokens")
    s = Settings()
    assert s.data_dir == tmp_path and s.port == 8123
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'replydesk.db').resolve()}"
    assert s.llm_max_tokens_param == "max_completion_tokens"
    assert s.chroma_url is None and s.redact_for_llm is True


def test_bad_settings_fail_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLYDESK_LLM_MAX_TOKENS_PARAM", "tokens")
    with pytest.raises(Exception, match="llm_max_tokens_param"):
        Settings()


def test_fixed_clock_is_aware_and_moves_only_when_told() -> None:
    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 1, 1))
    c = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    c.advance(hours=2)
    assert c.now() == datetime(2026, 1, 1, 2, tzinfo=UTC)
