from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, StrictInt, StringConstraints

from app.core.types import Input, SingleLine

DisplayName = Annotated[str, SingleLine(100)]
# Length is checked by the password policy so the error carries `weak_password`;
# the hard bound here only stops absurd bodies.
Password = Annotated[str, StringConstraints(max_length=1024)]
OpaqueToken = Annotated[str, StringConstraints(min_length=1, max_length=512)]


class RegisterRequest(Input):
    email: Annotated[EmailStr, StringConstraints(max_length=320)]
    password: Password
    display_name: DisplayName


class RegisterResponse(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str
    email_verified: bool


class VerifyEmailRequest(Input):
    token: OpaqueToken


class ResendVerificationRequest(Input):
    email: Annotated[EmailStr, StringConstraints(max_length=320)]


class LoginRequest(Input):
    email: Annotated[str, StringConstraints(min_length=1, max_length=320)]
    password: Password
    totp_code: Annotated[str, StringConstraints(max_length=16)] | None = None


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a token type, not a secret
    expires_in: int


class RefreshRequest(Input):
    refresh_token: OpaqueToken


class MessageResponse(BaseModel):
    detail: str


class LimitRead(BaseModel):
    country: str
    relation: str
    reason: str


class EligibilityRead(BaseModel):
    tier: Literal["general", "restricted", "us_only"] | None
    limited_by: list[LimitRead]
    summary: str


class MembershipBrief(BaseModel):
    status: Literal["active", "suspended", "revoked", "expired"]
    expires_at: datetime


class MeResponse(BaseModel):
    id: uuid.UUID
    email: str
    email_verified: bool
    display_name: str
    roles: list[str]
    mfa_enabled: bool
    membership: MembershipBrief | None
    effective_tier: Literal["general", "restricted", "us_only"] | None
    eligibility: EligibilityRead


class TotpEnrollResponse(BaseModel):
    secret: str
    otpauth_uri: str


class TotpConfirmRequest(Input):
    code: Annotated[str, StringConstraints(min_length=1, max_length=16)]


class TokenCreate(Input):
    name: Annotated[str, SingleLine(100)]
    scopes: Annotated[list[Literal["read", "write"]], Field(min_length=1, max_length=2)]
    expires_in_days: Annotated[StrictInt, Field(ge=1, le=3650)]


class TokenCreated(BaseModel):
    id: uuid.UUID
    token: str
    name: str
    scopes: list[str]
    expires_at: datetime


class TokenRead(BaseModel):
    id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None


class OIDCExchangeRequest(Input):
    code: OpaqueToken
