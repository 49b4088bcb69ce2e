"""Export the draft result's JSON Schema (``python -m drafter.schema`` rewrites docs/draft_result.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path

from drafter.result import DraftResult

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "draft_result.schema.json"


def schema_json() -> str:
    return json.dumps(DraftResult.model_json_schema(mode="serialization"), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":  # pragma: no cover
    SCHEMA_PATH.write_text(schema_json(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
