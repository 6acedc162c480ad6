"""All ORM models, imported together so metadata is complete for Alembic and tests."""

from app.models.artifacts import Artifact, ArtifactDownload, ArtifactVersion
from app.models.audit import AuditCheckpoint, AuditEvent
from app.models.base import Base
from app.models.countries import Country
from app.models.discussion import (
    DiscussionProfile,
    Notification,
    Post,
    PostFlag,
    PostRevision,
    Thread,
    ThreadWatch,
    Topic,
    TopicWatch,
)
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
    "Artifact",
    "ArtifactDownload",
    "ArtifactVersion",
    "AuditCheckpoint",
    "AuditEvent",
    "AuthSession",
    "Base",
    "Country",
    "DiscussionProfile",
    "EmailToken",
    "Membership",
    "MembershipCountry",
    "Notification",
    "OIDCLink",
    "PersonalAccessToken",
    "Post",
    "PostFlag",
    "PostRevision",
    "RefreshToken",
    "ScreeningAlert",
    "ScreeningEntry",
    "ScreeningList",
    "Thread",
    "ThreadWatch",
    "Topic",
    "TopicWatch",
    "User",
    "UserRole",
]
