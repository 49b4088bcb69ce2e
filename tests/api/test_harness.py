"""The test harness does what the root and API conftests say (tests of the tests' ground)."""

from __future__ import annotations

import os

from api.container import Container
from core.settings import Settings


def test_the_seeded_copy_has_the_whole_demo_index(container: Container) -> None:
    """Every API test gets a copy of one seeded data directory: its Chroma index matches SQL exactly."""
    assert container.service is not None
    report = container.service.check("demo")
    assert report["ok"], report
    assert container.service.index.count("demo") >= len(container.knowledge.list("demo")) > 0


def test_no_replydesk_setting_leaks_in_and_redis_is_off() -> None:
    assert {k for k in os.environ if k.startswith("REPLYDESK_")} <= {"REPLYDESK_REDIS_URL", "REPLYDESK_LLM_LIVE"}
    s = Settings()
    assert s.database_url is None and s.chroma_url is None and not s.redis_url
