"""Countries and their certification status."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Country(Base):
    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # home, certified, pending, suspended, ...
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None]
    cert_tier: Mapped[str | None] = mapped_column(String(20))
    cert_standards_version: Mapped[str | None] = mapped_column(String(100))
    cert_evidence: Mapped[str | None] = mapped_column(Text)
    cert_certified_at: Mapped[datetime | None]
    cert_certified_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    cert_expires_at: Mapped[datetime | None]
