"""``python -m benchmarks``: the drafting benchmark (what ``replydesk bench`` was).

Seeds N chunks, drafts a few hundred varied messages in-process and prints p50/p99 per draft and
per step; ``--composer llm`` times the LLM path instead (needs REPLYDESK_LLM_BASE_URL and _MODEL).
It lives here, not in the ``replydesk`` CLI, so that the application never imports the harness
that measures it (and ``benchmarks`` stays out of the wheel).

    python -m benchmarks [--chunks 10000] [--messages 300] [--composer template|llm] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=10_000)
    p.add_argument("--messages", type=int, default=300)
    p.add_argument("--composer", choices=("template", "llm"), default="template")
    p.add_argument("--json", dest="as_json", action="store_true", help="One line of JSON, no progress")
    args = p.parse_args(argv)
    if args.composer == "llm":
        from benchmarks.llm_bench import run_llm_bench
        from core.settings import Settings

        settings = Settings()
        if not settings.llm_base_url or not settings.llm_model:
            print("error: set REPLYDESK_LLM_BASE_URL and REPLYDESK_LLM_MODEL (e.g. make llm-local)", file=sys.stderr)
            return 2
        res = run_llm_bench(settings)
    else:
        from benchmarks.drafts import run_bench

        res = run_bench(chunks=args.chunks, messages=args.messages, progress=not args.as_json)
    print(json.dumps(res, ensure_ascii=False) if args.as_json else json.dumps(res, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
