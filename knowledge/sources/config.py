"""Which source a shop's orders come from, and its credentials.

Credentials are write-only: they are sealed with ``SecretBox`` before they reach the database, never
returned by ``public()`` (only the names of those that are set), and never put in an error message.
Leaving a credential out of an update keeps the stored one, so an admin can change a URL without
re-entering secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Engine

from core.clock import Clock
from core.errors import InvalidInput
from core.tables import order_sources, shops
from knowledge.errors import ShopNotFound
from knowledge.sources.secretbox import SecretBox

__all__ = ["KINDS", "SECRET_FIELDS", "SourceConfigStore", "SourceRecord", "SourceSettings", "validate_settings"]

Kind = Literal["store", "taobao", "jushuitan", "http"]
KINDS: tuple[str, ...] = ("store", "taobao", "jushuitan", "http")

# Which credentials each kind has, and which of them it cannot work without.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "store": ("webhook_secret",), "taobao": ("app_secret", "session", "webhook_secret"),
    "jushuitan": ("app_secret", "access_token", "refresh_token", "webhook_secret"),
    "http": ("hmac_secret", "webhook_secret"),
}
REQUIRED_SECRETS: dict[str, tuple[str, ...]] = {
    "store": (), "taobao": ("app_secret", "session"), "jushuitan": ("app_secret", "access_token"), "http": (),
}


def _http_url(v: str) -> str:
    v = v.strip()
    if not v.startswith(("http://", "https://")) or len(v) > 500 or any(c.isspace() for c in v):
        raise ValueError("must be an http:// or https:// URL (at most 500 characters)")
    return v


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Where accepted actions (priority, handoffs) are sent as signed webhooks, for any kind of source;
    # signed with the ``webhook_secret`` credential. Unset: the source itself, or a person.
    tasks_webhook_url: str | None = None

    @field_validator("tasks_webhook_url")
    @classmethod
    def _webhook(cls, v: str | None) -> str | None:
        return _http_url(v) if v else None


class StoreSettings(_Cfg):
    pass


class TaobaoSettings(_Cfg):
    gateway_url: str = "https://eco.taobao.com/router/rest"
    app_key: str = Field(min_length=1, max_length=64)
    sign_method: Literal["md5", "hmac", "hmac-sha256"] = "md5"
    # trace.search is a paid call on some app tiers; a shop can turn it off (parcels then carry no events).
    trace: bool = True

    _url = field_validator("gateway_url")(lambda cls, v: _http_url(v))


class JushuitanSettings(_Cfg):
    base_url: str = "https://openapi.jushuitan.com"
    app_key: str = Field(min_length=1, max_length=64)

    _url = field_validator("base_url")(lambda cls, v: _http_url(v))


class HttpSettings(_Cfg):
    url: str
    # Optional field mapping for endpoints whose JSON is not the order-facts contract (see http.py).
    mapping: dict[str, Any] | None = None

    _url = field_validator("url")(lambda cls, v: _http_url(v))

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            from knowledge.sources.http import FieldMapping

            FieldMapping.model_validate(v)
        return v


SourceSettings = StoreSettings | TaobaoSettings | JushuitanSettings | HttpSettings
_MODELS: dict[str, type[_Cfg]] = {"store": StoreSettings, "taobao": TaobaoSettings, "jushuitan": JushuitanSettings,
                                  "http": HttpSettings}


def validate_settings(kind: str, settings: dict[str, Any]) -> _Cfg:
    if kind not in _MODELS:
        raise InvalidInput(f"source must be one of {', '.join(KINDS)}", field="kind")
    try:
        return _MODELS[kind].model_validate(settings)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "settings"
        raise InvalidInput(f"{where}: {err['msg']}", field=f"settings.{where}") from exc


@dataclass(frozen=True)
class SourceRecord:
    shop_id: str
    kind: str
    settings: Any           # the kind's settings model
    revision: int
    updated_at: datetime
    secrets_enc: str | None
    events_secret_enc: str | None
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error_code: str | None = None
    last_error: str | None = None

    def public(self, box: SecretBox | None = None) -> dict[str, Any]:
        """What an admin may see: settings and the NAMES of the credentials that are set, never values."""
        names: list[str] = []
        if self.secrets_enc and box is not None and box.ready:
            try:
                names = sorted(k for k, v in box.open(self.secrets_enc).items() if v)
            except Exception:  # a key mismatch shows as "unreadable", it does not break the listing
                names = ["(unreadable: check REPLYDESK_SECRET_KEY)"]
        elif self.secrets_enc:
            names = ["(sealed)"]
        return {"shop_id": self.shop_id, "kind": self.kind, "settings": self.settings.model_dump(mode="json"),
                "secrets_set": names, "events_secret_set": bool(self.events_secret_enc),
                "revision": self.revision, "updated_at": self.updated_at.isoformat(),
                "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
                "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
                "last_error_code": self.last_error_code, "last_error": self.last_error}


class SourceConfigStore:
    def __init__(self, engine: Engine, clock: Clock, box: SecretBox) -> None:
        self.engine, self.clock, self.box = engine, clock, box

    def get(self, shop_id: str) -> SourceRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(order_sources).where(order_sources.c.shop_id == shop_id)).first()
        return _record(row) if row is not None else None

    def list(self) -> list[SourceRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(order_sources).order_by(order_sources.c.shop_id)).all()
        return [_record(r) for r in rows]

    def secrets(self, rec: SourceRecord) -> dict[str, str]:
        return self.box.open(rec.secrets_enc) if rec.secrets_enc else {}

    def events_secret(self, shop_id: str) -> str | None:
        rec = self.get(shop_id)
        if rec is None or not rec.events_secret_enc:
            return None
        return self.box.open(rec.events_secret_enc).get("events_secret")

    def connect(self, shop_id: str, kind: str, settings: dict[str, Any], secrets: dict[str, str | None],
                *, author: str | None = None) -> SourceRecord:
        """Set the shop's source. A credential left out (or None) keeps the stored one of the same kind."""
        model = validate_settings(kind, settings)
        allowed = SECRET_FIELDS[kind]
        for name in secrets:
            if name not in allowed:
                raise InvalidInput(f"{kind} sources have no credential {name!r} (they have: "
                                   f"{', '.join(allowed) or 'none'})", field=f"secrets.{name}")
        new = {k: v for k, v in secrets.items() if v}
        for k, v in new.items():
            if len(v) > 4000:
                raise InvalidInput("a credential is at most 4000 characters", field=f"secrets.{k}")
        now = self.clock.now()
        with self.engine.begin() as conn:
            if conn.execute(sa.select(shops.c.id).where(shops.c.id == shop_id)).first() is None:
                raise ShopNotFound(f"shop {shop_id!r} does not exist", field="shop")
            row = conn.execute(sa.select(order_sources).where(order_sources.c.shop_id == shop_id)).first()
            kept: dict[str, str] = {}
            if row is not None and row.kind == kind and row.secrets_enc:
                kept = self.box.open(row.secrets_enc)
            merged = {**kept, **new}
            missing = [k for k in REQUIRED_SECRETS[kind] if not merged.get(k)]
            if missing:
                raise InvalidInput(f"a {kind} source needs the credential {missing[0]!r}", field=f"secrets.{missing[0]}")
            sealed = self.box.seal(merged) if merged else None
            values = dict(kind=kind, config_json=model.model_dump_json(), secrets_enc=sealed, updated_at=now,
                          updated_by=author, last_success_at=None, last_error_at=None, last_error_code=None,
                          last_error=None)
            if row is None:
                conn.execute(order_sources.insert().values(shop_id=shop_id, revision=1, **values))
            else:
                conn.execute(order_sources.update().where(order_sources.c.shop_id == shop_id).values(
                    revision=row.revision + 1, **values))
        rec = self.get(shop_id)
        assert rec is not None
        return rec

    def rotate(self, shop_id: str, changed: dict[str, str]) -> None:
        """Store credentials a source renewed itself (a refreshed token), keeping the others."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(order_sources).where(order_sources.c.shop_id == shop_id)
                               .with_for_update()).first()
            if row is None:
                return
            merged = {**(self.box.open(row.secrets_enc) if row.secrets_enc else {}), **changed}
            conn.execute(order_sources.update().where(order_sources.c.shop_id == shop_id).values(
                secrets_enc=self.box.seal(merged), revision=row.revision + 1, updated_at=self.clock.now()))

    def set_events_secret(self, shop_id: str, secret: str, *, author: str | None = None) -> SourceRecord:
        if not 16 <= len(secret) <= 200:
            raise InvalidInput("the events secret must be 16 to 200 characters", field="events_secret")
        sealed = self.box.seal({"events_secret": secret})
        now = self.clock.now()
        with self.engine.begin() as conn:
            if conn.execute(sa.select(shops.c.id).where(shops.c.id == shop_id)).first() is None:
                raise ShopNotFound(f"shop {shop_id!r} does not exist", field="shop")
            row = conn.execute(sa.select(order_sources.c.revision).where(order_sources.c.shop_id == shop_id)).first()
            if row is None:
                conn.execute(order_sources.insert().values(
                    shop_id=shop_id, kind="store", config_json="{}", secrets_enc=None, events_secret_enc=sealed,
                    revision=1, updated_at=now, updated_by=author))
            else:
                conn.execute(order_sources.update().where(order_sources.c.shop_id == shop_id).values(
                    events_secret_enc=sealed, updated_at=now, updated_by=author))
        rec = self.get(shop_id)
        assert rec is not None
        return rec

    def record(self, shop_id: str, *, ok: bool, code: str | None = None, message: str | None = None) -> None:
        now = self.clock.now()
        values: dict[str, Any] = {"last_success_at": now} if ok else {
            "last_error_at": now, "last_error_code": (code or "error")[:80], "last_error": (message or "")[:500]}
        with self.engine.begin() as conn:
            conn.execute(order_sources.update().where(order_sources.c.shop_id == shop_id).values(**values))


def _record(row: Any) -> SourceRecord:
    from core.db import utc

    settings = _MODELS.get(row.kind, StoreSettings).model_validate(json.loads(row.config_json or "{}"))
    return SourceRecord(shop_id=row.shop_id, kind=row.kind, settings=settings, revision=row.revision,
                        updated_at=utc(row.updated_at), secrets_enc=row.secrets_enc,  # type: ignore[arg-type]
                        events_secret_enc=row.events_secret_enc, last_success_at=utc(row.last_success_at),
                        last_error_at=utc(row.last_error_at), last_error_code=row.last_error_code,
                        last_error=row.last_error)
