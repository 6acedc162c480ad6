"""Login through a configured OpenID Provider: authorization code flow with PKCE (S256),
`state` and `nonce`, ID token verified with the provider's published keys.

No server-side state is kept between the two legs: `state` is a sealed (AES-GCM, master-key
subkey) record of provider, nonce, PKCE verifier and expiry, bound to the browser by a cookie,
so any app process can finish a login another one started.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from cryptography.exceptions import InvalidTag
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.errors import Conflict, NotFound, Unauthorized
from app.core.runtime import Runtime
from app.core.security import SecretBox, new_opaque_token, token_digest
from app.core.settings import OIDCProvider
from app.core.types import normalise_email
from app.identity import repository
from app.identity.schemas import TokenResponse
from app.identity.service import start_session
from app.models import EmailToken, OIDCLink, User
from app.models.base import utcnow

STATE_TTL_SECONDS = 600
BINDING_COOKIE = "exchange_oidc"
RETURN_CODE_PURPOSE = "oidc_return"
RETURN_CODE_MFA_PURPOSE = "oidc_return_mfa"
# `amr` values (RFC 8176) that show the provider checked more than one factor.
MULTI_FACTOR_AMR = frozenset({"mfa", "otp", "hwk", "swk", "fpt", "face", "iris", "sc"})
_DISCOVERY_TTL = 3600.0
_discovery_cache: dict[str, tuple[float, dict[str, Any]]] = {}


def provider_named(runtime: Runtime, name: str) -> OIDCProvider:
    for provider in runtime.settings.oidc_providers:
        if provider.name == name:
            return provider
    raise NotFound("No such identity provider.", code="unknown_provider")


def redirect_uri(runtime: Runtime, provider: OIDCProvider) -> str:
    base = runtime.settings.public_url.rstrip("/")
    return f"{base}/api/v1/auth/oidc/{provider.name}/callback"


async def _get_json(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document


async def discovery(provider: OIDCProvider) -> dict[str, Any]:
    cached = _discovery_cache.get(provider.issuer)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = await _get_json(url)
    except (httpx.HTTPError, ValueError) as exc:
        raise Conflict(
            "The identity provider is unreachable.", code="provider_unavailable"
        ) from exc
    if document.get("issuer") != provider.issuer:
        raise Conflict(
            "The identity provider's discovery document names another issuer.",
            code="provider_misconfigured",
        )
    _discovery_cache[provider.issuer] = (time.monotonic() + _DISCOVERY_TTL, document)
    return document


def _box(runtime: Runtime) -> SecretBox:
    return SecretBox(runtime.settings.master_key_bytes, "oidc-state-v1")


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    binding: str


async def begin(runtime: Runtime, provider: OIDCProvider) -> AuthorizationStart:
    document = await discovery(provider)
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(24)
    binding = secrets.token_urlsafe(24)
    state = _box(runtime).seal(
        json.dumps(
            {
                "p": provider.name,
                "n": nonce,
                "v": verifier,
                "b": hashlib.sha256(binding.encode()).hexdigest(),
                "e": int(time.time()) + STATE_TTL_SECONDS,
            }
        )
    )
    client = AsyncOAuth2Client(
        client_id=provider.client_id,
        scope=" ".join(provider.scopes),
        redirect_uri=redirect_uri(runtime, provider),
        code_challenge_method="S256",
    )
    url, _ = client.create_authorization_url(
        document["authorization_endpoint"],
        state=state,
        code_verifier=verifier,
        nonce=nonce,
    )
    return AuthorizationStart(url=url, binding=binding)


def _open_state(
    runtime: Runtime, provider: OIDCProvider, state: str, binding: str | None
) -> dict[str, Any]:
    invalid = Unauthorized(
        "The login attempt is invalid or expired; start again.", code="invalid_state"
    )
    try:
        record: dict[str, Any] = json.loads(_box(runtime).open(state))
    except (InvalidTag, ValueError, UnicodeDecodeError):
        raise invalid from None
    if record.get("p") != provider.name or int(record.get("e", 0)) < time.time():
        raise invalid
    if binding is None or hashlib.sha256(binding.encode()).hexdigest() != record.get("b"):
        raise invalid
    return record


async def _verified_claims(
    provider: OIDCProvider, document: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    try:
        keys = KeySet.import_key_set(cast(Any, await _get_json(document["jwks_uri"])))
        token = jwt.decode(id_token, keys, algorithms=["RS256", "PS256", "ES256", "EdDSA"])
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except (JoseError, ValueError, KeyError, httpx.HTTPError) as exc:
        raise Unauthorized(
            "The identity provider's ID token did not verify.", code="invalid_id_token"
        ) from exc
    claims: dict[str, Any] = dict(token.claims)
    return claims


async def _with_userinfo(
    endpoint: str, token: dict[str, Any], claims: dict[str, Any]
) -> dict[str, Any]:
    """Providers may keep profile claims out of the ID token; ask the UserInfo endpoint, and
    only trust its answer about the same subject (OIDC Core 5.3.2)."""
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(
                endpoint, headers={"Authorization": f"Bearer {token['access_token']}"}
            )
            response.raise_for_status()
            info: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise Unauthorized(
            "The identity provider's UserInfo failed.", code="invalid_id_token"
        ) from exc
    if info.get("sub") != claims.get("sub"):
        raise Unauthorized("UserInfo names another subject.", code="invalid_id_token")
    merged = dict(claims)
    for key in ("email", "email_verified", "name"):
        if key in info and key not in merged:
            merged[key] = info[key]
    return merged


def _assurance(provider: OIDCProvider, claims: dict[str, Any]) -> bool:
    """Whether the provider's login may stand in for our TOTP step (configured per provider)."""
    amr = claims.get("amr") or []
    return provider.assurance_counts and bool(MULTI_FACTOR_AMR.intersection(amr))


