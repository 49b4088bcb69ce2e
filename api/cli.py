"""The ``replydesk`` command line (Typer). Every command builds its services from the one settings class."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import ReplydeskError
from core.settings import Settings

app = typer.Typer(help="replydesk: honest reply drafts for e-commerce customer service.", no_args_is_help=True)
demo_app = typer.Typer(help="The demo shop.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
kb_app = typer.Typer(help="The knowledge base (policies, notices) and its index.", no_args_is_help=True)
orders_app = typer.Typer(help="Orders: the shop's order source, its store, and checks.", no_args_is_help=True)
shops_app = typer.Typer(help="Shops: create and list them.", no_args_is_help=True)
prompts_app = typer.Typer(help="Prompt files and phrasebooks.", no_args_is_help=True)
llm_app = typer.Typer(help="The model-call log of the LLM composer.", no_args_is_help=True)
insights_app = typer.Typer(help="Urge insights: where urges come from, surges, response times.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")
app.add_typer(keys_app, name="keys")
app.add_typer(kb_app, name="kb")
app.add_typer(orders_app, name="orders")
app.add_typer(shops_app, name="shops")
app.add_typer(prompts_app, name="prompts")
app.add_typer(llm_app, name="llm")
app.add_typer(insights_app, name="insights")

Shop = Annotated[str, typer.Option("--shop", help="Shop id.")]


def _fail(msg: str, code: int = 1) -> None:
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextmanager
def _container(with_index: bool = True) -> Any:
    from api.container import Container

    c = Container.build(Settings(), with_index=with_index)
    try:
        yield c
    except ReplydeskError as exc:
        _fail(exc.message)
    finally:
        c.close()


# -- serve --------------------------------------------------------------------------------------

def _port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not an address here), or None. Checked before
    anything else, so a busy port fails at once, not after migrations and loading the index."""
    import socket

    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        return f"cannot resolve {host!r}: {exc.strerror}"
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a TIME_WAIT port is free
        try:
            s.bind(addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _announce_when_ready(url: str, keys: dict[str, str], env_file: Path | None, timeout_s: float = 300) -> None:
    """Print the URL (and the demo keys) once /healthz answers: the last lines a new user sees."""
    import time

    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        return
    lines = ["", "replydesk is ready", f"  review queue:  {url}/review", f"  knowledge:     {url}/kb",
             f"  API docs:      {url}/docs"]
    if env_file is not None:
        lines.append(f"  (also in {env_file}: `. {env_file}` sets RD_URL, AGENT_KEY and MANAGER_KEY for the "
                     "README's curl lines)")
    lines += [f"{role} key: {key}" for role, key in keys.items()]  # the very last lines
    print("\n".join(lines), flush=True)


@app.command()
def serve(host: str = "127.0.0.1", port: Annotated[int | None, typer.Option(help="Default: REPLYDESK_PORT")] = None,
          workers: int = 1,
          demo: Annotated[bool, typer.Option("--demo", help="Seed the demo shop (first time) and print its URL and "
                                                          "keys last, once the server answers (make run)")] = False,
          ) -> None:
    """Run the HTTP API. The database is migrated here, once, before the workers start."""
    import os
    import threading

    import uvicorn

    from api import logs
    from core.db import make_engine, migrate

    settings = Settings()
    port = port or settings.port
    if workers > 1 and not settings.chroma_url:
        _fail("embedded Chroma is not process-safe: several workers need REPLYDESK_CHROMA_URL (and PostgreSQL)")
    problem = _port_problem(host, port)
    if problem:
        _fail(f"cannot listen on {host}:{port}: {problem}. Is replydesk (or something else) already running "
              f"there? Stop it, or choose another port: --port N or REPLYDESK_PORT=N")
    logs.configure()  # the migration's log lines, like every worker's, carry the request-id format
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    try:
        revision = migrate(engine)
        from knowledge.fulltext import backfill

        if n := backfill(engine):  # items written before migration 0010 get their search rows, once
            typer.echo(f"knowledge search rows written for {n} items")
    finally:
        engine.dispose()
    typer.echo(f"database schema at {revision}")
    keys: dict[str, str] = {}
    env_file: Path | None = None
    public = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # what a browser on this machine opens
    if demo:
        from api.seed import seed_demo, write_env

        with _container() as c:
            rep = seed_demo(c, "demo")
            if rep.seeded:
                typer.echo(f"seeded shop 'demo': {rep.orders} orders, {rep.knowledge} knowledge items")
            keys = {role: rep.keys[role] for role in ("agent", "manager") if role in rep.keys}
        env_file = write_env(settings.data_dir, f"http://{public}:{port}", keys)
    # The workers (spawned processes, or this one with --workers 1) read their settings from the
    # environment: tell them the migrations are done, so N workers never race to run them.
    os.environ["REPLYDESK_MIGRATE_ON_START"] = "false"
    threading.Thread(target=_announce_when_ready, args=(f"http://{public}:{port}", keys, env_file),
                     name="announce", daemon=True).start()
    # access_log off: the app logs every request itself, with its request id (api.app.RequestLimits).
    # A worker answers uvicorn's health ping from a thread; while it imports the model stack on a busy
    # machine that can take longer than uvicorn's 5 s, and the supervisor then kills and respawns it, over
    # and over (seen at load 8 on 2 cores: no worker ever came up). 60 s still catches a hung worker.
    uvicorn.run("api.main:app", host=host, port=port, workers=workers, log_level="info",
                timeout_graceful_shutdown=20, access_log=False, timeout_worker_healthcheck=60)


# -- demo ---------------------------------------------------------------------------------------

@demo_app.command("seed")
def demo_seed(shop: Shop = "demo", force: bool = typer.Option(False, help="Seed again even if seeded.")) -> None:
    """Create the demo shop, knowledge base, orders and keys (once); print the keys."""
    from api.seed import seed_demo

    with _container() as c:
        rep = seed_demo(c, shop, force=force)
        if rep.seeded:
            typer.echo(f"seeded shop {shop!r}: {rep.orders} orders, {rep.knowledge} knowledge items")
        for role in ("agent", "manager"):
            if role in rep.keys:
                typer.echo(f"{role} key: {rep.keys[role]}")


@demo_app.command("orders")
def demo_orders_cmd(shop: Shop = "demo") -> None:
    """One order per line: id, status, what it shows."""
    from knowledge.demo_data import demo_orders

    with _container(with_index=False) as c:
        notes = {f.order_id: n for f, n in demo_orders(c.clock.now(), c.shops.get(shop).settings)}
        for f in c.orders.list(shop):
            typer.echo(f"{f.order_id}\t{f.status.value if f.status else '-'}\t{notes.get(f.order_id, '')}")


# -- orders -------------------------------------------------------------------------------------

@orders_app.command("show")
def orders_show(order_id: str, shop: Shop = "demo") -> None:
    with _container(with_index=False) as c:
        typer.echo(c.orders.get(shop, order_id).model_dump_json(indent=2))


@orders_app.command("update")
def orders_update(order_id: str, patch: Annotated[str, typer.Argument(help="JSON merge patch")],
                  shop: Shop = "demo") -> None:
    """Change an order's live facts, e.g. '{"status": "WAIT_BUYER_CONFIRM_GOODS"}'."""
    try:
        body = json.loads(patch)
    except json.JSONDecodeError as exc:
        _fail(f"the patch is not valid JSON: {exc.msg}", 2)
    with _container(with_index=False) as c:
        typer.echo(c.orders.update(shop, order_id, body).model_dump_json(indent=2))


@orders_app.command("keygen")
def orders_keygen() -> None:
    """Print a new REPLYDESK_SECRET_KEY (the key that encrypts order-source credentials at rest)."""
    from knowledge.sources.secretbox import new_key

    typer.echo(new_key())


@orders_app.command("connect")
def orders_connect(
    shop: Annotated[str, typer.Option("--shop", help="Shop id.")],
    source: Annotated[str, typer.Option("--source", help="store | taobao | jushuitan | http")],
    url: Annotated[str | None, typer.Option(help="http: the endpoint; GET URL/{order_id} answers order facts")] = None,
    hmac_secret: Annotated[str | None, typer.Option("--hmac-secret", help="http: sign requests with this")] = None,
    mapping: Annotated[Path | None, typer.Option(help="http: a JSON field mapping file")] = None,
    app_key: Annotated[str | None, typer.Option("--app-key", help="taobao/jushuitan: the app key")] = None,
    app_secret: Annotated[str | None, typer.Option("--app-secret", help="taobao/jushuitan: the app secret")] = None,
    session: Annotated[str | None, typer.Option(help="taobao: the shop's session key")] = None,
    sign_method: Annotated[str, typer.Option("--sign-method", help="taobao: md5 | hmac | hmac-sha256")] = "md5",
    gateway: Annotated[str | None, typer.Option(help="taobao: gateway URL (default the official one)")] = None,
    no_trace: Annotated[bool, typer.Option("--no-trace", help="taobao: do not read parcel traces")] = False,
    access_token: Annotated[str | None, typer.Option("--access-token", help="jushuitan: access token")] = None,
    refresh_token: Annotated[str | None, typer.Option("--refresh-token", help="jushuitan: refresh token")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="jushuitan: API base URL")] = None,
    events_secret: Annotated[str | None, typer.Option("--events-secret",
                                                      help="secret that signs pushed order events")] = None,
) -> None:
    """Connect a shop's orders to a source. Credentials are stored encrypted and never printed."""
    settings: dict[str, Any] = {}
    secrets: dict[str, str | None] = {}
    if source == "http":
        if not url:
            _fail("--source http needs --url URL", 2)
        settings = {"url": url}
        if mapping is not None:
            try:
                settings["mapping"] = json.loads(mapping.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                _fail(f"cannot read the mapping {mapping}: {exc}", 2)
        secrets = {"hmac_secret": hmac_secret}
    elif source == "taobao":
        settings = {"app_key": app_key, "sign_method": sign_method, "trace": not no_trace,
                    **({"gateway_url": gateway} if gateway else {})}
        secrets = {"app_secret": app_secret, "session": session}
    elif source == "jushuitan":
        settings = {"app_key": app_key, **({"base_url": base_url} if base_url else {})}
        secrets = {"app_secret": app_secret, "access_token": access_token, "refresh_token": refresh_token}
    elif source != "store":
        _fail("--source must be store, taobao, jushuitan or http", 2)
    with _container(with_index=False) as c:
        configs = c.sources.configs
        rec = configs.connect(shop, source, {k: v for k, v in settings.items() if v is not None}, secrets,
                              author="cli")
        if events_secret:
            rec = configs.set_events_secret(shop, events_secret, author="cli")
        pub = rec.public(configs.box)
        typer.echo(f"shop {shop}: orders from {pub['kind']} (revision {pub['revision']}); credentials set: "
                   f"{', '.join(pub['secrets_set']) or 'none'}; events secret: "
                   f"{'set' if pub['events_secret_set'] else 'not set'}")


@orders_app.command("events-secret")
def orders_events_secret(shop: Annotated[str, typer.Option("--shop", help="Shop id.")]) -> None:
    """Create (or replace) the secret that signs the shop's pushed order events; printed once, last line."""
    import secrets as pysecrets

    with _container(with_index=False) as c:
        secret = pysecrets.token_urlsafe(32)
        c.sources.configs.set_events_secret(shop, secret, author="cli")
        typer.echo(f"new events secret for shop {shop} (shown once):", err=True)
        typer.echo(secret)


@orders_app.command("check")
def orders_check(order_id: str, shop: Shop = "demo") -> None:
    """Read one order from the shop's source now: the normalised facts and the raw mapping."""
    with _container(with_index=False) as c:
        c.shops.get(shop)
        typer.echo(json.dumps(c.sources.check(shop, order_id), ensure_ascii=False, indent=2, default=str))


# -- shops --------------------------------------------------------------------------------------

@shops_app.command("create")
def shops_create(shop_id: str, name: Annotated[str | None, typer.Option(help="Display name")] = None,
                 settings: Annotated[Path | None, typer.Option(help="Shop settings JSON file")] = None) -> None:
    """Create a shop (its settings from FILE, or the defaults)."""
    import re

    from pydantic import ValidationError

    from knowledge.shop_settings import ShopSettings

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", shop_id):
        _fail("a shop id is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", 2)
    parsed = None
    if settings is not None:
        try:
            parsed = ShopSettings.model_validate(json.loads(settings.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            _fail(f"cannot read {settings}: {exc}", 2)
        except ValidationError as exc:
            err = exc.errors()[0]
            _fail(f"{settings}: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}", 2)
    with _container(with_index=False) as c:
        if c.shops.exists(shop_id):
            _fail(f"shop {shop_id!r} already exists", 1)
        shop_rec = c.shops.ensure(shop_id, name=name, settings=parsed)
        typer.echo(f"created shop {shop_rec.id} ({shop_rec.name})")


@shops_app.command("list")
def shops_list() -> None:
    """One shop per line: id, name, settings revision, order source."""
    with _container(with_index=False) as c:
        for s in c.shops.list():
            rec = c.sources.configs.get(s.id)
            typer.echo(f"{s.id}\t{s.name}\tsettings rev {s.settings_revision}\t"
                       f"orders: {rec.kind if rec else 'store'}")


# -- keys ---------------------------------------------------------------------------------------

@keys_app.command("create")
def keys_create(shop: Shop = "demo", role: Annotated[str, typer.Option(help="agent|extension|manager|admin")] = "agent",
                label: str | None = None) -> None:
    """Create a key; the key itself is the last line printed (it is shown only once)."""
    with _container(with_index=False) as c:
        rec, secret = c.keys.create(shop, role, label=label)
        typer.echo(f"created key {rec.id} ({rec.role}) for shop {rec.shop_id}", err=True)
        typer.echo(secret)


@keys_app.command("list")
def keys_list(shop: Annotated[str | None, typer.Option("--shop")] = None) -> None:
    with _container(with_index=False) as c:
        for k in c.keys.list(shop):
            state = "revoked" if k.revoked_at else ("expires " + k.expires_at.isoformat() if k.expires_at else "active")
            typer.echo(f"{k.id}\t{k.shop_id}\t{k.role}\t{state}\t{k.label or ''}")


@keys_app.command("revoke")
def keys_revoke(key_id: str) -> None:
    with _container(with_index=False) as c:
        k = c.keys.revoke(key_id)
        typer.echo(f"revoked {k.id}")


# -- knowledge ----------------------------------------------------------------------------------

def _run_job(c: Any, job_id: str, *, wait: bool) -> Any:
    """Enqueue a knowledge base job and follow it with a progress bar (Ctrl-C stops following, not the job).

    Without Redis there is no worker to hand it to: it runs here, in the foreground."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from knowledge.jobs import run

    queue = c.queue(background=False)
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        job = c.jobs.get(job_id)
        task = bar.add_task(f"{job.kind} {job.id}", total=None)
        if queue.kind == "inline":
            try:
                run(job_id, c.jobs, c.service, progress=lambda done, total: bar.update(task, completed=done, total=total))
            except Exception as e:
                c.jobs.fail(job_id, f"{type(e).__name__}: {e}", retrying=False)
                raise
            return c.jobs.get(job_id)
        queue.enqueue(job_id)
        console.print(f"job {job_id} queued for `replydesk worker` (queue {c.settings.jobs_queue})")
        if not wait:
            return job
        try:
            while job.status not in ("done", "failed"):
                time.sleep(0.5)
                job = c.jobs.get(job_id)
                bar.update(task, completed=job.done, total=job.total,
                           description=f"{job.kind} {job.id} ({job.status}, attempt {job.attempts})")
        except KeyboardInterrupt:
            console.print(f"stopped following; the job goes on: GET /v1/jobs/{job_id}")
            raise typer.Exit(0) from None
    if job.status == "failed":
        _fail(f"job {job_id} failed: {job.error}")
    return job


Wait = Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the job until it ends (default).")]


@kb_app.command("import")
def kb_import(directory: Path, shop: Shop = "demo", wait: Wait = True) -> None:
    """Import Markdown files with YAML front matter (idempotent by id; all or nothing), as a job."""
    from zoneinfo import ZoneInfo

    from knowledge.importer import parse_dir, payload_from_parsed

    if not directory.is_dir():
        _fail(f"{directory} is not a directory", 2)
    with _container() as c:
        parsed = parse_dir(directory, ZoneInfo("Asia/Shanghai"))  # every file validated here, before anything is queued
        job = c.jobs.create("import", shop, payload=payload_from_parsed(parsed))
        job = _run_job(c, job.id, wait=wait)
        if job.status == "done":
            typer.echo(json.dumps({k: job.result[k] for k in ("created", "updated", "unchanged")},
                                  ensure_ascii=False))
        else:
            typer.echo(job.id)


@kb_app.command("export")
def kb_export(directory: Path, shop: Shop = "demo") -> None:
    """Write every current item as <id>.md."""
    from knowledge.importer import export_dir

    with _container() as c:
        n = export_dir(c.service, shop, directory)
        typer.echo(f"exported {n} items to {directory}")


@kb_app.command("list")
def kb_list(shop: Shop = "demo") -> None:
    with _container(with_index=False) as c:
        for d in c.knowledge.list(shop):
            window = ""
            if d.valid_from or d.valid_to:
                window = f"\t{d.valid_from.isoformat() if d.valid_from else ''}..{d.valid_to.isoformat() if d.valid_to else ''}"
            typer.echo(f"{d.id}\t{d.kind}\trev {d.revision}\t{d.title}{window}")


@kb_app.command("reindex")
def kb_reindex(shop: Annotated[str | None, typer.Option("--shop", help="Default: every shop")] = None,
               wait: Wait = True) -> None:
    """Rebuild the search rows and vectors from SQL (the source of truth), as a job, with a progress bar."""
    with _container() as c:
        job = c.jobs.create("reindex", shop)
        job = _run_job(c, job.id, wait=wait)
        if job.status == "done":
            typer.echo(f"indexed {job.result['chunks']} chunks")
        else:
            typer.echo(job.id)


@app.command()
def worker(burst: Annotated[bool, typer.Option("--burst", help="Exit when the queue is empty")] = False,
           name: Annotated[str | None, typer.Option(help="Worker name (default: rq's)")] = None) -> None:
    """Run knowledge base jobs (reindex, import) from the Redis queue until stopped."""
    from core.db import make_engine, migrate
    from knowledge.job_queue import work

    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    engine.dispose()
    try:
        work(settings, burst=burst, name=name)
    except RuntimeError as e:
        _fail(str(e), 2)


@kb_app.command("check")
def kb_check(shop: Annotated[str | None, typer.Option("--shop")] = None) -> None:
    """Report drift between SQL and the index (exit 1 when there is some)."""
    with _container() as c:
        rep = c.service.check(shop)
        typer.echo(json.dumps(rep, ensure_ascii=False, indent=2, default=str))
        if not rep.get("ok", True):
            raise typer.Exit(1)


# -- drafting -----------------------------------------------------------------------------------

@app.command()
def draft(message: str, order: Annotated[str, typer.Option("--order", help="Order id")],
          context: Annotated[Path | None, typer.Option(help="JSON file: [{role, text}]")] = None,
          shop: Shop = "demo",
          store: bool = typer.Option(False, "--store", help="Store it as pending for review, as the API does")) -> None:
    """Draft a reply and print the draft result as JSON (not stored unless --store)."""
    from pydantic import ValidationError

    from drafter.create import create_draft
    from drafter.request import DraftRequest

    ctx = []
    if context:
        try:
            ctx = json.loads(context.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            _fail(f"cannot read context {context}: {exc}", 2)
    try:
        req = DraftRequest(order_id=order, message=message, context=ctx)
    except ValidationError as exc:
        _fail(str(exc.errors()[0]["msg"]), 2)
    with _container() as c:
        c.shops.get(shop)
        created = create_draft(req, shop, c.draft_services(), c.review if store else None, author=None,
                               default_composer=c.settings.composer)
        typer.echo((created.item or created.result).model_dump_json(indent=2))


@app.command("eval")
def eval_cmd(scenarios: Path, out: Annotated[Path, typer.Option("--out")],
             composer: str = "template", prompt: Annotated[str | None, typer.Option(help="NAME@VERSION")] = None,
             strict: bool = False, retrieval: bool = typer.Option(True, help="Use the vector+BM25 retriever")) -> None:
    """Replay scenarios, each in isolation; write one result per line. --strict: exit 2 on a violation."""
    from tqdm import tqdm

    from drafter.evaluate import read_scenarios, run_eval

    if composer not in ("template", "llm"):
        _fail(f"composer must be template or llm, not {composer!r}", 2)
    if not scenarios.is_file():
        _fail(f"{scenarios} not found", 2)
    llm = _llm() if composer == "llm" else None
    try:
        items = [s for _, s in read_scenarios(scenarios)]
    except ReplydeskError as exc:
        _fail(exc.message, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    llm_stats: list[Any] = []
    with out.open("w", encoding="utf-8") as fh, tqdm(total=len(items), desc="eval", file=sys.stderr) as bar:
        def write(line: dict[str, Any]) -> None:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")

        summary = run_eval(items, write, retrieval=retrieval, progress=bar.update, composer=composer,
                           prompt=prompt, llm=llm, on_result=lambda _sc, r: llm_stats.append(r))
    d = summary.as_dict()
    typer.echo(f"drafted {d['drafted']}/{d['total']}; must {d['must_ok']}/{d['must_total']} "
               f"({d['must_share']:.0%}); must_not violations: {len(d['violations'])}; errors: {len(d['errors'])}")
    for v in d["violations"]:
        typer.echo(f"  VIOLATION {v['id']}: {', '.join(v['violations'])}")
    for m in d["missing"]:
        typer.echo(f"  missing   {m['id']}: {m['must']}")
    for e in d["errors"]:
        typer.echo(f"  ERROR     {e['id']}: {e['error']}")
    if composer == "llm" and llm_stats:
        from drafter.compare import row

        typer.echo(json.dumps(row(prompt or Settings().llm_prompt, llm_stats, d), ensure_ascii=False))
    if d["errors"] or d["drafted"] != d["total"]:
        raise typer.Exit(1)
    if strict and d["violations"]:
        raise typer.Exit(2)


def _llm() -> Any:
    from core.clock import SystemClock
    from drafter.llm import LLMClient, LLMError

    try:
        return LLMClient(Settings(), SystemClock())
    except LLMError as exc:
        _fail(str(exc), 2)


@prompts_app.command("compare")
def prompts_compare(a: str, b: str, scenarios: Annotated[Path | None, typer.Argument()] = None,
                    from_log: bool = typer.Option(False, "--from-log", help="Also replay cases from the feedback log"),
                    shop: Shop = "demo", retrieval: bool = True, as_json: Annotated[bool, typer.Option("--json")] = False,
                    exemplars: Annotated[Path | None, typer.Option(
                        "--exemplars", help="A seeded log of approved replies (scenario lines with approved_reply): "
                                            "prompts that take exemplars also run with them")] = None,
                    ) -> None:
    """Run two prompt versions (NAME@VERSION) on the same scenarios and print a comparison table."""
    from drafter.compare import compare, scenarios_from_log, table
    from drafter.evaluate import read_scenarios
    from prompts.loader import load_prompt, parse_prompt_ref

    for ref in (a, b):
        try:
            load_prompt(*parse_prompt_ref(ref))
        except ReplydeskError as exc:
            _fail(exc.message, 2)
    items: list[dict[str, Any]] = []
    if scenarios is not None:
        if not scenarios.is_file():
            _fail(f"{scenarios} not found", 2)
        items += [s for _, s in read_scenarios(scenarios)]
    if from_log:
        with _container(with_index=False) as c:
            items += scenarios_from_log(c.feedback.events(shop), c.shops.get(shop).settings.model_dump(mode="json"))
    if not items:
        _fail("no scenarios: give a scenario file and/or --from-log", 2)
    seeded = None
    if exemplars is not None:
        if not exemplars.is_file():
            _fail(f"{exemplars} not found", 2)
        seeded = [s for _, s in read_scenarios(exemplars)]
    rows = compare([a, b], items, llm=_llm(), retrieval=retrieval, exemplars=seeded)
    typer.echo(json.dumps(rows, ensure_ascii=False) if as_json else table(rows))


@llm_app.command("log")
def llm_log(draft: Annotated[str | None, typer.Option("--draft", help="Only this draft's calls")] = None,
            failed: Annotated[bool, typer.Option("--failed", help="Only calls whose text did not stand")] = False,
            shop: Annotated[str | None, typer.Option("--shop", help="Only this shop (default: all)")] = None,
            limit: int = 20, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Browse the model-call log (newest first): prompt, model, verdict, problems, output."""
    from drafter.llm_log import LLMCallLog

    with _container(with_index=False) as c:
        rows = LLMCallLog(c.engine, c.clock).list(shop, draft_id=draft, failed=failed, limit=limit)
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no model calls logged" + (f" for draft {draft}" if draft else ""))
    for r in rows:
        typer.echo(f"#{r['id']} {r['at']} draft={r['draft_id']} {r['attempt']} {r['prompt']} {r['model']} "
                   f"{r['verdict']} {r['duration_ms']:.0f} ms tokens={r['input_tokens']}+{r['output_tokens']}")
        for p in r["problems"]:
            typer.echo(f"    problem {p['kind']}: {p['text']}")
        if r["error"]:
            typer.echo(f"    error: {r['error']}")
        typer.echo("    output: " + (r["output"] or "").replace("\n", " ")[:300])


@llm_app.command("export")
def llm_export(shop: Shop = "demo", since: Annotated[str | None, typer.Option(help="ISO time with offset")] = None
               ) -> None:
    """The shop's logged model calls as JSON lines, oldest first, redacted (messages, outputs, problems)."""
    from datetime import datetime

    from drafter.llm_log import LLMCallLog

    start = datetime.fromisoformat(since) if since else None
    with _container(with_index=False) as c:
        for row in LLMCallLog(c.engine, c.clock).export(shop, start):
            typer.echo(json.dumps(row, ensure_ascii=False))


@llm_app.command("purge")
def llm_purge(days: Annotated[int | None, typer.Option(help="Retention in days (default: LLM_LOG_RETENTION_DAYS)")]
              = None) -> None:
    """Delete logged model calls older than the retention."""
    from drafter.llm_log import LLMCallLog

    with _container(with_index=False) as c:
        n = LLMCallLog(c.engine, c.clock).purge(days or c.settings.llm_log_retention_days)
    typer.echo(f"deleted {n} logged model calls")


@prompts_app.command("check")
def prompts_check() -> None:
    """Validate every phrasebook and prompt file and print its hash."""
    from prompts.loader import ROOT, list_prompts, load_phrasebook, load_prompt

    for path in sorted((ROOT / "phrasebooks").glob("*/*.yaml")):
        b = load_phrasebook(path.parent.name, path.stem)
        typer.echo(f"{b.name}@{b.version} [{b.language}] {b.hash}")
    for name, version in list_prompts():
        p = load_prompt(name, version)
        typer.echo(f"{p.name}@{p.version} {p.hash}")


# -- insights -----------------------------------------------------------------------------------

Since = Annotated[str | None, typer.Option("--since", help="ISO date or time; without an offset, in the shop's "
                                                           "timezone (default: 24 h before --until)")]
Until = Annotated[str | None, typer.Option("--until", help="ISO date or time (default: now)")]


@insights_app.command("report")
def insights_report(shop: Shop = "demo", since: Since = None, until: Until = None,
                    as_json: Annotated[bool, typer.Option("--json", help="The summary as JSON (as the API)")] = False
                    ) -> None:
    """The urge summary of a range: alerts, causes, breakdowns, repeat urgers, response times, approvals."""
    from drafter.insights.report import render_text

    with _container(with_index=False) as c:
        s = c.insights.summary(shop, c.insights.range(shop, since, until))
    typer.echo(json.dumps(s, ensure_ascii=False, indent=2) if as_json else render_text(s))


@insights_app.command("export")
def insights_export(out: Annotated[Path, typer.Option("--out", help="File to write (.csv or .jsonl)")],
                    shop: Shop = "demo", since: Since = None, until: Until = None) -> None:
    """Urge events (no buyer text) as CSV or JSON Lines, by the file's extension; default range: 30 days."""
    import csv
    from datetime import timedelta

    from drafter.insights.queries import EXPORT_FIELDS

    if out.suffix not in (".csv", ".jsonl"):
        _fail("--out must end in .csv or .jsonl", 2)
    n = 0
    with _container(with_index=False) as c, out.open("w", encoding="utf-8", newline="") as f:
        rows = c.insights.export(shop, c.insights.range(shop, since, until, default=timedelta(days=30)))
        if out.suffix == ".csv":
            w = csv.DictWriter(f, fieldnames=EXPORT_FIELDS)
            w.writeheader()
            for r in rows:
                w.writerow({**r, "skus": " ".join(r["skus"])})
                n += 1
        else:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
                n += 1
    typer.echo(f"{n} urge events written to {out}")


def main() -> None:  # pragma: no cover
    app()
