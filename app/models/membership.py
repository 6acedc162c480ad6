"""Applications, decisions and the memberships they create."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType, TimestampMixin, new_id


class Application(TimestampMixin, Base):
    __tablename__ = "applications"
    __table_args__ = (Index(None, "status", "created_at"), Index(None, "user_id", "created_at"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))  # under_review, approved, rejected
    legal_name: Mapped[str] = mapped_column(String(300))
    citizenships: Mapped[list[str]] = mapped_column(JSONType)
    residence_country: Mapped[str] = mapped_column(String(2))
    affiliation_name: Mapped[str] = mapped_column(String(300))
    affiliation_country: Mapped[str] = mapped_column(String(2))
    orcid: Mapped[str | None] = mapped_column(String(19))
    federal_award_ids: Mapped[list[str]] = mapped_column(JSONType)
    research_statement: Mapped[str] = mapped_column(Text)
    attested_at: Mapped[datetime]
    screening_result: Mapped[str] = mapped_column(String(20))  # clear, potential_match
    screening_matches: Mapped[list[dict[str, object]]] = mapped_column(JSONType)
    screening_list_id: Mapped[uuid.UUID | None]
    screening_note: Mapped[str | None] = mapped_column(String(300))
    screened_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)


class ApplicationApproval(Base):
    """One admin's approval; a potential screening match needs two distinct ones."""

    __tablename__ = "application_approvals"
    __table_args__ = (UniqueConstraint("application_id", "admin_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    application_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE")
    )
    admin_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    approved_at: Mapped[datetime]


class Membership(TimestampMixin, Base):
    """One per user. `expired` is not stored: it is `active` past `expires_at`, by time itself."""

    __tablename__ = "memberships"
    __table_args__ = (Index(None, "status", "expires_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("applications.id"))
    status: Mapped[str] = mapped_column(String(20))  # active, suspended, revoked
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime]
    approved_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    reminder_sent_for: Mapped[datetime | None]


class MembershipCountry(Base):
    """Every country attached to a member; eligibility is the minimum over these rows."""

    __tablename__ = "membership_countries"

    membership_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True
    )
    relation: Mapped[str] = mapped_column(String(20), primary_key=True)
    country_code: Mapped[str] = mapped_column(
        ForeignKey("countries.code"), primary_key=True, index=True
    )
