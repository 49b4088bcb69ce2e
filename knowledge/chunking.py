"""Splitting knowledge text into retrieval chunks.

A chunk is small enough for one e5 passage (the model reads 512 tokens; ~300 Chinese characters
keeps well inside that with the title prepended) and ends on a sentence boundary so that a rule
is never cut in half. Consecutive chunks share a short sentence of overlap, because a rule often
refers to the sentence before it ("…须主管审批后发放"). Chunking is deterministic: the same
revision always yields the same chunk ids, which is what lets ``check`` compare SQL with Chroma.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from knowledge.store import KnowledgeDoc

MAX_CHARS = 300
OVERLAP_CHARS = 80

# A sentence ends after 。！？!?；; or a "." before a space (English), optionally followed by closing
# quotes/brackets, or at a newline.
_SENTENCE_END = re.compile(r"(?:(?<=[。！？!?；;])|(?<=\.)(?=\s))[”’」』）)\"']*|\n")


@dataclass(frozen=True)
class Chunk:
    shop_id: str
    doc_id: str
    revision: int
    n: int
    text: str
    kind: str
    title: str
    n_chunks: int
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    tags: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return chunk_id(self.shop_id, self.doc_id, self.revision, self.n)

    @property
    def search_text(self) -> str:
        """What is embedded and matched: the title and tags carry the topic ("发货时效") and the
        words buyers use (synonyms, English) that the body itself may never say."""
        head = f"{self.title}（{'、'.join(self.tags)}）" if self.tags else self.title
        return f"{head}\n{self.text}"


def chunk_id(shop_id: str, doc_id: str, revision: int, n: int) -> str:
    return f"{shop_id}:{doc_id}:{revision}:{n}"


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, terminators included, surrounding whitespace excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        _add_span(text, start, m.end(), spans)
        start = m.end()
    _add_span(text, start, len(text), spans)
    return spans


def _add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def _hard_split(start: int, end: int, max_chars: int, overlap: int) -> list[tuple[int, int]]:
    """A sentence longer than a chunk (a run-on list, a table row): overlapping windows."""
    step = max(1, max_chars - overlap)
    return [(i, min(i + max_chars, end)) for i in range(start, max(start + 1, end - overlap), step)]


def split_text(text: str, max_chars: int = MAX_CHARS, overlap: int = OVERLAP_CHARS) -> list[str]:
    """Split ``text`` into chunks of at most ~``max_chars`` characters on sentence boundaries.

    Chunks are slices of the original text, so newlines and spaces between sentences survive.
    """
    text = text.strip()
    if not text:
        return []
    if len(text) <= max_chars:
        return [text]
    pieces: list[tuple[int, int]] = []
    for s, e in _sentence_spans(text):
        pieces.extend(_hard_split(s, e, max_chars, overlap) if e - s > max_chars else [(s, e)])

    chunks: list[str] = []
    current: list[tuple[int, int]] = []
    for s, e in pieces:
        if current and e - current[0][0] > max_chars:
            chunks.append(text[current[0][0]:current[-1][1]])
            # Carry the last sentence over when it is short: it is the context the next rule leans on.
            ls, le = current[-1]
            current = [(ls, le)] if le - ls <= overlap and e - ls <= max_chars and ls < s else []
        current.append((s, e))
    if current:
        chunks.append(text[current[0][0]:current[-1][1]])
    return chunks


def chunk_doc(doc: KnowledgeDoc, max_chars: int = MAX_CHARS, overlap: int = OVERLAP_CHARS) -> list[Chunk]:
    """The chunks of one revision of a document (none for a deleted one)."""
    if doc.deleted:
        return []
    texts = split_text(doc.text, max_chars, overlap) or [doc.title]
    return [
        Chunk(doc.shop_id, doc.id, doc.revision, n, t, doc.kind, doc.title, len(texts),
              doc.valid_from, doc.valid_to, tuple(doc.tags))
        for n, t in enumerate(texts)
    ]
