from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEventRead(BaseModel):
    id: int
    seq: int
    occurred_at: datetime
    actor_id: uuid.UUID | None
    action: str
    target_type: str | None
    target_id: str | None
    reason: str | None
    request_id: str | None
    client_address: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class VerifyRead(BaseModel):
    ok: bool
    checked: int
    first_bad_id: int | None
    problem: str | None


class CheckpointRead(BaseModel):
    seq: int
    head_hash: str
    signed_at: datetime
    signature: str
    public_key: str
