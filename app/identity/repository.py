from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuthSession, EmailToken, PersonalAccessToken, RefreshToken, User, UserRole
from app.models.base import utcnow


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def roles_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    rows = await session.scalars(
        select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role)
    )
    return list(rows.all())


async def admin_ids(session: AsyncSession, *, lock: bool = False) -> list[uuid.UUID]:
    query = select(UserRole.user_id).where(UserRole.role == "admin")
    if lock:
        query = query.with_for_update()
    return list((await session.scalars(query)).all())


async def any_admin(session: AsyncSession) -> bool:
    count = await session.scalar(
        select(func.count()).select_from(UserRole).where(UserRole.role == "admin")
    )
    return bool(count)


async def email_token(session: AsyncSession, digest: str, purpose: str) -> EmailToken | None:
    return await session.scalar(
        select(EmailToken).where(EmailToken.token_hash == digest, EmailToken.purpose == purpose)
    )


async def refresh_token(session: AsyncSession, digest: str) -> RefreshToken | None:
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest))


async def revoke_sessions(
    session: AsyncSession, user_id: uuid.UUID, reason: str, *, only: uuid.UUID | None = None
) -> None:
    query = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason[:200])
    )
    if only is not None:
        query = query.where(AuthSession.id == only)
    await session.execute(query)


async def revoke_personal_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(PersonalAccessToken)
        .where(PersonalAccessToken.user_id == user_id, PersonalAccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def personal_tokens(
    session: AsyncSession, user_id: uuid.UUID
) -> Sequence[PersonalAccessToken]:
    return (
        await session.scalars(
            select(PersonalAccessToken)
            .where(
                PersonalAccessToken.user_id == user_id,
                PersonalAccessToken.revoked_at.is_(None),
                PersonalAccessToken.expires_at > utcnow(),
            )
            .order_by(PersonalAccessToken.created_at.desc())
        )
    ).all()
