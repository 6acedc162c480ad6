"""Artifacts shared in topics, their versions (each an encrypted blob), and download records.

A version row is written only after its blob is durable in storage, in the same transaction
as its audit event, so no row ever names missing or partial bytes; a blob without a row is an
orphan that `exchange storage gc` removes after a grace period.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, new_id


class Artifact(Base):
    """What a member shares: title and declared DURC category; the bytes live in versions.

    The artifact's sensitivity tier is its topic's tier, read on every request, so re-tiering
    a topic re-gates its artifacts at once.
    """

    __tablename__ = "artifacts"
    __table_args__ = (Index(None, "topic_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    topic_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("topics.id"))
    thread_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("threads.id", ondelete="SET NULL")
    )
    uploader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    durc_category: Mapped[str | None] = mapped_column(String(40))
    # Number of the newest version; bumped under this row's lock when a version is added.
    latest_version: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ArtifactVersion(Base):
    """One uploaded file: its digest, provenance, encryption envelope and release review.

    `wrapped_key` is the version's data key sealed by the master key named `key_id`, bound
    (like the blob itself) to `artifact id || version id`; `exchange keys rotate` rewrites
    these two columns only.
    """

    __tablename__ = "artifact_versions"
    __table_args__ = (
        UniqueConstraint("artifact_id", "number"),
        Index(None, "status", "created_at"),
        Index(None, "uploader_id"),
        Index(None, "key_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    artifact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artifacts.id"))
    number: Mapped[int]
    uploader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20))  # available, pending_review, rejected
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    plaintext_size: Mapped[int] = mapped_column(BigInteger)
    ciphertext_size: Mapped[int] = mapped_column(BigInteger)
    blob_key: Mapped[str] = mapped_column(String(255), unique=True)
    key_id: Mapped[str] = mapped_column(String(32))
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    license: Mapped[str | None] = mapped_column(String(100))
    source_url: Mapped[str | None] = mapped_column(String(2000))
    source_commit: Mapped[str | None] = mapped_column(String(64))
    changelog: Mapped[str | None] = mapped_column(Text)
    # A detached signature or in-toto/SLSA statement, stored (encrypted) and served verbatim.
    provenance_blob_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    provenance_filename: Mapped[str | None] = mapped_column(String(255))
    provenance_media_type: Mapped[str | None] = mapped_column(String(255))
    provenance_sha256: Mapped[str | None] = mapped_column(String(64))
    provenance_size: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    review_reason: Mapped[str | None] = mapped_column(Text)


class ArtifactDownload(Base):
    """The export record: who received which version, when, how many bytes, and from which
    effective country set and tier, as they stood at that moment.

    Written before the first byte leaves (outcome `started`) and completed when the
    response ends, so a download cut short by a crash is still on record.
    """

    __tablename__ = "artifact_downloads"
    __table_args__ = (
        Index(None, "artifact_id", "started_at", "id"),
        Index(None, "started_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    artifact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artifacts.id"))
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artifact_versions.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))  # content, provenance
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    range_start: Mapped[int | None] = mapped_column(BigInteger)
    range_end: Mapped[int | None] = mapped_column(BigInteger)
    bytes_planned: Mapped[int] = mapped_column(BigInteger)
    bytes_served: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(20))  # started, complete, aborted, failed
    effective_tier: Mapped[str | None] = mapped_column(String(20))
    countries: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    client_address: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
