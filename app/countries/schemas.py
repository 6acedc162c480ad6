from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel

from app.core.types import Input, MultiLine, Reason, SingleLine


class CertificationRead(BaseModel):
    tier: Literal["general", "restricted"]
    standards_version: str
    certified_at: datetime
    expires_at: datetime


class CountryRead(BaseModel):
    code: str
    name: str
    status: Literal["home", "certified", "pending", "suspended", "embargoed"]
    status_reason: str | None
    certification: CertificationRead | None


class CertifyRequest(Input):
    tier: Literal["general", "restricted"]
    standards_version: Annotated[str, SingleLine(100)]
    expires_at: AwareDatetime
    evidence: Annotated[str, MultiLine(10000)]


class CountryActionRequest(Input):
    reason: Reason
