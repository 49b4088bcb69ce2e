"""Import and export a folder of knowledge files: Markdown with YAML front matter.

One file per document::

    ---
    id: ship-time
    title: 发货时效
    kind: policy            # policy | notice | style
    tags: [发货, 时效]
    valid_from: 2026-11-11T00:00:00+08:00   # optional; a bare date means that day in the shop timezone
    valid_to: 2026-11-18                    # optional; a bare date means the end of that day
    effects:                                # notices only, optional (see knowledge/notice_effects.py)
      - {kind: dispatch_delay, days_min: 1, days_max: 2}
    ---
    现货商品付款后48小时内发货。……

Import is all or nothing: every file is parsed and validated before anything is written, and the
writes share one SQL transaction, so a bad file (reported with its path and line) leaves the
knowledge base exactly as it was. It is idempotent: a file whose content is unchanged makes no
new revision. Export writes the current documents in the same format, so export -> import is a
no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from core.errors import InvalidInput
from knowledge.errors import ImportFileError
from knowledge.notice_effects import dump_effects, parse_effects
from knowledge.service import KnowledgeService
from knowledge.store import KnowledgeDoc, validate_doc_fields

REQUIRED = ("id", "title", "kind")
ALLOWED = frozenset((*REQUIRED, "tags", "valid_from", "valid_to", "effects"))
_FENCE = "---"


@dataclass(frozen=True)
class ParsedDoc:
    path: Path
    id: str
    title: str
    kind: str
    text: str
    tags: list[str]
    valid_from: datetime | None
    valid_to: datetime | None
    id_line: int = 1
    effects: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    index_ok: bool = True

    @property
    def counts(self) -> dict[str, int]:
        return {"created": len(self.created), "updated": len(self.updated), "unchanged": len(self.unchanged)}


def _split_front_matter(text: str, path: Path) -> tuple[str, str, int]:
    """(yaml text, body, line number of the first yaml line)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FENCE:
        raise ImportFileError("the file must start with a '---' line (YAML front matter)", path=str(path),
                              line=1)
    for i in range(1, len(lines)):
        if lines[i].strip() == _FENCE:
            return "".join(lines[1:i]), "".join(lines[i + 1:]), 2
    raise ImportFileError("the front matter has no closing '---' line", path=str(path), line=1)


def _key_lines(front: str, first_line: int) -> dict[str, int]:
    """Line number of each top-level key, so errors can point at the offending line."""
    node = yaml.compose(front)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + first_line for k, _ in node.value}


def _to_datetime(value: Any, *, end_of_day: bool, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-11T00:00:00+08:00")
        return value
    if isinstance(value, date):
        # A bare date is a whole day in the shop's timezone: from its first to its last second.
        if end_of_day:
            return datetime.combine(value, time(23, 59, 59), tz)
        return datetime.combine(value, time(0, 0), tz)
    if isinstance(value, str):
        try:
            return _to_datetime(datetime.fromisoformat(value), end_of_day=end_of_day, tz=tz)
        except ValueError as e:
            raise ValueError(f"is not a date or date-time: {value!r}") from e
    raise ValueError(f"is not a date or date-time: {value!r}")


def parse_file(path: Path, tz: ZoneInfo) -> ParsedDoc:
    """Parse and validate one knowledge file; raises ImportFileError naming the file and line."""
    try:
        # utf-8-sig and newline normalisation: files saved by Windows editors import like any other.
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportFileError(f"not UTF-8 text ({e.reason})", path=str(path)) from e
    return parse_text(raw, path, tz)


def parse_text(raw: str, path: Path, tz: ZoneInfo) -> ParsedDoc:
    """Parse and validate the text of one knowledge file (``path`` names it in errors)."""
    p = str(path)
    raw = raw.removeprefix("\ufeff").replace("\r\n", "\n")
    front, body, first = _split_front_matter(raw, path)
    try:
        meta = yaml.safe_load(front)
        lines = _key_lines(front, first)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + first if mark is not None else first
        problem = getattr(e, "problem", None) or str(e)
        raise ImportFileError(f"invalid YAML: {problem}", path=p, line=line) from e
    if not isinstance(meta, dict):
        raise ImportFileError("the front matter must be a mapping of keys to values", path=p, line=first)

    unknown = sorted(set(map(str, meta)) - ALLOWED)
    if unknown:
        raise ImportFileError(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(ALLOWED))})",
                              path=p, line=lines.get(unknown[0], first))
    for key in REQUIRED:
        if meta.get(key) in (None, ""):
            # An empty value has a line; an absent key is reported at the front matter's opening line.
            raise ImportFileError(f"missing required key {key!r}", path=p, line=lines.get(key, 1))

    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str | int | float) for t in tags):
        raise ImportFileError("tags must be a list of words", path=p, line=lines.get("tags", first))

    bounds: dict[str, datetime | None] = {}
    for key in ("valid_from", "valid_to"):
        v = meta.get(key)
        try:
            bounds[key] = None if v is None else _to_datetime(v, end_of_day=key == "valid_to", tz=tz)
        except ValueError as e:
            raise ImportFileError(f"{key} {e}", path=p, line=lines.get(key, first)) from e

    try:
        effects = dump_effects(parse_effects(meta.get("effects"), kind=str(meta["kind"])))
    except InvalidInput as e:
        raise ImportFileError(e.message, path=p, line=lines.get("effects", first)) from e
    doc = ParsedDoc(path, str(meta["id"]), str(meta["title"]).strip(), str(meta["kind"]), body.strip(),
                    [str(t) for t in tags], bounds["valid_from"], bounds["valid_to"],
                    lines.get("id", first), effects)
    try:
        validate_doc_fields(doc.id, doc.kind, doc.title, doc.text, doc.valid_from, doc.valid_to, doc.tags)
    except InvalidInput as e:
        body_line = first + len(front.splitlines()) + 1
        line = lines.get(e.field or "", body_line if e.field == "text" else first)
        raise ImportFileError(e.message, path=p, line=line) from e
    return doc


