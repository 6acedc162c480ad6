"""Denied-party lists (versioned, immutable once imported), their entries, and alerts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, new_id


class ScreeningList(Base):
    """One imported version. The newest is the active list; older ones are kept as record."""

    __tablename__ = "screening_lists"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    checksum: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    file_format: Mapped[str] = mapped_column(String(10))
    entry_count: Mapped[int]
    source_counts: Mapped[dict[str, int]] = mapped_column(JSONType)
    imported_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    imported_at: Mapped[datetime]


class ScreeningEntry(Base):
    __tablename__ = "screening_entries"
    __table_args__ = (UniqueConstraint("list_id", "entry_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("screening_lists.id", ondelete="CASCADE"))
    entry_id: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the entry's content: an alert dismissed as a false positive stays dismissed
    # until the entry itself changes.
    fingerprint: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    alt_names: Mapped[list[str]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(200))
    programs: Mapped[list[str]] = mapped_column(JSONType)
    countries: Mapped[list[str]] = mapped_column(JSONType)
    entity_type: Mapped[str] = mapped_column(String(50))
    remarks: Mapped[str] = mapped_column(Text)
    dates_of_birth: Mapped[list[str]] = mapped_column(JSONType)


class ScreeningAlert(Base):
    __tablename__ = "screening_alerts"
    __table_args__ = (
        Index(None, "status", "created_at"),
        Index(None, "user_id", "entry_id", "entry_fingerprint"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    application_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("applications.id"))
    list_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("screening_lists.id"))
    entry_id: Mapped[str] = mapped_column(String(200))
    entry_fingerprint: Mapped[str] = mapped_column(String(64))
    entry_name: Mapped[str] = mapped_column(Text)
    matched_name: Mapped[str] = mapped_column(Text)
    screened_name: Mapped[str] = mapped_column(Text)
    score: Mapped[float]
    method: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # open, false_positive, confirmed
    suspended_membership: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    resolution_reason: Mapped[str | None] = mapped_column(Text)
