"""Who is calling: load the actor afresh on every request, and the named dependencies
(`CurrentActor`, `AdminActor`, ...) that routes declare. Decisions come from `app.policy`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Row, Select, bindparam, select, update
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


# Everything a decision needs comes back in one statement (one database round trip per
# request): the credential row, the user, their roles, membership and every attached country
# with its current status. Roles x countries rows (a handful) are folded back in Python.
_ACTOR_FACTS = (
    User.id.label("user_id"),
    User.email,
    User.display_name,
    User.email_verified_at,
    UserRole.role,
    Membership.status.label("membership_status"),
    Membership.expires_at.label("membership_expires_at"),
    MembershipCountry.relation,
    Country.code.label("country_code"),
    Country.status.label("country_status"),
    Country.cert_tier,
    Country.cert_expires_at,
)


def _with_actor_facts(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    return (
        query.outerjoin(UserRole, UserRole.user_id == User.id)
        .outerjoin(Membership, Membership.user_id == User.id)
        .outerjoin(MembershipCountry, MembershipCountry.membership_id == Membership.id)
        .outerjoin(Country, Country.code == MembershipCountry.country_code)
    )


def _actor_from_rows(
    rows: Sequence[Row[*tuple[Any, ...]]],
    now: datetime,
    *,
    mfa_passed: bool,
    via_pat: bool,
    scopes: frozenset[str],
    session_id: uuid.UUID | None,
) -> Actor:
    first = rows[0]
    roles = {row.role for row in rows if row.role is not None}
    state = policy.membership_state(first.membership_status, first.membership_expires_at, now)
    countries: dict[tuple[str, str], CountryFact] = {}
    for row in rows:
        if row.country_code is None or state is None:
            continue
        countries[(row.relation, row.country_code)] = CountryFact(
            code=row.country_code,
            relation=Relation(row.relation),
            status=CountryStatus(row.country_status),
            cert_tier=Tier(row.cert_tier) if row.cert_tier else None,
            cert_expires_at=row.cert_expires_at,
        )
    facts = tuple(countries[key] for key in sorted(countries))
    return Actor(
        user_id=first.user_id,
        email=first.email,
        display_name=first.display_name,
        email_verified=first.email_verified_at is not None,
        roles=policy.roles_of(roles),
        mfa_passed=mfa_passed,
        via_personal_token=via_pat,
        scopes=scopes,
        session_id=session_id,
        membership=state,
        eligibility=policy.compute_eligibility(state, facts, now),
        countries=facts,
    )


# Built once: these run on every request, and constructing a statement costs more than
# executing the cached one. They run on the session's connection as plain Core statements.
_BY_PAT = _with_actor_facts(
    select(
        PersonalAccessToken.id.label("pat_id"),
        PersonalAccessToken.scopes,
        PersonalAccessToken.last_used_at,
        *_ACTOR_FACTS,
    )
    .select_from(PersonalAccessToken)
    .join(User, User.id == PersonalAccessToken.user_id)
).where(
    PersonalAccessToken.token_hash == bindparam("token_hash"),
    PersonalAccessToken.revoked_at.is_(None),
    PersonalAccessToken.expires_at > bindparam("now"),
)
_BY_SESSION = _with_actor_facts(
    select(AuthSession.id.label("session_id"), AuthSession.mfa_passed, *_ACTOR_FACTS)
    .select_from(AuthSession)
    .join(User, User.id == AuthSession.user_id)
).where(
    AuthSession.id == bindparam("session_id"),
    AuthSession.user_id == bindparam("user_id"),
    AuthSession.revoked_at.is_(None),
    AuthSession.expires_at > bindparam("now"),
)
_BY_USER = _with_actor_facts(select(*_ACTOR_FACTS).select_from(User)).where(
    User.id == bindparam("user_id")
)


async def _fetch(
    session: AsyncSession, statement: Select[*tuple[Any, ...]], **params: Any
) -> Sequence[Row[*tuple[Any, ...]]]:
    connection = await session.connection()
    return (await connection.execute(statement, params)).all()


async def load_actor(session: AsyncSession, runtime: Runtime, token: str) -> Actor | None:
    now = utcnow()
    if token.startswith(PAT_PREFIX + "_"):
        rows = await _fetch(session, _BY_PAT, token_hash=token_digest(token), now=now)
        if not rows:
            return None
        first = rows[0]
        # Record use at most hourly: a write per request would serialise readers.
        if first.last_used_at is None or now - first.last_used_at > timedelta(hours=1):
            await session.execute(
                update(PersonalAccessToken)
                .where(PersonalAccessToken.id == first.pat_id)
                .values(last_used_at=now)
            )
        return _actor_from_rows(
            rows,
            now,
            mfa_passed=False,
            via_pat=True,
            scopes=frozenset(first.scopes),
            session_id=None,
        )
    claims = runtime.access_tokens.verify(token)
    if claims is None:
        return None
    rows = await _fetch(
        session, _BY_SESSION, session_id=claims.session_id, user_id=claims.user_id, now=now
    )
    if not rows:
        return None
    return _actor_from_rows(
        rows,
        now,
        mfa_passed=rows[0].mfa_passed,
        via_pat=False,
        scopes=frozenset({"read", "write"}),
        session_id=rows[0].session_id,
    )


async def actor_for_user(session: AsyncSession, user_id: uuid.UUID) -> Actor | None:
    """The actor as of now, for work outside a request (mail digests); never MFA-passed."""
    rows = await _fetch(session, _BY_USER, user_id=user_id)
    if not rows:
        return None
    return _actor_from_rows(
        rows, utcnow(), mfa_passed=False, via_pat=False, scopes=frozenset(), session_id=None
    )


async def request_session(request: Request) -> AsyncSession:
    """The request's unit-of-work session. An `async def` on purpose: FastAPI runs plain
    `def` dependencies in a worker thread, and that hand-off costs more than this call."""
    return get_session(request)


async def request_runtime(request: Request) -> Runtime:
    return get_runtime(request)


DbSession = Annotated[AsyncSession, Depends(request_session)]
AppRuntime = Annotated[Runtime, Depends(request_runtime)]


async def current_actor(
    request: Request,
    session: DbSession,
    runtime: AppRuntime,
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


async def admin_actor(request: Request, actor: CurrentActor, session: DbSession) -> Actor:
    await _deny_audited(request, session, actor, policy.can_administer(actor))
    return actor


AdminActor = Annotated[Actor, Depends(admin_actor)]


async def moderator_actor(request: Request, actor: CurrentActor, session: DbSession) -> Actor:
    await _deny_audited(request, session, actor, policy.can_moderate(actor))
    return actor


ModeratorActor = Annotated[Actor, Depends(moderator_actor)]


async def audit_reader(request: Request, actor: CurrentActor, session: DbSession) -> Actor:
    await _deny_audited(request, session, actor, policy.can_read_audit(actor))
    return actor


AuditReader = Annotated[Actor, Depends(audit_reader)]