def parse_dir(directory: Path, tz: ZoneInfo) -> list[ParsedDoc]:
    """Every ``*.md`` file of ``directory`` (not recursive), validated; ids must be unique."""
    if not directory.is_dir():
        raise ImportFileError("not a directory", path=str(directory))
    docs: list[ParsedDoc] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.md")):
        doc = parse_file(path, tz)
        if doc.id in seen:
            raise ImportFileError(f"id {doc.id!r} is also used by {seen[doc.id].name}", path=str(path),
                                  line=doc.id_line)
        seen[doc.id] = path
        docs.append(doc)
    return docs


def check_unique(docs: list[ParsedDoc]) -> list[ParsedDoc]:
    seen: dict[str, Path] = {}
    for doc in docs:
        if doc.id in seen:
            raise ImportFileError(f"id {doc.id!r} is also used by {seen[doc.id].name}", path=str(doc.path),
                                  line=doc.id_line)
        seen[doc.id] = doc.path
    return docs


def payload_from_parsed(docs: list[ParsedDoc]) -> list[dict[str, Any]]:
    """Validated documents as JSON (what an import job carries to the worker that runs it)."""
    return [{"path": str(d.path), "id": d.id, "title": d.title, "kind": d.kind, "text": d.text, "tags": d.tags,
             "valid_from": d.valid_from.isoformat() if d.valid_from else None,
             "valid_to": d.valid_to.isoformat() if d.valid_to else None, "effects": d.effects} for d in docs]


def parsed_from_payload(payload: list[dict[str, Any]]) -> list[ParsedDoc]:
    return [ParsedDoc(Path(p["path"]), p["id"], p["title"], p["kind"], p["text"], list(p["tags"]),
                      datetime.fromisoformat(p["valid_from"]) if p["valid_from"] else None,
                      datetime.fromisoformat(p["valid_to"]) if p["valid_to"] else None,
                      effects=list(p["effects"])) for p in payload]


def import_dir(service: KnowledgeService, shop_id: str, directory: Path | str, *,
               author: str | None = None, timezone: str = "Asia/Shanghai") -> ImportResult:
    """Import every knowledge file of ``directory`` into ``shop_id`` (all or nothing), then index it."""
    return import_parsed(service, shop_id, parse_dir(Path(directory), ZoneInfo(timezone)), author=author)


def import_parsed(service: KnowledgeService, shop_id: str, parsed: list[ParsedDoc], *,
                  author: str | None = None, progress: Any = None) -> ImportResult:
    """Write validated documents into ``shop_id`` in one transaction, then index what changed.

    ``progress(done, total)`` counts documents indexed."""
    result = ImportResult()
    written: list[KnowledgeDoc] = []
    store = service.store
    with store.engine.begin() as conn:
        for p in parsed:
            doc, changed = store.upsert(shop_id, p.id, kind=p.kind, title=p.title, text=p.text, tags=p.tags,
                                        valid_from=p.valid_from, valid_to=p.valid_to, author=author,
                                        effects=p.effects, conn=conn)
            if not changed:
                result.unchanged.append(doc.id)
                continue
            (result.created if doc.revision == 1 else result.updated).append(doc.id)
            written.append(doc)
    # Only after the commit: the index mirrors SQL, never the other way round.
    if progress is not None:
        progress(0, len(written))
    for i, doc in enumerate(written, start=1):
        result.index_ok = service.index_docs([doc]) and result.index_ok
        if progress is not None:
            progress(i, len(written))
    return result


def render_doc(doc: KnowledgeDoc, tz: ZoneInfo) -> str:
    """One document as a knowledge file (the format ``parse_file`` reads)."""
    meta: dict[str, Any] = {"id": doc.id, "title": doc.title, "kind": doc.kind}
    if doc.tags:
        meta["tags"] = list(doc.tags)
    for key, v in (("valid_from", doc.valid_from), ("valid_to", doc.valid_to)):
        if v is not None:
            meta[key] = v.astimezone(tz)
    if doc.effects:
        meta["effects"] = [dict(e) for e in doc.effects]
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, default_flow_style=None)
    return f"{_FENCE}\n{front}{_FENCE}\n{doc.text.strip()}\n"


def export_dir(service: KnowledgeService, shop_id: str, directory: Path | str, *,
               timezone: str = "Asia/Shanghai") -> int:
    """Write one ``<id>.md`` per current (not deleted) document of the shop; returns how many."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tz = ZoneInfo(timezone)
    docs = service.store.list(shop_id)
    for doc in docs:
        (out / f"{doc.id}.md").write_text(render_doc(doc, tz), encoding="utf-8")
    return len(docs)
