"""Load and validate prompt files and phrasebooks.

Files are YAML, read with ``yaml.safe_load`` and validated with a strict schema (unknown keys
are rejected), so a typo in a prompt file fails loudly at load time, not in a buyer's reply.
Every loaded file carries a ``sha256:`` hash of its bytes; drafts and log rows record it.
"""

from __future__ import annotations

import hashlib
import string
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import InvalidInput

ROOT = Path(__file__).parent

__all__ = ["Phrasebook", "PromptRef", "load_phrasebook", "PHRASE_KEYS"]

# Every phrasebook must define all of these (the template composer relies on them).
PHRASE_KEYS = (
    "greeting", "apology_overdue", "apology_wait", "apology_repeat", "threat_calm",
    "dispatch_today", "dispatch_next", "dispatch_by", "backlog", "closure", "out_of_stock",
    "out_of_stock_no_eta", "presale", "unpaid", "shipped", "last_event", "stuck", "signed",
    "signed_missing", "partial", "closed", "refunding", "forbidden", "unavailable", "not_found",
    "other", "overdue_status", "forward_request", "delivery_unknown", "remedy", "closing",
)


class PromptRef(BaseModel):
    name: str
    version: str
    hash: str


class Phrasebook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    language: Literal["zh", "en"]
    description: str = ""
    phrases: dict[str, list[str]] = Field(default_factory=dict)
    hash: str = ""

    @model_validator(mode="after")
    def _complete(self) -> Phrasebook:
        missing = [k for k in PHRASE_KEYS if not self.phrases.get(k)]
        if missing:
            raise ValueError(f"phrasebook lacks phrases for: {', '.join(missing)}")
        fmt = string.Formatter()
        for key, variants in self.phrases.items():
            for v in variants:
                try:
                    list(fmt.parse(v))
                except ValueError as exc:
                    raise ValueError(f"phrase {key!r} has a broken placeholder: {v!r}") from exc
        return self

    @property
    def ref(self) -> PromptRef:
        return PromptRef(name=self.name, version=self.version, hash=self.hash)


def content_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _read(path: Path) -> tuple[dict, str]:
    if not path.is_file():
        raise InvalidInput(f"prompt file not found: {path}", field="prompt")
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path}: not valid YAML: {exc}", field="prompt") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{path}: expected a mapping at the top level", field="prompt")
    return data, content_hash(raw)


@lru_cache(maxsize=32)
def load_phrasebook(language: str = "zh", version: str = "v1", root: Path = ROOT) -> Phrasebook:
    path = root / "phrasebooks" / language / f"{version}.yaml"
    data, digest = _read(path)
    try:
        book = Phrasebook.model_validate({**data, "hash": digest})
    except ValidationError as exc:
        raise InvalidInput(f"{path}: {exc}", field="prompt") from exc
    if book.language != language or book.version != version:
        raise InvalidInput(f"{path}: declares {book.language}/{book.version}", field="prompt")
    return book
