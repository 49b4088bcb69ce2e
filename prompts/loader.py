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
           "parse_prompt_ref", "prompt_markers", "render_prompt"]

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


class FactTexts(BaseModel):
    """How the situation is rendered as facts for the model (placeholders in braces)."""

    model_config = ConfigDict(extra="forbid")
    date: str                      # {month} {day}
    unavailable: str
    not_found: str
    states: dict[str, str]         # situation state -> one statement
    state_default: str
    overdue: str                   # {date}
    parcel: str                    # {n} {carrier} {tracking} {event}
    unknown_value: str
    no_event: str
    out_of_stock: str              # {title} {eta}
    restock_eta: str               # {date}
    restock_unknown: str
    item_default: str
    presale: str                   # {start} {end}
    notice: str                    # {text}


class CommitmentTexts(BaseModel):
    """What the model may and may not say, by the situation's commitments."""

    model_config = ConfigDict(extra="forbid")
    dispatch_on: str               # {date}
    dispatch_by: str
    dispatch_from: str
    share_tracking: str            # {value}
    forward_request: str
    always: list[str]
    forbidden_always: list[str]
    forbidden_not_shipped: str
    forbidden_not_arranged: str
    forbidden_no_dispatch_day: str


class PromptTexts(BaseModel):
    """Every piece of text the code assembles for the model lives here, so the file's hash covers it."""

    model_config = ConfigDict(extra="forbid")
    facts: FactTexts
    commitments: CommitmentTexts
    line: str = "- {text}"                      # one item of a rendered list
    none: str                                   # an empty list
    roles: dict[str, str]                       # conversation roles: buyer, agent
    languages: dict[str, str]                   # the buyer's language (zh, en) as the prompt names it
    sign_off: dict[str, str]                    # by language, when the shop set none (English always)
    repair: str                                 # {problems}; the one repair call's instruction
    repair_problem: str                         # {text} {reason}
    previous_reply: str                         # {text}: the model's own failed reply, shown in the repair
    problems: dict[str, str] = Field(default_factory=dict)  # problem kind -> reason shown to the model
    what: dict[str, str] = Field(default_factory=dict)      # what a useful reply must convey, by requirement
    exemplar: str = ""                          # {message} {reply}: one of the shop's approved replies
    exemplars_header: str = ""


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
    texts: PromptTexts
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


def prompt_markers(prompt: PromptFile) -> list[str]:
    """Phrases of the prompt itself that a reply to a buyer never contains: a reply that does leaks the prompt.

    Derived from the loaded file (never a list kept by hand): the literal text of the system and user
    templates between placeholders, the allowed-line prefix, and the forbidden items. Short pieces are
    left out — they are ordinary words a reply may use.
    """
    fmt = string.Formatter()
    out: list[str] = []
    for template in (prompt.system, prompt.user):
        for line in template.splitlines():
            for literal, *_ in fmt.parse(line):
                piece = literal.strip(" \t-\"'()（）")
                if piece.startswith("<") and piece.endswith(">"):
                    out.append(piece)           # a delimiter tag
                elif piece.endswith((":", "：")) and len(piece) >= 4:
                    out.append(piece)           # a heading, with its colon (and without, when long enough)
                    if _long_enough(bare := piece.rstrip(":：").strip(" ()（）")):
                        out.append(bare)
                elif _long_enough(piece := piece.strip(":：")):
                    out.append(piece)
    for rule in prompt.rules:
        if _long_enough(rule):
            out.append(rule.strip())
    c = prompt.texts.commitments
    prefix = _common_prefix([c.dispatch_on, c.dispatch_by, c.dispatch_from, c.forward_request])
    if prefix.strip():
        out.append(prefix.strip())
    out += [f for f in c.forbidden_always if _long_enough(f)]
    return sorted(set(out), key=len, reverse=True)


def _long_enough(piece: str) -> bool:
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in piece)
    return cjk >= 5 or len(piece) - cjk >= 12 or (cjk >= 3 and len(piece) >= 5)


def _common_prefix(items: list[str]) -> str:
    if not items:
        return ""
    first = items[0]
    n = 0
    while n < len(first) and all(len(i) > n and i[n] == first[n] for i in items):
        n += 1
    return first[:n]


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
