from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, StrictBool, field_validator

from app.core.types import CountryCode, Input, MultiLine, Reason, SingleLine

_ORCID_RE = re.compile(r"^(\d{4})-(\d{4})-(\d{4})-(\d{3}[\dX])$")


def _orcid(value: str) -> str:
    """ORCID iD: four blocks, last character an ISO 7064 MOD 11-2 check digit."""
    value = value.strip().removeprefix("https://orcid.org/").removeprefix("http://orcid.org/")
    if not _ORCID_RE.match(value):
        raise ValueError("ORCID iD must look like 0000-0002-1825-0097")
    digits = value.replace("-", "")
    total = 0
    for char in digits[:-1]:
        total = (total + int(char)) * 2
    remainder = (12 - total % 11) % 11
    check = "X" if remainder == 10 else str(remainder)
    if digits[-1] != check:
        raise ValueError("ORCID iD check digit is wrong")
    return value


Orcid = Annotated[str, AfterValidator(_orcid)]
AwardId = Annotated[str, SingleLine(64)]


class AffiliationIn(Input):
    name: Annotated[str, SingleLine(300)]
    country: CountryCode


class ApplicationCreate(Input):
    legal_name: Annotated[str, SingleLine(300)]
    citizenships: Annotated[list[CountryCode], Field(min_length=1, max_length=5)]
    residence_country: CountryCode
    affiliation: AffiliationIn
    orcid: Annotated[Orcid, Field(max_length=40)] | None = None
    federal_award_ids: Annotated[list[AwardId], Field(max_length=20)] = Field(default_factory=list)
    research_statement: Annotated[str, MultiLine(10000, min_length=20)]
    attestation: StrictBool

    @field_validator("citizenships")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("citizenships must not repeat")
        return value

    @field_validator("attestation")
    @classmethod
    def _attested(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("you must attest that the answers are true")
        return value


class Affiliation(BaseModel):
    name: str
    country: str


class ApplicationRead(BaseModel):
    """What the applicant sees: never screening details."""

    id: uuid.UUID
    user_id: uuid.UUID
    status: Literal["under_review", "approved", "rejected"]
    legal_name: str
    citizenships: list[str]
    residence_country: str
    affiliation: Affiliation
    orcid: str | None
    federal_award_ids: list[str]
    research_statement: str
    submitted_at: datetime
    decided_at: datetime | None


class ScreeningMatch(BaseModel):
    entry_id: str
    name: str
    source: str
    score: float
    matched_name: str | None = None
    method: str | None = None
    list_id: str | None = None


class ScreeningRead(BaseModel):
    result: Literal["clear", "potential_match"]
    matches: list[ScreeningMatch]
    list_id: uuid.UUID | None
    note: str | None
    screened_at: datetime


class ApplicationAdminRead(ApplicationRead):
    email: str
    display_name: str
    screening: ScreeningRead
    approvals: int
    approvals_required: int
    approved_by: list[uuid.UUID]
    decided_by: uuid.UUID | None
    decision_reason: str | None


class DecisionRequest(Input):
    decision: Literal["approve", "reject"]
    reason: Reason


class MemberCountry(BaseModel):
    code: str
    relation: str


class MemberRead(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    status: Literal["active", "suspended", "revoked", "expired"]
    status_reason: str | None
    approved_at: datetime
    expires_at: datetime
    countries: list[MemberCountry]


class MemberActionRequest(Input):
    reason: Reason


class RoleGrant(Input):
    role: Literal["admin", "moderator", "auditor"]


class UserRolesRead(BaseModel):
    user_id: uuid.UUID
    roles: list[str]


def as_dict(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
