"""Identity actions: registration, verification, login, sessions, TOTP and tokens.

Every action writes its audit event in the caller's transaction; mail goes out after commit.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.context import request_context
from app.core.errors import Conflict, NotFound, Unauthorized, Unprocessable
from app.core.runtime import Runtime
from app.core.security import (
    new_opaque_token,
    token_digest,
    totp_match_step,
    totp_new_secret,
    totp_uri,
)
from app.core.types import normalise_email
from app.core.uow import after_commit
from app.identity import repository
from app.identity.passwords import check_password
from app.identity.schemas import (
    EligibilityRead,
    LimitRead,
    MembershipBrief,
    MeResponse,
    TokenResponse,
)
from app.models import (
    AuthSession,
    EmailToken,
    Membership,
    PersonalAccessToken,
    RefreshToken,
    User,
    UserRole,
)
from app.models.base import utcnow
from app.policy import Actor, Role

VERIFY_PURPOSE = "verify_email"


async def register(
    session: AsyncSession, runtime: Runtime, *, email: str, password: str, display_name: str
) -> User:
    settings = runtime.settings
    address = request_context.get().client_address or "unknown"
    await runtime.rate_limits.consume(settings.registrations_per_address, "register", address)
    email = normalise_email(email)
    check_password(password, email=email, display_name=display_name)
    if await repository.user_by_email(session, email) is not None:
        raise Conflict("An account with this e-mail already exists.", code="email_taken")
    user = User(
        id=uuid.uuid4(),
        email=email,
        display_name=display_name,
        password_hash=runtime.passwords.hash(password),
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration of the same address won
        raise Conflict("An account with this e-mail already exists.", code="email_taken") from exc
    await audit.record(
        session,
        actor_id=user.id,
        action="identity.registered",
        target_type="user",
        target_id=user.id,
    )
    await _send_verification(session, runtime, user)
    return user


async def _send_verification(session: AsyncSession, runtime: Runtime, user: User) -> None:
    token = new_opaque_token("ev")
    session.add(
        EmailToken(
            user_id=user.id,
            token_hash=token_digest(token),
            purpose=VERIFY_PURPOSE,
            expires_at=utcnow() + timedelta(hours=runtime.settings.email_token_hours),
        )
    )
    link = f"{runtime.settings.public_url.rstrip('/')}/verify-email?token={token}"
    body = (
        f"Hello {user.display_name},\n\n"
        "Confirm your e-mail address for DURC Exchange by opening this link:\n\n"
        f"{link}\n\n"
        f"or by sending this token to POST /api/v1/auth/verify-email: token={token}\n\n"
        f"The link expires in {runtime.settings.email_token_hours} hours. If you did not "
        "register, ignore this message.\n"
    )
    recipient = user.email

    async def send() -> None:
        await runtime.mailer.send(recipient, "Confirm your e-mail address", body)

    after_commit(session, send)


async def resend_verification(session: AsyncSession, runtime: Runtime, *, email: str) -> None:
    """Answers the same whether or not the address is registered."""
    email = normalise_email(email)
    await runtime.rate_limits.consume(
        runtime.settings.verification_mails_per_account, "verify-mail", email
    )
    user = await repository.user_by_email(session, email)
    if user is None or user.email_verified_at is not None:
        return
    await _send_verification(session, runtime, user)


async def verify_email(session: AsyncSession, *, token: str) -> User:
    record = await repository.email_token(session, token_digest(token), VERIFY_PURPOSE)
    now = utcnow()
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise Unprocessable(
            "This verification token is invalid, used or expired.", code="invalid_token"
        )
    user = await repository.user_by_id(session, record.user_id)
    if user is None:
        raise Unprocessable("This verification token is invalid.", code="invalid_token")
    record.used_at = now
    if user.email_verified_at is None:
        user.email_verified_at = now
        await audit.record(
            session,
            actor_id=user.id,
            action="identity.email_verified",
            target_type="user",
            target_id=user.id,
        )
    return user


async def login(
    session: AsyncSession,
    runtime: Runtime,
    *,
    email: str,
    password: str,
    totp_code: str | None,
) -> TokenResponse:
    settings = runtime.settings
    limits = runtime.rate_limits
    email = normalise_email(email)
    address = request_context.get().client_address or "unknown"
    await limits.check(settings.login_failures_per_account, "login-fail-account", email)
    await limits.check(settings.login_failures_per_address, "login-fail-address", address)

    user = await repository.user_by_email(session, email)
    password_ok = runtime.passwords.verify(user.password_hash if user else None, password)
    if user is None or not password_ok:
        await _login_failed(session, runtime, email, address, user, "invalid_credentials")
        # The same answer whether or not the e-mail exists.
        raise Unauthorized(
            "E-mail or password is wrong.", code="invalid_credentials", keep_changes=True
        )
    mfa_passed = False
    if user.totp_enabled_at is not None:
        if not totp_code:
            raise Unauthorized("Enter the code from your authenticator app.", code="mfa_required")
        if not _accept_totp(runtime, user, totp_code):
            await _login_failed(session, runtime, email, address, user, "mfa_failed")
            raise Unauthorized(
                "The authenticator code is wrong or was already used.",
                code="mfa_required",
                keep_changes=True,
            )
        mfa_passed = True
    await limits.clear(settings.login_failures_per_account, "login-fail-account", email)
    if user.password_hash and runtime.passwords.needs_rehash(user.password_hash):
        user.password_hash = runtime.passwords.hash(password)
    tokens = await start_session(session, runtime, user, method="password", mfa_passed=mfa_passed)
    await audit.record(
        session,
        actor_id=user.id,
        action="auth.login",
        target_type="user",
        target_id=user.id,
        details={"method": "password", "mfa": mfa_passed},
    )
    return tokens


async def _login_failed(
    session: AsyncSession,
    runtime: Runtime,
    email: str,
    address: str,
    user: User | None,
    why: str,
) -> None:
    settings = runtime.settings
    await runtime.rate_limits.hit(settings.login_failures_per_account, "login-fail-account", email)
    await runtime.rate_limits.hit(
        settings.login_failures_per_address, "login-fail-address", address
    )
    await audit.record(
        session,
        actor_id=user.id if user else None,
        action="auth.login_failed",
        target_type="user" if user else None,
        target_id=user.id if user else None,
        # The attempted address is kept for investigations, never the password.
        details={"reason": why, "email": email[:320]},
    )


def _accept_totp(runtime: Runtime, user: User, code: str) -> bool:
    if user.totp_secret_sealed is None:
        return False
    step = totp_match_step(runtime.totp_box.open(user.totp_secret_sealed), code.strip())
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


async def start_session(
    session: AsyncSession, runtime: Runtime, user: User, *, method: str, mfa_passed: bool
) -> TokenResponse:
    now = utcnow()
    auth_session = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        kind="login",
        mfa_passed=mfa_passed,
        auth_method=method,
        client_address=request_context.get().client_address,
        expires_at=now + timedelta(days=runtime.settings.refresh_token_days),
    )
    session.add(auth_session)
    await session.flush()
    return await _issue_tokens(session, runtime, auth_session)


async def _issue_tokens(
    session: AsyncSession, runtime: Runtime, auth_session: AuthSession
) -> TokenResponse:
    refresh = new_opaque_token("rt")
    session.add(RefreshToken(session_id=auth_session.id, token_hash=token_digest(refresh)))
    await session.flush()
    return TokenResponse(
        access_token=runtime.access_tokens.issue(auth_session.id, auth_session.user_id),
        refresh_token=refresh,
        expires_in=runtime.access_tokens.lifetime_seconds,
    )


async def refresh(session: AsyncSession, runtime: Runtime, *, token: str) -> TokenResponse:
    record = await repository.refresh_token(session, token_digest(token))
    invalid = Unauthorized("The refresh token is invalid or expired.", code="invalid_token")
    if record is None:
        raise invalid
    auth_session = await session.get(AuthSession, record.session_id)
    now = utcnow()
    if (
        auth_session is None
        or auth_session.revoked_at is not None
        or auth_session.expires_at <= now
    ):
        raise invalid
    if record.used_at is not None:
        # A rotated token came back: someone holds a copy. End the whole family.
        auth_session.revoked_at = now
        auth_session.revoked_reason = "refresh token reused"
        await audit.record(
            session,
            actor_id=auth_session.user_id,
            action="auth.refresh_reuse_detected",
            target_type="session",
            target_id=auth_session.id,
        )
        raise Unauthorized(
            "This refresh token was already used; the session has been ended.",
            code="token_reused",
            keep_changes=True,
        )
    record.used_at = now
    return await _issue_tokens(session, runtime, auth_session)


async def logout(session: AsyncSession, actor: Actor) -> None:
    if actor.session_id is None:
        return
    await repository.revoke_sessions(session, actor.user_id, "logout", only=actor.session_id)
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="auth.logout",
        target_type="session",
        target_id=actor.session_id,
    )


async def totp_enroll(session: AsyncSession, runtime: Runtime, actor: Actor) -> tuple[str, str]:
    user = await _user(session, actor)
    if user.totp_enabled_at is not None:
        raise Conflict("TOTP is already enabled.", code="mfa_already_enabled")
    secret = totp_new_secret()
    user.totp_secret_sealed = runtime.totp_box.seal(secret)
    user.totp_last_step = None
    await audit.record(
        session,
        actor_id=user.id,
        action="mfa.totp_enrollment_started",
        target_type="user",
        target_id=user.id,
    )
    return secret, totp_uri(secret, user.email)


async def totp_confirm(session: AsyncSession, runtime: Runtime, actor: Actor, code: str) -> None:
    user = await _user(session, actor)
    if user.totp_enabled_at is not None:
        raise Conflict("TOTP is already enabled.", code="mfa_already_enabled")
    if user.totp_secret_sealed is None:
        raise Conflict("Start TOTP enrolment first.", code="mfa_not_started")
    if not _accept_totp(runtime, user, code):
        raise Unprocessable("The code is wrong or expired.", code="invalid_code")
    user.totp_enabled_at = utcnow()
    # Confirming proves possession of the second factor, so this session counts as MFA'd.
    if actor.session_id is not None:
        auth_session = await session.get(AuthSession, actor.session_id)
        if auth_session is not None:
            auth_session.mfa_passed = True
    await audit.record(
        session, actor_id=user.id, action="mfa.totp_enabled", target_type="user", target_id=user.id
    )


async def create_personal_token(
    session: AsyncSession,
    runtime: Runtime,
    actor: Actor,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: int,
) -> tuple[PersonalAccessToken, str]:
    if expires_in_days > runtime.settings.max_pat_days:
        raise Unprocessable(
            f"Tokens may live at most {runtime.settings.max_pat_days} days.",
            code="validation_error",
        )
    token = new_opaque_token("dxp")
    record = PersonalAccessToken(
        id=uuid.uuid4(),
        user_id=actor.user_id,
        name=name,
        token_hash=token_digest(token),
        scopes=sorted(set(scopes)),
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(days=expires_in_days),
    )
    session.add(record)
    await session.flush()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="token.created",
        target_type="token",
        target_id=record.id,
        details={"scopes": record.scopes, "name": name},
    )
    return record, token


async def revoke_personal_token(session: AsyncSession, actor: Actor, token_id: uuid.UUID) -> None:
    record = await session.get(PersonalAccessToken, token_id)
    if record is None or record.user_id != actor.user_id or record.revoked_at is not None:
        raise NotFound()
    record.revoked_at = utcnow()
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="token.revoked",
        target_type="token",
        target_id=record.id,
    )


async def create_admin(
    session: AsyncSession,
    runtime: Runtime,
    *,
    email: str,
    password: str,
    display_name: str = "Administrator",
    check_strength: bool = True,
) -> User:
    """Operator bootstrap (CLI / start-up): a verified identity holding the admin role."""
    email = normalise_email(email)
    if check_strength:
        check_password(password, email=email, display_name=display_name)
    user = await repository.user_by_email(session, email)
    if user is None:
        user = User(
            id=uuid.uuid4(),
            email=email,
            display_name=display_name,
            password_hash=runtime.passwords.hash(password),
            email_verified_at=utcnow(),
        )
        session.add(user)
        await session.flush()
    if Role.admin.value not in await repository.roles_of(session, user.id):
        session.add(UserRole(user_id=user.id, role=Role.admin.value, granted_at=utcnow()))
        await session.flush()
        await audit.record(
            session,
            actor_id=None,
            action="role.granted",
            target_type="user",
            target_id=user.id,
            reason="bootstrap administrator",
            details={"role": Role.admin.value},
        )
    return user


async def _user(session: AsyncSession, actor: Actor) -> User:
    user = await repository.user_by_id(session, actor.user_id)
    if user is None:  # deleted between loading the actor and now
        raise Unauthorized()
    return user


async def describe_me(session: AsyncSession, actor: Actor) -> MeResponse:
    user = await _user(session, actor)
    membership = await session.scalar(select(Membership).where(Membership.user_id == user.id))
    eligibility = actor.eligibility
    return MeResponse(
        id=user.id,
        email=user.email,
        email_verified=actor.email_verified,
        display_name=user.display_name,
        roles=sorted(role.value for role in actor.roles),
        mfa_enabled=user.totp_enabled_at is not None,
        membership=(
            MembershipBrief(status=actor.membership.value, expires_at=membership.expires_at)
            if membership is not None and actor.membership is not None
            else None
        ),
        effective_tier=eligibility.tier.value if eligibility.tier else None,
        eligibility=EligibilityRead(
            tier=eligibility.tier.value if eligibility.tier else None,
            limited_by=[
                LimitRead(country=limit.country, relation=limit.relation.value, reason=limit.reason)
                for limit in eligibility.limited_by
            ],
            summary=eligibility.summary,
        ),
    )
