"""The short-TTL order-facts cache in front of pulled sources, shared by every worker.

A burst of urges about one order must cost one upstream call, across threads and across worker
processes (single flight): in a process, the first caller leads and the others wait for its
answer; across processes, the leader holds a lock in the shared backend (Redis ``SET NX PX``, or a
row in ``order_fetch_locks``) and the other workers wait for the entry it stores.

An entry is served without asking the source while it is younger than the TTL. When the source
fails, an older entry is used only while its facts are younger than the staleness limit: beyond
it the order is unavailable and the draft makes no status claims. Entries are bounded per shop
(the oldest go first).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.db import utc
from core.tables import order_cache, order_fetch_locks
from knowledge.errors import OrderUnavailable
from knowledge.orders import OrderFacts
from knowledge.sources.telemetry import SourceTelemetry

__all__ = ["Entry", "FactsCache", "RedisBackend", "SqlBackend", "build_backend"]

log = logging.getLogger("replydesk.sources.cache")


@dataclass(frozen=True)
class Entry:
    facts_json: str
    origin: str            # pull | push
    fetched_at: datetime   # when the source read the facts
    stored_at: datetime    # when this cache got them

    def facts(self) -> OrderFacts:
        return OrderFacts.model_validate_json(self.facts_json)


class Backend(Protocol):
    name: str

    def get(self, shop_id: str, order_id: str) -> Entry | None: ...
    def put(self, shop_id: str, order_id: str, entry: Entry) -> None: ...
    def delete(self, shop_id: str, order_id: str) -> None: ...
    def acquire(self, shop_id: str, order_id: str, owner: str, seconds: float) -> bool: ...
    def locked(self, shop_id: str, order_id: str) -> bool: ...
    def release(self, shop_id: str, order_id: str, owner: str) -> None: ...


class SqlBackend:
    """The database as the shared cache (SQLite or PostgreSQL), when Redis is not configured."""

    name = "database"

    def __init__(self, engine: Engine, clock: Clock, max_per_shop: int) -> None:
        self.engine, self.clock, self.max_per_shop = engine, clock, max_per_shop

    def get(self, shop_id: str, order_id: str) -> Entry | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(order_cache).where(order_cache.c.shop_id == shop_id,
                                                          order_cache.c.order_id == order_id)).first()
        if r is None:
            return None
        return Entry(r.facts_json, r.origin, utc(r.fetched_at), utc(r.stored_at))  # type: ignore[arg-type]

    def put(self, shop_id: str, order_id: str, entry: Entry) -> None:
        values = dict(facts_json=entry.facts_json, origin=entry.origin, fetched_at=entry.fetched_at,
                      stored_at=entry.stored_at)
        where = (order_cache.c.shop_id == shop_id, order_cache.c.order_id == order_id)
        inserted = False
        with self.engine.begin() as conn:
            if conn.execute(order_cache.update().where(*where).values(**values)).rowcount == 0:
                try:
                    with conn.begin_nested():
                        conn.execute(order_cache.insert().values(shop_id=shop_id, order_id=order_id, **values))
                    inserted = True
                except IntegrityError:  # another worker inserted it meanwhile
                    conn.execute(order_cache.update().where(*where).values(**values))
        if inserted:
            self._trim(shop_id)

    def _trim(self, shop_id: str) -> None:
        with self.engine.begin() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(order_cache)
                             .where(order_cache.c.shop_id == shop_id)).scalar_one()
            if n <= self.max_per_shop:
                return
            oldest = sa.select(order_cache.c.order_id).where(order_cache.c.shop_id == shop_id) \
                .order_by(order_cache.c.stored_at).limit(n - self.max_per_shop)
            ids = [r.order_id for r in conn.execute(oldest)]
            conn.execute(order_cache.delete().where(order_cache.c.shop_id == shop_id,
                                                    order_cache.c.order_id.in_(ids)))

    def delete(self, shop_id: str, order_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(order_cache.delete().where(order_cache.c.shop_id == shop_id,
                                                    order_cache.c.order_id == order_id))

    def acquire(self, shop_id: str, order_id: str, owner: str, seconds: float) -> bool:
        # The lock's expiry is wall time (other workers read it), not the injected clock.
        now = datetime.now(tz=self.clock.now().tzinfo)
        until = now + timedelta(seconds=seconds)
        where = (order_fetch_locks.c.shop_id == shop_id, order_fetch_locks.c.order_id == order_id)
        try:
            with self.engine.begin() as conn:
                conn.execute(order_fetch_locks.insert().values(shop_id=shop_id, order_id=order_id, owner=owner,
                                                               expires_at=until))
            return True
        except IntegrityError:
            with self.engine.begin() as conn:  # take over a lock whose holder died
                res = conn.execute(order_fetch_locks.update().where(*where, order_fetch_locks.c.expires_at < now)
                                   .values(owner=owner, expires_at=until))
                return bool(res.rowcount == 1)

    def locked(self, shop_id: str, order_id: str) -> bool:
        now = datetime.now(tz=self.clock.now().tzinfo)
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(order_fetch_locks.c.expires_at).where(
                order_fetch_locks.c.shop_id == shop_id, order_fetch_locks.c.order_id == order_id)).first()
        return r is not None and utc(r.expires_at) > now  # type: ignore[operator]

    def release(self, shop_id: str, order_id: str, owner: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(order_fetch_locks.delete().where(
                order_fetch_locks.c.shop_id == shop_id, order_fetch_locks.c.order_id == order_id,
                order_fetch_locks.c.owner == owner))


_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class RedisBackend:
    """Redis as the shared cache. ``namespace`` keeps databases apart on one Redis server."""

    name = "redis"

    def __init__(self, client: Any, namespace: str, max_per_shop: int, keep_s: float) -> None:
        self.r, self.ns, self.max_per_shop, self.keep_s = client, namespace, max_per_shop, keep_s
        self._release = client.register_script(_RELEASE)

    def _k(self, kind: str, shop_id: str, order_id: str = "") -> str:
        return f"{self.ns}:{kind}:{len(shop_id)}:{shop_id}:{order_id}"

    def get(self, shop_id: str, order_id: str) -> Entry | None:
        raw = self.r.get(self._k("oc", shop_id, order_id))
        if raw is None:
            return None
        d = json.loads(raw)
        return Entry(d["facts_json"], d["origin"], datetime.fromisoformat(d["fetched_at"]),
                     datetime.fromisoformat(d["stored_at"]))

    def put(self, shop_id: str, order_id: str, entry: Entry) -> None:
        key, idx = self._k("oc", shop_id, order_id), self._k("ox", shop_id)
        payload = json.dumps({"facts_json": entry.facts_json, "origin": entry.origin,
                              "fetched_at": entry.fetched_at.isoformat(), "stored_at": entry.stored_at.isoformat()})
        pipe = self.r.pipeline()
        pipe.set(key, payload, ex=max(60, int(self.keep_s)))
        pipe.zadd(idx, {key: entry.stored_at.timestamp()})
        pipe.zcard(idx)
        n = int(pipe.execute()[-1])
        if n > self.max_per_shop:
            evicted = [k for k, _ in self.r.zpopmin(idx, n - self.max_per_shop)]
            if evicted:
                self.r.delete(*evicted)

    def delete(self, shop_id: str, order_id: str) -> None:
        key = self._k("oc", shop_id, order_id)
        self.r.delete(key)
        self.r.zrem(self._k("ox", shop_id), key)

    def acquire(self, shop_id: str, order_id: str, owner: str, seconds: float) -> bool:
        return bool(self.r.set(self._k("ol", shop_id, order_id), owner, nx=True, px=int(seconds * 1000)))

    def locked(self, shop_id: str, order_id: str) -> bool:
        return bool(self.r.exists(self._k("ol", shop_id, order_id)))

    def release(self, shop_id: str, order_id: str, owner: str) -> None:
        self._release(keys=[self._k("ol", shop_id, order_id)], args=[owner])


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.facts: OrderFacts | None = None
        self.error: BaseException | None = None


class FactsCache:
    def __init__(self, backend: Backend, clock: Clock, *, ttl_s: float, max_age_s: float,
                 telemetry: SourceTelemetry | None = None, wait_s: float = 5.0, poll_s: float = 0.01,
                 lock_s: float = 10.0) -> None:
        self.backend, self.clock, self.ttl_s, self.max_age_s = backend, clock, ttl_s, max_age_s
        self.telemetry = telemetry or SourceTelemetry()
        self.wait_s, self.poll_s, self.lock_s = wait_s, poll_s, lock_s
        self._flights: dict[tuple[str, str], _Flight] = {}
        self._lock = threading.Lock()

    def _fresh(self, e: Entry | None) -> bool:
        return e is not None and (self.clock.now() - e.stored_at).total_seconds() < self.ttl_s

    def usable(self, e: Entry | None) -> bool:
        return e is not None and (self.clock.now() - e.fetched_at).total_seconds() <= self.max_age_s

    def _read(self, shop_id: str, order_id: str) -> Entry | None:
        try:
            return self.backend.get(shop_id, order_id)
        except Exception as exc:  # the cache is an optimisation: a broken one must not stop drafting
            log.warning("order cache (%s) unreadable: %s", self.backend.name, type(exc).__name__)
            return None

    def get(self, shop_id: str, order_id: str, kind: str, fetch: Callable[[], OrderFacts]) -> OrderFacts:
        e = self._read(shop_id, order_id)
        if self._fresh(e):
            self.telemetry.cache(kind, "hit" if e.origin == "pull" else "push")  # type: ignore[union-attr]
            return e.facts()  # type: ignore[union-attr]
        key = (shop_id, order_id)
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            if not flight.done.wait(self.wait_s):
                raise OrderUnavailable("the order source is still answering another request", code="cache:wait")
            if flight.error is not None:
                raise flight.error
            self.telemetry.cache(kind, "coalesced")
            assert flight.facts is not None
            return flight.facts
        try:
            facts, result = self._lead(shop_id, order_id, fetch, e)
            flight.facts = facts
            self.telemetry.cache(kind, result)
            return facts
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def _lead(self, shop_id: str, order_id: str, fetch: Callable[[], OrderFacts],
              seen: Entry | None) -> tuple[OrderFacts, str]:
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                mine = self.backend.acquire(shop_id, order_id, owner, self.lock_s)
            except Exception as exc:
                log.warning("order cache (%s) cannot lock: %s", self.backend.name, type(exc).__name__)
                return self._fetch_and_store(shop_id, order_id, fetch, seen, store=False)
            if mine:
                try:
                    e = self._read(shop_id, order_id)
                    if self._fresh(e):  # another worker stored it between our read and our lock
                        return e.facts(), "coalesced"  # type: ignore[union-attr]
                    return self._fetch_and_store(shop_id, order_id, fetch, e or seen)
                finally:
                    try:
                        self.backend.release(shop_id, order_id, owner)
                    except Exception:
                        log.warning("order cache (%s): lock not released; it expires", self.backend.name)
            # Another worker is asking the source: wait for the entry it stores.
            while time.monotonic() < deadline:
                time.sleep(self.poll_s)
                e = self._read(shop_id, order_id)
                if self._fresh(e) and (seen is None or e.stored_at != seen.stored_at):  # type: ignore[union-attr]
                    return e.facts(), "coalesced"  # type: ignore[union-attr]
                if not self.backend.locked(shop_id, order_id):
                    break  # it finished without storing (it failed): ask ourselves
            else:
                if self.usable(seen):
                    return seen.facts(), "stale"  # type: ignore[union-attr]
                raise OrderUnavailable("another worker is still asking the order source", code="cache:wait")

    def _fetch_and_store(self, shop_id: str, order_id: str, fetch: Callable[[], OrderFacts], old: Entry | None,
                         *, store: bool = True) -> tuple[OrderFacts, str]:
        try:
            facts = fetch()
        except OrderUnavailable:
            if self.usable(old):
                log.info("order source failed; serving facts fetched at %s", old.fetched_at)  # type: ignore[union-attr]
                return old.facts(), "stale"  # type: ignore[union-attr]
            raise
        if store:
            self.put(shop_id, facts, origin="pull")
        return facts, "miss"

    def put(self, shop_id: str, facts: OrderFacts, *, origin: str) -> None:
        now = self.clock.now()
        fetched = facts.fetched_at or now
        entry = Entry(facts.model_dump_json(), origin, min(fetched, now), now)
        try:
            self.backend.put(shop_id, facts.order_id, entry)
        except Exception as exc:
            if origin == "push":
                raise  # a pushed update that was not stored must be retried by its sender
            log.warning("order cache (%s) not written: %s", self.backend.name, type(exc).__name__)

    def invalidate(self, shop_id: str, order_id: str) -> None:
        self.backend.delete(shop_id, order_id)

    def entry(self, shop_id: str, order_id: str) -> Entry | None:
        return self._read(shop_id, order_id)


def build_backend(kind: str, *, redis_url: str | None, engine: Engine, clock: Clock, max_per_shop: int,
                  keep_s: float) -> Backend:
    """Redis when configured and answering (kind "auto" or "redis"), else the database.

    Keys are namespaced by the database URL: two deployments (or test runs) sharing one Redis server
    never see each other's orders.
    """
    import hashlib

    if kind in ("auto", "redis") and redis_url:
        try:
            import redis

            client = redis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=0.5)
            client.ping()
            ns = "replydesk:" + hashlib.sha256(engine.url.render_as_string(hide_password=False).encode()).hexdigest()[:12]
            return RedisBackend(client, ns, max_per_shop, keep_s)
        except Exception as exc:
            if kind == "redis":
                raise OrderUnavailable(f"the order cache's Redis cannot be reached ({type(exc).__name__})",
                                       code="cache:redis") from exc
            log.warning("order cache: Redis unavailable (%s); using the database", type(exc).__name__)
    return SqlBackend(engine, clock, max_per_shop)
