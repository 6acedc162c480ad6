"""Artifact queries. Lists are scoped in SQL to the tiers the caller's session may open,
before LIMIT, so a page never reveals how much it left out."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.pagination import TimeKey, after_time_key
from app.models import Artifact, ArtifactDownload, ArtifactVersion, Topic, User
from app.policy import Tier

AnyRow = Row[*tuple[Any, ...]]


async def artifact_with_topic(
    session: AsyncSession, artifact_id: uuid.UUID, *, lock: bool = False
) -> tuple[Artifact, Topic] | None:
    query = select(Artifact, Topic).join(Topic, Topic.id == Artifact.topic_id)
    query = query.where(Artifact.id == artifact_id)
    if lock:
        query = query.with_for_update(of=Artifact)
    row = (await session.execute(query)).first()
    return (row[0], row[1]) if row else None


async def version(
    session: AsyncSession, artifact_id: uuid.UUID, number: int
) -> ArtifactVersion | None:
    return await session.scalar(
        select(ArtifactVersion).where(
            ArtifactVersion.artifact_id == artifact_id, ArtifactVersion.number == number
        )
    )


async def versions(session: AsyncSession, artifact_id: uuid.UUID) -> Sequence[ArtifactVersion]:
    return (
        await session.scalars(
            select(ArtifactVersion)
            .where(ArtifactVersion.artifact_id == artifact_id)
            .order_by(ArtifactVersion.number)
        )
    ).all()


async def newest_pending(session: AsyncSession, artifact_id: uuid.UUID) -> ArtifactVersion | None:
    return await session.scalar(
        select(ArtifactVersion)
        .where(
            ArtifactVersion.artifact_id == artifact_id,
            ArtifactVersion.status == "pending_review",
        )
        .order_by(ArtifactVersion.number.desc())
        .limit(1)
    )


async def previous_digests(
    session: AsyncSession, pairs: Sequence[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], str]:
    """sha256 of version `number - 1` for each (artifact, number): the version chain."""
    wanted = [(a, n - 1) for a, n in pairs if n > 1]
    if not wanted:
        return {}
    clauses = [
        and_(ArtifactVersion.artifact_id == a, ArtifactVersion.number == n) for a, n in wanted
    ]
    rows = await session.execute(
        select(ArtifactVersion.artifact_id, ArtifactVersion.number, ArtifactVersion.sha256).where(
            or_(*clauses)
        )
    )
    return {(row.artifact_id, row.number + 1): row.sha256 for row in rows}


def _latest_join() -> Any:
    return and_(
        ArtifactVersion.artifact_id == Artifact.id,
        ArtifactVersion.number == Artifact.latest_version,
    )


async def topic_page(
    session: AsyncSession,
    topic_id: uuid.UUID,
    *,
    before: TimeKey | None,
    limit: int,
) -> Sequence[tuple[Artifact, ArtifactVersion]]:
    """Newest first; `limit` rows (the caller asks for one more to learn if more exist)."""
    query = (
        select(Artifact, ArtifactVersion)
        .join(ArtifactVersion, _latest_join())
        .where(Artifact.topic_id == topic_id)
        .order_by(Artifact.created_at.desc(), Artifact.id.desc())
        .limit(limit)
    )
    if before is not None:
        moment, ident = before
        query = query.where(
            or_(
                Artifact.created_at < moment,
                and_(Artifact.created_at == moment, Artifact.id < ident),
            )
        )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def review_queue(
    session: AsyncSession,
    *,
    tiers: Sequence[Tier],
    status: str,
    after: TimeKey | None,
    limit: int,
) -> Sequence[tuple[Artifact, ArtifactVersion, Topic]]:
    """Versions in `status`, oldest first (a queue), in topics of the given tiers."""
    query = (
        select(Artifact, ArtifactVersion, Topic)
        .join(ArtifactVersion, ArtifactVersion.artifact_id == Artifact.id)
        .join(Topic, Topic.id == Artifact.topic_id)
        .where(
            ArtifactVersion.status == status,
            Topic.tier.in_([tier.value for tier in tiers]),
        )
        .order_by(ArtifactVersion.created_at, ArtifactVersion.id)
        .limit(limit)
    )
    query = after_time_key(query, ArtifactVersion.created_at, ArtifactVersion.id, after)
    return [(row[0], row[1], row[2]) for row in (await session.execute(query)).all()]


async def bytes_stored_by(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Every version a member uploaded counts, rejected ones too: they stay stored."""
    total = await session.scalar(
        select(func.coalesce(func.sum(ArtifactVersion.plaintext_size), 0)).where(
            ArtifactVersion.uploader_id == user_id
        )
    )
    return int(total or 0)


