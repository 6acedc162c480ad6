from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import TimeKey, after_time_key
from app.models import Application, ApplicationApproval, Membership, MembershipCountry, User


async def application(
    session: AsyncSession, application_id: uuid.UUID, *, lock: bool = False
) -> Application | None:
    query = select(Application).where(Application.id == application_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def latest_application(session: AsyncSession, user_id: uuid.UUID) -> Application | None:
    return await session.scalar(
        select(Application)
        .where(Application.user_id == user_id)
        .order_by(Application.created_at.desc())
        .limit(1)
    )


async def open_application(session: AsyncSession, user_id: uuid.UUID) -> Application | None:
    return await session.scalar(
        select(Application).where(
            Application.user_id == user_id, Application.status == "under_review"
        )
    )


async def applications_of(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Application]:
    return (
        await session.scalars(
            select(Application)
            .where(Application.user_id == user_id)
            .order_by(Application.created_at.desc(), Application.id.desc())
        )
    ).all()


async def list_applications(
    session: AsyncSession,
    *,
    status: str | None,
    after: TimeKey | None,
    limit: int,
) -> Sequence[tuple[Application, User]]:
    query = (
        select(Application, User)
        .join(User, User.id == Application.user_id)
        .order_by(Application.created_at, Application.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(Application.status == status)
    query = after_time_key(query, Application.created_at, Application.id, after)
    return [(a, u) for a, u in (await session.execute(query)).all()]


async def approvals(session: AsyncSession, application_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(ApplicationApproval.admin_id)
        .where(ApplicationApproval.application_id == application_id)
        .order_by(ApplicationApproval.approved_at)
    )
    return list(rows.all())


async def approvals_for(
    session: AsyncSession, application_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    result: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in application_ids}
    if not application_ids:
        return result
    rows = await session.execute(
        select(ApplicationApproval.application_id, ApplicationApproval.admin_id)
        .where(ApplicationApproval.application_id.in_(application_ids))
        .order_by(ApplicationApproval.approved_at)
    )
    for app_id, admin_id in rows.all():
        result[app_id].append(admin_id)
    return result


async def membership_of(
    session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False
) -> Membership | None:
    query = select(Membership).where(Membership.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def list_members(
    session: AsyncSession,
    *,
    status: str | None,
    now: datetime,
    after: TimeKey | None,
    limit: int,
) -> Sequence[tuple[Membership, User]]:
    query = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .order_by(Membership.approved_at, Membership.id)
        .limit(limit)
    )
    if status == "active":
        query = query.where(Membership.status == "active", Membership.expires_at > now)
    elif status == "expired":
        query = query.where(Membership.status == "active", Membership.expires_at <= now)
    elif status is not None:
        query = query.where(Membership.status == status)
    query = after_time_key(query, Membership.approved_at, Membership.id, after)
    return [(m, u) for m, u in (await session.execute(query)).all()]


async def countries_for(
    session: AsyncSession, membership_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    result: dict[uuid.UUID, list[tuple[str, str]]] = {i: [] for i in membership_ids}
    if not membership_ids:
        return result
    rows = await session.execute(
        select(
            MembershipCountry.membership_id,
            MembershipCountry.country_code,
            MembershipCountry.relation,
        )
        .where(MembershipCountry.membership_id.in_(membership_ids))
        .order_by(MembershipCountry.relation, MembershipCountry.country_code)
    )
    for membership_id, code, relation in rows.all():
        result[membership_id].append((code, relation))
    return result


async def memberships_expiring(
    session: AsyncSession, *, now: datetime, until: datetime
) -> Sequence[tuple[Membership, User]]:
    rows = await session.execute(
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.status == "active",
            Membership.expires_at > now,
            Membership.expires_at <= until,
            or_(
                Membership.reminder_sent_for.is_(None),
                Membership.reminder_sent_for != Membership.expires_at,
            ),
        )
        .order_by(Membership.expires_at)
    )
    return [(m, u) for m, u in rows.all()]
