"""Security primitives: password hashing, opaque tokens, access JWTs, sealed secrets, TOTP.

Nothing here is home-made cryptography: argon2-cffi, joserfc, pyotp and `cryptography`
do the work; this module only fixes how the application uses them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey


def derive_key(master_key: bytes, purpose: str, length: int = 32) -> bytes:
    """Independent subkeys from the master key, so one leaked use does not expose another."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        master_key
    )


class PasswordHashing:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        # A real hash to verify against when the account does not exist, so both paths cost
        # the same and timing does not reveal which e-mails are registered.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(24))

    @staticmethod
    def normalise(password: str) -> str:
        # SP 800-63B: Unicode passwords are normalised (NFKC) before hashing.
        return unicodedata.normalize("NFKC", password)

    def hash(self, password: str) -> str:
        return self._hasher.hash(self.normalise(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return (
                self._hasher.verify(password_hash or self._dummy_hash, self.normalise(password))
                and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


def new_opaque_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    """Opaque tokens are high-entropy, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AccessClaims:
    session_id: uuid.UUID
    user_id: uuid.UUID
    expires_at: datetime


class AccessTokens:
    """Short-lived signed access tokens. They only name a session: the session, the member
    and the countries are re-read on every request, so no token outlives a status change."""

    algorithm = "HS256"

    def __init__(self, master_key: bytes, lifetime_seconds: int) -> None:
        self._key = OctKey.import_key(derive_key(master_key, "access-token-v1"))
        self.lifetime_seconds = lifetime_seconds

    def issue(self, session_id: uuid.UUID, user_id: uuid.UUID) -> str:
        now = int(time.time())
        claims = {
            "sid": str(session_id),
            "sub": str(user_id),
            "iat": now,
            "exp": now + self.lifetime_seconds,
            "typ": "access",
        }
        return jwt.encode({"alg": self.algorithm}, claims, self._key)

    def verify(self, token: str) -> AccessClaims | None:
        try:
            decoded = jwt.decode(token, self._key, algorithms=[self.algorithm])
            claims = decoded.claims
            jwt.JWTClaimsRegistry(
                exp={"essential": True}, sid={"essential": True}, sub={"essential": True}
            ).validate(claims)
            if claims.get("typ") != "access":
                return None
            return AccessClaims(
                session_id=uuid.UUID(str(claims["sid"])),
                user_id=uuid.UUID(str(claims["sub"])),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            )
        except (JoseError, ValueError, KeyError, TypeError):
            return None


class SecretBox:
    """AES-256-GCM sealing for small secrets (TOTP seeds) under a master-key subkey."""

    def __init__(self, master_key: bytes, purpose: str) -> None:
        self._aead = AESGCM(derive_key(master_key, purpose))
        self._purpose = purpose.encode()

    def seal(self, plaintext: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), self._purpose)
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str) -> str:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return self._aead.decrypt(raw[:12], raw[12:], self._purpose).decode()


TOTP_INTERVAL = 30


def totp_new_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account: str, issuer: str = "DURC Exchange") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def totp_match_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The time step a code belongs to (±1 step of clock drift), or None.

    Returning the step lets the caller refuse any step at or before the last accepted one,
    which makes each code single-use.
    """
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    now = time.time() if at is None else at
    current = int(now // TOTP_INTERVAL)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def signing_key(master_key: bytes) -> Ed25519PrivateKey:
    """Ed25519 key for audit checkpoints, derived so it survives restarts without a file."""
    return Ed25519PrivateKey.from_private_bytes(derive_key(master_key, "audit-checkpoint-v1"))
