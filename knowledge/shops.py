"""Shops and their settings (validated, with revisions: an edit never overwrites the old rules)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.tables import shop_settings_revisions, shops
from knowledge.errors import ShopNotFound
from knowledge.shop_settings import ShopSettings


@dataclass(frozen=True)
class Shop:
    id: str
    name: str
    settings: ShopSettings
    settings_revision: int
    knowledge_counter: int | None = None  # counts the shop's knowledge writes (keys caches of its knowledge)


class ShopStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def ensure(self, shop_id: str, name: str | None = None, settings: ShopSettings | None = None) -> Shop:
        """Create the shop if missing (idempotent); an existing shop keeps its settings."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(shops).where(shops.c.id == shop_id)).first()
            if row is None:
                s = settings or ShopSettings()
                now = self.clock.now()
                payload = s.model_dump_json()
                conn.execute(shops.insert().values(
                    id=shop_id, name=name or shop_id, settings_json=payload, settings_revision=1,
                    knowledge_counter=0, updated_at=now))
                conn.execute(shop_settings_revisions.insert().values(
                    shop_id=shop_id, revision=1, settings_json=payload, created_at=now, author="system"))
        return self.get(shop_id)

    def get(self, shop_id: str) -> Shop:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(shops).where(shops.c.id == shop_id)).first()
        if row is None:
            raise ShopNotFound(f"shop {shop_id!r} does not exist")
        return Shop(row.id, row.name, ShopSettings.model_validate_json(row.settings_json),
                    row.settings_revision, row.knowledge_counter)

    def exists(self, shop_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(shops.c.id).where(shops.c.id == shop_id)).first() is not None

    def list(self) -> list[Shop]:
        with self.engine.connect() as conn:
            ids = [r.id for r in conn.execute(sa.select(shops.c.id).order_by(shops.c.id))]
        return [self.get(i) for i in ids]

    def update_settings(self, shop_id: str, settings: ShopSettings, author: str | None = None) -> Shop:
        payload = settings.model_dump_json()
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(shops).where(shops.c.id == shop_id).with_for_update()).first()
            if row is None:
                raise ShopNotFound(f"shop {shop_id!r} does not exist")
            if json.loads(row.settings_json) == json.loads(payload):
                return self.get(shop_id)
            rev = row.settings_revision + 1
            now = self.clock.now()
            conn.execute(shop_settings_revisions.insert().values(
                shop_id=shop_id, revision=rev, settings_json=payload, created_at=now, author=author))
            conn.execute(shops.update().where(shops.c.id == shop_id).values(
                settings_json=payload, settings_revision=rev, updated_at=now))
        return self.get(shop_id)
