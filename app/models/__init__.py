"""All ORM models, imported together so metadata is complete for Alembic and tests."""

from app.models.audit import AuditCheckpoint, AuditEvent
from app.models.base import Base
from app.models.countries import Country
from app.models.identity import (
    AuthSession,
    EmailToken,
    OIDCLink,
    PersonalAccessToken,
    RefreshToken,
    User,
    UserRole,
)
from app.models.membership import Application, ApplicationApproval, Membership, MembershipCountry
from app.models.screening import ScreeningAlert, ScreeningEntry, ScreeningList

__all__ = [
    "Application",
    "ApplicationApproval",
    "AuditCheckpoint",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Country",
    "EmailToken",
    "Membership",
    "MembershipCountry",
    "OIDCLink",
    "PersonalAccessToken",
    "RefreshToken",
    "ScreeningAlert",
    "ScreeningEntry",
    "ScreeningList",
    "User",
    "UserRole",
]
