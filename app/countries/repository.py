from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Country


async def get(session: AsyncSession, code: str, *, lock: bool = False) -> Country | None:
    query = select(Country).where(Country.code == code.upper())
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def list_countries(
    session: AsyncSession, *, status: str | None, after: str | None, limit: int
) -> Sequence[Country]:
    query = select(Country).order_by(Country.code).limit(limit)
    if status is not None:
        query = query.where(Country.status == status)
    if after is not None:
        query = query.where(Country.code > after)
    return (await session.scalars(query)).all()
