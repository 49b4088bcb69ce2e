"""Tasks: what an approved draft's accepted actions become, and carrying them out.

On approval the agent's ticked actions are written in the same transaction as the decision: each
handoff (priority, forward_warehouse, contact_courier, escalate) becomes a task, each coupon or gift
a compensation approval (``drafter/compensation.py``). One row per draft action, so a retried or
raced approval never makes two.

A task is then carried out where the shop's setup can: a signed, retried webhook to the shop's own
system (delivery id = task id, so the receiver drops repeats), the seller memo and flag on the Taobao
trade (the memo carries the task id and is written once), or nobody automatic, when it stays open on
the /tasks list for a person. Every step is an append-only event (created, sent, done, failed,
retried; who, when), a failure is kept on the task with its reason and can be retried: never
silently dropped. Only a done task lets a reply say the action was done (``done_actions``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection, Engine

from core.clock import Clock
from core.db import utc
from core.errors import Conflict, InvalidInput, NotFound
from core.ids import new_id
from core.tables import compensation_approvals, task_events, tasks
from core.webhooks import send_webhook
from drafter.result import Action, DraftResult
from knowledge.shop_settings import ShopSettings

log = logging.getLogger("replydesk.tasks")

__all__ = ["Accepted", "ActionDesk", "Task", "TaskEvent", "TaskNotFound", "HANDOFFS", "TASK_STATUSES"]

HANDOFFS = ("priority", "forward_warehouse", "contact_courier", "escalate")
COMPENSATION = ("coupon", "gift")
TASK_STATUSES = ("open", "sent", "done", "failed")
STALE_SENDING = timedelta(minutes=2)   # far beyond an approval's bounded wait and the webhook's attempts
# What the Taobao seller memo can carry: the warehouse reads the memo and its flag when it packs.
_MEMO_KINDS = {"priority": ("加急", 1), "forward_warehouse": ("买家要求转仓库确认", 2)}
_LABELS = {"priority": "加急处理", "forward_warehouse": "转交仓库", "contact_courier": "联系快递", "escalate": "转交同事",
           "coupon": "发放优惠券", "gift": "寄送赠品"}


# A reply that says a step WILL happen ("我这就帮您备注加急", "I'll flag…") promises it: approving it without
# taking that step makes the reply untrue. Each promise with the action kinds that keep it.
_FUTURE = r"(?:(?<!已)(?<!已经)(?:这就|我会|会帮您|马上|立即|也帮您|帮您)|\bI'll\b|\bI will\b|\bI'm\b)"
_PROMISES: list[tuple[re.Pattern[str], frozenset[str], str]] = [
    (re.compile(_FUTURE + r"[^。！？!?；;.]{0,20}?(?:备注|加急|催|打个招呼|反馈给仓库|转交仓库|提交给仓库|跟仓库(?:核实|确认)|"
                r"flag|hurry|prioriti[sz]e|pass your request|checking with the warehouse|asking the warehouse)", re.I),
     frozenset({"priority", "forward_warehouse"}), "the reply says the warehouse will be told"),
    (re.compile(_FUTURE + r"[^。！？!?；;.]{0,20}?(?:联系快递|contacting the courier|contact the courier)", re.I),
     frozenset({"contact_courier"}), "the reply says the courier will be contacted"),
    (re.compile(_FUTURE + r"[^。！？!?；;.]{0,20}?(?:转给(?:同事|售后)|(?:pass|passing) (?:this|it) to a colleague|after-sales)",
                re.I), frozenset({"escalate"}), "the reply says a colleague will take it"),
    (re.compile(_FUTURE + r"[^。！？!?；;]{0,20}?(?:申请[^。！？!?；;]{0,8}补偿|goodwill gesture|request[^.!?]{0,20}compensation)",
                re.I), frozenset({"coupon", "gift"}), "the reply says compensation will be applied for"),
]


def untaken_promises(text: str, result: DraftResult, plan: list[tuple[int, Action, float | None]]) -> list[Any]:
    """Warnings for steps the reply promises but the approval does not take (when the draft proposed one)."""
    from drafter.guard import Violation

    taken = {a.kind for _, a, _ in plan}
    proposed = {a.kind for a in result.actions}
    out = []
    for rx, kinds, why in _PROMISES:
        m = rx.search(text)
        if m and (kinds & proposed) and not (kinds & taken):
            out.append(Violation(kind="promise_not_taken", text=m.group(0),
                                 reason=f"{why}, but none of {', '.join(sorted(kinds & proposed))} is ticked"))
    return out


class TaskNotFound(NotFound):
    pass


class TaskEvent(BaseModel):
    at: datetime
    event: Literal["created", "sent", "done", "failed", "retried"]
    actor: str | None = None
    detail: str | None = None


class Task(BaseModel):
    id: str
    draft_id: str
    order_id: str
    kind: str
    label: str
    executor: Literal["webhook", "taobao", "jushuitan", "manual"]
    status: Literal["open", "sent", "done", "failed"]
    reason: str
    facts: dict[str, Any] | None = None
    attempts: int = 0
    last_error: str | None = None
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    events: list[TaskEvent] = Field(default_factory=list)


class Accepted(BaseModel):
    """One proposed action the agent takes: its index in the draft's ``actions``, and for a coupon
    the amount (at most the shop's limit; defaults to the proposed amount)."""

    index: int = Field(ge=0, le=50)
    amount_yuan: float | None = Field(default=None, gt=0, le=1000)


class _Sources(Protocol):
    def task_route(self, shop_id: str) -> Any: ...

    def write_memo(self, shop_id: str, order_id: str, marker: str, line: str, flag: int) -> str: ...

    def write_remark(self, shop_id: str, order_id: str, marker: str, line: str) -> str: ...


class _Shops(Protocol):
    def get(self, shop_id: str) -> Any: ...


def facts_snapshot(facts: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the warehouse needs to find and judge the order (no buyer name, phone or address)."""
    if not facts:
        return None
    keep = {k: facts.get(k) for k in ("order_id", "status", "paid_at", "promised_ship_by", "warehouse", "presale")
            if facts.get(k) is not None}
    keep["items"] = [{k: it.get(k) for k in ("sku", "title", "quantity", "stock", "restock_eta") if it.get(k) is not None}
                     for it in facts.get("items") or []]
    ships = [{k: sh.get(k) for k in ("carrier", "tracking_no", "shipped_at") if sh.get(k) is not None}
             for sh in facts.get("shipments") or []]
    if ships:
        keep["shipments"] = ships
    return keep


def cause_of(action: Action) -> str:
    r = action.reason.lower()
    if r.startswith("overdue"):
        return "overdue"
    if "stuck" in r:
        return "stuck_in_transit"
    if r.startswith("urged"):
        return "repeat_urge"
    if "delay notice" in r:
        return "delay_notice"
    return "other"


class ActionDesk:
    def __init__(self, engine: Engine, clock: Clock, shops: _Shops, sources: _Sources | None = None, *,
                 webhook_attempts: int = 3, webhook_backoff_s: float = 0.2, webhook_timeout_s: float = 2.0,
                 webhook_transport: Any = None, sleep: Callable[[float], None] | None = None,
                 wait_s: float = 3.0) -> None:
        self.engine, self.clock, self.shops, self.sources = engine, clock, shops, sources
        self.wait_s = wait_s
        # Told every outcome of an automatic task (kind, executor, "done" | "failed"): the API's metrics.
        self.on_outcome: Callable[[str, str, str], None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self.webhook_attempts, self.webhook_backoff_s = webhook_attempts, webhook_backoff_s
        self.webhook_timeout_s, self.webhook_transport = webhook_timeout_s, webhook_transport
        import time

        self.sleep = sleep or time.sleep

    # -- planning (before the approval's transaction: a bad request leaves the draft pending) ---------

    def plan(self, shop_id: str, result: DraftResult,
             accepted: list[Accepted] | None) -> list[tuple[int, Action, float | None]]:
        """The actions to take: the agent's choice, or the shop's defaults. Enforces the compensation limit."""
        settings: ShopSettings = self.shops.get(shop_id).settings
        if accepted is None:
            chosen = [Accepted(index=i) for i, a in enumerate(result.actions) if a.kind in settings.actions_default]
        else:
            chosen = accepted
        seen: set[int] = set()
        out: list[tuple[int, Action, float | None]] = []
        for n, acc in enumerate(chosen):
            where = f"actions.{n}"
            if acc.index >= len(result.actions):
                raise InvalidInput(f"{where}.index: this draft proposes {len(result.actions)} action(s); there is no "
                                   f"action {acc.index}", field=f"{where}.index")
            if acc.index in seen:
                raise InvalidInput(f"{where}.index: action {acc.index} is listed twice", field=f"{where}.index")
            seen.add(acc.index)
            action = result.actions[acc.index]
            amount: float | None = None
            if action.kind == "coupon":
                limit = settings.compensation.coupon_yuan_max
                amount = acc.amount_yuan if acc.amount_yuan is not None else action.amount_yuan
                if not amount or amount <= 0:
                    raise InvalidInput(f"{where}.amount_yuan: a coupon needs an amount", field=f"{where}.amount_yuan")
                if amount > limit:
                    raise InvalidInput(f"{where}.amount_yuan: {amount:g} yuan is over this shop's coupon limit of "
                                       f"{limit:g} yuan", field=f"{where}.amount_yuan")
            elif acc.amount_yuan is not None:
                raise InvalidInput(f"{where}.amount_yuan: only a coupon has an amount", field=f"{where}.amount_yuan")
            if action.kind == "gift" and not settings.compensation.gift:
                raise InvalidInput(f"{where}: this shop has no gift to give", field=f"{where}.index")
            out.append((acc.index, action, amount))
        return out

    # -- recording (inside the approval's transaction) -------------------------------------------------

    def record(self, conn: Connection, *, shop_id: str, draft_id: str, order_id: str, result: DraftResult,
               plan: list[tuple[int, Action, float | None]], key_id: str | None) -> list[str]:
        """Write the tasks and approvals of an approval; returns the ids of tasks to carry out now."""
        from drafter import feedback

        now = self.clock.now()
        settings: ShopSettings = self.shops.get(shop_id).settings
        route = self.sources.task_route(shop_id) if self.sources is not None else None
        snap = facts_snapshot(result.facts)
        to_run: list[str] = []
        for index, action, amount in plan:
            if action.kind in COMPENSATION:
                approved = not settings.compensation.needs_approval
                conn.execute(compensation_approvals.insert().values(
                    id=new_id("c", now), shop_id=shop_id, draft_id=draft_id, action_index=index, order_id=order_id,
                    kind=action.kind, amount_yuan=amount,
                    gift=settings.compensation.gift if action.kind == "gift" else None, cause=cause_of(action),
                    reason=action.reason[:500], status="approved" if approved else "pending", requested_by=key_id,
                    requested_at=now, decided_by=key_id if approved else None, decided_at=now if approved else None))
                feedback.append(conn, at=now, shop_id=shop_id, event=f"{action.kind}_requested", result=result,
                                key_id=key_id, amount_yuan=amount, cause=cause_of(action))
                if approved:  # the shop lets agents give it without a manager
                    feedback.append(conn, at=now, shop_id=shop_id, event=f"{action.kind}_approved", result=result,
                                    key_id=key_id, amount_yuan=amount, cause=cause_of(action), by="shop_setting")
                    tid = self.record_issue(conn, shop_id=shop_id, draft_id=draft_id, order_id=order_id,
                                            index=index, kind=action.kind, amount=amount, facts=result.facts,
                                            key_id=key_id)
                    if tid:
                        to_run.append(tid)
                continue
            executor, note = "manual", None
            if route is not None and route.executor == "webhook":
                executor = "webhook"
            elif route is not None and route.executor in ("taobao", "jushuitan") and action.kind in _MEMO_KINDS:
                executor = route.executor
            elif route is not None and route.problem:
                note = route.problem
            tid = new_id("t", now)
            conn.execute(tasks.insert().values(
                id=tid, shop_id=shop_id, draft_id=draft_id, action_index=index, order_id=order_id, kind=action.kind,
                executor=executor, status="open", reason=action.reason[:500],
                facts_json=json.dumps(snap, ensure_ascii=False, default=str) if snap else None, attempts=0,
                last_error=note, created_by=key_id, created_at=now, updated_at=now))
            self._event(conn, tid, shop_id, "created", key_id, f"executor: {executor}" + (f" ({note})" if note else ""))
            if executor != "manual":
                to_run.append(tid)
        return to_run

    def record_issue(self, conn: Connection, *, shop_id: str, draft_id: str, order_id: str, index: int, kind: str,
                     amount: float | None, facts: dict[str, Any] | None, key_id: str | None) -> str | None:
        """An approved coupon or gift becomes a task: someone (or the shop's system, by webhook) gives it.
        Only once that task is done may a reply say it was given. Returns the task id when it is sent
        automatically."""
        now = self.clock.now()
        route = self.sources.task_route(shop_id) if self.sources is not None else None
        executor = "webhook" if route is not None and route.executor == "webhook" else "manual"
        what = f"coupon ¥{amount:g}" if kind == "coupon" and amount else kind
        snap = facts_snapshot(facts)
        tid = new_id("t", now)
        conn.execute(tasks.insert().values(
            id=tid, shop_id=shop_id, draft_id=draft_id, action_index=index, order_id=order_id, kind=kind,
            executor=executor, status="open", reason=f"{what} approved: give it to the buyer",
            facts_json=json.dumps(snap, ensure_ascii=False, default=str) if snap else None, attempts=0,
            created_by=key_id, created_at=now, updated_at=now))
        self._event(conn, tid, shop_id, "created", key_id, f"executor: {executor}")
        return tid if executor != "manual" else None

    # -- carrying out ----------------------------------------------------------------------------------

    def run(self, shop_id: str, task_id: str, actor: str = "system") -> Task:
        """Send one open automatic task; the claim (open → sent) lets exactly one caller send it."""
        now = self.clock.now()
        with self.engine.begin() as conn:
            claimed = conn.execute(tasks.update().where(
                tasks.c.id == task_id, tasks.c.shop_id == shop_id, tasks.c.status == "open",
                tasks.c.executor != "manual").values(status="sent", attempts=tasks.c.attempts + 1, updated_at=now)
            ).rowcount
            if claimed:
                self._event(conn, task_id, shop_id, "sent", actor, None)
        if not claimed:
            return self.get(shop_id, task_id)
        row = self._row(shop_id, task_id)
        try:
            detail = self._execute(row)
        except Exception as exc:  # every failure stays on the task, with a reason a person can act on
            msg = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            code = getattr(exc, "code", None)
            if not isinstance(exc, _Failed):
                log.warning("task %s (%s via %s) failed: %s", task_id, row.kind, row.executor, msg)
            self._finish(shop_id, task_id, "failed", (f"[{code}] " if code else "") + str(msg))
            outcome = "failed"
        else:
            self._finish(shop_id, task_id, "done", detail)
            outcome = "done"
        if self.on_outcome is not None:
            try:
                self.on_outcome(row.kind, row.executor, outcome)
            except Exception:  # metrics never break a task
                log.warning("task outcome listener failed", exc_info=True)
        return self.get(shop_id, task_id)

    def run_many(self, shop_id: str, task_ids: list[str]) -> None:
        """Carry the tasks out side by side, waiting at most ``wait_s``: an approval answers in bounded
        time. A task still sending then shows as "sent" and finishes in the background (the page polls)."""
        if not task_ids:
            return
        futures = [self._pool().submit(self._run_logged, shop_id, tid) for tid in task_ids]
        wait(futures, timeout=self.wait_s)

    def _run_logged(self, shop_id: str, task_id: str) -> None:
        try:
            self.run(shop_id, task_id)
        except Exception:  # run() records failures on the task; this is a bug in recording itself
            log.exception("task %s could not be run", task_id)

    def _pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tasks")
            return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=False)

    def _execute(self, row: sa.Row) -> str:
        assert self.sources is not None
        if row.executor == "taobao":
            label, flag = _MEMO_KINDS[row.kind]
            line = f"[replydesk {row.id}] {label}：{row.reason}"[:300]
            got = self.sources.write_memo(row.shop_id, row.order_id, row.id, line, flag)
            return f"taobao.trade.memo.update: {got} (flag {flag})"
        if row.executor == "jushuitan":
            label, _ = _MEMO_KINDS[row.kind]
            line = f"[replydesk {row.id}] {label}：{row.reason}"[:300]
            got = self.sources.write_remark(row.shop_id, row.order_id, row.id, line)
            return f"jushuitan order/remark/upload: {got}"
        if row.executor == "webhook":
            route = self.sources.task_route(row.shop_id)
            if route.executor != "webhook":
                raise _Failed("the shop's tasks webhook is no longer configured")
            payload = {"task_id": row.id, "kind": row.kind, "label": _LABELS.get(row.kind, row.kind),
                       "order_id": row.order_id, "draft_id": row.draft_id, "reason": row.reason,
                       "shop_id": row.shop_id, "created_at": utc(row.created_at).isoformat(),  # type: ignore[union-attr]
                       "facts": json.loads(row.facts_json) if row.facts_json else None}
            d = send_webhook(route.url, route.secret, f"task.{row.kind}", payload, delivery_id=row.id,
                             transport=self.webhook_transport, clock=self.clock, attempts=self.webhook_attempts,
                             backoff_s=self.webhook_backoff_s, timeout_s=self.webhook_timeout_s, sleep=self.sleep)
            if not d.ok:
                raise _Failed(f"webhook failed after {d.attempts} attempt(s): {d.error} ({', '.join(d.history)})")
            return f"webhook delivered (HTTP {d.status}, {d.attempts} attempt(s))"
        raise _Failed(f"no executor {row.executor!r}")

    def _finish(self, shop_id: str, task_id: str, status: str, detail: str | None) -> None:
        now = self.clock.now()
        with self.engine.begin() as conn:
            conn.execute(tasks.update().where(tasks.c.id == task_id, tasks.c.shop_id == shop_id,
                                              tasks.c.status == "sent").values(
                status=status, updated_at=now, last_error=(detail or "")[:500] if status == "failed" else None))
            self._event(conn, task_id, shop_id, status, "system", detail)

    # -- people ----------------------------------------------------------------------------------------

    def mark_done(self, shop_id: str, task_id: str, key_id: str | None, note: str | None = None) -> Task:
        row = self._row(shop_id, task_id)
        if row.status == "done":
            return self.get(shop_id, task_id)
        now = self.clock.now()
        with self.engine.begin() as conn:
            n = conn.execute(tasks.update().where(tasks.c.id == task_id, tasks.c.shop_id == shop_id,
                                                  tasks.c.status == row.status).values(
                status="done", updated_at=now, last_error=None)).rowcount
            if not n:
                raise Conflict(f"task {task_id} changed while it was marked done; reload it")
            self._event(conn, task_id, shop_id, "done", key_id, (note or "marked done by a person")[:1000])
        return self.get(shop_id, task_id)

    def retry(self, shop_id: str, task_id: str, key_id: str | None) -> Task:
        row = self._row(shop_id, task_id)
        if row.executor == "manual":
            raise Conflict(f"task {task_id} is done by a person, not sent: mark it done when it is")
        if row.status not in ("failed", "sent"):
            raise Conflict(f"task {task_id} is {row.status}; only a failed (or stuck sending) task can be retried")
        now = self.clock.now()
        with self.engine.begin() as conn:
            n = conn.execute(tasks.update().where(tasks.c.id == task_id, tasks.c.status == row.status).values(
                status="open", updated_at=now)).rowcount
            if n:
                self._event(conn, task_id, shop_id, "retried", key_id, None)
        return self.run(shop_id, task_id, actor=key_id or "system")

    # -- reading ---------------------------------------------------------------------------------------

    def get(self, shop_id: str, task_id: str) -> Task:
        row = self._row(shop_id, task_id)
        with self.engine.connect() as conn:
            evs = conn.execute(sa.select(task_events).where(task_events.c.task_id == task_id,
                                                           task_events.c.shop_id == shop_id)
                               .order_by(task_events.c.id)).all()
        return _task(row, evs)

    def reap(self, shop_id: str) -> int:
        """A task "sent" for longer than ``STALE_SENDING`` never got its answer recorded (the server stopped
        mid-call): it becomes failed, visibly, so a person retries it (the task id keeps that safe)."""
        cutoff = self.clock.now() - STALE_SENDING
        n = 0
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(tasks.c.id).where(tasks.c.shop_id == shop_id, tasks.c.status == "sent",
                                                            tasks.c.updated_at < cutoff)).all()
            for r in rows:
                why = "no answer was recorded (the server may have restarted while sending): retry it"
                if conn.execute(tasks.update().where(tasks.c.id == r.id, tasks.c.status == "sent").values(
                        status="failed", last_error=why, updated_at=self.clock.now())).rowcount:
                    self._event(conn, r.id, shop_id, "failed", "system", why)
                    n += 1
        return n

    def list(self, shop_id: str, *, status: str | None = "open", draft_id: str | None = None,
             order_id: str | None = None, updated_since: datetime | None = None, limit: int = 100) -> list[Task]:
        """Oldest first: the list a warehouse works through."""
        if status is not None and status not in TASK_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(TASK_STATUSES)} or all", field="status")
        self.reap(shop_id)
        q = sa.select(tasks).where(tasks.c.shop_id == shop_id)
        if status:
            q = q.where(tasks.c.status == status)
        if draft_id:
            q = q.where(tasks.c.draft_id == draft_id)
        if order_id:
            q = q.where(tasks.c.order_id == order_id)
        if updated_since is not None:
            q = q.where(tasks.c.updated_at > updated_since)
        q = q.order_by(tasks.c.created_at, tasks.c.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            ids = [r.id for r in rows]
            evs = conn.execute(sa.select(task_events).where(task_events.c.task_id.in_(ids))
                               .order_by(task_events.c.id)).all() if ids else []
        by: dict[str, list[sa.Row]] = {}
        for e in evs:
            by.setdefault(e.task_id, []).append(e)
        return [_task(r, by.get(r.id, [])) for r in rows]

    def done_actions(self, shop_id: str, order_id: str) -> dict[str, str]:
        """What has been done for an order (the guard lets a reply say only these were done)."""
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(_DONE, {"shop": shop_id, "order": order_id}):
                if r.src == 0:
                    out.setdefault(r.kind, f"task:{r.id}")
                else:
                    out.setdefault("compensation_applied", f"approval:{r.id}")
        # Given = approved AND handed over (its task done), not merely approved.
        for kind in COMPENSATION:
            if kind in out:
                out.setdefault("compensation_granted", out.pop(kind))
        return out

    def _row(self, shop_id: str, task_id: str) -> sa.Row:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id, tasks.c.shop_id == shop_id)).first()
        if row is None:
            raise TaskNotFound(f"task {task_id!r} not found")
        return row

    def _event(self, conn: Connection, task_id: str, shop_id: str, event: str, actor: str | None,
               detail: str | None) -> None:
        conn.execute(task_events.insert().values(task_id=task_id, shop_id=shop_id, at=self.clock.now(), event=event,
                                                 actor=actor, detail=(detail or None) and detail[:1000]))


# done_actions' one statement (every draft runs it): the order's done tasks, oldest first, then its coupon or
# gift requests that are pending or approved.
_DONE = sa.union_all(
    sa.select(sa.literal(0).label("src"), tasks.c.id, tasks.c.kind, tasks.c.updated_at.label("at")).where(
        tasks.c.shop_id == sa.bindparam("shop"), tasks.c.order_id == sa.bindparam("order"), tasks.c.status == "done"),
    sa.select(sa.literal(1).label("src"), compensation_approvals.c.id, compensation_approvals.c.status,
              compensation_approvals.c.requested_at).where(
        compensation_approvals.c.shop_id == sa.bindparam("shop"), compensation_approvals.c.order_id == sa.bindparam("order"),
        compensation_approvals.c.status.in_(("pending", "approved"))),
).order_by("src", "at")


class _Failed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _task(row: sa.Row, evs: Sequence[sa.Row]) -> Task:
    return Task(id=row.id, draft_id=row.draft_id, order_id=row.order_id, kind=row.kind,
                label=_LABELS.get(row.kind, row.kind), executor=row.executor, status=row.status, reason=row.reason,
                facts=json.loads(row.facts_json) if row.facts_json else None, attempts=row.attempts,
                last_error=row.last_error, created_by=row.created_by,
                created_at=utc(row.created_at), updated_at=utc(row.updated_at),  # type: ignore[arg-type]
                events=[TaskEvent(at=utc(e.at), event=e.event, actor=e.actor, detail=e.detail)  # type: ignore[arg-type]
                        for e in evs])
