"""Turn logged model calls (benchmarks/llm_eval.py --calls) into rows for the usefulness labelled set.

    python -m benchmarks.usefulness_candidates SCENARIOS.jsonl --calls CALLS.jsonl [...] --out rows.jsonl

Each row carries what the check needs, self-contained: the buyer's message and context, the scenario
(shop, order, clock: the situation is re-derived from it), the model's raw text, and the checker's
current verdict as a hint ONLY. The label (``useful`` true/false and the kinds) is a human's reading of
the text — never copied from the checker, or the precision/recall would measure nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any


def _message_of(call: dict[str, Any]) -> str | None:
    user = next((m["content"] for m in call["messages"] if m["role"] == "user"), "")
    m = re.search(r"<buyer_message>\n?(.*?)\n?</buyer_message>", user, re.S)
    return m.group(1).strip() if m else None


def main(argv: list[str] | None = None) -> int:
    from drafter.evaluate import read_scenarios

    ap = argparse.ArgumentParser()
    ap.add_argument("scenarios", type=Path, nargs="+")
    ap.add_argument("--calls", type=Path, action="append", required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    by_message: dict[str, dict[str, Any]] = {}
    for path in args.scenarios:
        for _, sc in read_scenarios(path):
            by_message.setdefault(sc["message"].strip(), sc)
    rows = []
    for path in args.calls:
        for line in path.read_text(encoding="utf-8").splitlines():
            call = json.loads(line)
            if not call.get("output"):
                continue
            sc = by_message.get(_message_of(call) or "")
            if sc is None:
                continue
            rows.append({"source": f"{call['model']} {call['prompt']} {call['attempt']}", "scenario": sc["id"],
                         "text": call["output"], "checker_hint": call["verdict"],
                         "hint_problems": [p["kind"] for p in call["problems"]]})
    with args.out.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{len(rows)} candidate rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
