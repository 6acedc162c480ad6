"""Process configuration, read once from `EXCHANGE_*` environment variables."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)

VAR_DIR = Path(os.environ.get("EXCHANGE_VAR_DIR", "var"))


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class OIDCProvider(BaseModel):
    name: str
    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    assurance_counts: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXCHANGE_", extra="ignore")

    environment: Environment = Environment.development
    database_url: str = ""
    storage_url: str = ""
    s3_endpoint_url: str | None = None
    master_key: str | None = None
    mail_dir: str = ""
    mail_from: str = "DURC Exchange <no-reply@durc-exchange.invalid>"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    public_url: str = "http://127.0.0.1:8000"
    bootstrap_admin_email: str | None = None
    bootstrap_admin_password: str | None = None
    max_artifact_bytes: int = Field(default=5 * 1024**3, ge=1)
    # Artifacts: per-member upload rate and stored-bytes quota, and the largest attached
    # provenance file (a detached signature or in-toto/SLSA statement, held in memory).
    artifact_uploads_per_member: str = "30/hour"
    artifact_quota_bytes: int = Field(default=50 * 1024**3, ge=0)
    artifact_max_provenance_bytes: int = Field(default=1024 * 1024, ge=1, le=16 * 1024 * 1024)
    # Master keys retired by rotation (comma-separated base64): still unwrap data keys until
    # `exchange keys rotate` has re-wrapped every one under EXCHANGE_MASTER_KEY.
    retired_master_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    membership_days: int = Field(default=365, ge=1)
    reapply_cooldown_days: int = Field(default=30, ge=0)
    renewal_window_days: int = Field(default=60, ge=0)
    expiry_reminder_days: int = Field(default=30, ge=1)
    rate_limit_scale: float = Field(default=1.0, gt=0)
    step_up_tier: str = "us_only"
    redis_url: str | None = None
    oidc_providers: Annotated[list[OIDCProvider], NoDecode] = Field(default_factory=list)
    oidc_return_url: str | None = None

    # Token lifetimes.
    access_token_minutes: int = Field(default=15, ge=1)
    refresh_token_days: int = Field(default=14, ge=1)
    email_token_hours: int = Field(default=48, ge=1)
    max_pat_days: int = Field(default=365, ge=1)

    # Rate limits, each "N/period" in the `limits` notation; the scale multiplies N.
    login_failures_per_account: str = "5/15minutes"
    login_failures_per_address: str = "30/15minutes"
    registrations_per_address: str = "10/hour"
    verification_mails_per_account: str = "5/hour"

    # argon2id cost; defaults follow argon2-cffi's RFC 9106 low-memory profile.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

    # Denied-party screening. Scores are 0-100; defaults calibrated on tests/data/screening.
    screening_review_threshold: float = Field(default=80.0, gt=0, le=100)
    screening_auto_suspend_threshold: float = Field(default=98.0, gt=0, le=100)
    screening_max_list_age_days: int = Field(default=30, ge=1)
    screening_max_list_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    # Fail closed: no approval while no list is loaded or the active one is too old.
    screening_fail_closed: bool = True

    # Mounts /api/v1/_bench/* (unauthenticated, outside the OpenAPI document) for the
    # benchmarks in bench/; never enable it on a deployment.
    benchmark_endpoints: bool = False

    audit_checkpoint_minutes: int = Field(default=60, ge=0)
    trust_forwarded_for: bool = False

    @field_validator("oidc_providers", mode="before")
    @classmethod
    def _parse_providers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    @field_validator("retired_master_keys", mode="before")
    @classmethod
    def _parse_retired_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("retired_master_keys")
    @classmethod
    def _check_retired_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            _decode_master_key(key)
        return value

    @field_validator("step_up_tier")
    @classmethod
    def _check_step_up(cls, value: str) -> str:
        if value not in {"general", "restricted", "us_only", "none"}:
            raise ValueError("must be one of general, restricted, us_only, none")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(VAR_DIR / 'exchange.db').resolve()}"
        if not self.storage_url:
            self.storage_url = str((VAR_DIR / "artifacts").resolve())
        if not self.mail_dir:
            self.mail_dir = str((VAR_DIR / "mail").resolve())
        if self.master_key is not None:
            _decode_master_key(self.master_key)
        elif self.environment is Environment.production:
            raise ValueError("EXCHANGE_MASTER_KEY must be set in production")
        if self.environment is Environment.production:
            if self.public_url.startswith("http://"):
                raise ValueError("EXCHANGE_PUBLIC_URL must be https in production")
            if self.bootstrap_admin_password and len(self.bootstrap_admin_password) < 15:
                raise ValueError("EXCHANGE_BOOTSTRAP_ADMIN_PASSWORD is too short")
            if self.benchmark_endpoints:
                raise ValueError("EXCHANGE_BENCHMARK_ENDPOINTS must be off in production")
        return self

    @property
    def master_key_bytes(self) -> bytes:
        if self.master_key is None:
            self.master_key = _load_or_create_master_key()
        return _decode_master_key(self.master_key)

    @property
    def retired_master_key_bytes(self) -> list[bytes]:
        return [_decode_master_key(key) for key in self.retired_master_keys]


def _decode_master_key(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EXCHANGE_MASTER_KEY must be base64") from exc
    if len(raw) != 32:
        raise ValueError("EXCHANGE_MASTER_KEY must decode to exactly 32 bytes")
    return raw


def _load_or_create_master_key() -> str:
    """Development convenience: a generated key kept in var/ so restarts can still decrypt."""
    path = VAR_DIR / "master.key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    log.warning("EXCHANGE_MASTER_KEY is unset: generated one into %s; back it up", path)
    return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
