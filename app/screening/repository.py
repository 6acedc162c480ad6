from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import TimeKey, after_time_key
from app.models import (
    Application,
    Membership,
    ScreeningAlert,
    ScreeningEntry,
    ScreeningList,
    User,
)


async def active_list(session: AsyncSession) -> ScreeningList | None:
    """The newest imported version is the one in force."""
    return await session.scalar(
        select(ScreeningList).order_by(ScreeningList.version.desc()).limit(1)
    )


async def next_version(session: AsyncSession) -> int:
    current = await session.scalar(select(func.max(ScreeningList.version)))
    return int(current or 0) + 1


async def entries_of(session: AsyncSession, list_id: uuid.UUID) -> Sequence[ScreeningEntry]:
    return (
        await session.scalars(
            select(ScreeningEntry)
            .where(ScreeningEntry.list_id == list_id)
            .order_by(ScreeningEntry.entry_id)
        )
    ).all()


async def fingerprints(
    session: AsyncSession, list_id: uuid.UUID, entry_ids: Sequence[str]
) -> dict[str, ScreeningEntry]:
    if not entry_ids:
        return {}
    rows = await session.scalars(
        select(ScreeningEntry).where(
            ScreeningEntry.list_id == list_id, ScreeningEntry.entry_id.in_(entry_ids)
        )
    )
    return {row.entry_id: row for row in rows}


async def lists(session: AsyncSession) -> Sequence[ScreeningList]:
    return (
        await session.scalars(select(ScreeningList).order_by(ScreeningList.version.desc()))
    ).all()


async def members_to_rescreen(
    session: AsyncSession,
) -> Sequence[tuple[Membership, Application]]:
    """Active and suspended members (expired ones too: they may renew), with the legal name
    of the application that made them members."""
    rows = await session.execute(
        select(Membership, Application)
        .join(Application, Application.id == Membership.application_id)
        .where(Membership.status.in_(("active", "suspended")))
        .order_by(Membership.id)
    )
    return [(m, a) for m, a in rows.all()]


async def open_applications(session: AsyncSession) -> Sequence[Application]:
    return (
        await session.scalars(
            select(Application).where(Application.status == "under_review").order_by(Application.id)
        )
    ).all()


async def alert_keys(
    session: AsyncSession,
) -> tuple[set[tuple[uuid.UUID, str, str]], set[tuple[uuid.UUID, str]]]:
    """(dismissed user/entry/fingerprint triples, open user/entry pairs): what not to raise."""
    rows = await session.execute(
        select(
            ScreeningAlert.user_id,
            ScreeningAlert.entry_id,
            ScreeningAlert.entry_fingerprint,
            ScreeningAlert.status,
        ).where(ScreeningAlert.status.in_(("open", "false_positive")))
    )
    dismissed: set[tuple[uuid.UUID, str, str]] = set()
    pending: set[tuple[uuid.UUID, str]] = set()
    for user_id, entry_id, fingerprint, status in rows.all():
        if status == "false_positive":
            dismissed.add((user_id, entry_id, fingerprint))
        else:
            pending.add((user_id, entry_id))
    return dismissed, pending


async def alert(
    session: AsyncSession, alert_id: uuid.UUID, *, lock: bool = False
) -> ScreeningAlert | None:
    query = select(ScreeningAlert).where(ScreeningAlert.id == alert_id)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def open_suspending_alerts(
    session: AsyncSession, user_id: uuid.UUID, *, excluding: uuid.UUID
) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(ScreeningAlert)
        .where(
            ScreeningAlert.user_id == user_id,
            ScreeningAlert.status == "open",
            ScreeningAlert.suspended_membership.is_(True),
            ScreeningAlert.id != excluding,
        )
    )
    return int(count or 0)


async def list_alerts(
    session: AsyncSession,
    *,
    status: str | None,
    after: TimeKey | None,
    limit: int,
) -> Sequence[tuple[ScreeningAlert, User, ScreeningList]]:
    query = (
        select(ScreeningAlert, User, ScreeningList)
        .join(User, User.id == ScreeningAlert.user_id)
        .join(ScreeningList, ScreeningList.id == ScreeningAlert.list_id)
        .order_by(ScreeningAlert.created_at, ScreeningAlert.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(ScreeningAlert.status == status)
    query = after_time_key(query, ScreeningAlert.created_at, ScreeningAlert.id, after)
    return [(a, u, lst) for a, u, lst in (await session.execute(query)).all()]
