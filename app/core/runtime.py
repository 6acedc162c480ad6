"""The process-wide services a request may need, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from app.artifacts.crypto import KeyRing
from app.artifacts.storage import BlobStorage, storage_from_url
from app.core.database import Database
from app.core.mail import Mailer
from app.core.ratelimit import RateLimits
from app.core.security import AccessTokens, PasswordHashing, SecretBox, derive_key
from app.core.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    rate_limits: RateLimits
    mailer: Mailer
    passwords: PasswordHashing
    access_tokens: AccessTokens
    totp_box: SecretBox
    storage: BlobStorage
    artifact_keys: KeyRing

    @classmethod
    def build(cls, settings: Settings, db: Database | None = None) -> Runtime:
        master_key = settings.master_key_bytes
        return cls(
            settings=settings,
            db=db or Database(settings.database_url),
            rate_limits=RateLimits(scale=settings.rate_limit_scale, redis_url=settings.redis_url),
            mailer=Mailer(settings),
            passwords=PasswordHashing(
                time_cost=settings.argon2_time_cost,
                memory_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
            ),
            access_tokens=AccessTokens(master_key, settings.access_token_minutes * 60),
            totp_box=SecretBox(master_key, "totp-secret-v1"),
            storage=storage_from_url(
                settings.storage_url, s3_endpoint_url=settings.s3_endpoint_url
            ),
            artifact_keys=artifact_key_ring(settings),
        )


ARTIFACT_KEK_PURPOSE = "artifact-key-wrapping-v1"


def artifact_key_ring(settings: Settings) -> KeyRing:
    """Data keys are wrapped by a subkey of each master key, never the master key itself,
    which also signs tokens and seals TOTP seeds."""
    return KeyRing(
        derive_key(settings.master_key_bytes, ARTIFACT_KEK_PURPOSE),
        [derive_key(key, ARTIFACT_KEK_PURPOSE) for key in settings.retired_master_key_bytes],
    )


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
