"""Who is calling: load the actor afresh on every request, and the named dependencies
(`CurrentActor`, `AdminActor`, ...) that routes declare. Decisions come from `app.policy`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import policy
from app.audit import service as audit
from app.core.errors import Unauthorized
from app.core.runtime import Runtime, get_runtime
from app.core.security import token_digest
from app.core.uow import get_session
from app.models import (
    AuthSession,
    Country,
    Membership,
    MembershipCountry,
    PersonalAccessToken,
    User,
    UserRole,
)
from app.models.base import utcnow
from app.policy import Actor, CountryFact, CountryStatus, Decision, Relation, Tier

PAT_PREFIX = "dxp"
_bearer = HTTPBearer(auto_error=False, description="Access token or personal access token")


async def load_actor(session: AsyncSession, runtime: Runtime, token: str) -> Actor | None:
    now = utcnow()
    via_pat = token.startswith(PAT_PREFIX + "_")
    session_id = None
    mfa_passed = False
    scopes: frozenset[str] = frozenset({"read", "write"})
    if via_pat:
        row = (
            await session.execute(
                select(PersonalAccessToken, User)
                .join(User, User.id == PersonalAccessToken.user_id)
                .where(
                    PersonalAccessToken.token_hash == token_digest(token),
                    PersonalAccessToken.revoked_at.is_(None),
                    PersonalAccessToken.expires_at > now,
                )
            )
        ).first()
        if row is None:
            return None
        pat, user = row
        scopes = frozenset(pat.scopes)
        # Record use at most hourly: a write per request would serialise readers.
        if pat.last_used_at is None or now - pat.last_used_at > timedelta(hours=1):
            pat.last_used_at = now
    else:
        claims = runtime.access_tokens.verify(token)
        if claims is None:
            return None
        row2 = (
            await session.execute(
                select(AuthSession, User)
                .join(User, User.id == AuthSession.user_id)
                .where(
                    AuthSession.id == claims.session_id,
                    AuthSession.user_id == claims.user_id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > now,
                )
            )
        ).first()
        if row2 is None:
            return None
        auth_session, user = row2
        session_id = auth_session.id
        mfa_passed = auth_session.mfa_passed
    roles = (await session.scalars(select(UserRole.role).where(UserRole.user_id == user.id))).all()
    membership = await session.scalar(select(Membership).where(Membership.user_id == user.id))
    facts: tuple[CountryFact, ...] = ()
    state = None
    if membership is not None:
        state = policy.membership_state(membership.status, membership.expires_at, now)
        rows = (
            await session.execute(
                select(MembershipCountry.relation, Country)
                .join(Country, Country.code == MembershipCountry.country_code)
                .where(MembershipCountry.membership_id == membership.id)
            )
        ).all()
        facts = tuple(
            CountryFact(
                code=country.code,
                relation=Relation(relation),
                status=CountryStatus(country.status),
                cert_tier=Tier(country.cert_tier) if country.cert_tier else None,
                cert_expires_at=country.cert_expires_at,
            )
            for relation, country in rows
        )
    return Actor(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        email_verified=user.email_verified_at is not None,
        roles=policy.roles_of(roles),
        mfa_passed=mfa_passed,
        via_personal_token=via_pat,
        scopes=scopes,
        session_id=session_id,
        membership=state,
        eligibility=policy.compute_eligibility(state, facts, now),
        countries=facts,
    )


async def current_actor(
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None or not credentials.credentials:
        raise Unauthorized()
    actor = await load_actor(session, runtime, credentials.credentials)
    if actor is None:
        raise Unauthorized("The token is invalid, expired or revoked.", code="invalid_token")
    enforce(policy.token_scope_allows(actor, request.method))
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def enforce(decision: Decision) -> None:
    if decision is not None:
        raise decision.error


async def _deny_audited(
    request: Request, session: AsyncSession, actor: Actor, decision: Decision
) -> None:
    """A refused privileged action is itself an audit event, kept despite the error."""
    if decision is None:
        return
    error = decision.error
    await audit.record(
        session,
        actor_id=actor.user_id,
        action="access.denied",
        target_type="route",
        target_id=request.url.path[:64],
        details={"method": request.method, "code": error.code},
    )
    error.keep_changes = True
    raise error


async def admin_actor(
    request: Request, actor: CurrentActor, session: Annotated[AsyncSession, Depends(get_session)]
) -> Actor:
    await _deny_audited(request, session, actor, policy.can_administer(actor))
    return actor


AdminActor = Annotated[Actor, Depends(admin_actor)]


async def audit_reader(
    request: Request, actor: CurrentActor, session: Annotated[AsyncSession, Depends(get_session)]
) -> Actor:
    await _deny_audited(request, session, actor, policy.can_read_audit(actor))
    return actor


AuditReader = Annotated[Actor, Depends(audit_reader)]

DbSession = Annotated[AsyncSession, Depends(get_session)]
AppRuntime = Annotated[Runtime, Depends(get_runtime)]
