"""The insight summary as plain text: what ``replydesk insights report`` prints (the API returns the same dict)."""

from __future__ import annotations

from typing import Any

__all__ = ["render_text"]


def _table(rows: list[list[Any]], header: list[str]) -> list[str]:
    cells = [header] + [["—" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]


def render_text(s: dict[str, Any]) -> str:
    rng = s["range"]
    out = [f"Urges {rng['since']} – {rng['until']} ({rng['timezone']}): {s['total']}"]
    out.append("")
    out.append(f"Alerts ({len(s['alerts'])})")
    for a in s["alerts"]:
        out.append(f"  [{a['window_end']}] {a['dimension']} {a['value']}: {a['cause_text']}")
        out.append(f"      -> {a['action_text']}")
    if not s["alerts"]:
        out.append("  none: urges are at the shop's usual level")
    out.append("")
    out.append("Causes now vs usual")
    out += _table([[c["cause"], c["count"], c["usual"], c["ratio"]] for c in s["causes"]],
                  ["cause", "now", "usual", "ratio"])
    for by in ("sku", "warehouse", "carrier", "state"):
        out.append("")
        out.append(f"By {by}")
        out += _table([[g["key"] if g["key"] is not None else "(not given)", g["count"]] for g in s["breakdown"][by][:10]],
                      [by, "urges"])
    rep = s["repeats"]
    out.append("")
    out.append(f"Repeat urgers: {rep['orders']} orders urged {rep['min_urges']}+ times")
    out += _table([[r["order_id"], r["urges"], r["cause"]] for r in rep["top"][:10]], ["order", "urges", "cause"])
    rt = s["response_times"]
    out.append("")
    out.append("Response times (s from the buyer's message)")
    out += _table([[k, v["n"], v["p50"], v["p90"], v["p95"]] for k, v in rt["stages"].items()],
                  ["to", "n", "p50", "p90", "p95"])
    out += _table([[a["key"], a["n"], a["p50"], a["p90"], a["p95"]] for a in rt["per_agent"]],
                  ["agent key", "n", "p50", "p90", "p95"])
    out.append("")
    out.append("Approved unedited, per situation")
    out += _table([[a["state"], a["decided"], f"{a['approved_unedited_share']:.0%}"] for a in s["approvals"]],
                  ["situation", "decided", "unedited"])
    return "\n".join(out)
