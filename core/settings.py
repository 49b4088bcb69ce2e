"""The one settings class. Nothing else in the code base reads ``os.environ``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REPLYDESK_", env_file=None, extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is SQLite in the data dir."
    )
    chroma_url: str | None = Field(default=None, description="Chroma server URL; unset = embedded.")
    # Prefix of the per-shop Chroma collections (<prefix>-<shop>): deployments sharing one server differ here.
    chroma_collection: str = Field(default="replydesk_knowledge", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9._-]{2,100}$")
    # The app migrates the database when it starts; `replydesk serve` migrates once itself, before
    # its workers start, and turns this off for them.
    migrate_on_start: bool = True
    port: int = 8000
    timezone: str = "Asia/Shanghai"

    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = 20.0
    llm_max_tokens: int = 400
    llm_max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    llm_temperature: float = 0.2
    # Some chat formats (Gemma on llama.cpp) have no system role; then instructions go in the user turn.
    llm_system_role: bool = True
    llm_prompt: str = "urge_reply@v3"
    # "urge_reply@v2:30" sends 30% of orders (always the same ones) to v2.
    llm_prompt_ab: str | None = None
    # Every model call is logged (table llm_calls); rows older than this are deleted by `replydesk llm purge`.
    llm_log_retention_days: int = Field(default=30, ge=1)
    # At most this many of the shop's approved replies (same situation state) go into a prompt as examples.
    llm_exemplars: int = Field(default=3, ge=0, le=10)
    # Composer used by POST /v1/drafts when the request does not say: template | llm.
    composer: Literal["template", "llm"] = "template"

    cors_origins: list[str] = Field(default_factory=list)
    rate_limit_per_min: int = 600
    redis_url: str | None = "redis://127.0.0.1:6379/0"
    redact_for_llm: bool = True
    metrics: Literal["on", "off"] = "on"

    # How long the pipeline waits for a live order source before it drafts without status claims.
    order_timeout_s: float = 2.0
    # Passages the retriever hands to the composer.
    retrieve_k: int = 4

    # Order sources (knowledge/sources). A Fernet key (``replydesk orders keygen``) that encrypts the
    # sources' credentials at rest; without it no credential can be stored or read.
    secret_key: SecretStr | None = None
    # How long fetched facts are served from the cache before the source is asked again.
    order_cache_ttl_s: float = 30.0
    # Facts older than this are never used for status claims (the draft says less instead).
    order_max_age_s: float = 900.0
    order_cache_max_per_shop: int = 5000
    # auto: Redis when REDIS_URL answers, else the database.
    order_cache_backend: Literal["auto", "redis", "database"] = "auto"
    # Query embeddings shared by every worker through Redis (when redis_url answers); 0 = per-worker only.
    query_cache_max: int = Field(default=20_000, ge=0, description="Entries in the shared query-embedding cache.")
    # Knowledge base jobs (reindex, import): an rq queue on redis_url, run by `replydesk worker`.
    jobs_queue: str = Field(default="replydesk-kb", pattern=r"^[A-Za-z0-9:._-]{1,100}$")
    jobs_timeout_s: int = Field(default=6 * 3600, ge=10)
    jobs_retries: int = Field(default=3, ge=0, le=20)
    # A job's heartbeat interval, and how long after a missed one its worker counts as dead (then
    # the job is retried by the next maintenance pass, every jobs_maintenance_s).
    jobs_heartbeat_s: int = Field(default=10, ge=1)
    jobs_heartbeat_grace_s: int = Field(default=20, ge=1)
    jobs_maintenance_s: int = Field(default=30, ge=1)
    jobs_embed_processes: int = Field(default=0, ge=0, description="Processes embedding passages in a job; 0 = one per core.")
    # One upstream call's HTTP timeout; remote (isp.*) errors are retried this many times with backoff.
    order_source_timeout_s: float = 1.5
    order_source_retries: int = 2
    order_source_backoff_s: float = 0.2
    # Pushed events signed longer ago than this are refused (replays).
    order_events_max_skew_s: int = 300

    # Urge surge alerts (drafter/insights) go to this URL as signed, retried webhooks (core/webhooks.py);
    # unset: alerts show on the /insights page only.
    alert_webhook_url: str | None = None
    alert_webhook_secret: SecretStr | None = None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'replydesk.db').resolve()}"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"


@lru_cache
def get_settings() -> Settings:
    return Settings()
