"""API keys: random secrets shown once, stored only as SHA-256 hashes, each bound to a shop and a role.

Keys are 256-bit random tokens, so a fast hash is enough (no password stretching needed): a
stolen table still does not give a usable key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.db import utc
from core.errors import InvalidInput, NotFound
from core.ids import ulid
from core.tables import api_keys, shops

Role = Literal["agent", "extension", "manager", "admin"]
ROLES: tuple[str, ...] = ("agent", "extension", "manager", "admin")
PREFIX = "rdk_"


@dataclass(frozen=True)
class ApiKey:
    id: str
    shop_id: str
    role: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    def usable_at(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < self.expires_at


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _row(r: sa.Row) -> ApiKey:
    return ApiKey(r.id, r.shop_id, r.role, r.label, utc(r.created_at), utc(r.expires_at),  # type: ignore[arg-type]
                  utc(r.revoked_at))


class KeyStore:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def create(self, shop_id: str, role: str, *, label: str | None = None,
               expires_at: datetime | None = None) -> tuple[ApiKey, str]:
        """Returns (record, plaintext key). The plaintext is never stored."""
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
        if expires_at is not None and expires_at.tzinfo is None:
            raise InvalidInput("expires_at needs a UTC offset", field="expires_at")
        key_id = ulid(self.clock.now()).lower()[:16]
        secret = PREFIX + secrets.token_urlsafe(32)
        now = self.clock.now()
        with self.engine.begin() as conn:
            if conn.execute(sa.select(shops.c.id).where(shops.c.id == shop_id)).first() is None:
                raise NotFound(f"shop {shop_id!r} does not exist", field="shop")
            conn.execute(api_keys.insert().values(
                id=key_id, shop_id=shop_id, role=role, key_hash=hash_key(secret), label=label,
                created_at=now, expires_at=expires_at, revoked_at=None))
        return ApiKey(key_id, shop_id, role, label, now, expires_at, None), secret

    def authenticate(self, key: str) -> ApiKey | None:
        if not key.startswith(PREFIX) or len(key) > 200:
            return None
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(api_keys).where(api_keys.c.key_hash == hash_key(key))).first()
        if r is None:
            return None
        rec = _row(r)
        return rec if rec.usable_at(self.clock.now()) else None

    def list(self, shop_id: str | None = None) -> list[ApiKey]:
        q = sa.select(api_keys).order_by(api_keys.c.created_at)
        if shop_id:
            q = q.where(api_keys.c.shop_id == shop_id)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(q)]

    def revoke(self, key_id: str, shop_id: str | None = None) -> ApiKey:
        with self.engine.begin() as conn:
            q = sa.select(api_keys).where(api_keys.c.id == key_id)
            if shop_id:
                q = q.where(api_keys.c.shop_id == shop_id)
            r = conn.execute(q).first()
            if r is None:
                raise NotFound(f"key {key_id!r} not found", field="key_id")
            if r.revoked_at is None:
                conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(revoked_at=self.clock.now()))
        return self.list_one(key_id)

    def list_one(self, key_id: str) -> ApiKey:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        if r is None:
            raise NotFound(f"key {key_id!r} not found", field="key_id")
        return _row(r)