async def complete(
    session: AsyncSession,
    runtime: Runtime,
    provider: OIDCProvider,
    *,
    code: str,
    state: str,
    binding: str | None,
) -> tuple[User, bool]:
    record = _open_state(runtime, provider, state, binding)
    document = await discovery(provider)
    client = AsyncOAuth2Client(
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        token_endpoint_auth_method="client_secret_basic" if provider.client_secret else "none",
        redirect_uri=redirect_uri(runtime, provider),
    )
    try:
        token = await client.fetch_token(
            document["token_endpoint"], code=code, code_verifier=record["v"]
        )
    except Exception as exc:  # authlib raises its own OAuthError family and httpx errors
        raise Unauthorized(
            "The identity provider refused the login.", code="oidc_exchange_failed"
        ) from exc
    finally:
        await client.aclose()
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise Unauthorized("The identity provider sent no ID token.", code="invalid_id_token")
    claims = await _verified_claims(provider, document, id_token, record["n"])
    if "email" not in claims and document.get("userinfo_endpoint"):
        claims = await _with_userinfo(document["userinfo_endpoint"], token, claims)
    user = await _user_for(session, provider, claims)
    mfa = _assurance(provider, claims)
    await audit.record(
        session,
        actor_id=user.id,
        action="auth.login",
        target_type="user",
        target_id=user.id,
        details={"method": "oidc", "provider": provider.name, "acr": claims.get("acr"), "mfa": mfa},
    )
    return user, mfa


async def _user_for(session: AsyncSession, provider: OIDCProvider, claims: dict[str, Any]) -> User:
    """The linked identity, or a new one. An existing password account is never taken over by
    an e-mail claim: linking must be done by its owner."""
    kept: dict[str, object] = {
        k: claims[k] for k in ("acr", "amr", "auth_time", "email_verified") if k in claims
    }
    link = await session.scalar(
        select(OIDCLink).where(
            OIDCLink.issuer == provider.issuer, OIDCLink.subject == str(claims["sub"])
        )
    )
    if link is not None:
        user = await session.get(User, link.user_id)
        if user is None:
            raise Unauthorized()
        user.oidc_claims = kept
        return user
    email = normalise_email(str(claims.get("email") or ""))
    if not email:
        raise Unauthorized(
            "The identity provider did not share an e-mail address.", code="email_required"
        )
    if await repository.user_by_email(session, email) is not None:
        raise Conflict(
            "An account with this e-mail already exists; sign in with its password.",
            code="email_taken",
        )
    user = User(
        id=uuid.uuid4(),
        email=email,
        display_name=str(claims.get("name") or email.split("@")[0])[:100],
        password_hash=None,
        email_verified_at=utcnow() if claims.get("email_verified") is True else None,
        oidc_claims=kept,
    )
    session.add(user)
    await session.flush()
    session.add(OIDCLink(user_id=user.id, issuer=provider.issuer, subject=str(claims["sub"])))
    await audit.record(
        session,
        actor_id=user.id,
        action="identity.registered",
        target_type="user",
        target_id=user.id,
        details={"method": "oidc", "provider": provider.name},
    )
    return user


async def issue_return_code(session: AsyncSession, user: User, mfa: bool) -> str:
    """A one-time code for EXCHANGE_OIDC_RETURN_URL: tokens never travel in a URL."""
    code = new_opaque_token("oc")
    session.add(
        EmailToken(
            user_id=user.id,
            token_hash=token_digest(code),
            purpose=RETURN_CODE_MFA_PURPOSE if mfa else RETURN_CODE_PURPOSE,
            expires_at=utcnow() + timedelta(minutes=2),
        )
    )
    await session.flush()
    return code


async def redeem_return_code(session: AsyncSession, runtime: Runtime, code: str) -> TokenResponse:
    digest = token_digest(code)
    record = await session.scalar(
        select(EmailToken).where(
            EmailToken.token_hash == digest,
            EmailToken.purpose.in_((RETURN_CODE_PURPOSE, RETURN_CODE_MFA_PURPOSE)),
        )
    )
    now = utcnow()
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise Unauthorized("The login code is invalid, used or expired.", code="invalid_token")
    record.used_at = now
    user = await session.get(User, record.user_id)
    if user is None:
        raise Unauthorized("The login code is invalid.", code="invalid_token")
    return await start_session(
        session, runtime, user, method="oidc", mfa_passed=record.purpose == RETURN_CODE_MFA_PURPOSE
    )
