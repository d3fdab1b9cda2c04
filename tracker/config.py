"""Settings: every knob of the service, read from `TRACKER_*` environment variables.

Nothing here runs at import time; call `Settings()` (or build one in a test) and pass it on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SOURCE_NAMES: tuple[str, ...] = (
    "owid",
    "worldbank",
    "ember",
    "fred",
    "openfda",
    "clinicaltrials",
    "manifold",
    "epoch",
)

DEFAULT_BASE_URLS: dict[str, str] = {
    "owid": "https://ourworldindata.org/grapher",
    "worldbank": "https://api.worldbank.org/v2",
    "ember": "https://api.ember-energy.org/v1",
    "fred": "https://api.stlouisfed.org/fred",
    "openfda": "https://api.fda.gov",
    "clinicaltrials": "https://clinicaltrials.gov/api/v2",
    "manifold": "https://api.manifold.markets/v0",
    "epoch": "https://epoch.ai/data/generated",
}


# `testserver` is the host Starlette's and FastAPI's TestClient sends.
DEFAULT_ALLOWED_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]", "testserver")


def default_data_dir() -> Path:
    return Path.cwd() / "data"


class Settings(BaseSettings):
    """All configuration. Field `x` is read from `TRACKER_X`."""

    model_config = SettingsConfigDict(
        env_prefix="TRACKER_", env_file=None, extra="ignore", validate_default=True
    )

    data_dir: Path = Field(default_factory=default_data_dir, description="Local data directory.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; default: an SQLite file `tracker.db` in the data directory.",
    )
    claims_dir: Path = Field(default=Path("claims"), description="Directory of claim files.")
    sync_claims_on_start: bool = Field(
        default=True, description="`tracker serve` syncs the claims directory at start."
    )
    load_bundled_on_start: bool = Field(
        default=True,
        description="`tracker serve` loads the bundled real-data snapshot into an empty database.",
    )
    run_scheduler: bool = Field(
        default=True, description="Run the fetch/evaluate scheduler inside `tracker serve`."
    )
    scheduler_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description=(
            "How long the scheduler lease lives without a heartbeat: a holder that died or "
            "froze is replaced by a waiting process within this plus one heartbeat."
        ),
    )
    scheduler_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="How often the scheduler renews (or tries to take) it."
    )
    scheduler_catch_up_delay_seconds: float = Field(
        default=10.0,
        ge=0,
        description="After taking the lease, how long before the first overdue job runs.",
    )
    scheduler_retry_base: float = Field(
        default=900.0,
        gt=0,
        description=(
            "Seconds before a scheduled job that failed runs again; doubles after each further "
            "failure, capped at the job's interval; a success resets it."
        ),
    )
    require_token_for_reads: bool = Field(
        default=False, description="Require a bearer token for read endpoints too."
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key signing dashboard sessions; unset: a random key made once and kept in the "
            "database, shared by every process using it."
        ),
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        description="Largest request body the API accepts, in bytes (larger: 413).",
    )
    public_url: str = Field(
        default="",
        description=(
            "The service's public base URL (e.g. https://tracker.example.org); absolute links "
            "(feed, calendar, pagination) use it instead of the request's Host header."
        ),
    )
    allowed_hosts: str = Field(
        default="",
        description=(
            "Comma-separated host names the service answers (`*.example.org` wildcards, `*` "
            "any); empty: localhost, 127.0.0.1, [::1], testserver and the public URL's host."
        ),
    )
    webhook_allowed_hosts: str = Field(
        default="",
        description=(
            "Comma-separated webhook destination host names allowed even when they resolve to a "
            "loopback, private, link-local or otherwise non-public address."
        ),
    )
    webhook_poll_seconds: float = Field(
        default=2.0, gt=0, description="Seconds between runs of the webhook delivery job."
    )
    webhook_timeout_connect: float = Field(default=5.0, gt=0)
    webhook_timeout_read: float = Field(default=10.0, gt=0)
    webhook_max_response_bytes: int = Field(
        default=16 * 1024, ge=0, description="A webhook response body is read up to this cap."
    )
    webhook_retry_base: float = Field(
        default=10.0, gt=0, description="Seconds before the first webhook retry (then doubled)."
    )
    webhook_retry_max: float = Field(
        default=3600.0, gt=0, description="Longest wait between two webhook retries, seconds."
    )
    webhook_retry_hours: float = Field(
        default=72.0,
        ge=24,
        description="Hours a webhook delivery is retried before it is given up.",
    )
    webhook_disable_after_hours: float = Field(
        default=72.0,
        gt=0,
        description="A subscription whose deliveries fail this long without a success is disabled.",
    )
    smtp_host: str = Field(
        default="", description="SMTP server of the email digest (empty: no digest is sent)."
    )
    smtp_port: int = Field(default=587, description="SMTP port (587: submission with STARTTLS).")
    smtp_starttls: bool = Field(
        default=True, description="Upgrade the SMTP connection with STARTTLS (required if set)."
    )
    smtp_ca_file: str = Field(
        default="",
        description="PEM file of the CA that signs the SMTP server's certificate (empty: the "
        "system's trusted CAs).",
    )
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default="tracker@localhost", description="The digest's From address.")
    smtp_to: str = Field(
        default="", description="Comma-separated addresses the digest is sent to (empty: none)."
    )
    smtp_timeout: float = Field(default=30.0, gt=0)
    digest_interval_days: int = Field(
        default=7, ge=1, description="Days between two email digests (weekly by default)."
    )
    digest_weeks_ahead: int = Field(
        default=4, ge=1, description="The digest lists deadlines this many weeks ahead."
    )
    http_timeout_connect: float = 5.0
    http_timeout_read: float = 30.0
    http_max_retries: int = 3
    http_backoff_base: float = 0.5
    http_backoff_max: float = 30.0
    http_max_body_bytes: int = 200 * 1024 * 1024
    fetch_deadline_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description=(
            "Overall deadline of one fetch of an indicator (every request, retry, redirect and "
            "body byte of it): past it the fetch fails as `timeout`, even while a body trickles."
        ),
    )
    job_deadline_seconds: float = Field(
        default=600.0,
        gt=0,
        le=86400,
        description=(
            "Deadline of one scheduler job: past it the job's run is recorded as an error "
            "(`timeout`) and its thread is free for the next job; it stores nothing after."
        ),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    owid_base_url: str = DEFAULT_BASE_URLS["owid"]
    worldbank_base_url: str = DEFAULT_BASE_URLS["worldbank"]
    ember_base_url: str = DEFAULT_BASE_URLS["ember"]
    fred_base_url: str = DEFAULT_BASE_URLS["fred"]
    openfda_base_url: str = DEFAULT_BASE_URLS["openfda"]
    clinicaltrials_base_url: str = DEFAULT_BASE_URLS["clinicaltrials"]
    manifold_base_url: str = DEFAULT_BASE_URLS["manifold"]
    epoch_base_url: str = DEFAULT_BASE_URLS["epoch"]

    owid_api_key: SecretStr | None = None
    worldbank_api_key: SecretStr | None = None
    ember_api_key: SecretStr | None = None
    fred_api_key: SecretStr | None = None
    openfda_api_key: SecretStr | None = None
    clinicaltrials_api_key: SecretStr | None = None
    manifold_api_key: SecretStr | None = None
    epoch_api_key: SecretStr | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url_is_absolute(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an absolute http(s) URL, e.g. https://tracker.example")
            if parts.query or parts.fragment:
                raise ValueError("must not have a query or fragment")
        return value

    def trusted_hosts(self) -> list[str]:
        """Host names the web app answers (TrustedHostMiddleware), the public URL's included."""
        if self.allowed_hosts.strip():
            hosts = [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]
        else:
            hosts = list(DEFAULT_ALLOWED_HOSTS)
        public = urlsplit(self.public_url).hostname if self.public_url else None
        if public and public not in hosts:
            hosts.append(public)
        return hosts

    def effective_database_url(self) -> str:
        """The configured URL, or the default SQLite file inside `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tracker.db').as_posix()}"

    def base_url(self, source: str) -> str:
        value = getattr(self, f"{source}_base_url", None)
        if not isinstance(value, str):
            raise KeyError(f"unknown source {source!r}")
        return value.rstrip("/")

    def api_key(self, source: str) -> str | None:
        value = getattr(self, f"{source}_api_key", None)
        if isinstance(value, SecretStr):
            return value.get_secret_value() or None
        return None
