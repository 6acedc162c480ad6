"""Queries over the audit log. There is deliberately no update or delete here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditCheckpoint, AuditEvent

# Arbitrary constant naming the chain's PostgreSQL advisory lock.
_CHAIN_LOCK_KEY = 0x44555243


async def lock_chain(session: AsyncSession) -> None:
    """Serialise appenders until commit so two transactions never link to the same head.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: every transaction already holds
    the database write lock (BEGIN IMMEDIATE), so nothing more is needed.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})


async def head(session: AsyncSession) -> tuple[int, str] | None:
    row = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def list_events(
    session: AsyncSession,
    *,
    limit: int,
    before_seq: int | None,
    action: str | None,
    actor_id: uuid.UUID | None,
) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    return (await session.scalars(query)).all()


async def walk(session: AsyncSession, batch: int = 1000) -> AsyncIterator[AuditEvent]:
    """Every event in chain order, a batch at a time (keyset), so memory stays flat."""
    after = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > after)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].seq
        session.expunge_all()


async def checkpoints(session: AsyncSession) -> Sequence[AuditCheckpoint]:
    return (await session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))).all()


async def event_hash(session: AsyncSession, seq: int) -> str | None:
    return await session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
