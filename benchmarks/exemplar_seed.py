"""A seeded feedback log for `prompts compare --exemplars`: approved replies in one shop's house style.

    python -m benchmarks.exemplar_seed ../shared/eval/dev_scenarios.jsonl --out data/eval/exemplars_seed.jsonl

For each situation state found in the scenario file, one earlier buyer message with a reply an agent
approved (written here in a recognisable house style: "您好呀～", a short apology, "小店" for the shop),
attached to a scenario of that state so it lands in the same eval shop and carries its situation. The
replies state no order-specific fact (no date, number or carrier): exemplars teach tone, never facts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HOUSE = {
    "awaiting_dispatch": ("还没发吗", "您好呀～小店已经在给您打包了，按发货规则会尽快安排，出库后物流会自动更新，辛苦您再等等哦！"),
    "out_of_stock": ("怎么还不发", "您好呀～真不好意思，您拍的这款暂时缺货，补货日期一确定就第一时间告诉您；不想等的话也可以申请退款，小店随时帮您处理哦！"),
    "shipped": ("发了没", "您好呀～包裹已经从小店出发啦，运单号在订单详情里就能看到，物流更新会有点延迟，辛苦您留意一下哦！"),
    "unpaid": ("什么时候发货", "您好呀～订单这边显示还没有付款哦，付款成功后小店才能安排发货，辛苦您确认一下～"),
    "presale": ("能早点发吗", "您好呀～这款是预售，小店会按商品页约定的时间发货，暂时没法提前，谢谢您的耐心哦！"),
    "stuck": ("物流怎么不动了", "您好呀～真抱歉让您担心了，小店马上联系快递核实物流停滞的原因，有消息第一时间告诉您！"),
    "partial": ("还有一件呢", "您好呀～您的订单是分开发的，已经发出的可以在订单里查物流，没发的那件小店在跟进，有进展马上告诉您哦！"),
}


def main(argv: list[str] | None = None) -> int:
    from drafter.evaluate import ScenarioRunner, read_scenarios

    ap = argparse.ArgumentParser()
    ap.add_argument("scenarios", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    seen: set[str] = set()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        runner = ScenarioRunner(Path(tmp), retrieval=False)
        for _, sc in read_scenarios(args.scenarios):
            _, situation = runner.run_with_situation(sc)
            if situation.state in HOUSE and situation.state not in seen:
                seen.add(situation.state)
                message, reply = HOUSE[situation.state]
                out.append({**sc, "id": f"seed-{situation.state}", "message": message, "context": [],
                            "approved_reply": reply, "expect": None})
        runner.engine.dispose()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in out), encoding="utf-8")
    print(f"{len(out)} approved replies ({', '.join(sorted(seen))}) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
