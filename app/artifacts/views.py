"""Rows to response models."""

from __future__ import annotations

from typing import Any

from app.artifacts.schemas import (
    ArtifactRead,
    CountryAtDownload,
    DownloadRead,
    ProvenanceRead,
    ReviewRead,
    VersionRead,
)
from app.models import Artifact, ArtifactVersion, Topic
from app.policy import ArtifactStatus, Tier


def provenance_read(version: ArtifactVersion) -> ProvenanceRead | None:
    if (
        version.provenance_sha256 is None
        or version.provenance_size is None
        or version.provenance_filename is None
        or version.provenance_media_type is None
    ):
        return None
    return ProvenanceRead(
        filename=version.provenance_filename,
        media_type=version.provenance_media_type,
        sha256=version.provenance_sha256,
        size=version.provenance_size,
    )


def review_read(version: ArtifactVersion) -> ReviewRead | None:
    if version.reviewed_by is None or version.reviewed_at is None:
        return None
    released = ArtifactStatus(version.status) is ArtifactStatus.available
    return ReviewRead(
        decision="release" if released else "reject",
        reviewed_by=version.reviewed_by,
        reviewed_at=version.reviewed_at,
        reason=version.review_reason or "",
    )


def version_read(version: ArtifactVersion, previous_sha256: str | None) -> VersionRead:
    return VersionRead(
        id=version.id,
        number=version.number,
        status=ArtifactStatus(version.status).value,
        sha256=version.sha256,
        size=version.plaintext_size,
        filename=version.filename,
        media_type=version.media_type,
        license=version.license,
        source_url=version.source_url,
        source_commit=version.source_commit,
        changelog=version.changelog,
        provenance=provenance_read(version),
        previous_sha256=previous_sha256,
        uploader_id=version.uploader_id,
        created_at=version.created_at,
        review=review_read(version),
    )


def artifact_read(artifact: Artifact, version: ArtifactVersion, topic: Topic) -> ArtifactRead:
    """`version` is the artifact's newest."""
    return ArtifactRead(
        id=artifact.id,
        topic=topic.slug,
        tier=Tier(topic.tier).value,
        thread_id=artifact.thread_id,
        title=artifact.title,
        description=artifact.description,
        durc_category=artifact.durc_category,
        uploader_id=artifact.uploader_id,
        status=ArtifactStatus(version.status).value,
        version=version.number,
        version_id=version.id,
        sha256=version.sha256,
        size=version.plaintext_size,
        filename=version.filename,
        media_type=version.media_type,
        license=version.license,
        source_url=version.source_url,
        source_commit=version.source_commit,
        provenance=provenance_read(version),
        created_at=artifact.created_at,
        updated_at=artifact.updated_at,
    )


def download_read(row: Any, *, contact: bool) -> DownloadRead:
    """From a row of `repository.DOWNLOAD_COLUMNS`; `contact` shows email and address."""
    record = row[0]
    return DownloadRead(
        id=record.id,
        artifact_id=record.artifact_id,
        version=row.version_number,
        version_id=record.version_id,
        sha256=row.version_sha256,
        kind=record.kind,
        user_id=record.user_id,
        display_name=row.display_name,
        email=row.email if contact else None,
        started_at=record.started_at,
        finished_at=record.finished_at,
        range_start=record.range_start,
        range_end=record.range_end,
        bytes_planned=record.bytes_planned,
        bytes_served=record.bytes_served,
        outcome=record.outcome,
        effective_tier=record.effective_tier,
        countries=[CountryAtDownload.model_validate(c) for c in record.countries],
        client_address=record.client_address if contact else None,
    )