async def lock_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialises one member's concurrent uploads for the quota check (PostgreSQL; SQLite
    transactions are serialised already)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())


_downloader = aliased(User, name="downloader")

DOWNLOAD_COLUMNS = (
    ArtifactDownload,
    ArtifactVersion.number.label("version_number"),
    ArtifactVersion.sha256.label("version_sha256"),
    _downloader.display_name.label("display_name"),
    _downloader.email.label("email"),
)


async def downloads_page(
    session: AsyncSession,
    artifact_id: uuid.UUID,
    *,
    before: TimeKey | None,
    limit: int,
) -> Sequence[AnyRow]:
    query = (
        select(*DOWNLOAD_COLUMNS)
        .join(ArtifactVersion, ArtifactVersion.id == ArtifactDownload.version_id)
        .join(_downloader, _downloader.id == ArtifactDownload.user_id)
        .where(ArtifactDownload.artifact_id == artifact_id)
        .order_by(ArtifactDownload.started_at.desc(), ArtifactDownload.id.desc())
        .limit(limit)
    )
    if before is not None:
        moment, ident = before
        query = query.where(
            or_(
                ArtifactDownload.started_at < moment,
                and_(ArtifactDownload.started_at == moment, ArtifactDownload.id < ident),
            )
        )
    return (await session.execute(query)).all()


async def export_batch(
    session: AsyncSession,
    *,
    since: datetime | None,
    until: datetime | None,
    after: TimeKey | None,
    limit: int,
) -> Sequence[AnyRow]:
    """Download records in the window, oldest first, after a keyset position."""
    query = (
        select(
            *DOWNLOAD_COLUMNS,
            Artifact.title.label("artifact_title"),
            Topic.slug.label("topic_slug"),
            Topic.tier.label("topic_tier"),
        )
        .join(ArtifactVersion, ArtifactVersion.id == ArtifactDownload.version_id)
        .join(_downloader, _downloader.id == ArtifactDownload.user_id)
        .join(Artifact, Artifact.id == ArtifactDownload.artifact_id)
        .join(Topic, Topic.id == Artifact.topic_id)
        .order_by(ArtifactDownload.started_at, ArtifactDownload.id)
        .limit(limit)
    )
    if since is not None:
        query = query.where(ArtifactDownload.started_at >= since)
    if until is not None:
        query = query.where(ArtifactDownload.started_at < until)
    query = after_time_key(query, ArtifactDownload.started_at, ArtifactDownload.id, after)
    return (await session.execute(query)).all()


async def finish_download(
    session: AsyncSession,
    download_id: uuid.UUID,
    *,
    bytes_served: int,
    outcome: str,
    finished_at: datetime,
) -> None:
    await session.execute(
        update(ArtifactDownload)
        .where(ArtifactDownload.id == download_id)
        .values(bytes_served=bytes_served, outcome=outcome, finished_at=finished_at)
    )


async def versions_needing_rewrap(
    session: AsyncSession, current_key_id: str, *, after: uuid.UUID | None, limit: int
) -> Sequence[ArtifactVersion]:
    query = (
        select(ArtifactVersion)
        .where(ArtifactVersion.key_id != current_key_id)
        .order_by(ArtifactVersion.id)
        .limit(limit)
        .with_for_update()
    )
    if after is not None:
        query = query.where(ArtifactVersion.id > after)
    return (await session.scalars(query)).all()


async def version_blob_keys(
    session: AsyncSession, *, created_before: datetime
) -> AsyncIterator[tuple[uuid.UUID, str, str | None]]:
    """(version id, blob key, provenance key) of every version row older than a moment."""
    result = await session.stream(
        select(
            ArtifactVersion.id, ArtifactVersion.blob_key, ArtifactVersion.provenance_blob_key
        ).where(ArtifactVersion.created_at < created_before)
    )
    async for row in result:
        yield row.id, row.blob_key, row.provenance_blob_key


async def referenced_keys(session: AsyncSession, version_ids: Sequence[uuid.UUID]) -> set[str]:
    """The blob keys that the rows of these versions (those that exist) point at."""
    if not version_ids:
        return set()
    rows = await session.execute(
        select(ArtifactVersion.blob_key, ArtifactVersion.provenance_blob_key).where(
            ArtifactVersion.id.in_(list(version_ids))
        )
    )
    keys: set[str] = set()
    for blob, provenance in rows:
        keys.add(blob)
        if provenance is not None:
            keys.add(provenance)
    return keys
