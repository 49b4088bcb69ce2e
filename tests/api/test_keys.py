"""Keys: stored as hashes, scoped to a shop, revocable, expiring."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from api.keys import KeyStore, hash_key
from core.clock import FixedClock
from core.db import make_engine, migrate
from core.tables import api_keys
from knowledge.shops import ShopStore
from tests.api.conftest import NOW


def test_keys_are_hashed_scoped_revocable_and_expire(tmp_path: Path) -> None:
    clock = FixedClock(NOW)
    engine = make_engine(f"sqlite:///{tmp_path}/k.db")
    migrate(engine)
    ShopStore(engine, clock).ensure("s1")
    keys = KeyStore(engine, clock)
    rec, secret = keys.create("s1", "agent", expires_at=NOW + timedelta(days=1))
    with engine.connect() as conn:
        stored = conn.execute(sa.select(api_keys.c.key_hash)).scalar()
    assert stored == hash_key(secret) and secret not in stored
    assert keys.authenticate(secret).shop_id == "s1"
    clock.advance(days=1, seconds=1)
    assert keys.authenticate(secret) is None  # expired
    _, other = keys.create("s1", "manager")
    keys.revoke(keys.list("s1")[-1].id)
    assert keys.authenticate(other) is None and keys.authenticate("rdk_guess") is None
