"""``replydesk demo seed``: the demo shop, its knowledge base, its orders and two keys."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from api.container import Container
from knowledge.demo_data import DEMO_KB, DEMO_NAME, DEMO_SETTINGS, demo_orders

KEYS_FILE = "demo-keys.txt"


@dataclass
class SeedReport:
    seeded: bool
    keys: dict[str, str]
    orders: int
    knowledge: int


def seed_demo(c: Container, shop_id: str = "demo", *, force: bool = False) -> SeedReport:
    """Seed once; later calls only read back the demo keys (stored keys are hashes, so we keep the
    plaintext in ``DATA_DIR/demo-keys.txt`` with mode 0600)."""
    keys_path = c.settings.data_dir / KEYS_FILE
    keys = read_keys(keys_path)
    already = c.shops.exists(shop_id) and keys and all(c.keys.authenticate(k) for k in keys.values())
    if already and not force:
        return SeedReport(False, keys, len(c.orders.list(shop_id)), len(c.knowledge.list(shop_id)))

    c.shops.ensure(shop_id, name=DEMO_NAME, settings=DEMO_SETTINGS)
    settings = c.shops.get(shop_id).settings
    for facts, _note in demo_orders(c.clock.now(), settings):
        c.orders.put(shop_id, facts)
    if DEMO_KB.is_dir():
        from knowledge.importer import import_dir

        import_dir(c.service, shop_id, DEMO_KB) if c.service is not None else None
    keys = {}
    for role in ("agent", "manager"):
        _, secret = c.keys.create(shop_id, role, label=f"demo {role}")
        keys[role] = secret
    write_keys(keys_path, keys)
    return SeedReport(True, keys, len(c.orders.list(shop_id)), len(c.knowledge.list(shop_id)))


def read_keys(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        role, _, key = line.partition(" key: ")
        if key:
            out[role.strip()] = key.strip()
    return out


def write_keys(path: Path, keys: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        for role, key in keys.items():
            fh.write(f"{role} key: {key}\n")
    os.chmod(path, 0o600)


ENV_FILE = "demo.env"


def write_env(data_dir: Path, url: str, keys: dict[str, str]) -> Path:
    """``DATA_DIR/demo.env`` (mode 0600): the URL and keys as shell variables, so the README's curl lines
    work when pasted after ``. data/demo.env`` (whatever port ``make run`` used)."""
    path = data_dir / ENV_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# written by `replydesk serve --demo` (make run); read it with: . " + str(path) + "\n")
        fh.write(f"RD_URL={url}\n")
        for role, key in keys.items():
            fh.write(f"{role.upper()}_KEY={key}\n")
    os.chmod(path, 0o600)
    return path
