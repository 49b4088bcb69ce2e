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
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import InvalidInput

ROOT = Path(__file__).parent
_M = TypeVar("_M", bound=BaseModel)

__all__ = ["PHRASE_KEYS", "Phrasebook", "PromptFile", "PromptRef", "list_prompts", "load_phrasebook", "load_prompt",
           "parse_prompt_ref", "render_prompt"]

# Every phrasebook must define all of these (the template composer relies on them).
PHRASE_KEYS = (
    "greeting", "apology_overdue", "apology_wait", "apology_repeat", "threat_calm",
    "dispatch_today", "dispatch_next", "dispatch_by", "backlog", "closure", "out_of_stock",
    "out_of_stock_no_eta", "presale", "unpaid", "shipped", "last_event", "stuck", "signed",
    "signed_missing", "partial", "closed", "refunding", "forbidden", "unavailable", "not_found",
    "other", "overdue_status", "forward_request", "delivery_unknown", "remedy", "closing",
    "dispatch_on_day", "dispatch_latest", "dispatch_not_before", "uncertain_notice", "will_check",
    "restock_earliest", "stale_restock", "presale_from", "presale_window", "presale_moved", "closed_unpaid",
    "closed_refunded", "parcel_moving", "parcel_out", "parcel_pickup", "parcel_failed", "parcel_returned",
    "parcel_stuck", "parcel_signed", "partial_head", "pending_awaiting", "pending_unknown", "pending_refund", "line_refunded",
    "safe_not_shipped", "safe_shipped", "safe_partial", "safe_signed", "safe_unknown", "dispatch_earliest",
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


def _shown(path: Path) -> str:
    """A path as error messages show it: relative to the repository, never the server's layout."""
    try:
        return str(path.resolve().relative_to(ROOT.parent))
    except ValueError:
        return path.name


def _load(path: Path, model: type[_M]) -> _M:
    """Read, hash and validate one YAML file; every error names the file (relative to the repo)."""
    if not path.is_file():
        raise InvalidInput(f"no such prompt file: {_shown(path)}", field="prompt")
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{_shown(path)}: not valid YAML: {exc}", field="prompt") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{_shown(path)}: expected a mapping at the top level", field="prompt")
    try:
        return model.model_validate({**data, "hash": content_hash(raw)})
    except ValidationError as exc:
        raise InvalidInput(f"{_shown(path)}: {exc}", field="prompt") from exc


@lru_cache(maxsize=32)
def load_phrasebook(language: str = "zh", version: str = "v1", root: Path = ROOT) -> Phrasebook:
    path = root / "phrasebooks" / language / f"{version}.yaml"
    book = _load(path, Phrasebook)
    if book.language != language or book.version != version:
        raise InvalidInput(f"{_shown(path)}: declares {book.language}/{book.version}", field="prompt")
    return book


# -- prompt files for the LLM composer ------------------------------------------------------------

_DELIMITERS = {"message": "buyer_message", "context": "conversation"}


class PromptParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temperature: float = Field(default=0.2, ge=0, le=2)
    max_tokens: int = Field(default=300, ge=16, le=4000)


class PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    version: str = Field(pattern=r"^v\d+$")
    description: str = ""
    params: PromptParams = Field(default_factory=PromptParams)
    variables: list[str]
    rules: list[str] = Field(default_factory=list)
    system: str
    user: str
    hash: str = ""

    @model_validator(mode="after")
    def _templates(self) -> PromptFile:
        fmt = string.Formatter()
        known = set(self.variables) | {"rules"}
        for part in ("system", "user"):
            try:
                names = {n for _, n, _, _ in fmt.parse(getattr(self, part)) if n}
            except ValueError as exc:
                raise ValueError(f"{part}: broken placeholder: {exc}") from exc
            unknown = names - known
            if unknown:
                raise ValueError(f"{part} uses undeclared variables: {', '.join(sorted(unknown))}")
        # Buyer text is data: it must sit inside its delimiters in the user turn, never in the system turn.
        for var, tag in _DELIMITERS.items():
            if "{" + var + "}" in self.system:
                raise ValueError(f"{{{var}}} must not appear in the system prompt")
            if var in self.variables:
                start, end = self.user.find(f"<{tag}>"), self.user.find(f"</{tag}>")
                pos = self.user.find("{" + var + "}")
                if not (0 <= start < pos < end):
                    raise ValueError(f"{{{var}}} must be inside <{tag}>...</{tag}> in the user prompt")
        return self

    @property
    def ref(self) -> PromptRef:
        return PromptRef(name=self.name, version=self.version, hash=self.hash)


def parse_prompt_ref(ref: str) -> tuple[str, str]:
    """'urge_reply@v2' -> ('urge_reply', 'v2')."""
    name, _, version = ref.partition("@")
    if not name or not version:
        raise InvalidInput(f"prompt must be NAME@VERSION, got {ref!r}", field="prompt")
    return name, version


@lru_cache(maxsize=64)
def load_prompt(name: str, version: str, root: Path = ROOT) -> PromptFile:
    if not (name.replace("_", "").isalnum() and version[1:].isdigit() and version.startswith("v")):
        raise InvalidInput(f"no such prompt {name}@{version}", field="prompt")
    path = root / name / f"{version}.yaml"
    prompt = _load(path, PromptFile)
    if prompt.name != name or prompt.version != version:
        raise InvalidInput(f"{_shown(path)}: declares {prompt.name}@{prompt.version}", field="prompt")
    return prompt


def list_prompts(root: Path = ROOT) -> list[tuple[str, str]]:
    out = []
    for path in sorted(root.glob("*/v*.yaml")):
        if path.parent.name != "phrasebooks":
            out.append((path.parent.name, path.stem))
    return out


def _strip_tags(text: str) -> str:
    # A buyer cannot close the data block and speak as the shop: delimiter tags are removed.
    for tag in _DELIMITERS.values():
        text = text.replace(f"<{tag}>", "").replace(f"</{tag}>", "")
    return text


def render_prompt(prompt: PromptFile, values: dict[str, str]) -> tuple[str, str]:
    """(system, user) with every variable filled; buyer text is inserted as delimited data."""
    missing = set(prompt.variables) - set(values)
    if missing:
        raise InvalidInput(f"prompt {prompt.name}@{prompt.version} needs: {', '.join(sorted(missing))}", field="prompt")
    safe = {k: (_strip_tags(v) if k in _DELIMITERS else v) for k, v in values.items()}
    rules = "\n".join(f"- {r}" for r in prompt.rules)
    system = prompt.system.format(rules=rules, **{k: v for k, v in safe.items() if k not in _DELIMITERS})
    user = prompt.user.format(rules=rules, **safe)
    return system, user
