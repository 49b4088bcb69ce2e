"""API keys of the caller's shop (admin only). The new key's secret is shown once."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AdminKey, ContainerDep
from api.keys import Role

router = APIRouter(prefix="/v1/keys", tags=["keys"])


class KeyOut(BaseModel):
    id: str
    shop_id: str
    role: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    label: str | None = Field(default=None, max_length=200)
    expires_at: datetime | None = None


class KeyCreated(KeyOut):
    key: str


@router.get("", response_model=list[KeyOut])
def list_keys(key: AdminKey, c: ContainerDep) -> list[KeyOut]:
    return [KeyOut(**vars(k)) for k in c.keys.list(key.shop_id)]


@router.post("", status_code=201, response_model=KeyCreated)
def create_key(body: KeyCreate, key: AdminKey, c: ContainerDep) -> KeyCreated:
    rec, secret = c.keys.create(key.shop_id, body.role, label=body.label, expires_at=body.expires_at)
    return KeyCreated(**vars(rec), key=secret)


@router.delete("/{key_id}", response_model=KeyOut)
def revoke_key(key_id: str, key: AdminKey, c: ContainerDep) -> KeyOut:
    return KeyOut(**vars(c.keys.revoke(key_id, shop_id=key.shop_id)))
