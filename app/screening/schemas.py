from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel

from app.core.types import CountryCode, Input, Reason, SingleLine


class ListImported(BaseModel):
    id: uuid.UUID
    version: int
    entries: int
    alerts_raised: int
    memberships_suspended: int
    subjects_screened: int
    checksum: str
    source_counts: dict[str, int]


class ListRead(BaseModel):
    id: uuid.UUID
    version: int
    entries: int
    checksum: str
    filename: str | None
    file_format: str
    source_counts: dict[str, int]
    imported_by: uuid.UUID | None
    imported_at: datetime
    active: bool


class CheckRequest(Input):
    name: Annotated[str, SingleLine(300)]
    country: CountryCode | None = None


class MatchRead(BaseModel):
    entry_id: str
    name: str
    matched_name: str
    source: str
    score: float
    method: str
    list_id: uuid.UUID
    list_version: int


class CheckResponse(BaseModel):
    list_id: uuid.UUID | None
    list_version: int | None
    matches: list[MatchRead]


class AlertRead(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    application_id: uuid.UUID | None
    list_id: uuid.UUID
    list_version: int
    entry_id: str
    entry_name: str
    matched_name: str
    screened_name: str
    score: float
    method: str
    source: str
    status: Literal["open", "false_positive", "confirmed"]
    suspended_membership: bool
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    resolution_reason: str | None


class ResolveRequest(Input):
    disposition: Literal["false_positive", "confirmed"]
    reason: Reason
