"""One settings object, read once from the environment (``CH_*`` and the providers' own variables)."""

from __future__ import annotations

import secrets
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.catalog import CATALOG, MODEL_SETTING_PROVIDERS
from storage import S3Settings


# The providers' keys and base URLs are read by providers/credentials.py (docs/providers.md,
# "Settings per provider family").
class Settings(BaseSettings):
    # populate_by_name: load_settings() passes provider_env by its field name (the alias is for the env).
    model_config = SettingsConfigDict(env_prefix="CH_", extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    simulator_time_scale: float = 1.0
    # Where the built-in simulator is reached by the worker; default: this API's own /simulator mount.
    simulator_url: str | None = None
    # Multiplies the adapters' poll intervals (tests make polling fast against an instant simulator).
    poll_interval_scale: float = 1.0
    download_url_ttl_seconds: int = 7 * 24 * 3600
    max_output_bytes: int = 512 * 1024 * 1024
    # Bytes of Drive files per team; uploads beyond it are refused (generated outputs never are).
    drive_quota_bytes: int = 10 * 1024 * 1024 * 1024
    worker_max_jobs: int = 50
    # The most jobs one generate request makes (variants × placements; models/batches.py).
    max_jobs_per_request: int = Field(default=20, ge=1, le=100)
    # One worker run is one provider call or poll: longer than the slowest synchronous provider call
    # (OpenAI images, 300 s). A killed worker's job is re-run by the sweep (stale_after_seconds) or
    # by arq after this + 10 s.
    job_timeout_seconds: int = 360
    # Multiplies the per-type deadlines after which an open job fails free (tests shrink them).
    deadline_scale: float = 1.0
    # admin audit-ledger exits 1 when completed jobs' overruns (cost above the hold) total more.
    audit_overrun_max_cents: int = Field(default=0, ge=0)
    sweep_interval_seconds: int = 60
    # An open job nobody touched for this long is re-enqueued by the sweep.
    stale_after_seconds: int = 120
    # Test hook: the worker process exits right before settling a finished job (never in production).
    fault_crash_before_settle: bool = False
    # The arq queue; separate names let several deployments (or test runs) share one Redis.
    queue_name: str = "creative_hub:queue"
    graphiql: bool = True
    # uvicorn's websocket implementation ("websockets-sansio" measured fastest for fan-out; see BENCHMARKS.md)
    ws_implementation: Literal["auto", "websockets", "websockets-sansio", "wsproto"] = "websockets-sansio"
    # Provider tasks of ours running at once, per provider (JSON, e.g. {"runway_gen4": 5}); a provider
    # not named keeps its catalog default (docs/providers.md, "Concurrency caps"); 0 means no limit.
    provider_concurrency: dict[str, int] = Field(default_factory=dict)
    # Rate limits per minute (0 turns one off): submissions per team and per API key; reads (GraphQL
    # queries and REST job reads) per team.
    rate_limit_team_submissions_per_minute: int = 120
    rate_limit_key_submissions_per_minute: int = 60
    rate_limit_team_reads_per_minute: int = 600
    # Largest request body accepted (GraphQL and REST), in bytes.
    max_body_bytes: int = 1024 * 1024
    # Largest file uploadDriveFile (a GraphQL multipart request) takes, in bytes; its request may be
    # this plus max_body_bytes. Larger files go through createUpload (docs/contract.md, Uploads).
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    # How long an upload URL from createUpload stays valid (at most until the upload expires, a day).
    upload_url_ttl_seconds: int = Field(default=3600, gt=0)
    # An upload's content is checked by a worker (docs/operations.md, "Storage"). completeUpload and
    # uploadDriveFile wait this long for its outcome, then answer IN_PROGRESS (call completeUpload
    # again: the check goes on); the worker gives one check at most upload_check_timeout_seconds;
    # each worker process runs at most upload_check_concurrency checks at once.
    upload_check_wait_seconds: float = Field(default=30.0, gt=0)
    upload_check_timeout_seconds: int = Field(default=900, gt=0)
    upload_check_concurrency: int = Field(default=2, gt=0)
    # Origins the browser frontend is served from (CORS), e.g. ["https://app.example.com"].
    cors_origins: list[str] = Field(default_factory=list)
    # Webhook deliveries to loopback/private addresses and plain http: unset means allowed
    # everywhere but production.
    webhooks_allow_private: bool | None = None
    # Multiplies the webhook retry schedule (about 27.6 h in all; tests shrink it).
    webhook_retry_scale: float = 1.0
    # Finished webhook deliveries (the log partners read) and the events behind them are deleted
    # after this many days, by the workers' sweep or `python main.py admin prune-webhook-log`.
    webhook_log_retention_days: float = Field(default=30.0, gt=0)
    # Low-balance emails to the billing contacts (tasks/billing_email.py). No SMTP host (development):
    # each message is written to the log instead of sent. security: "starttls" (upgrade a plain
    # connection, port 587), "tls" (implicit TLS, port 465) or "none" (plain; a local relay).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Creative Hub <billing@creative-hub.invalid>"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    # Multiplies the email retry schedule (about 11 h in all; tests shrink it).
    email_retry_scale: float = Field(default=1.0, gt=0)
    # How often an open websocket checks its credential again (a revoked key or expired token closes it).
    ws_credential_recheck_seconds: float = 60.0
    # The longest a JWT may live (exp - iat); longer tokens, and tokens without exp or iat, are refused.
    jwt_max_lifetime_seconds: float = Field(default=24 * 3600.0, gt=0)
    # Serve strawberry's own websocket handler at /graphql/plain, for bench/push_latency.py to
    # compare with (never in production).
    bench_plain_ws: bool = False
    public_base_url: str | None = Field(default=None, validation_alias=AliasChoices("CH_PUBLIC_URL"))
    # Where Drive files live (storage/__init__.py): unset for <data_dir>/drive on this machine,
    # file:///path for another directory, s3://bucket/prefix for any S3-compatible store (then the
    # AWS variables below say where and as whom; unset ones are botocore's defaults).
    storage_url: str | None = None
    # With S3: a signed /files link answers 307 to a presigned GET of the store (the bytes no longer
    # pass through the API). Unset or false: the API streams every download itself.
    storage_redirect: bool = False
    aws_access_key_id: str | None = Field(default=None, validation_alias=AliasChoices("AWS_ACCESS_KEY_ID"))
    aws_secret_access_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AWS_SECRET_ACCESS_KEY")
    )
    aws_session_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AWS_SESSION_TOKEN")
    )
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    # MinIO, SeaweedFS, R2 and the like: their S3 endpoint (AWS itself needs none).
    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    )
    # Model lifecycles (providers/lifecycle.py): a job on a model its provider has shut down runs on
    # the configured successor ("successor") or is refused before anything is held ("refuse").
    model_shutdown_policy: Literal["successor", "refuse"] = "successor"
    # The wire model per provider of ours (JSON, e.g. {"gpt_image_2_6_sunburst": "gpt-image-2.6-sunburst"}),
    # and the provider replacing a shut-down one (JSON, e.g. {"gpt_image_1_5": "gpt_image_2_6_flare"};
    # "" for none); unnamed providers keep the catalogue's.
    provider_models: dict[str, str] = Field(default_factory=dict)
    # The older name of CH_PROVIDER_MODELS' veo_3_1 entry (docs/providers.md, Veo): one mechanism,
    # folded into provider_models below; CH_PROVIDER_MODELS wins when both name it.
    gemini_veo_model: str | None = Field(default=None, validation_alias=AliasChoices("GEMINI_VEO_MODEL"))
    provider_successors: dict[str, str] = Field(default_factory=dict)
    # How long a provider's library (HeyGen avatars; HeyGen and ElevenLabs voices) read from the
    # provider is used before it is read again, per provider (services/library.py); and how long the
    # last copy still serves while the provider cannot be reached.
    library_cache_seconds: int = Field(default=3600, ge=0)
    library_stale_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    # The most jobs one creative (createCreative) makes: a bigger graph is refused, nothing held.
    max_jobs_per_creative: int = Field(default=20, ge=1, le=200)
    # Test hook: the day lifecycles are compared with (YYYY-MM-DD) instead of today (never in production).
    today: date | None = None

    # Provider keys and base URLs: read by their own names (no CH_ prefix), as docs/providers.md lists them.
    provider_env: dict[str, str] = Field(
        default_factory=dict, validation_alias=AliasChoices("CH_PROVIDER_ENV")
    )
    # Ports webhook URLs may use besides 443 where private addresses are refused (JSON, e.g. [8443]);
    # where they are allowed (development) any port is.
    webhook_allowed_ports: list[int] = Field(default_factory=list)
    # GraphQL introspection (__schema, __type): unset means on everywhere but production.
    graphql_introspection: bool | None = None
    # Bearer token for GET /metrics; unset: /metrics is public in development and not served (404)
    # in production.
    metrics_token: str | None = None
    # Reads per minute (0 turns one off): GraphQL queries and REST job reads per API key (the team's
    # limit is rate_limit_team_reads_per_minute), and GET /files downloads per team and per key.
    rate_limit_key_reads_per_minute: int = 300
    rate_limit_team_downloads_per_minute: int = 600
    rate_limit_key_downloads_per_minute: int = 300

    @field_validator("provider_models", "provider_successors")
    @classmethod
    def _known_providers(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        """Names are our providers (a typo would silently change nothing); successors too."""
        unknown = sorted(k for k in value if k not in CATALOG)
        if info.field_name == "provider_successors":
            unknown += sorted(v for v in value.values() if v and v not in CATALOG)
        if unknown:
            raise ValueError(f"unknown providers {', '.join(unknown)}; they are {', '.join(CATALOG)}")
        if info.field_name == "provider_models":
            ignored = sorted(k for k in value if k not in MODEL_SETTING_PROVIDERS)
            if ignored:  # shown in providers and on jobs but never sent: refused instead
                raise ValueError(
                    f"CH_PROVIDER_MODELS cannot change the model of {', '.join(ignored)}: its adapter "
                    f"sends its own; it can for {', '.join(MODEL_SETTING_PROVIDERS)}"
                )
        return value

    @model_validator(mode="after")
    def _veo_model(self) -> Settings:
        if self.gemini_veo_model and "veo_3_1" not in self.provider_models:
            self.provider_models = {**self.provider_models, "veo_3_1": self.gemini_veo_model.strip()}
        return self

    @cached_property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite://{self.data_dir / 'creative_hub.sqlite3'}"

    @cached_property
    def secret(self) -> str:
        """The signing key: configured, or generated once into the data dir in development."""
        if self.secret_key:
            return self.secret_key
        if self.env == "production":
            raise RuntimeError("CH_SECRET_KEY must be set in production")
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def s3(self) -> S3Settings:
        """Where and as whom the S3 backend connects (CH_STORAGE_URL=s3://…)."""
        return S3Settings(
            endpoint_url=self.aws_endpoint_url or None,
            region=self.aws_region or None,
            access_key_id=self.aws_access_key_id or None,
            secret_access_key=self.aws_secret_access_key.get_secret_value()
            if self.aws_secret_access_key
            else None,
            session_token=self.aws_session_token.get_secret_value() if self.aws_session_token else None,
        )

    def provider_concurrency_limit(self, provider: str) -> int:
        return self.provider_concurrency.get(provider, CATALOG[provider].max_concurrency)

    @property
    def webhooks_allow_private_urls(self) -> bool:
        if self.webhooks_allow_private is None:
            return self.env != "production"
        return self.webhooks_allow_private

    @property
    def graphql_introspection_enabled(self) -> bool:
        if self.graphql_introspection is None:
            return self.env != "production"
        return self.graphql_introspection

    @property
    def public_url(self) -> str:
        """Where clients reach this API (signed file URLs start here)."""
        return (self.public_base_url or f"http://{self.host}:{self.port}").rstrip("/")

    def check_production(self) -> None:
        """Production refuses the simulator, a missing secret key and SQLite."""
        if self.env != "production":
            return
        problems = []
        if not self.secret_key:
            problems.append("CH_SECRET_KEY is not set")
        if self.database.startswith("sqlite"):
            problems.append("SQLite is not for production: set CH_DATABASE_URL=postgres://…")
        if not self.redis_url:
            problems.append("CH_REDIS_URL is not set (the embedded Valkey is for development)")
        if self.simulator_url:
            problems.append("the provider simulator is not for production (unset CH_SIMULATOR_URL)")
        if self.webhooks_allow_private:
            problems.append("CH_WEBHOOKS_ALLOW_PRIVATE lets webhooks reach private networks")
        if self.bench_plain_ws:
            problems.append("CH_BENCH_PLAIN_WS is for benchmarks")
        if self.fault_crash_before_settle:
            problems.append("CH_FAULT_CRASH_BEFORE_SETTLE is a test hook")
        if self.today:
            problems.append("CH_TODAY is a test hook")
        if problems:
            raise RuntimeError("refusing to start in production: " + "; ".join(problems))


def load_settings() -> Settings:
    import os

    return Settings(
        provider_env={
            k: v
            for k, v in os.environ.items()
            if k.endswith(("_API_KEY", "_BASE_URL", "_ACCESS_KEY", "_SECRET_KEY", "_OUTPUT_HOSTS"))
            and not k.startswith("CH_")
        }
    )
